"""Weight initialisation schemes: their distributions, their bits, their errors.

Statistical checks compare a sample with the scheme's closed form within 5 standard errors.
For N independent draws of a distribution of mean 0, variance v and kurtosis κ = E[x⁴]/v²:
the sample mean has standard error √(v/N); the mean of squares (the variance estimate with
the mean known to be 0) has variance (E[x⁴] − v²)/N = (κ − 1)v²/N, so standard error
v·√((κ − 1)/N), with κ = 3 for a Gaussian and 9/5 for a uniform distribution. A fraction p
estimated from N draws has standard error √(p(1 − p)/N). With N of several hundred or
more the estimates are close to normal, and a correct scheme fails one 5-SE check with
probability well below 10⁻⁵ (6·10⁻⁷ for a normal estimate). The seeds are fixed, so the
tests are repeatable.
"""

from __future__ import annotations

import ast
import hashlib
import math
import os
import pathlib
import subprocess
import sys
from typing import Any

import numpy as np
import pytest

import gradcore
from gradcore import _init as gi
from gradcore import _validation, kernels

SCHEMES: list[Any] = [*gi.INIT_NAMES, 2.5, gi.Gaussian(2.0, 0.05), gi.Orthogonal(1.2, 0.1)]
GAUSS_KURTOSIS, UNIFORM_KURTOSIS = 3.0, 9.0 / 5.0
# P(|x| < σ): for a Gaussian erf(1/√2); for a uniform on [−a, a], σ = a/√3, so 1/√3
GAUSS_WITHIN_SD, UNIFORM_WITHIN_SD = math.erf(1 / math.sqrt(2)), 1 / math.sqrt(3)


def make(sizes: list[int], init: Any, seed: int, activations: list[str] | None = None,
         dtype: Any = np.float64, **kwargs: Any
         ) -> tuple[np.ndarray, list[np.ndarray], list[np.ndarray]]:
    """A parameter buffer of ``sizes`` filled by ``init``, with its per-layer views."""
    params = np.full(kernels.param_count(sizes), np.nan, dtype=dtype)
    ws, bs = kernels.layer_views(params, sizes)
    acts = ["sigmoid"] * (len(sizes) - 2) if activations is None else activations
    gi.initialize(ws, bs, init, acts, np.random.default_rng(seed), **kwargs)
    return params, ws, bs


def todays_init(sizes: list[int], init: str | float, seed: int, dtype: Any = np.float64
                ) -> np.ndarray:
    """A copy of the initialisation gradcore.Network had before the schemes came."""
    params = np.empty(kernels.param_count(sizes), dtype=dtype)
    rng = np.random.default_rng(seed)
    for w, b in zip(*kernels.layer_views(params, sizes)):
        scale = 1.0 if init == "large" else _weight_scale(init) / np.sqrt(w.shape[1])
        w[...] = rng.standard_normal(w.shape) * scale
        b[...] = rng.standard_normal(b.shape)
    return params


def _weight_scale(init: str | float) -> float:
    return 1.0 if init == "default" else float(init)


def assert_moments(x: np.ndarray, var: float, kurtosis: float, what: str) -> None:
    """Mean 0 and mean square ``var`` within 5 standard errors (module docstring)."""
    x = np.asarray(x, dtype=np.float64).ravel()
    n = x.size
    mean, mean_sq = float(x.mean()), float(np.mean(x * x))
    assert abs(mean) < 5 * math.sqrt(var / n), f"{what}: mean {mean} for variance {var}"
    assert abs(mean_sq - var) < 5 * var * math.sqrt((kurtosis - 1) / n), \
        f"{what}: variance {mean_sq}, expected {var} (N = {n})"


def assert_fraction(hits: np.ndarray, p: float, what: str) -> None:
    n = hits.size
    assert abs(float(hits.mean()) - p) < 5 * math.sqrt(p * (1 - p) / n), \
        f"{what}: fraction {hits.mean()}, expected {p} (N = {n})"


# ------------------------------------------------------------------ today's bits


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("init", ["default", "large", 2.5, 1, 0.5, 1.0])
def test_default_large_and_scales_give_the_bits_they_always_gave(init, dtype):
    sizes = [30, 20, 20, 7]
    for seed in (0, 1, 12345):
        params, _, _ = make(sizes, init, seed, dtype=dtype)
        assert np.array_equal(params, todays_init(sizes, init, seed, dtype))


def test_the_copy_of_the_old_initialisation_is_what_network_does_today():
    # the reference above, held to the network (while the network still draws that way)
    for init in ("default", "large", 2.5):
        net = gradcore.Network([30, 20, 7], init=init, seed=4)
        assert np.array_equal(net.params, todays_init([30, 20, 7], init, 4))


