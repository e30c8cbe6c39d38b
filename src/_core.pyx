# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, embedsignature=True
"""Compiled core of gradcore (private: use gradcore.Network / gradcore.train).

This layer checks every shape and size the C kernels rely on, so that no call from Python
can make them read or write out of bounds; then it releases the GIL and runs the kernel.
Releasing the GIL is safe because the kernels touch only the buffers passed to them (typed
memoryviews hold a reference to their owners for the whole call) and no Python object.
C status codes become exceptions here: GC_ERR_NOMEM -> MemoryError, GC_ERR_ARGUMENT ->
ValueError. The statuses the caller acts upon are returned: STATUS_NONFINITE (non-finite
values), STATUS_INTERRUPTED (Ctrl-C in the main thread) and STATUS_STOPPED (the call's
StopFlag was set).

Stopping: every kernel call has a stop word of its own (see interrupt.h), so a stop meant
for one call never reaches another. A StopFlag reaches every call it was given; Ctrl-C
reaches only the call running in the main thread (other threads' calls go on: stopping them
is their caller's decision, made with their StopFlag).

Architecture: an :class:`Arch` (sizes, activation codes per layer, cost code) checked once
by the C core when it is made, and handed to every call.

Arrays: params is the flat parameter buffer (see gradcore.Network); X is (n, sizes[0]) and
Y one-hot (n, sizes[-1]), C-contiguous and of the same floating type as params.
"""

import os as _os
import signal as _signal
import threading as _threading

import numpy as np

from cython cimport floating
from libc.stdint cimport int8_t, int32_t, int64_t, uint64_t

cdef extern from "kernels.h" nogil:
    ctypedef int gc_status
    ctypedef volatile int gc_stop_flag
    ctypedef struct gc_arch:
        int n_layers
        const int32_t *sizes
        int cost
        const int8_t *acts
    int GC_OK, GC_ERR_NOMEM, GC_ERR_ARGUMENT, GC_ERR_NONFINITE, GC_ERR_INTERRUPTED
    gc_status gc_arch_check(const gc_arch *arch)
    int64_t gc_param_count(const gc_arch *arch)
    gc_status gc_feedforward_f64(double *z_out, double *a_out, const gc_arch *arch,
                                 const double *params, const double *X, int64_t n)
    gc_status gc_feedforward_f32(float *z_out, float *a_out, const gc_arch *arch,
                                 const float *params, const float *X, int64_t n)
    gc_status gc_forward_layers_f64(double *z_out, double *a_out, const gc_arch *arch,
                                    const double *params, const double *X, int64_t n)
    gc_status gc_forward_layers_f32(float *z_out, float *a_out, const gc_arch *arch,
                                    const float *params, const float *X, int64_t n)
    gc_status gc_gradient_f64(double *grad, double *cost_sum, double *sq_sum,
                              const gc_arch *arch, const double *params, const double *X,
                              const double *Y, int64_t n, gc_stop_flag *stop)
    gc_status gc_gradient_f32(float *grad, double *cost_sum, double *sq_sum,
                              const gc_arch *arch, const float *params, const float *X,
                              const float *Y, int64_t n, gc_stop_flag *stop)
    ctypedef struct gc_sgd_options:
        int64_t batch_size
        double eta
        double lmbda
        int64_t max_batches
        double momentum
        int nesterov
        int schedule
        int64_t t0
        int64_t final_from
        double final_momentum
        double clip_norm
        double dropout
        uint64_t seed
        int64_t epoch
        int64_t batch0
    ctypedef struct gc_sgd_report:
        double cost_sum
        int64_t batches_done
        int64_t clipped
    gc_status gc_sgd_epoch_f64(double *params, double *velocity, double *speed_sum,
                               double *sq_sum, gc_sgd_report *report,
                               const gc_arch *arch, const gc_sgd_options *opt,
                               const double *X, const double *Y, int64_t n_train,
                               const int64_t *perm, int64_t n_perm, gc_stop_flag *stop)
    gc_status gc_sgd_epoch_f32(float *params, float *velocity, double *speed_sum,
                               double *sq_sum, gc_sgd_report *report,
                               const gc_arch *arch, const gc_sgd_options *opt,
                               const float *X, const float *Y, int64_t n_train,
                               const int64_t *perm, int64_t n_perm, gc_stop_flag *stop)

    gc_status gc_sgd_epochs_f64(double *params, double *velocity, double *speed_sum,
                                double *sq_sum, gc_sgd_report *reports, double *weights_sq,
                                int64_t *epochs_run, const gc_arch *arch,
                                const gc_sgd_options *opt, const double *X, const double *Y,
                                int64_t n_train, const int64_t *perm, int64_t n_perm,
                                int64_t n_epochs, gc_stop_flag *stop)
    gc_status gc_sgd_epochs_f32(float *params, float *velocity, double *speed_sum,
                                double *sq_sum, gc_sgd_report *reports, double *weights_sq,
                                int64_t *epochs_run, const gc_arch *arch,
                                const gc_sgd_options *opt, const float *X, const float *Y,
                                int64_t n_train, const int64_t *perm, int64_t n_perm,
                                int64_t n_epochs, gc_stop_flag *stop)
    gc_status gc_weights_sum_squares_f64(double *out, const gc_arch *arch,
                                         const double *params)
    gc_status gc_weights_sum_squares_f32(double *out, const gc_arch *arch,
                                         const float *params)

    int gc_kernel_level()
    gc_status gc_set_kernel_level(int level)
    gc_status gc_set_num_threads(int n)
    int gc_get_num_threads()
    gc_status gc_set_thread_limit(int n)
    int gc_get_thread_limit()

