"""One SGD epoch of [784,30,30,10], m = 10, eta = 0.1, lambda = 5.0, side by side.

    python benchmarks/compare.py [--data DIR] [--runs 5] [--n 50000]

Prints the machine, then per implementation the median epoch time over the runs (the
implementations take turns, one epoch each per round, so load from elsewhere hits all of
them alike), GFLOP/s (2*W forward + 2*W weight gradients + 2*W' deltas
through the layers above the first, W the weights), the % of this machine's single-thread
peak (NumPy float64 2000x2000 matmul on one thread, measured in the same run) and the
speed-up over the NumPy reference; then float32 against float64 (also the range of the
per-round ratios), the cost of the in-epoch monitor (gradcore.train against the bare kernel
epoch) and full-batch gradient descent (m = n) on 1,000 and 50,000 images with 1 and 2
threads, alternating, on idle cores and again "under contention": with another process
keeping one core busy (a Python loop). Full MNIST from --data or $GRADCORE_DATA; without
it, the embedded 1,000 images visited --n / 1,000 times each (fits the cache: faster than
real).

The single-thread peak is measured in a child process with OpenBLAS's own CPU detection
(OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE unset) and one thread, before and after the epochs (the
higher median of the two is the peak); everything else runs with BLAS on one thread
(threadpoolctl) so idle BLAS threads do not compete for the cores.

This is the one-table summary; ``pytest --benchmark-only`` measures the same quantities
with pytest-benchmark, also with BLAS on one thread. Its group "SGD epoch 784-30-30-10
(50,000 images, m = 10)" is this script's epoch table (gradcore float64, float32 and the
reference; the network2 loop and PyTorch are here only), and its groups "full-batch epoch
784-30-30-10 (1,000 / 50,000 images, m = n)" with 1 thread and all threads are the last
table here. The figures differ in how they are taken: pytest-benchmark times each
implementation in its own consecutive rounds and its ratios divide those medians, while
this script alternates the implementations round by round, so that a burst of load from
elsewhere hits all of them alike; and the full-batch benchmarks time gradcore.train with
one epoch, which adds train()'s set-up per call (the one-hot targets, the shuffle, a copy
of the parameters), where this script times the bare kernel epoch. So the two agree on a
quiet machine and can differ on a busy one, where this script's ratios are the steadier;
GFLOP/s and the % of peak are only here.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import platform
import subprocess
import sys
import time

import numpy as np

import gradcore
from gradcore import _core, kernels
from gradcore import reference as ref
from gradcore.datasets import load_mnist, mnist_first_1000

SIZES = [784, 30, 30, 10]
ETA, LMBDA, M = 0.1, 5.0, 10

PEAK_CODE = r"""
import json, time, numpy as np
from threadpoolctl import threadpool_limits, threadpool_info
with threadpool_limits(1):
    a = np.random.default_rng(0).random((2000, 2000)); b = a.copy(); a @ b
    ts = []
    for _ in range(5):
        t = time.perf_counter(); a @ b; ts.append(time.perf_counter() - t)
info = [{k: d.get(k) for k in ("internal_api", "version", "architecture")}
        for d in threadpool_info()]