def test_gaussian_1_1_is_default_bit_for_bit():
    sizes = [30, 20, 20, 7]
    for dtype in (np.float64, np.float32):
        a, _, _ = make(sizes, gi.Gaussian(1, 1), 3, dtype=dtype)
        b, _, _ = make(sizes, "default", 3, dtype=dtype)
        assert np.array_equal(a, b)


def test_gaussian_weights_scale_with_the_root_of_the_variance_and_ignore_bias_var():
    sizes = [30, 20, 7]
    _, w1, b1 = make(sizes, gi.Gaussian(1.0, 1.0), 5)
    _, w4, b4 = make(sizes, gi.Gaussian(4.0, 0.25), 5)
    _, w0, b0 = make(sizes, gi.Gaussian(4.0, 0.0), 5)
    for l in range(2):  # ×2 and ×0.5 are exact: the same bits
        assert np.array_equal(w4[l], 2 * w1[l]) and np.array_equal(w0[l], w4[l])
        assert np.array_equal(b4[l], 0.5 * b1[l])
        assert np.all(b0[l] == 0) and not np.signbit(b0[l]).any()


@pytest.mark.parametrize("name, same", [
    ("lecun", gi.Gaussian(1.0, 0.0)),
    ("orthogonal", gi.Orthogonal()),
    ("orthogonal", gi.Orthogonal(1.0, 0.0)),
])
def test_named_schemes_are_their_parametrised_forms(name, same):
    sizes = [30, 20, 40, 7]
    assert np.array_equal(make(sizes, name, 8)[0], make(sizes, same, 8)[0])


def test_he_is_gaussian_2_for_relu_and_2_over_1_plus_a2_for_leaky_relu():
    sizes = [30, 20, 20, 7]
    relu, _, _ = make(sizes, "he", 2, ["relu", "relu"])
    assert np.array_equal(relu, make(sizes, gi.Gaussian(2.0, 0.0), 2)[0])
    leaky, _, _ = make(sizes, "he", 2, ["leaky_relu", "leaky_relu"])
    assert np.array_equal(leaky, make(sizes, gi.Gaussian(2 / (1 + 0.01**2), 0.0), 2)[0])
    # activations that are not rectifiers get ReLU's 2/n_in
    for act in ("sigmoid", "tanh", "softsign", "elu", "linear"):
        assert np.array_equal(make(sizes, "he", 2, [act, act])[0], relu)


def test_he_uses_the_activation_of_each_layers_inputs():
    sizes = [9, 10, 11, 12, 5]
    acts = ["relu", "prelu", "leaky_relu"]
    _, he, _ = make(sizes, "he", 6, acts, prelu_slope=0.5)
    _, lecun, _ = make(sizes, "lecun", 6, acts)  # the same normal draws, variance 1/n_in
    # layer 0: the first hidden layer's own activation (its inputs are the data); layer l:
    # hidden layer l-1's; the output layer: the last hidden layer's
    slopes = [0.0, 0.0, 0.5, 0.01]
    for l, a in enumerate(slopes):
        np.testing.assert_allclose(he[l], lecun[l] * math.sqrt(2 / (1 + a * a)), rtol=1e-15)
    # changing the activation of hidden layer 1 changes only the layer it feeds
    _, other, _ = make(sizes, "he", 6, ["relu", "relu", "leaky_relu"], prelu_slope=0.5)
    assert [np.array_equal(x, y) for x, y in zip(he, other)] == [True, True, False, True]


def test_he_without_hidden_layers_is_2_over_n_in():
    _, w, _ = make([30, 7], "he", 1, [])
    _, w2, _ = make([30, 7], gi.Gaussian(2.0), 1, [])
    assert np.array_equal(w[0], w2[0])


def test_orthogonal_gain_multiplies_the_matrix():
    _, w1, _ = make([20, 30, 30, 10], "orthogonal", 3)
    _, w3, b3 = make([20, 30, 30, 10], gi.Orthogonal(2.5, 0.0), 3)
    assert all(np.array_equal(x, 2.5 * y) for x, y in zip(w3, w1))
    assert all(np.all(b == 0) for b in b3)


# ------------------------------------------------------------------ distributions