cdef extern from "internal.h" nogil:
    int64_t gc_alloc_fail_after(int64_t k)
    int64_t gc_alloc_live()

cdef extern from "interrupt.h" nogil:
    int GC_STOP_REQUESTED, GC_STOP_SIGINT
    void gc_stop_set(gc_stop_flag *flag, int bits)
    int gc_sigint_route(gc_stop_flag *flag)
    void gc_sigint_unroute()

from cpython.exc cimport PyErr_SetInterrupt

COST_CODES = {"cross_entropy": 0, "quadratic": 1, "log_likelihood": 2}
#: The C core's activation codes (GC_ACT_* in kernels.h).
ACT_CODES = {"sigmoid": 0, "tanh": 1, "softsign": 2, "relu": 3, "leaky_relu": 4, "elu": 5,
             "prelu": 6, "linear": 7, "softmax": 8}


STATUS_OK = GC_OK
STATUS_NONFINITE = GC_ERR_NONFINITE
STATUS_INTERRUPTED = GC_ERR_INTERRUPTED
STATUS_STOPPED = GC_ERR_INTERRUPTED + 1


cdef int _raise_for(gc_status st) except -1:
    if st == GC_ERR_NOMEM:
        raise MemoryError("gradcore: out of memory for the kernel's workspace")
    if st == GC_ERR_ARGUMENT:
        raise ValueError("gradcore: the kernel refused its arguments (inconsistent sizes)")
    return 0


cdef class Arch:
    """A network's architecture as the C core sees it, checked once by gc_arch_check.

    ``Arch(sizes, acts, cost)``: sizes (L + 1 layer sizes), acts (L activation codes, one
    per layer with weights, the output's last; see ACT_CODES), cost (see COST_CODES).
    """

    cdef gc_arch a
    cdef readonly object sizes  # int32 (L + 1,)
    cdef readonly object acts   # int8 (L,)
    cdef readonly int64_t n_params
    cdef readonly int n_layers
    cdef readonly Py_ssize_t n_biases  # sum of sizes[1:]

    def __cinit__(self, sizes, acts, int cost):
        cdef const int32_t[::1] s
        cdef const int8_t[::1] c
        self.sizes = np.array(sizes, dtype=np.int32)
        self.acts = np.array(acts, dtype=np.int8)
        self.sizes.flags.writeable = False
        self.acts.flags.writeable = False
        if self.sizes.ndim != 1 or self.sizes.shape[0] < 2 or self.sizes.shape[0] > 2**31 - 1:
            raise ValueError(f"sizes must have 2 to 2**31 - 1 entries, got {self.sizes.shape}")
        if self.acts.ndim != 1 or self.acts.shape[0] != self.sizes.shape[0] - 1:
            raise ValueError(f"acts must have one code per layer with weights "
                             f"({self.sizes.shape[0] - 1}), got shape {self.acts.shape}")
        s = self.sizes
        c = self.acts
        self.a.n_layers = <int>s.shape[0] - 1
        self.a.sizes = &s[0]
        self.a.cost = cost
        self.a.acts = &c[0]
        if gc_arch_check(&self.a) != GC_OK:
            raise ValueError(f"invalid architecture: sizes {list(self.sizes[:20])} (each "
                             f">= 1, with fewer than 2**63 parameters), activation codes "
                             f"{list(self.acts[:20])}, cost code {cost} (a sigmoid output "
                             f"takes cost 0 or 1, a softmax output cost 2)")
        self.n_params = gc_param_count(&self.a)
        self.n_layers = self.a.n_layers
        self.n_biases = int(self.sizes[1:].sum())

    def __reduce__(self):
        return Arch, (self.sizes, self.acts, self.a.cost)


