"""Spectrum of one draw of W: eigen-decomposition of W^T D W, forcing weights, LRU cache, stability checks.

The spectrum is cached per (params without lr and batch, seed, dtype) in ``_SPECTRUM_CACHE`` (LRU; spectra
with eigenvectors in ``_VECTORS_CACHE``; ``_lru_get``/``_lru_put`` also serve the deterministic-equivalent
caches). See docs/theory/plrf.rst.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from generators.plrf.params import PLRFParams
from toptraj.exceptions import NumericalError, UnstableStepError
from toptraj.validation import check_choice, check_increasing, check_seed

#: Modes with lambda < _LUMP_REL * lambda_max have unreliable eigenvectors in float64 (eigenvector
#: error ~ eps lambda_max / lambda); their weight is lumped with P_inf (they do not move in practice:
#: lr * lambda * R << 1 for them).
_LUMP_REL = 1e-10
_MAX_STEPS = 20_000_000  # memory guard: ~3 GB at the cap (FFT buffers of length 4R)
_ROW_CHUNK_BYTES = 64 * 2**20


#: Floating-point types of the O(v d^2 + d^3) part of :func:`spectrum` (W^T D W and its reduction to
#: tridiagonal form); everything after (eigen-solve of the tridiagonal matrix, weights, the Volterra
#: solve) is float64.
DTYPES = ("float64", "float32")


@dataclass(frozen=True)
class Spectrum:
    """Spectral data of W^T D W for one draw of W (arrays read-only).

    lam : (d,) eigenvalues, ascending
    vecs : (d, d) orthonormal eigenvectors (columns), or None when computed with ``vectors=False``
    gproj : (d,) V^T W^T D b (the target's coordinates times sqrt(lam))
    weights : (d,) w_k = gproj_k^2 / lam_k (0 for lumped modes)
    reliable : (d,) bool, lam_k >= 1e-10 lam_max
    p_frozen : P_inf plus the weight of lumped modes (= norm(D^1/2 b)^2 - sum of reliable w_k)
    p0 : norm(D^1/2 b)^2 = sum_{j<=v} j^-2(alpha+beta) = P(0)
    dtype : "float64" or "float32", the type W^T D W was formed and reduced in
    """

    lam: np.ndarray
    vecs: np.ndarray | None
    gproj: np.ndarray
    weights: np.ndarray
    reliable: np.ndarray
    p_frozen: float
    p0: float
    dtype: str = "float64"

    @property
    def lambda_max(self) -> float:
        return float(self.lam[-1])


#: Spectra without eigenvectors are O(d) in memory: many are kept (every seed of a loss_grid).
_SPECTRUM_CACHE: OrderedDict = OrderedDict()
_SPECTRUM_CACHE_SIZE = 256
#: Spectra with eigenvectors (for simulate_sgd) are O(d^2): only the last 2.
_VECTORS_CACHE: OrderedDict = OrderedDict()
_VECTORS_CACHE_SIZE = 2


def _lru_get(cache: OrderedDict, key):
    """Cached value for a present key, marked as most recently used."""
    cache.move_to_end(key)
    return cache[key]


def _lru_put(cache: OrderedDict, key, value, size: int = 2):
    """Store value, evicting the least recently used beyond ``size`` entries; returns value."""
    cache[key] = value
    while len(cache) > size:
        cache.popitem(last=False)
    return value


def _seed_streams(seed: int) -> tuple[np.random.SeedSequence, np.random.SeedSequence]:
    """(W stream, SGD stream) children of one seed."""
    w_ss, sgd_ss = np.random.SeedSequence(seed).spawn(2)
    return w_ss, sgd_ss


def _eig_projection(m: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues of the symmetric m (lower triangle read, overwritten) and V^T g, without V.

    m = Q T Q^T (LAPACK sytrd, Householder: 4/3 d^3 flops), T = Z diag(lam) Z^T (MRRR, stemr:
    O(d^2)), so V^T g = Z^T (Q^T g) with Q^T g applied reflector by reflector (O(d^2)). This skips
    the back-transformation V = Q Z (2 d^3 flops) that a full eigh spends on eigenvectors; measured
    at d = 1600: 0.39 s against 0.72 s for numpy.linalg.eigh, same weights to 1e-8 relative.
    """
    from scipy.linalg import eigh_tridiagonal, get_lapack_funcs

    n = m.shape[0]
    if n == 1:
        return np.array([float(m[0, 0])]), np.asarray(g, dtype=np.float64).copy()
    sytrd, sytrd_lwork = get_lapack_funcs(("sytrd", "sytrd_lwork"), (m,))
    lwork, info = sytrd_lwork(n, lower=1)
    c, diag, off, tau, info = sytrd(m, lower=1, lwork=int(lwork), overwrite_a=1)
    if info != 0:
        raise NumericalError(f"LAPACK sytrd failed (info={info}) on W^T D W")
    c = np.asfortranarray(c)
    h = np.asarray(g, dtype=np.float64).copy()
    # Q = H_0 H_1 ... H_{n-2}, H_i = I - tau_i u u^T, u = e_{i+1} + c[i+2:, i]; Q^T h = H_{n-2} ... H_0 h
    for i in range(n - 1):
        t = float(tau[i])
        if t == 0.0:
            continue
        u = c[i + 2 :, i].astype(np.float64, copy=False)
        w = t * (h[i + 1] + float(u @ h[i + 2 :]))
        h[i + 1] -= w
        h[i + 2 :] -= w * u
    lam, z = eigh_tridiagonal(diag.astype(np.float64), off.astype(np.float64), lapack_driver="stemr")
    return lam, z.T @ h


def spectrum(params: PLRFParams, seed: int, *, dtype: str = "float64", vectors: bool = False) -> Spectrum:
    """Eigenvalues of W^T D W and the target's projections for the W drawn from ``seed`` (cached).

    Parameters
    ----------
    params : PLRFParams
    seed : int
        Fixes W (v x d, iid N(0, 1/d)), drawn in float64 row chunks from the first child stream of
        ``seed``: memory O(d^2 + chunk), the same W at any chunk size and either dtype.
    dtype : "float64" or "float32"
        Type in which W^T D W is formed (syrk, O(v d^2)) and reduced to tridiagonal form (O(d^3));
        float32 roughly halves that time. Measured error of the Volterra loss against float64:
        see benchmarks/results/plrf.json (``dtype_float32``).
    vectors : bool
        Also compute the eigenvectors (``vecs``, full eigh; needed by :func:`simulate_sgd`).
        Without them the eigen-solve skips the back-transformation (:func:`_eig_projection`).

    Cached per (alpha, beta, d, v, seed, dtype): the learning rate and batch size do not enter, so
    calls that differ only in those reuse the spectrum. Without vectors the cache keeps the last
    256 spectra (O(d) each); with vectors the last 2. Cost O(v d^2 + d^3).
    """
    if not isinstance(params, PLRFParams):
        raise ValueError(f"params must be a PLRFParams, got {type(params).__name__}")
    seed = check_seed("seed", seed)
    if seed is None:
        raise ValueError("seed must be a non-negative integer (it fixes W)")
    check_choice("dtype", dtype, DTYPES)
    key = (params.alpha, params.beta, params.d, params.v, seed, dtype)
    cache, size = (_VECTORS_CACHE, _VECTORS_CACHE_SIZE) if vectors else (_SPECTRUM_CACHE, _SPECTRUM_CACHE_SIZE)
    if key in cache:
        return _lru_get(cache, key)
    d, v = params.d, params.v
    ftype = np.dtype(dtype)
    rng = np.random.default_rng(_seed_streams(seed)[0])
    j = np.arange(1, v + 1, dtype=np.float64)
    sqrt_d = j ** (-params.alpha)
    c = j ** (-params.alpha - params.beta)  # D^1/2 b
    m = np.zeros((d, d), dtype=ftype, order="F")
    g = np.zeros(d)
    rows = max(1, _ROW_CHUNK_BYTES // (8 * d))
    for start in range(0, v, rows):
        stop = min(v, start + rows)
        a = rng.standard_normal((stop - start, d)) * (sqrt_d[start:stop, None] / math.sqrt(d))  # rows of D^1/2 W
        g += a.T @ c[start:stop]
        a = a.astype(ftype, copy=False)
        m += a.T @ a  # numpy runs this as a syrk (half the flops of a general product)
    if vectors:
        lam, vecs = np.linalg.eigh(m.astype(np.float64, copy=False))
        gproj = vecs.T @ g
        vecs.setflags(write=False)
    else:
        lam, gproj = _eig_projection(m, g)
        vecs = None
    del m
    lam_max = float(lam[-1])
    reliable = lam >= _LUMP_REL * lam_max
    weights = np.where(reliable, gproj**2 / np.where(reliable, lam, 1.0), 0.0)
    p0 = float(np.sum(c**2))
    p_frozen = max(p0 - float(np.sum(weights)), 0.0)  # rounding can make it -1e-17
    for arr in (lam, gproj, weights, reliable):
        arr.setflags(write=False)
    out = Spectrum(lam=lam, vecs=vecs, gproj=gproj, weights=weights, reliable=reliable, p_frozen=p_frozen, p0=p0,
                   dtype=dtype)
    return _lru_put(cache, key, out, size)


def kernel_norm(params: PLRFParams, spec: Spectrum) -> float:
    """||K|| = sum_r K(r) = sum_k lr lambda_k / (2 - lr (B+1) lambda_k) (needs stability)."""
    x = params.lr * spec.lam
    return float(np.sum(x / (2.0 - (params.batch + 1) * x)))


def _check_stable(params: PLRFParams, spec: Spectrum) -> float:
    """Refuse unstable problems (diverging SGD); return the kernel norm."""
    return check_stability(params, spec.lambda_max, lambda: kernel_norm(params, spec))


def check_stability(params: PLRFParams, lambda_max: float, kernel_norm_of, where: str = "") -> float:
    """The two stability rules of SGD on a spectrum with largest eigenvalue ``lambda_max``.

    lr (batch + 1) lambda_max < 2 (each mode contracts), then the kernel norm ||K|| < 1 (the
    expected loss stays bounded); ``kernel_norm_of()`` is only evaluated once the first rule holds.
    ``where`` is appended to the first message (e.g. which spectrum). Returns ||K||.
    """
    lr, bsz = params.lr, params.batch
    edge = lr * (bsz + 1) * lambda_max
    if edge >= 2.0:
        raise UnstableStepError(
            f"lr={lr:.6g} is unstable: lr*(batch+1)*lambda_max = {edge:.6g} must be < 2 "
            f"(lambda_max={lambda_max:.6g}{where}); use lr < {2.0 / ((bsz + 1) * lambda_max):.6g}"
        )
    kn = float(kernel_norm_of())
    if kn >= 1.0:
        raise UnstableStepError(
            f"lr={lr:.6g} is unstable: the kernel norm ||K|| = {kn:.6g} must be < 1 (expected loss diverges)"
        )
    return kn


def _check_steps(steps) -> np.ndarray:
    s = check_increasing("steps", steps)
    if s[0] < 0:
        raise ValueError(f"steps must be >= 0, got steps[0]={s[0]}")
    if np.any(s != np.round(s)):
        i = int(np.argmax(s != np.round(s)))
        raise ValueError(f"steps must be whole numbers (SGD steps), got steps[{i}]={s[i]}")
    if s[-1] > _MAX_STEPS:
        raise ValueError(f"steps must be <= {_MAX_STEPS} (memory ~ 150 bytes per step), got {s[-1]:.0f}")
    return s.astype(np.int64)