def _layers(init: Any, sizes: list[int], seeds: range, activations: list[str] | None = None,
            **kwargs: Any) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per layer, the weights and the biases of several seeds, pooled."""
    draws = [make(sizes, init, s, activations, **kwargs) for s in seeds]
    n = len(sizes) - 1
    return ([np.stack([d[1][l] for d in draws]) for l in range(n)],
            [np.stack([d[2][l] for d in draws]) for l in range(n)])


# (init, weight variance(n_in, n_out), kurtosis, fraction within one sd, bias variance;
#  None: biases exactly 0)
MOMENTS = [
    ("default", lambda i, o: 1 / i, GAUSS_KURTOSIS, GAUSS_WITHIN_SD, 1.0),
    ("large", lambda i, o: 1.0, GAUSS_KURTOSIS, GAUSS_WITHIN_SD, 1.0),
    (2.5, lambda i, o: 6.25 / i, GAUSS_KURTOSIS, GAUSS_WITHIN_SD, 1.0),
    (gi.Gaussian(2.0, 0.05), lambda i, o: 2 / i, GAUSS_KURTOSIS, GAUSS_WITHIN_SD, 0.05),
    (gi.Gaussian(0.5, 3.0), lambda i, o: 0.5 / i, GAUSS_KURTOSIS, GAUSS_WITHIN_SD, 3.0),
    ("lecun", lambda i, o: 1 / i, GAUSS_KURTOSIS, GAUSS_WITHIN_SD, None),
    ("he", lambda i, o: 2 / i, GAUSS_KURTOSIS, GAUSS_WITHIN_SD, None),
    # U[±a] has variance a²/3: a² = 6/(n_in + n_out) and 1/n_in
    ("glorot", lambda i, o: 2 / (i + o), UNIFORM_KURTOSIS, UNIFORM_WITHIN_SD, None),
    ("glorot_standard", lambda i, o: 1 / (3 * i), UNIFORM_KURTOSIS, UNIFORM_WITHIN_SD, None),
]


@pytest.mark.parametrize("init, var, kurtosis, within_sd, bias_var", MOMENTS,
                         ids=[str(m[0]) for m in MOMENTS])
def test_weights_and_biases_have_the_schemes_mean_and_variance(init, var, kurtosis,
                                                               within_sd, bias_var):
    sizes = [300, 200, 100]
    ws, bs = _layers(init, sizes, range(4), ["relu"])
    for l, (w, b) in enumerate(zip(ws, bs)):
        v = var(sizes[l], sizes[l + 1])
        assert_moments(w, v, kurtosis, f"{init} weights[{l}]")
        assert_fraction(np.abs(w) < math.sqrt(v), within_sd, f"{init} weights[{l}] shape")
        if bias_var is None:
            assert np.all(b == 0) and not np.signbit(b).any()
        else:
            assert_moments(b, bias_var, GAUSS_KURTOSIS, f"{init} biases[{l}]")


@pytest.mark.parametrize("slope", [0.25, 1.0, 3.0])
def test_he_for_prelu_has_variance_2_over_1_plus_a2_n_in(slope):
    sizes = [300, 200, 100]
    ws, _ = _layers("he", sizes, range(4), ["prelu"], prelu_slope=slope)
    for l, w in enumerate(ws):
        assert_moments(w, 2 / ((1 + slope**2) * sizes[l]), GAUSS_KURTOSIS, f"he[{l}]")


@pytest.mark.parametrize("init", ["glorot", "glorot_standard"])
def test_uniform_schemes_stay_in_their_support_and_fill_it(init):
    sizes = [300, 200, 100]
    ws, _ = _layers(init, sizes, range(4))
    for l, w in enumerate(ws):
        n_in, n_out = sizes[l], sizes[l + 1]
        a = math.sqrt(6 / (n_in + n_out)) if init == "glorot" else 1 / math.sqrt(n_in)
        assert -a <= w.min() and w.max() <= a
        # P(every one of N draws stays 20/N away from an end) = (1 - 10/N)^N < e^-10
        assert w.min() < -a * (1 - 20 / w.size) and w.max() > a * (1 - 20 / w.size)


def test_sparse_gives_15_nonzero_unit_gaussian_weights_per_unit():
    sizes = [100, 300, 50, 10]
    ws, bs = _layers("sparse", sizes, range(3))
    for w in ws[:2]:  # n_in = 100 and 300
        assert np.all(np.count_nonzero(w, axis=-1) == 15)
    assert np.all(np.count_nonzero(ws[2], axis=-1) == 15)  # n_in = 50
    assert all(np.all(b == 0) and not np.signbit(b).any() for b in bs)
    values = np.concatenate([w[w != 0] for w in ws])
    assert_moments(values, 1.0, GAUSS_KURTOSIS, "sparse nonzero weights")
    assert_fraction(np.abs(values) < 1, GAUSS_WITHIN_SD, "sparse nonzero weights")


def test_sparse_uses_every_input_of_a_layer_with_fewer_than_15():
    for n_in in (1, 10, 14, 15):
        _, ws, bs = make([n_in, 20, 3], "sparse", n_in)
        assert np.all(ws[0] != 0) and np.all(bs[0] == 0)


def test_sparse_picks_each_input_equally_often():
    # 3 seeds x 2000 units, 15 of 100 inputs each: a column's count is Binomial(6000, 0.15)
    ws, _ = _layers("sparse", [100, 2000], range(3))
    counts = np.count_nonzero(ws[0].reshape(-1, 100), axis=0)
    n, p = 6000, 0.15
    # 5.5 SE: each of the 100 columns inside with probability 1 - 4·10⁻⁸
    assert np.abs(counts - n * p).max() < 5.5 * math.sqrt(n * p * (1 - p)), counts


@pytest.mark.parametrize("shape", [(40, 40), (25, 40), (40, 25), (1, 40), (40, 1), (1, 1),
                                   (300, 300)])
@pytest.mark.parametrize("gain", [1.0, 0.5, 3.0])
def test_orthogonal_weights_are_orthonormal_times_the_gain(shape, gain):
    n_out, n_in = shape
    _, ws, bs = make([n_in, n_out], gi.Orthogonal(gain), 11, [])
    w = ws[0]
    gram = w @ w.T if n_out <= n_in else w.T @ w  # rows, or columns, orthonormal
    # each entry of the Gram matrix is a sum of max(n_out, n_in) rounded products
    tol = 10 * max(shape) * np.finfo(np.float64).eps * gain**2
    assert np.abs(gram - gain**2 * np.eye(min(shape))).max() < tol
    assert np.all(bs[0] == 0)


def test_orthogonal_biases_are_gaussian_with_bias_var():
    _, bs = _layers(gi.Orthogonal(1.0, 0.3), [50, 400], range(5), [])
    assert_moments(bs[0], 0.3, GAUSS_KURTOSIS, "orthogonal biases")


def test_orthogonal_matrices_are_haar_distributed():
    # For W Haar-distributed on O(n), E[tr(W)^j] is the j-th moment of N(0, 1) for
    # j <= n/2 (Diaconis & Shahshahani 1994, "On the eigenvalues of random matrices"):
    # with n = 8, tr W has mean 0, variance 1 and E[tr⁴] = 3, so tr² has variance 2. Without
    # the signs of R's diagonal, column k of Q would lean against the k-th unit vector and
    # the mean trace would be far below 0.
    rng = np.random.default_rng(21)
    traces, corners = [], []
    for _ in range(1500):
        w, b = np.empty((8, 8)), np.empty(8)
        gi.initialize([w], [b], "orthogonal", [], rng)
        traces.append(np.trace(w))
        corners.append(w[0, 0])
    t = np.array(traces)
    assert abs(t.mean()) < 5 * math.sqrt(1 / t.size)
    assert abs(np.mean(t * t) - 1) < 5 * math.sqrt(2 / t.size)
    # an entry of a Haar W on O(n): mean 0, E w² = 1/n, E w⁴ = 3/(n(n+2)), so κ = 3n/(n+2)
    assert_moments(np.array(corners), 1 / 8, 3 * 8 / 10, "W[0, 0]")


@pytest.mark.parametrize("shape", [(3, 8), (8, 3)])
def test_non_square_orthogonal_entries_have_mean_0_and_variance_1_over_the_long_side(shape):
    # a uniformly random orthonormal frame: each entry has mean 0 and E w² = 1/max(shape)
    rng = np.random.default_rng(shape[0])
    draws = []
    for _ in range(1500):
        w, b = np.empty(shape), np.empty(shape[0])
        gi.initialize([w], [b], "orthogonal", [], rng)
        draws.append(w)
    d = np.array(draws)
    n = max(shape)
    for i, j in [(0, 0), (1, 1), (2, 2), (2, 0)]:
        assert_moments(d[:, i, j], 1 / n, 3 * n / (n + 2), f"W[{i}, {j}]")


# ------------------------------------------------------------------ the QR


@pytest.mark.parametrize("shape", [(60, 40), (50, 50), (200, 3), (7, 1)])
def test_qr_agrees_with_lapack_and_reconstructs_its_input(shape):
    a = np.random.default_rng(5).standard_normal(shape)
    q = gi.orthonormal_columns(a)
    q_lapack, r_lapack = np.linalg.qr(a)
    q_lapack = q_lapack * np.sign(np.diag(r_lapack))  # LAPACK's R has diagonal of any sign
    assert np.abs(q - q_lapack).max() < 1e-13
    r = q.T @ a  # independent of LAPACK: upper triangular with a positive diagonal
    assert np.abs(np.tril(r, -1)).max() < 1e-13 and np.all(np.diag(r) > 0)
    assert np.abs(q @ r - a).max() < 1e-13


def _textbook_q(a: np.ndarray) -> np.ndarray:
    """The Householder QR as the docstring states it, one trailing block at a time, with
    the pairwise-tree column sums written out again."""

    def column_sums(p: np.ndarray) -> np.ndarray:
        rows = p.shape[0]
        while rows > 1:
            half = (rows + 1) // 2
            p[:rows - half] = p[:rows - half] + p[half:rows]
            rows = half
        return p[0].copy()

    def reflect(b: np.ndarray, v: np.ndarray, tau: float) -> None:
        b[...] = b - v[:, None] * (column_sums(v[:, None] * b) * tau)

    r = a.astype(np.float64)
    m, n = r.shape
    q, found = np.eye(m, n), []
    for k in range(n):
        x = r[k:, k].copy()
        norm = math.sqrt(math.fsum((x * x).tolist()))
        s = 1.0 if x[0] >= 0 else -1.0
        v = x.copy()
        v[0] = x[0] + s * norm
        tau = 1.0 / (norm * (norm + abs(x[0])))
        reflect(r[k:, k + 1:], v, tau)
        found.append((v, tau, -s))
    for k in reversed(range(n)):
        reflect(q[k:, k:], found[k][0], found[k][1])
    return q * np.array([sign for _, _, sign in found])


@pytest.mark.parametrize("shape", [(33, 33), (64, 64), (65, 64), (70, 70), (100, 33),
                                   (97, 96), (5, 1), (1, 1)])
def test_qr_is_the_textbook_loop_bit_for_bit(shape):
    # the windows of contiguous copies change the speed, not the numbers
    a = np.random.default_rng(sum(shape)).standard_normal(shape)
    assert np.array_equal(gi.orthonormal_columns(a), _textbook_q(a))


def test_qr_of_a_matrix_with_a_zero_column_still_gives_orthonormal_columns():
    a = np.random.default_rng(2).standard_normal((10, 6))
    a[:, 2] = 0.0
    q = gi.orthonormal_columns(a)
    assert np.abs(q.T @ q - np.eye(6)).max() < 1e-14
    assert np.abs(q @ (q.T @ a) - a).max() < 1e-14


def test_qr_does_not_depend_on_the_memory_layout_and_leaves_its_input_alone():
    a = np.random.default_rng(3).standard_normal((30, 20))
    before = a.copy()
    q = gi.orthonormal_columns(a)
    assert np.array_equal(a, before)
    assert np.array_equal(gi.orthonormal_columns(np.asfortranarray(a)), q)
    assert np.array_equal(gi.orthonormal_columns(a.astype(np.float32)),
                          gi.orthonormal_columns(a.astype(np.float32).astype(np.float64)))


def test_qr_column_sums_are_a_fixed_pairwise_tree():
    p = np.array([[1.0, 1e16], [2.0, 1.0], [3.0, 1.0], [4.0, -1e16], [5.0, 0.0]])
    # 5 rows: row 0 += row 3, row 1 += row 4 (row 2 stays); 3 rows: row 0 += row 2;
    # 2 rows: row 0 += row 1
    tree = [((a[0] + a[3]) + a[2]) + (a[1] + a[4]) for a in p.T.tolist()]
    assert gi._column_sums(p.copy()).tolist() == tree
    in_order = (((1e16 + 1.0) + 1.0) + -1e16) + 0.0
    assert tree[1] == 2.0 != in_order  # the order matters, and it is the tree's
    with pytest.raises(ValueError, match="at least as many rows as columns"):
        gi.orthonormal_columns(np.ones((2, 3)))


# ------------------------------------------------------------------ every scheme


@pytest.mark.parametrize("init", SCHEMES, ids=str)
def test_float32_is_the_float64_weights_rounded_once(init):
    sizes = [40, 30, 30, 10]
    p64, _, _ = make(sizes, init, 9, ["tanh", "relu"])
    p32, _, _ = make(sizes, init, 9, ["tanh", "relu"], dtype=np.float32)
    assert p32.dtype == np.float32 and np.array_equal(p32, p64.astype(np.float32))


@pytest.mark.parametrize("init", SCHEMES, ids=str)
def test_same_seed_same_weights_other_seed_other_weights(init):
    sizes = [40, 30, 30, 10]
    a, ws, _ = make(sizes, init, 1, ["relu", "relu"])
    assert np.isfinite(a).all()  # every number written (the buffer started as NaN)
    assert np.array_equal(a, make(sizes, init, 1, ["relu", "relu"])[0])
    _, ws2, _ = make(sizes, init, 2, ["relu", "relu"])
    assert all(not np.array_equal(x, y) for x, y in zip(ws, ws2))


# sha256 of the float64 parameters of [30, 200, 200, 10], activations relu and prelu, seed
# 2024, first 16 hex digits. The same on every machine, whatever its CPU, BLAS or thread
# count: if one differs, initialisation there is not reproducible.
FINGERPRINTS = {
    "default": "caaa8f8467837958",
    "large": "0aa520f6f0c4b0be",
    "glorot": "44883e4670719fe9",
    "glorot_standard": "a48b7f85cbcab764",
    "lecun": "2fc36dd32c60c39e",
    "he": "c0d190e64ca20238",
    "orthogonal": "92d8d46c6a7b293a",
    "sparse": "a9baa49fad0641f0",
    "2.5": "a054a8052bee30a9",
    "Gaussian(weight_var=2.0, bias_var=0.05)": "21041c3c3c1a6cf6",
    "Orthogonal(gain=1.2, bias_var=0.1)": "cbd2696e7def3d4e",
}


@pytest.mark.parametrize("init", SCHEMES, ids=str)
def test_fingerprint_of_every_scheme(init):
    params, _, _ = make([30, 200, 200, 10], init, 2024, ["relu", "prelu"])
    digest = hashlib.sha256(params.astype("<f8").tobytes()).hexdigest()[:16]
    assert digest == FINGERPRINTS[str(init)]


_FINGERPRINT_SCRIPT = """
import hashlib, sys
import numpy as np
from gradcore import _init as gi
a = np.random.default_rng(0).standard_normal((300, 300))
w, b = np.empty((300, 300)), np.empty(300)
gi.initialize([w], [b], "orthogonal", [], np.random.default_rng(1))
for x in (gi.orthonormal_columns(a), w):
    print(hashlib.sha256(x.tobytes()).hexdigest())