print(json.dumps({"gflops": 2 * 2000**3 / np.median(ts) / 1e9, "blas": info}))
"""


def flops_per_example(sizes):
    w = [sizes[i] * sizes[i + 1] for i in range(len(sizes) - 1)]
    return 4 * sum(w) + 2 * sum(w[1:])


def peak():
    env = {k: v for k, v in os.environ.items()
           if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    env["OPENBLAS_NUM_THREADS"] = "1"
    out = subprocess.run([sys.executable, "-c", PEAK_CODE], env=env, capture_output=True,
                         text=True, check=True).stdout
    return json.loads(out)


def machine():
    model = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            model = next(line.split(":", 1)[1].strip() for line in f
                         if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    lib = ctypes.CDLL(_core.__file__)
    levels = {0: "naive", 1: "portable", 2: "AVX2", 3: "AVX-512"}
    return (f"{model}, {os.cpu_count()} logical cores, {platform.system()} "
            f"{platform.machine()}, Python {platform.python_version()}, numpy "
            f"{np.__version__}, gradcore kernels: {levels.get(lib.gc_kernel_level())}, "
            f"threads available: {lib.gc_get_num_threads()}")


def network2_epoch(weights, biases, X, Y, perm, m, eta, lmbda):
    """network2.py's loop: one example at a time through column vectors, per mini-batch."""
    n = len(X)
    sig = lambda z: 1.0 / (1.0 + np.exp(-z))  # noqa: E731
    for k in range(0, len(perm), m):
        batch = perm[k:k + m]
        nb = [np.zeros(b.shape) for b in biases]
        nw = [np.zeros(w.shape) for w in weights]
        for i in batch:
            x, y = X[i][:, None], Y[i][:, None]
            acts, zs, a = [x], [], x
            for w, b in zip(weights, biases):
                z = w @ a + b
                zs.append(z)
                a = sig(z)
                acts.append(a)
            delta = acts[-1] - y
            dnb = [None] * len(biases)
            dnw = [None] * len(weights)
            dnb[-1], dnw[-1] = delta, delta @ acts[-2].T
            for l in range(2, len(weights) + 1):
                sp = sig(zs[-l]) * (1 - sig(zs[-l]))
                delta = (weights[-l + 1].T @ delta) * sp
                dnb[-l], dnw[-l] = delta, delta @ acts[-l - 1].T
            nb = [u + v for u, v in zip(nb, dnb)]
            nw = [u + v for u, v in zip(nw, dnw)]
        mb = len(batch)
        for l in range(len(weights)):
            weights[l] = (1 - eta * lmbda / n) * weights[l] - (eta / mb) * nw[l]
            biases[l] = biases[l] - (eta / mb) * nb[l]
    return weights, biases