def param_count(const int32_t[::1] sizes):
    """Number of weights and biases of a sigmoid network with these layer sizes."""
    cdef Arch a = Arch(sizes, np.zeros(sizes.shape[0] - 1, np.int8), 0)
    return a.n_params


cdef _check_params(Arch a, Py_ssize_t n_params):
    if n_params != a.n_params:
        raise ValueError(f"params has {n_params} values, the architecture needs {a.n_params}")


cdef _check_rows(str name, Py_ssize_t rows, Py_ssize_t cols, Py_ssize_t want_rows,
                 Py_ssize_t want_cols):
    if rows != want_rows or cols != want_cols:
        raise ValueError(f"{name} must have shape ({want_rows}, {want_cols}), "
                         f"got ({rows}, {cols})")


cdef class StopFlag:
    """Asks running kernel calls to stop, from any thread.

    Give the flag to calls (``gradcore.train(..., stop=flag)``); ``flag.set()`` makes
    every call running with it stop at its next mini-batch boundary (within milliseconds),
    and makes calls started later stop before their first update. Calls given another flag,
    or none, are not affected. ``clear()`` lets new calls run again.
    """

    cdef bint _set
    cdef set _calls  # the _Call objects running with this flag

    def __cinit__(self):
        self._set = False
        self._calls = set()

    def set(self):
        """Stop every call running with this flag, and those started later."""
        cdef _Call call
        self._set = True
        for call in tuple(self._calls):  # the GIL keeps the set and the calls' words alive
            gc_stop_set(&call.bits, GC_STOP_REQUESTED)

    def clear(self):
        """Let calls started from now on run (calls already told to stop still stop)."""
        self._set = False

    def is_set(self):
        """Whether set() was called since the last clear()."""
        return bool(self._set)

    def __repr__(self):
        return f"StopFlag(set={bool(self._set)})"


cdef class _Call:
    """The stop word of one kernel call, and Ctrl-C routed to it in the main thread.

    begin() and end() run with the GIL held, around the part that runs without it.
    """

    cdef gc_stop_flag bits
    cdef StopFlag flag
    cdef bint routed

    def __cinit__(self, StopFlag flag):
        self.bits = 0
        self.flag = flag
        self.routed = False

    cdef gc_stop_flag *begin(self) except NULL:
        if self.flag is not None:
            if self.flag._set:
                self.bits = GC_STOP_REQUESTED
            self.flag._calls.add(self)
        if (_threading.current_thread() is _threading.main_thread()
                and _signal.getsignal(_signal.SIGINT) is _signal.default_int_handler):
            self.routed = gc_sigint_route(&self.bits) == 0
        return &self.bits

    cdef int end(self, gc_status st) except -1:
        """The call's status for Python: STATUS_INTERRUPTED, STATUS_STOPPED or st."""
        if self.routed:
            gc_sigint_unroute()
            self.routed = False
        if self.flag is not None:
            self.flag._calls.discard(self)
        if self.bits & GC_STOP_SIGINT:
            if st == GC_ERR_INTERRUPTED:
                return STATUS_INTERRUPTED
            PyErr_SetInterrupt()  # came after the kernel's last look: Python raises it next
        if st == GC_ERR_INTERRUPTED:
            return STATUS_STOPPED
        return st