"""


def _dispatched_cpu_features() -> str:
    """NumPy's optional vector code paths enabled on this CPU, for NPY_DISABLE_CPU_FEATURES
    (empty where NumPy does not say)."""
    try:
        from numpy._core import _multiarray_umath as umath
    except ImportError:  # pragma: no cover - NumPy < 2
        return ""
    features = getattr(umath, "__cpu_features__", {})
    return " ".join(f for f in getattr(umath, "__cpu_dispatch__", []) if features.get(f))


@pytest.mark.parametrize("coretype", ["Prescott", "Haswell"])
def test_orthogonal_bits_do_not_change_with_the_vector_code_or_the_blas_kernels(coretype,
                                                                               tmp_path):
    # Another machine, simulated: NumPy without its dispatched vector loops, and OpenBLAS
    # (where NumPy uses it) with another CPU's kernels, which changes the last bits of
    # numpy.linalg.qr and of matrix products. The orthogonal weights must not change.
    env = {**os.environ, "OPENBLAS_CORETYPE": coretype,
           "NPY_DISABLE_CPU_FEATURES": _dispatched_cpu_features()}
    # (run outside the checkout, which would shadow the installed package)
    here = subprocess.run([sys.executable, "-c", _FINGERPRINT_SCRIPT], check=True,
                          capture_output=True, text=True, cwd=tmp_path).stdout
    there = subprocess.run([sys.executable, "-c", _FINGERPRINT_SCRIPT], check=True,
                           capture_output=True, text=True, env=env, cwd=tmp_path).stdout
    assert here == there and len(here.split()) == 2


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize("value, exc, words", [
    ("xavier", ValueError, "init must be one of 'default', 'large', 'glorot', "
                           "'glorot_standard', 'lecun', 'he', 'orthogonal', 'sparse', "
                           "a weight scale s > 0"),
    ("Glorot", ValueError, "got 'Glorot'"),
    (True, TypeError, "got True (bool)"),
    (np.bool_(True), TypeError, "(bool"),
    (None, TypeError, "got None (NoneType)"),
    ([1.0], TypeError, "got [1.0] (list)"),
    (0.0, ValueError, "init as a weight scale must be finite and > 0, got 0.0"),
    (-2, ValueError, "init as a weight scale must be finite and > 0, got -2"),
    (float("nan"), ValueError, "got nan"),
    (float("inf"), ValueError, "got inf"),
])
def test_bad_init(value, exc, words):
    with pytest.raises(exc) as info:
        gi.check_init("init", value)
    assert words in str(info.value)


def test_good_init_values_come_back_normalised():
    assert gi.check_init("init", "he") == "he"
    assert gi.check_init("init", 3) == 3.0 and isinstance(gi.check_init("init", 3), float)
    assert gi.check_init("init", np.float32(0.5)) == 0.5
    g = gi.Gaussian(np.int64(2), 1)
    assert gi.check_init("init", g) is g and g == gi.Gaussian(2.0, 1.0)
    assert type(g.weight_var) is float and type(g.bias_var) is float


@pytest.mark.parametrize("make_it, exc, words", [
    (lambda: gi.Gaussian(-1.0), ValueError, "weight_var must be a finite number >= 0, got -1.0"),
    (lambda: gi.Gaussian(float("nan")), ValueError,
     "weight_var must be a finite number >= 0, got nan"),
    (lambda: gi.Gaussian(float("inf")), ValueError, "weight_var must be a finite number >= 0"),
    (lambda: gi.Gaussian(1.0, -0.1), ValueError, "bias_var must be a finite number >= 0"),
    (lambda: gi.Gaussian(1.0, float("nan")), ValueError, "bias_var must be a finite number"),
    (lambda: gi.Gaussian(True), TypeError, "weight_var must be a finite number >= 0, got True"),
    (lambda: gi.Gaussian("1"), TypeError, "weight_var must be a finite number >= 0, got '1'"),
    (lambda: gi.Gaussian(1.0, None), TypeError, "bias_var must be"),
    (lambda: gi.Orthogonal(0.0), ValueError, "gain must be a finite number > 0, got 0.0"),
    (lambda: gi.Orthogonal(-1.0), ValueError, "gain must be a finite number > 0"),
    (lambda: gi.Orthogonal(float("inf")), ValueError, "gain must be a finite number > 0"),
    (lambda: gi.Orthogonal(float("nan")), ValueError, "gain must be a finite number > 0"),
    (lambda: gi.Orthogonal(1.0, -1.0), ValueError, "bias_var must be a finite number >= 0"),
    (lambda: gi.Orthogonal(True), TypeError, "gain must be a finite number > 0, got True"),
])
def test_bad_gaussian_and_orthogonal(make_it, exc, words):
    with pytest.raises(exc) as info:
        make_it()
    assert words in str(info.value)


def test_zero_weight_variance_is_allowed_and_gives_zero_weights():
    _, ws, bs = make([5, 4, 3], gi.Gaussian(0.0, 1.0), 0)
    assert all(np.all(w == 0) for w in ws) and np.all(np.isfinite(bs[0]))


def _views(sizes: list[int]) -> tuple[np.ndarray, list[np.ndarray], list[np.ndarray]]:
    params = np.full(kernels.param_count(sizes), np.nan)
    ws, bs = kernels.layer_views(params, sizes)
    return params, ws, bs


@pytest.mark.parametrize("change, exc, words", [
    ({"activations": ["relu"]}, ValueError,
     "activations must name one activation per hidden layer: 2 for 3 layers of weights, "
     "got 1"),
    ({"activations": ["relu", "relu", "relu"]}, ValueError, "2 for 3 layers of weights, got 3"),
    ({"activations": ["relu", "swish"]}, ValueError,
     "activations[1] must be one of 'sigmoid', 'tanh', 'softsign', 'relu', 'leaky_relu', "
     "'elu', 'prelu', 'linear', got 'swish'"),
    ({"activations": "relu"}, TypeError, "activations must be a sequence of names"),
    ({"activations": None}, TypeError, "activations must be a sequence of names"),
    ({"init": "xavier"}, ValueError, "init must be one of"),
    ({"init": False}, TypeError, "init must be"),
    ({"rng": np.random.RandomState(0)}, TypeError, "rng must be a numpy.random.Generator"),
    ({"rng": 0}, TypeError, "rng must be a numpy.random.Generator, got 0 (int)"),
    ({"prelu_slope": -0.1}, ValueError, "prelu_slope must be >= 0"),
    ({"prelu_slope": float("nan")}, ValueError, "prelu_slope must be finite"),
    ({"prelu_slope": True}, TypeError, "prelu_slope must be a finite number >= 0"),
])
def test_bad_initialize_arguments_write_nothing(change, exc, words):
    params, ws, bs = _views([6, 5, 4, 3])
    args: dict[str, Any] = {"init": "he", "activations": ["relu", "relu"],
                            "rng": np.random.default_rng(0), **change}
    with pytest.raises(exc) as info:
        gi.initialize(ws, bs, args.pop("init"), args.pop("activations"), args.pop("rng"),
                      **args)
    assert words in str(info.value)
    assert np.isnan(params).all()


@pytest.mark.parametrize("weights, biases, exc, words", [
    ([np.zeros((5, 6))], [np.zeros(4)], ValueError,
     "biases[0] must have shape (5,) to match weights[0] (5, 6), got (4,)"),
    ([np.zeros((5, 6)), np.zeros((3, 4))], [np.zeros(5), np.zeros(3)], ValueError,
     "weights[1] must have 5 columns (the outputs of weights[0]), got shape (3, 4)"),
    ([np.zeros((5, 6))], [np.zeros(5), np.zeros(3)], ValueError,
     "biases must have one array per layer of weights (1), got 2"),
    ([np.zeros((5, 6), dtype=int)], [np.zeros(5)], TypeError,
     "weights[0] must be a float64 or float32 numpy array, got int64"),
    ([[[0.0] * 6] * 5], [np.zeros(5)], TypeError, "weights[0] must be a float64 or float32 "
                                                 "numpy array, got list"),
    ([np.zeros(6)], [np.zeros(6)], ValueError, "weights[0] must be a non-empty 2-D array"),
    ([np.zeros((5, 0))], [np.zeros(5)], ValueError, "weights[0] must be a non-empty 2-D"),
    ([], [], ValueError, "weights must hold at least one layer"),
    (np.zeros((5, 6)), [np.zeros(5)], TypeError, "weights must be a sequence of arrays"),
    ([np.zeros((5, 6))], np.zeros(5), TypeError, "biases must be a sequence of arrays"),
])
def test_bad_layers(weights, biases, exc, words):
    acts = ["relu"] * (len(weights) - 1) if isinstance(weights, list) else []
    with pytest.raises(exc) as info:
        gi.initialize(weights, biases, "default", acts, np.random.default_rng(0))
    assert words in str(info.value)


def test_read_only_layers_are_refused():
    w = np.zeros((5, 6))
    w.flags.writeable = False
    with pytest.raises(ValueError, match=r"weights\[0\] must be writeable"):
        gi.initialize([w], [np.zeros(5)], "default", [], np.random.default_rng(0))


def test_a_network_s_own_layer_lists_are_filled_in_place():
    net = gradcore.Network([12, 8, 4], seed=0)
    gi.initialize(net.weights, net.biases, "glorot", ["relu"], np.random.default_rng(0))
    expected, _, _ = make([12, 8, 4], "glorot", 0, ["relu"])
    assert np.array_equal(net.params, expected)


# ------------------------------------------------------------------ the constraint


@pytest.mark.parametrize("text, value", [
    ("glorot", "glorot"),
    (" he ", "he"),
    ("orthogonal", "orthogonal"),
    ("2.5", 2.5),
    ("1e-3", 0.001),
    ("gaussian:2,0.05", gi.Gaussian(2.0, 0.05)),
    ("gaussian:2", gi.Gaussian(2.0, 0.0)),
    ("gaussian: 1.5 , 1 ", gi.Gaussian(1.5, 1.0)),
    ("orthogonal:1.2,0", gi.Orthogonal(1.2, 0.0)),
    ("orthogonal:2", gi.Orthogonal(2.0)),
])
def test_command_line_strings(text, value):
    assert gi.InitSpec().parse("init", text) == value


@pytest.mark.parametrize("text, words", [
    ("xavier", "init must be one of 'default'"),
    ("", "init must be one of"),
    ("nan", "init as a weight scale must be finite and > 0, got nan"),
    ("-1", "init as a weight scale must be finite and > 0"),
    ("gaussian:", "init must be gaussian:WEIGHT_VAR[,BIAS_VAR] or orthogonal:GAIN[,BIAS_VAR] "
                  "with numbers, got 'gaussian:'"),
    ("gaussian:two", "with numbers, got 'gaussian:two'"),
    ("gaussian:1,2,3", "init must be a name, a number or gaussian:WEIGHT_VAR[,BIAS_VAR]"),
    ("uniform:1", "init must be a name, a number or gaussian:"),
    ("gaussian:-1", "init 'gaussian:-1': weight_var must be a finite number >= 0, got -1.0"),
    ("gaussian:1,inf", "bias_var must be a finite number >= 0, got inf"),
    ("orthogonal:0", "init 'orthogonal:0': gain must be a finite number > 0, got 0.0"),
])
def test_bad_command_line_strings(text, words):
    with pytest.raises(ValueError) as info:
        gi.InitSpec().parse("init", text)
    assert words in str(info.value)


@pytest.mark.parametrize("value,want", [
    ("default", "default"), ("large", "large"), (2.5, 2.5), (3, 3.0), (np.float64(0.5), 0.5),
    (0.0, ValueError), (-1.0, ValueError), (float("inf"), ValueError), (True, TypeError),
    (None, TypeError), ("xavier", ValueError), ([1], TypeError)])
def test_the_networks_constraint_is_initspec_and_keeps_the_old_answers(value, want):
    """The table's rule for Network's init is InitSpec; what the rule of "default", "large"
    and scales accepted, it still accepts as the same value and type."""
    rule = _validation.CONSTRAINTS["Network"]["init"]
    assert isinstance(rule, gi.InitSpec)
    if isinstance(want, type):
        with pytest.raises(want):
            rule.check("init", value)
    else:
        got = rule.check("init", value)
        assert got == want and type(got) is type(want)


@pytest.mark.parametrize("text,want", [("default", "default"), ("large", "large"),
                                       ("2.5", 2.5), ("3", 3.0)])
def test_the_constraint_parses_what_the_old_one_did(text, want):
    got = gi.InitSpec().parse("init", text)
    assert got == want and type(got) is type(want)


def test_the_module_needs_only_numpy_and_the_rules():
    """_init builds on the rules (_constraint) and the activations (_arch), not on the table
    (_validation), which imports it."""
    path = pathlib.Path(gi.__file__)
    tree = ast.parse(path.read_text(encoding="utf-8"))
    modules = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            modules.add("." * node.level + (node.module or ""))
    assert modules <= {"__future__", "math", "collections.abc", "dataclasses", "typing",
                       "numpy", "._constraint", "._arch"}, modules
