# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, embedsignature=True
"""Compiled core of gradcore (private: use gradcore.Network / gradcore.train).

This layer checks every shape and size the C kernels rely on, so that no call from Python
can make them read or write out of bounds; then it releases the GIL and runs the kernel.
Releasing the GIL is safe because the kernels touch only the buffers passed to them (typed
memoryviews hold a reference to their owners for the whole call) and no Python object.
C status codes become exceptions here: GC_ERR_NOMEM -> MemoryError, GC_ERR_ARGUMENT ->
ValueError. The two statuses the caller acts upon (non-finite values, interruption) are
returned as STATUS_NONFINITE / STATUS_INTERRUPTED.

Arrays: params is the flat parameter buffer (see gradcore.Network); X is (n, sizes[0]) and
Y one-hot (n, sizes[-1]), C-contiguous and of the same floating type as params.
"""

import os as _os
import signal as _signal
import threading as _threading

import numpy as np

from cython cimport floating
from libc.stdint cimport int32_t, int64_t

cdef extern from "kernels.h" nogil:
    ctypedef int gc_status
    ctypedef volatile int gc_stop_flag
    ctypedef struct gc_arch:
        int n_layers
        const int32_t *sizes
        int cost
    int GC_OK, GC_ERR_NOMEM, GC_ERR_ARGUMENT, GC_ERR_NONFINITE, GC_ERR_INTERRUPTED
    gc_status gc_arch_check(const gc_arch *arch)
    int64_t gc_param_count(const gc_arch *arch)
    gc_status gc_feedforward_f64(double *z_out, double *a_out, const gc_arch *arch,
                                 const double *params, const double *X, int64_t n)
    gc_status gc_feedforward_f32(float *z_out, float *a_out, const gc_arch *arch,
                                 const float *params, const float *X, int64_t n)
    gc_status gc_gradient_f64(double *grad, double *cost_sum, const gc_arch *arch,
                              const double *params, const double *X, const double *Y,
                              int64_t n, gc_stop_flag *stop)
    gc_status gc_gradient_f32(float *grad, double *cost_sum, const gc_arch *arch,
                              const float *params, const float *X, const float *Y,
                              int64_t n, gc_stop_flag *stop)
    gc_status gc_sgd_epoch_f64(double *params, double *speed_sum, double *cost_sum,
                               int64_t *batches_done, const gc_arch *arch, const double *X,
                               const double *Y, const int64_t *perm, int64_t n_perm,
                               int64_t n_train, int64_t m, double eta, double lmbda,
                               int64_t max_batches, gc_stop_flag *stop)
    gc_status gc_sgd_epoch_f32(float *params, double *speed_sum, double *cost_sum,
                               int64_t *batches_done, const gc_arch *arch, const float *X,
                               const float *Y, const int64_t *perm, int64_t n_perm,
                               int64_t n_train, int64_t m, double eta, double lmbda,
                               int64_t max_batches, gc_stop_flag *stop)

    int gc_kernel_level()
    gc_status gc_set_kernel_level(int level)
    gc_status gc_set_num_threads(int n)
    int gc_get_num_threads()

cdef extern from "interrupt.h" nogil:
    gc_stop_flag gc_interrupt_flag
    int gc_sigint_install()
    void gc_sigint_restore()

COST_CODES = {"cross_entropy": 0, "quadratic": 1}


def _single_thread_after_fork():
    # A fork()ed child inherits GNU OpenMP's record of its worker threads but not the
    # threads, and its next parallel region would wait for them forever. Kernels in a child
    # therefore run on one thread (as workers of a process pool should anyway).
    gc_set_num_threads(1)


_os.register_at_fork(after_in_child=_single_thread_after_fork)
STATUS_OK = GC_OK
STATUS_NONFINITE = GC_ERR_NONFINITE
STATUS_INTERRUPTED = GC_ERR_INTERRUPTED