def feedforward(Arch arch, const floating[::1] params, const floating[:, ::1] X,
                floating[:, ::1] z_out, floating[:, ::1] a_out):
    """Output pre-activations and activations of the network for every row of X."""
    cdef int64_t n = X.shape[0]
    cdef int L = arch.n_layers
    cdef gc_status st
    _check_params(arch, params.shape[0])
    _check_rows("X", X.shape[0], X.shape[1], n, arch.sizes[0])
    _check_rows("z_out", z_out.shape[0], z_out.shape[1], n, arch.sizes[L])
    _check_rows("a_out", a_out.shape[0], a_out.shape[1], n, arch.sizes[L])
    if n == 0:
        return
    with nogil:
        if floating is double:
            st = gc_feedforward_f64(&z_out[0, 0], &a_out[0, 0], &arch.a, &params[0], &X[0, 0], n)
        else:
            st = gc_feedforward_f32(&z_out[0, 0], &a_out[0, 0], &arch.a, &params[0], &X[0, 0], n)
    _raise_for(st)


def forward_layers(Arch arch, const floating[::1] params, const floating[:, ::1] X,
                   floating[:, ::1] z_out, floating[:, ::1] a_out):
    """Every layer's pre-activations and activations for every row of X: z_out and a_out
    are (n, sum of sizes[1:]), each row layer 1's values first, the output's last."""
    cdef int64_t n = X.shape[0]
    cdef gc_status st
    _check_params(arch, params.shape[0])
    _check_rows("X", X.shape[0], X.shape[1], n, arch.sizes[0])
    _check_rows("z_out", z_out.shape[0], z_out.shape[1], n, arch.n_biases)
    _check_rows("a_out", a_out.shape[0], a_out.shape[1], n, arch.n_biases)
    if n == 0:
        return
    with nogil:
        if floating is double:
            st = gc_forward_layers_f64(&z_out[0, 0], &a_out[0, 0], &arch.a, &params[0],
                                       &X[0, 0], n)
        else:
            st = gc_forward_layers_f32(&z_out[0, 0], &a_out[0, 0], &arch.a, &params[0],
                                       &X[0, 0], n)
    _raise_for(st)


cdef double *_sums(str name, double[::1] arr, Py_ssize_t want) except? NULL:
    """The data of an optional array of `want` doubles that a kernel adds to (NULL: None)."""
    if arr is None:
        return NULL
    if arr.shape[0] != want:
        raise ValueError(f"{name} must have {want} entries, got {arr.shape[0]}")
    return &arr[0]


def gradient(Arch arch, const floating[::1] params, const floating[:, ::1] X,
             const floating[:, ::1] Y, floating[::1] grad_out, double[::1] sq_sum=None,
             StopFlag stop=None):
    """Mean gradient over the rows into grad_out (params layout); returns (status, cost_sum).

    sq_sum (n_layers doubles, or None) is added to: per layer, the sum over the rows of
    |delta_l|^2.
    """
    cdef _Call call = _Call(stop)
    cdef gc_stop_flag *word
    cdef int64_t n = X.shape[0]
    cdef int L = arch.n_layers
    cdef double cost_sum = 0.0
    cdef double *sq
    cdef gc_status st
    _check_params(arch, params.shape[0])
    _check_params(arch, grad_out.shape[0])
    if n < 1:
        raise ValueError("X must have at least one row")
    _check_rows("X", X.shape[0], X.shape[1], n, arch.sizes[0])
    _check_rows("Y", Y.shape[0], Y.shape[1], n, arch.sizes[L])
    sq = _sums("sq_sum", sq_sum, L)
    word = call.begin()
    with nogil:
        if floating is double:
            st = gc_gradient_f64(&grad_out[0], &cost_sum, sq, &arch.a, &params[0], &X[0, 0],
                                 &Y[0, 0], n, word)
        else:
            st = gc_gradient_f32(&grad_out[0], &cost_sum, sq, &arch.a, &params[0], &X[0, 0],
                                 &Y[0, 0], n, word)
    st = call.end(st)
    _raise_for(st)
    return st, cost_sum


#: The update's options of sgd_epoch and their defaults (the book's SGD); see
#: gc_sgd_options in kernels.h.
UPDATE_DEFAULTS = {"momentum": 0.0, "nesterov": False, "schedule": 0, "t0": 0,
                   "final_from": -1, "final_momentum": 0.0, "clip_norm": 0.0, "dropout": 0.0,
                   "seed": 0, "epoch": 0, "batch0": 0}