def full_batch_times(X, Y, n, pairs):
    """Median epoch of full-batch gradient descent (m = n) on the first n rows with 1 thread
    and with 2, over `pairs` alternating 1-/2-thread samples of ~20,000 rows each."""
    from threadpoolctl import threadpool_limits

    net = gradcore.Network(SIZES, seed=1)
    p0 = net.params.copy()
    pm = np.arange(n, dtype=np.int64)
    Xn, Yn = kernels.aligned(X[:n]), kernels.aligned(Y[:n])

    def full_batch():
        net.params[...] = p0
        _core.sgd_epoch(net.architecture.core(), net.params, Xn, Yn, pm, n, ETA, LMBDA,
                        np.zeros(sum(SIZES[1:])))

    reps = max(1, 20_000 // n)
    ts = {1: [], 2: []}
    with threadpool_limits(1, user_api="blas"):
        for threads in (1, 2):
            gradcore.set_num_threads(threads)
            full_batch()
        for _ in range(pairs):
            for threads in (1, 2):
                gradcore.set_num_threads(threads)
                t = time.perf_counter()
                for _ in range(reps):
                    full_batch()
                ts[threads].append((time.perf_counter() - t) / reps)
    gradcore.set_num_threads(0)
    return float(np.median(ts[1])), float(np.median(ts[2]))


class BusyCore:
    """Another process spinning (one core's worth of work) for the length of a with block."""

    def __enter__(self) -> BusyCore:
        code = "print(flush=True)\nwhile True: pass"
        self.proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
        self.proc.stdout.readline()  # it is running
        return self

    def __exit__(self, *exc) -> None:
        self.proc.kill()
        self.proc.wait()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=os.environ.get("GRADCORE_DATA"))
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--n", type=int, default=50_000)
    args = ap.parse_args(argv)
    from threadpoolctl import threadpool_limits

    if args.data and os.path.isdir(args.data):
        X, y = load_mnist(args.data).training
        X, y = X[:args.n], y[:args.n]
        perm = np.random.default_rng(0).permutation(len(X)).astype(np.int64)
        what = f"{len(perm):,} MNIST training images"
    else:
        X, y = mnist_first_1000()
        perm = np.random.default_rng(0).integers(0, len(X), args.n).astype(np.int64)
        what = f"the embedded 1,000 images, {args.n:,} visits (cache-resident)"
    Y = np.eye(10)[y]
    n_ex = len(perm)
    gflop = n_ex * flops_per_example(SIZES) / 1e9
    pk = peak()  # measured again at the end; the higher of the two is used
    print(f"Machine: {machine()}")
    print(f"BLAS (peak run): {pk['blas']}")
    print(f"Single-thread peak (NumPy float64 2000x2000 matmul, 1 thread): "
          f"{pk['gflops']:.1f} GFLOP/s")
    print(f"One SGD epoch of {SIZES}, m = {M}, eta = {ETA}, lambda = {LMBDA}, on {what}: "
          f"{gflop:.2f} GFLOP; median of {args.runs} runs\n")

    base = gradcore.Network(SIZES, seed=1)
    rows = {}

    def native(dtype):
        net = gradcore.Network(SIZES, seed=1, dtype=dtype)
        Xc, Yc = kernels.aligned(X, dtype), kernels.aligned(Y, dtype)  # as train() has them
        p0 = net.params.copy()

        def run():
            net.params[...] = p0
            _core.sgd_epoch(net.architecture.core(), net.params, Xc, Yc, perm, M, ETA, LMBDA,
                            np.zeros(sum(SIZES[1:])))
        return run

    def reference():
        w, b = [a.copy() for a in base.weights], [a.copy() for a in base.biases]
        ref.sgd_epoch(w, b, X, Y, perm, M, ETA, LMBDA, "cross_entropy")

    def loop():
        w = [a.copy() for a in base.weights]
        b = [a.copy()[:, None] for a in base.biases]
        network2_epoch(w, b, X, Y, perm, M, ETA, LMBDA)

    impls = [("gradcore float64", native(np.float64), args.runs),
             ("gradcore float32", native(np.float32), args.runs),
             ("NumPy reference (gradcore.reference)", reference, args.runs),
             ("per-example loop (network2 style)", loop, 3)]
    torch_note = None
    try:
        import torch

        def torch_epoch(dtype=torch.float64):
            torch.set_num_threads(1)
            Xt, Yt = torch.from_numpy(X), torch.from_numpy(Y)
            ws = [torch.tensor(a) for a in base.weights]
            bs = [torch.tensor(a) for a in base.biases]
            pt = torch.from_numpy(perm)
            n = len(X)
            with torch.no_grad():
                for k in range(0, len(pt), M):
                    idx = pt[k:k + M]
                    a = Xt[idx]
                    acts = [a]
                    for w, b in zip(ws, bs):
                        a = torch.sigmoid(a @ w.T + b)
                        acts.append(a)
                    d = acts[-1] - Yt[idx]
                    mb = len(idx)
                    for l in range(len(ws) - 1, -1, -1):
                        gw, gb = d.T @ acts[l], d.sum(0)
                        if l > 0:
                            d = (d @ ws[l]) * acts[l] * (1 - acts[l])
                        ws[l].mul_(1 - ETA * LMBDA / n).sub_(gw, alpha=ETA / mb)
                        bs[l].sub_(gb, alpha=ETA / mb)
        impls.append((f"PyTorch {torch.__version__} CPU, 1 thread (manual backprop)",
                      torch_epoch, 3))
    except ImportError:
        torch_note = "PyTorch: not installed, row skipped (pip install torch to add it)"

    samples = {name: [] for name, _, _ in impls}
    with threadpool_limits(1):
        for _, fn, _ in impls:
            fn()  # warm up
        # round robin: every implementation once per round, so a burst of load from
        # elsewhere touches all of them alike; the slow ones stop after their run count
        for r in range(args.runs):
            for name, fn, runs in impls:
                if r < runs:
                    t = time.perf_counter()
                    fn()
                    samples[name].append(time.perf_counter() - t)
        rows.update({name: float(np.median(ts)) for name, ts in samples.items()})

        # the in-epoch monitor: an epoch inside train() (shuffle, learning speeds, gradient
        # rms, cost, history) against the bare kernel epoch, alternating, both over the same
        # rows in the same memory (train() takes the rows it is given, so the bare epoch
        # reads those too, not the rows of a larger X); train()'s per-call set-up is taken
        # out as (time of 3 epochs - time of 1 epoch) / 2
        tr_net = gradcore.Network(SIZES, seed=1)
        Xt, yt = (X, y) if len(perm) == len(X) else (X[perm], y[perm])
        Xt = kernels.aligned(Xt, np.float64)
        Yt = kernels.aligned(np.eye(SIZES[-1])[yt], np.float64)
        t_bare, t_train = [], []
        same_rows = np.random.default_rng(0).permutation(len(Xt)).astype(np.int64)
        bare_net = gradcore.Network(SIZES, seed=1)
        bare_p0 = bare_net.params.copy()

        def bare():
            bare_net.params[...] = bare_p0
            _core.sgd_epoch(bare_net.architecture.core(), bare_net.params, Xt, Yt, same_rows,
                            M, ETA, LMBDA, np.zeros(sum(SIZES[1:])), np.zeros(len(SIZES) - 1))

        def train_time(epochs):
            t = time.perf_counter()
            gradcore.train(tr_net, Xt, yt, epochs=epochs, batch_size=M, eta=ETA, lmbda=LMBDA,
                           seed=0)
            return time.perf_counter() - t

        for _ in range(args.runs):
            t = time.perf_counter()
            bare()
            t_bare.append(time.perf_counter() - t)
            t_train.append((train_time(3) - train_time(1)) / 2)

    # full-batch gradient descent (m = n): 1 thread against 2, alternating, same process;
    # on idle cores, then with one core busy
    fb = {}
    for load in ("idle", "under contention (one core busy)"):
        for n_fb in (1_000, 50_000):
            n_fb = min(n_fb, len(X))
            if load == "idle":
                fb[n_fb, load] = full_batch_times(X, Y, n_fb, pairs=max(9, args.runs))
                continue
            with BusyCore():
                fb[n_fb, load] = full_batch_times(X, Y, n_fb, pairs=max(9, args.runs))

    pk2 = peak()
    print(f"Single-thread peak again after the runs: {pk2['gflops']:.1f} GFLOP/s "
          f"(using {max(pk['gflops'], pk2['gflops']):.1f})\n")
    pk["gflops"] = max(pk["gflops"], pk2["gflops"])
    t_ref = rows["NumPy reference (gradcore.reference)"]
    print("| implementation | epoch (s) | GFLOP/s | % of peak | vs reference |")
    print("|---|---:|---:|---:|---:|")
    for name, t in rows.items():
        g = gflop / t
        print(f"| {name} | {t:.4f} | {g:.1f} | {100 * g / pk['gflops']:.0f} % | "
              f"{t_ref / t:.2f}x |")
    if torch_note:
        print(f"\n{torch_note}")
    t64, t32 = rows["gradcore float64"], rows["gradcore float32"]
    per_round = np.array(samples["gradcore float64"]) / np.array(samples["gradcore float32"])
    print(f"\nfloat32 vs float64: {t64 / t32:.2f}x faster (ratio of the medians; per round "
          f"{per_round.min():.2f}-{per_round.max():.2f}x)")
    tb, tt = float(np.median(t_bare)), float(np.median(t_train))
    print(f"In-epoch monitoring: an epoch inside gradcore.train() {tt:.4f} s vs the bare "
          f"kernel epoch {tb:.4f} s: {100 * (tt / tb - 1):+.1f} %")
    print(f"Full-batch gradient descent (m = n, float64), median epoch, "
          f"{gradcore.get_num_threads()} threads available:")
    print("| images | cores | 1 thread (ms) | 2 threads (ms) | speed-up |")
    print("|---:|---|---:|---:|---:|")
    for (n_fb, load), (t1, t2) in fb.items():
        print(f"| {n_fb:,} | {load} | {1e3 * t1:.2f} | {1e3 * t2:.2f} | {t1 / t2:.2f}x |")


if __name__ == "__main__":
    main()