cdef int _raise_for(gc_status st) except -1:
    if st == GC_ERR_NOMEM:
        raise MemoryError("gradcore: out of memory for the kernel's workspace")
    if st == GC_ERR_ARGUMENT:
        raise ValueError("gradcore: the kernel refused its arguments (inconsistent sizes)")
    return 0


cdef gc_arch _arch(const int32_t[::1] sizes, int cost) except *:
    cdef gc_arch a
    if sizes.shape[0] < 2:
        raise ValueError(f"sizes must have at least 2 entries, got {sizes.shape[0]}")
    a.n_layers = <int>sizes.shape[0] - 1
    a.sizes = &sizes[0]
    a.cost = cost
    if gc_arch_check(&a) != GC_OK:
        raise ValueError(f"invalid sizes {list(sizes)} or cost code {cost}")
    return a


def param_count(const int32_t[::1] sizes):
    """Number of weights and biases of a network with these layer sizes."""
    cdef gc_arch a = _arch(sizes, 0)
    return gc_param_count(&a)


cdef _check_params(gc_arch *a, Py_ssize_t n_params):
    if n_params != gc_param_count(a):
        raise ValueError(f"params has {n_params} values, the sizes need {gc_param_count(a)}")


cdef _check_rows(str name, Py_ssize_t rows, Py_ssize_t cols, Py_ssize_t want_rows,
                 Py_ssize_t want_cols):
    if rows != want_rows or cols != want_cols:
        raise ValueError(f"{name} must have shape ({want_rows}, {want_cols}), "
                         f"got ({rows}, {cols})")


cdef void _clear_interrupt() noexcept nogil:
    global gc_interrupt_flag
    gc_interrupt_flag = 0


class _SigintGuard:
    """Routes Ctrl-C to the kernels' stop flag while a kernel runs in the main thread."""

    def __enter__(self):
        _clear_interrupt()
        self.installed = False
        if (_threading.current_thread() is _threading.main_thread()
                and _signal.getsignal(_signal.SIGINT) is _signal.default_int_handler):
            self.installed = gc_sigint_install() == 0
        return self

    def __exit__(self, *exc):
        if self.installed:
            gc_sigint_restore()
        return False


def feedforward(const floating[::1] params, const int32_t[::1] sizes, int cost,
                const floating[:, ::1] X, floating[:, ::1] z_out, floating[:, ::1] a_out):
    """Output pre-activations and activations of the network for every row of X."""
    cdef gc_arch a = _arch(sizes, cost)
    cdef int64_t n = X.shape[0]
    cdef gc_status st
    _check_params(&a, params.shape[0])
    _check_rows("X", X.shape[0], X.shape[1], n, sizes[0])
    _check_rows("z_out", z_out.shape[0], z_out.shape[1], n, sizes[a.n_layers])
    _check_rows("a_out", a_out.shape[0], a_out.shape[1], n, sizes[a.n_layers])
    if n == 0:
        return
    with nogil:
        if floating is double:
            st = gc_feedforward_f64(&z_out[0, 0], &a_out[0, 0], &a, &params[0], &X[0, 0], n)
        else:
            st = gc_feedforward_f32(&z_out[0, 0], &a_out[0, 0], &a, &params[0], &X[0, 0], n)
    _raise_for(st)