cdef int _options(gc_sgd_options *opt, dict update, Py_ssize_t batch_size, double eta,
                  double lmbda, Py_ssize_t max_batches, bint has_velocity) except -1:
    """opt from the arguments and ``update`` (the options of UPDATE_DEFAULTS that differ
    from them)."""
    u = dict(UPDATE_DEFAULTS)
    if update:
        unknown = set(update) - set(u)
        if unknown:
            raise ValueError(f"unknown update options {sorted(unknown)}")
        u.update(update)
    if u["momentum"] > 0 and not has_velocity:
        raise ValueError("momentum needs a velocity buffer")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    opt.batch_size = batch_size
    opt.eta = eta
    opt.lmbda = lmbda
    opt.max_batches = max_batches
    opt.momentum = u["momentum"]
    opt.nesterov = bool(u["nesterov"])
    opt.schedule = u["schedule"]
    opt.t0 = u["t0"]
    opt.final_from = u["final_from"]
    opt.final_momentum = u["final_momentum"]
    opt.clip_norm = u["clip_norm"]
    opt.dropout = u["dropout"]
    opt.seed = u["seed"]
    opt.epoch = u["epoch"]
    opt.batch0 = u["batch0"]
    return 0


cdef int _check_data(Arch arch, Py_ssize_t n_params, Py_ssize_t n_velocity, Py_ssize_t n,
                     Py_ssize_t x_cols, Py_ssize_t y_rows, Py_ssize_t y_cols) except -1:
    _check_params(arch, n_params)
    if n_velocity >= 0:
        _check_params(arch, n_velocity)
    if n < 1:
        raise ValueError("X must have at least one row")
    _check_rows("X", n, x_cols, n, arch.sizes[0])
    _check_rows("Y", y_rows, y_cols, n, arch.sizes[arch.n_layers])
    return 0


def sgd_epoch(Arch arch, floating[::1] params, const floating[:, ::1] X,
              const floating[:, ::1] Y, const int64_t[::1] perm, Py_ssize_t batch_size,
              double eta, double lmbda, double[::1] speed_sum, double[::1] sq_sum=None,
              Py_ssize_t max_batches=-1, StopFlag stop=None, floating[::1] velocity=None,
              dict update=None):
    """One SGD epoch in place on params (and velocity; see gc_sgd_epoch in kernels.h).

    ``update``: the options of UPDATE_DEFAULTS that differ from them. Returns (status,
    cost_sum, batches_done, clipped); speed_sum (sum of sizes[1:]) and sq_sum (n_layers,
    or None) are added to.
    """
    cdef int64_t n = X.shape[0]
    cdef int64_t n_perm = perm.shape[0]
    cdef gc_sgd_options opt
    cdef gc_sgd_report report
    cdef gc_status st
    cdef double *sq
    cdef floating *vel = NULL
    cdef _Call call = _Call(stop)
    cdef gc_stop_flag *word
    _check_data(arch, params.shape[0], -1 if velocity is None else velocity.shape[0], n,
                X.shape[1], Y.shape[0], Y.shape[1])
    if velocity is not None:
        vel = &velocity[0]
    if speed_sum.shape[0] != arch.n_biases:
        raise ValueError(f"speed_sum must have {arch.n_biases} entries, "
                         f"got {speed_sum.shape[0]}")
    sq = _sums("sq_sum", sq_sum, arch.n_layers)
    _options(&opt, update, batch_size, eta, lmbda, max_batches, velocity is not None)
    if n_perm == 0:
        return GC_OK, 0.0, 0, 0
    report.cost_sum = 0.0
    report.batches_done = 0
    report.clipped = 0
    word = call.begin()
    with nogil:
        if floating is double:
            st = gc_sgd_epoch_f64(&params[0], vel, &speed_sum[0], sq, &report, &arch.a, &opt,
                                  &X[0, 0], &Y[0, 0], n, &perm[0], n_perm, word)
        else:
            st = gc_sgd_epoch_f32(&params[0], vel, &speed_sum[0], sq, &report, &arch.a, &opt,
                                  &X[0, 0], &Y[0, 0], n, &perm[0], n_perm, word)
    st = call.end(st)
    if st == GC_ERR_ARGUMENT:
        raise ValueError(f"perm must hold row indices in [0, {n}), and the update's options "
                         f"their ranges: {opt}")
    _raise_for(st)
    return st, report.cost_sum, report.batches_done, report.clipped


