"""Spectrum of one draw of W: eigen-decomposition of W^T D W, forcing weights, LRU cache, stability checks.

The spectrum is cached per (params, seed) in ``_SPECTRUM_CACHE`` (an LRU of ``_SPECTRUM_CACHE_SIZE`` entries;
``_lru_get``/``_lru_put`` also serve the deterministic-equivalent cache). See docs/theory/plrf.rst.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from generators.plrf.params import PLRFParams
from toptraj.exceptions import UnstableStepError
from toptraj.validation import check_increasing, check_seed

#: Modes with lambda < _LUMP_REL * lambda_max have unreliable eigenvectors in float64 (eigenvector
#: error ~ eps lambda_max / lambda); their weight is lumped with P_inf (they do not move in practice:
#: lr * lambda * R << 1 for them).
_LUMP_REL = 1e-10
_MAX_STEPS = 20_000_000  # memory guard: ~3 GB at the cap (FFT buffers of length 4R)
_ROW_CHUNK_BYTES = 64 * 2**20


@dataclass(frozen=True)
class Spectrum:
    """Spectral data of W^T D W for one draw of W (arrays read-only).

    lam : (d,) eigenvalues, ascending
    vecs : (d, d) orthonormal eigenvectors (columns)
    gproj : (d,) V^T W^T D b (the target's coordinates times sqrt(lam))
    weights : (d,) w_k = gproj_k^2 / lam_k (0 for lumped modes)
    reliable : (d,) bool, lam_k >= 1e-10 lam_max
    p_frozen : P_inf plus the weight of lumped modes (= norm(D^1/2 b)^2 - sum of reliable w_k)
    p0 : norm(D^1/2 b)^2 = sum_{j<=v} j^-2(alpha+beta) = P(0)
    """

    lam: np.ndarray
    vecs: np.ndarray
    gproj: np.ndarray
    weights: np.ndarray
    reliable: np.ndarray
    p_frozen: float
    p0: float

    @property
    def lambda_max(self) -> float:
        return float(self.lam[-1])


_SPECTRUM_CACHE: OrderedDict = OrderedDict()
_SPECTRUM_CACHE_SIZE = 2


def _lru_get(cache: OrderedDict, key):
    """Cached value for a present key, marked as most recently used."""
    cache.move_to_end(key)
    return cache[key]


def _lru_put(cache: OrderedDict, key, value):
    """Store value, evicting the least recently used beyond _SPECTRUM_CACHE_SIZE; returns value."""
    cache[key] = value
    while len(cache) > _SPECTRUM_CACHE_SIZE:
        cache.popitem(last=False)
    return value


def _seed_streams(seed: int) -> tuple[np.random.SeedSequence, np.random.SeedSequence]:
    """(W stream, SGD stream) children of one seed."""
    w_ss, sgd_ss = np.random.SeedSequence(seed).spawn(2)
    return w_ss, sgd_ss


def spectrum(params: PLRFParams, seed: int) -> Spectrum:
    """Eigen-decomposition of W^T D W for the W drawn from ``seed`` (cached for the last 2 calls).

    W (v x d, iid N(0, 1/d)) is drawn in row chunks from the first child stream of ``seed``, so
    memory is O(d^2 + chunk) and the same seed gives the same W at any chunk size.
    Cost O(v d^2 + d^3).
    """
    if not isinstance(params, PLRFParams):
        raise ValueError(f"params must be a PLRFParams, got {type(params).__name__}")
    seed = check_seed("seed", seed)
    if seed is None:
        raise ValueError("seed must be a non-negative integer (it fixes W)")
    key = (params.alpha, params.beta, params.d, params.v, seed)
    if key in _SPECTRUM_CACHE:
        return _lru_get(_SPECTRUM_CACHE, key)
    d, v = params.d, params.v
    rng = np.random.default_rng(_seed_streams(seed)[0])
    j = np.arange(1, v + 1, dtype=np.float64)
    sqrt_d = j ** (-params.alpha)
    c = j ** (-params.alpha - params.beta)  # D^1/2 b
    m = np.zeros((d, d))
    g = np.zeros(d)
    rows = max(1, _ROW_CHUNK_BYTES // (8 * d))
    for start in range(0, v, rows):
        stop = min(v, start + rows)
        a = rng.standard_normal((stop - start, d)) * (sqrt_d[start:stop, None] / math.sqrt(d))  # rows of D^1/2 W
        m += a.T @ a
        g += a.T @ c[start:stop]
    lam, vecs = np.linalg.eigh(m)
    del m
    gproj = vecs.T @ g
    lam_max = float(lam[-1])
    reliable = lam >= _LUMP_REL * lam_max
    weights = np.where(reliable, gproj**2 / np.where(reliable, lam, 1.0), 0.0)
    p0 = float(np.sum(c**2))
    p_frozen = max(p0 - float(np.sum(weights)), 0.0)  # rounding can make it -1e-17
    for arr in (lam, vecs, gproj, weights, reliable):
        arr.setflags(write=False)
    out = Spectrum(lam=lam, vecs=vecs, gproj=gproj, weights=weights, reliable=reliable, p_frozen=p_frozen, p0=p0)
    return _lru_put(_SPECTRUM_CACHE, key, out)


def kernel_norm(params: PLRFParams, spec: Spectrum) -> float:
    """||K|| = sum_r K(r) = sum_k lr lambda_k / (2 - lr (B+1) lambda_k) (needs stability)."""
    x = params.lr * spec.lam
    return float(np.sum(x / (2.0 - (params.batch + 1) * x)))


def _check_stable(params: PLRFParams, spec: Spectrum) -> float:
    """Refuse unstable problems (diverging SGD); return the kernel norm."""
    lr, bsz = params.lr, params.batch
    edge = lr * (bsz + 1) * spec.lambda_max
    if edge >= 2.0:
        raise UnstableStepError(
            f"lr={lr:.6g} is unstable: lr*(batch+1)*lambda_max = {edge:.6g} must be < 2 "
            f"(lambda_max={spec.lambda_max:.6g}); use lr < {2.0 / ((bsz + 1) * spec.lambda_max):.6g}"
        )
    kn = kernel_norm(params, spec)
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