def gradient(const floating[::1] params, const int32_t[::1] sizes, int cost,
             const floating[:, ::1] X, const floating[:, ::1] Y, floating[::1] grad_out):
    """Mean gradient over the rows into grad_out (params layout); returns (status, cost_sum)."""
    cdef gc_arch a = _arch(sizes, cost)
    cdef int64_t n = X.shape[0]
    cdef double cost_sum = 0.0
    cdef gc_status st
    _check_params(&a, params.shape[0])
    _check_params(&a, grad_out.shape[0])
    if n < 1:
        raise ValueError("X must have at least one row")
    _check_rows("X", X.shape[0], X.shape[1], n, sizes[0])
    _check_rows("Y", Y.shape[0], Y.shape[1], n, sizes[a.n_layers])
    with _SigintGuard():
        with nogil:
            if floating is double:
                st = gc_gradient_f64(&grad_out[0], &cost_sum, &a, &params[0], &X[0, 0],
                                     &Y[0, 0], n, &gc_interrupt_flag)
            else:
                st = gc_gradient_f32(&grad_out[0], &cost_sum, &a, &params[0], &X[0, 0],
                                     &Y[0, 0], n, &gc_interrupt_flag)
    _raise_for(st)
    return st, cost_sum


def sgd_epoch(floating[::1] params, const int32_t[::1] sizes, int cost,
              const floating[:, ::1] X, const floating[:, ::1] Y, const int64_t[::1] perm,
              Py_ssize_t batch_size, double eta, double lmbda, double[::1] speed_sum,
              Py_ssize_t max_batches=-1):
    """One SGD epoch in place on params (see gc_sgd_epoch in kernels.h).

    Returns (status, cost_sum, batches_done); speed_sum (sum of sizes[1:]) is added to.
    """
    cdef gc_arch a = _arch(sizes, cost)
    cdef int64_t n = X.shape[0]
    cdef int64_t n_perm = perm.shape[0]
    cdef int64_t m = batch_size
    cdef int64_t maxb = max_batches
    cdef int64_t done = 0
    cdef double cost_sum = 0.0
    cdef gc_status st
    cdef Py_ssize_t n_bias = 0
    cdef int l
    _check_params(&a, params.shape[0])
    if n < 1:
        raise ValueError("X must have at least one row")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    _check_rows("X", X.shape[0], X.shape[1], n, sizes[0])
    _check_rows("Y", Y.shape[0], Y.shape[1], n, sizes[a.n_layers])
    for l in range(1, a.n_layers + 1):
        n_bias += sizes[l]
    if speed_sum.shape[0] != n_bias:
        raise ValueError(f"speed_sum must have {n_bias} entries, got {speed_sum.shape[0]}")
    if n_perm == 0:
        return GC_OK, 0.0, 0
    with _SigintGuard():
        with nogil:
            if floating is double:
                st = gc_sgd_epoch_f64(&params[0], &speed_sum[0], &cost_sum, &done, &a,
                                      &X[0, 0], &Y[0, 0], &perm[0], n_perm, n, m, eta, lmbda,
                                      maxb, &gc_interrupt_flag)
            else:
                st = gc_sgd_epoch_f32(&params[0], &speed_sum[0], &cost_sum, &done, &a,
                                      &X[0, 0], &Y[0, 0], &perm[0], n_perm, n, m, eta, lmbda,
                                      maxb, &gc_interrupt_flag)
    if st == GC_ERR_ARGUMENT:
        raise ValueError(f"perm must hold row indices in [0, {n})")
    _raise_for(st)
    return st, cost_sum, done


KERNEL_LEVELS = ("naive", "portable", "avx2", "avx512")


def kernel_level():
    """Name of the compiled kernel variant in use (the best the CPU supports by default)."""
    return KERNEL_LEVELS[gc_kernel_level()]


def set_kernel_level(level):
    """Select a kernel variant by name, or None for the best one (for tests and timing)."""
    code = -1 if level is None else KERNEL_LEVELS.index(level)
    if gc_set_kernel_level(code) != GC_OK:
        raise ValueError(f"kernel level {level!r} is not available on this CPU or build")


def set_num_threads(int n):
    """Threads for full-batch gradients and large mini-batches (0: the OpenMP default)."""
    if gc_set_num_threads(n) != GC_OK:
        raise ValueError(f"number of threads must be >= 0, got {n}")


def get_num_threads():
    """Most threads a kernel call will use (1 without OpenMP)."""
    return gc_get_num_threads()