def sgd_epochs(Arch arch, floating[::1] params, const floating[:, ::1] X,
               const floating[:, ::1] Y, const int64_t[:, ::1] perms, Py_ssize_t batch_size,
               double eta, double lmbda, double[:, ::1] speed_sums,
               double[:, ::1] sq_sums=None, StopFlag stop=None, floating[::1] velocity=None,
               dict update=None):
    """len(perms) SGD epochs in one call, epoch e on the rows perms[e], in place on params
    (and velocity; see gc_sgd_epochs in kernels.h).

    ``update`` as for :func:`sgd_epoch` (its t0 and epoch those of the first epoch; no
    batch0). speed_sums (epochs, sum of sizes[1:]) and sq_sums ((epochs, n_layers) or None)
    are added to, row e for epoch e. Returns (status, cost_sums, batches_done, clipped,
    weights_sq), four arrays with one entry per epoch begun; weights_sq (the sum of w² over
    the weights at the epoch's end) is NaN for an epoch that did not end with STATUS_OK.
    """
    cdef int64_t n = X.shape[0]
    cdef int64_t n_epochs = perms.shape[0], n_perm = perms.shape[1]
    cdef int64_t run = 0
    cdef gc_sgd_options opt
    cdef gc_status st
    cdef double *sq = NULL
    cdef floating *vel = NULL
    cdef _Call call = _Call(stop)
    cdef gc_stop_flag *word
    _check_data(arch, params.shape[0], -1 if velocity is None else velocity.shape[0], n,
                X.shape[1], Y.shape[0], Y.shape[1])
    if velocity is not None:
        vel = &velocity[0]
    if speed_sums.shape[0] != n_epochs or speed_sums.shape[1] != arch.n_biases:
        raise ValueError(f"speed_sums must be ({n_epochs}, {arch.n_biases}), got "
                         f"({speed_sums.shape[0]}, {speed_sums.shape[1]})")
    if sq_sums is not None:
        if sq_sums.shape[0] != n_epochs or sq_sums.shape[1] != arch.n_layers:
            raise ValueError(f"sq_sums must be ({n_epochs}, {arch.n_layers}), got "
                             f"({sq_sums.shape[0]}, {sq_sums.shape[1]})")
    if update and update.get("batch0", 0) != 0:
        raise ValueError("sgd_epochs runs whole epochs: batch0 must be 0")
    _options(&opt, update, batch_size, eta, lmbda, -1, velocity is not None)
    reports = np.zeros(n_epochs, dtype=[("cost_sum", np.float64), ("batches_done", np.int64),
                                        ("clipped", np.int64)])
    weights_sq = np.full(n_epochs, np.nan)
    if n_epochs == 0 or n_perm == 0:
        return GC_OK, reports["cost_sum"], reports["batches_done"], reports["clipped"], \
            np.zeros(n_epochs)
    if sq_sums is not None:
        sq = &sq_sums[0, 0]
    cdef gc_sgd_report[::1] rep = reports
    cdef double[::1] wsq = weights_sq
    word = call.begin()
    with nogil:
        if floating is double:
            st = gc_sgd_epochs_f64(&params[0], vel, &speed_sums[0, 0], sq, &rep[0], &wsq[0],
                                   &run, &arch.a, &opt, &X[0, 0], &Y[0, 0], n, &perms[0, 0],
                                   n_perm, n_epochs, word)
        else:
            st = gc_sgd_epochs_f32(&params[0], vel, &speed_sums[0, 0], sq, &rep[0], &wsq[0],
                                   &run, &arch.a, &opt, &X[0, 0], &Y[0, 0], n, &perms[0, 0],
                                   n_perm, n_epochs, word)
    st = call.end(st)
    if st == GC_ERR_ARGUMENT:
        raise ValueError(f"perms must hold row indices in [0, {n}), and the update's options "
                         f"their ranges: {opt}")
    _raise_for(st)
    return (st, reports["cost_sum"][:run].copy(), reports["batches_done"][:run].copy(),
            reports["clipped"][:run].copy(), weights_sq[:run].copy())


def weights_sum_squares(Arch arch, const floating[::1] params):
    """Σ w² over every weight of params (not biases or slopes), in float64: the L2 term's
    sum, the same bits as sgd_epochs records."""
    cdef double out = 0.0
    cdef gc_status st
    _check_params(arch, params.shape[0])
    with nogil:
        if floating is double:
            st = gc_weights_sum_squares_f64(&out, &arch.a, &params[0])
        else:
            st = gc_weights_sum_squares_f32(&out, &arch.a, &params[0])
    _raise_for(st)
    return out


def _alloc_fail_after(int64_t k):
    """Tests only: the k-th kernel allocation from now fails (0: none); returns how many
    allocations the previous setting still had to go (0 if it fired or none was set)."""
    return gc_alloc_fail_after(k)


def _alloc_live():
    """Tests only: kernel allocations not freed yet."""
    return gc_alloc_live()


KERNEL_LEVELS = ("naive", "portable", "avx2", "avx512")


def kernel_level():
    """Name of the compiled kernel variant in use (the best the CPU supports by default)."""
    return KERNEL_LEVELS[gc_kernel_level()]


def set_kernel_level(level):
    """Select a kernel variant by name, or None for the best one (for tests and timing)."""
    code = -1 if level is None else KERNEL_LEVELS.index(level)
    if gc_set_kernel_level(code) != GC_OK:
        raise ValueError(f"kernel level {level!r} is not available on this CPU or build")


def _available_cpus():
    try:
        return len(_os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return _os.cpu_count() or 1


def set_num_threads(n):
    """Kernel threads for large gradient sums, for every thread; returns the number set.

    ``n`` >= 1 asks for that many threads, 0 for the default: all the CPUs this process may
    run on. More threads than that never help, so ``n`` is clamped to it, with a
    RuntimeWarning saying so. Threads are used only where they pay: full-batch gradients
    and mini-batches of 256 examples or more (smaller ones, e.g. m = 10, run on the calling
    thread). The result does not depend on the number: every count gives the same bits. A
    process made by ``os.fork`` starts without kernel threads and makes new ones as needed.
    """
    import numbers
    import warnings

    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        raise TypeError(f"number of threads must be an integer, got {n!r}")
    if n < 0:
        raise ValueError(f"number of threads must be >= 0 (0: the default), got {n}")
    cpus = _available_cpus()
    if n > cpus:
        warnings.warn(f"set_num_threads({n}): this process can run on {cpus} CPU(s); "
                      f"using {cpus} thread(s)", RuntimeWarning, stacklevel=2)
        n = cpus
    gc_set_num_threads(int(n))
    return gc_get_num_threads()


def get_num_threads():
    """Most threads a kernel call made from this thread will use: set_num_threads's number
    within this thread's :class:`thread_limit` (1 in a build without threads)."""
    return gc_get_num_threads()


#: The largest C int: the most a thread limit can be.
_INT_MAX = 2**31 - 1


class thread_limit:
    """``with thread_limit(n):`` at most n kernel threads for the calls made in the block.

    The limit belongs to the thread that enters the block (other threads keep theirs), so
    jobs running side by side in a thread pool can each keep to one kernel thread while
    :func:`set_num_threads` stays as it is for everyone else. Blocks nest, and an inner
    block can only tighten the limit: in ``with thread_limit(1):`` a ``with
    thread_limit(4):`` still runs on 1 thread (the smaller of the two holds), so code that
    asks for a limit of its own never undoes the caller's. Results do not depend on the
    limit. (Kernel calls made at the same time from several threads share one pool of
    kernel threads: one call at a time uses it, the others run on their own thread.)

    Parameters
    ----------
    n : int
        The most kernel threads, from 1 to 2,147,483,647 (a C int); a limit above the
        threads there are changes nothing.
    """

    def __init__(self, n):
        import numbers

        if isinstance(n, bool) or not isinstance(n, numbers.Integral):
            raise TypeError(f"thread limit n must be an integer from 1 to {_INT_MAX}, "
                            f"got {n!r} ({type(n).__name__})")
        if not 1 <= n <= _INT_MAX:
            raise ValueError(f"thread limit n must be an integer from 1 to {_INT_MAX}, "
                             f"got {n}")
        self.n = int(n)
        self._previous = []

    def __enter__(self):
        outer = gc_get_thread_limit()  # 0: none
        self._previous.append(outer)
        gc_set_thread_limit(self.n if outer == 0 else min(outer, self.n))
        return self

    def __exit__(self, *exc):
        gc_set_thread_limit(self._previous.pop())
        return False
