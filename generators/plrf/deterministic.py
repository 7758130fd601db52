"""Deterministic equivalent of the PLRF spectrum (seed=None): spectral measures without a random W.

The measures come from the Silverstein fixed point on a log grid (docs/theory/plrf.rst;
arXiv:2405.15074) and are cached in ``_DE_CACHE`` (LRU, shared helpers in :mod:`generators.plrf.spectral`).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from generators.plrf.params import PLRFParams
from generators.plrf.spectral import _lru_get, _lru_put

#: d below which seed=None is refused: the deterministic equivalent is a large-d approximation
#: (it smooths each outlier eigenvalue into a Marchenko-Pastur-like bump), and small problems are
#: cheap to average over seeds instead.
_DE_MIN_D = 32
_DE_POINTS_PER_DECADE = 1000  # log-spaced x grid for the Stieltjes inversion
_DE_ETAS = np.geomspace(1.0, 1e-9, 10)  # homotopy Im z / Re z -> 0+ (tracks the physical branch)
_DE_CHUNK_BYTES = 16 * 2**20
_DE_MASS_TOL = 1e-3  # relative tolerance of the quadrature's mass checks


@dataclass(frozen=True)
class _DEMeasure:
    """Deterministic-equivalent spectral measures (quadrature atoms on a log grid, arrays read-only).

    x : (n,) grid of eigenvalues, log-spaced over the support of the spectrum of W^T D W
    rho_w : (n,) eigenvalue measure rho(x) dx at the atoms (sums to ~d): E sum_k delta(x - lambda_k)
    f_w : (n,) forcing measure at the atoms: E sum_k w_k delta(x - lambda_k)
    p_inf : point mass of the forcing measure at 0 (E P_inf)
    p0 : norm(D^1/2 b)^2 = P(0)
    lambda_max : top of the support (largest x whose atom holds > 1e-12 d); conservative for the
        stability check (above a typical draw's lambda_max: 1.20 vs ~0.98 at d = 200, alpha = 0.7)
    s0 : (1/d) Tr (W^T D W)^-1 in the deterministic equivalent
    """

    x: np.ndarray
    rho_w: np.ndarray
    f_w: np.ndarray
    p_inf: float
    p0: float
    lambda_max: float
    s0: float


_DE_CACHE: OrderedDict = OrderedDict()


def _de_solve_s(x: np.ndarray, dj: np.ndarray, d: int) -> np.ndarray:
    """Stieltjes transform s(z) = (1/d) Tr (W^T D W - z)^-1 at z = x + i0+, shape (n,).

    Solves s = 1 / (-z + (1/d) sum_j D_j / (1 + D_j s)) (Silverstein; equivalently the spec's
    m(z) = -z s(z)) by Newton's method along z = x (1 + i eta), eta = 1 .. 1e-9, each stage started
    from the previous one, with steps halved to keep Im s > 0 (the physical branch).
    """
    out = np.empty(x.shape[0], dtype=np.complex128)
    rows = max(1, _DE_CHUNK_BYTES // (16 * dj.shape[0]))
    for start in range(0, x.shape[0], rows):
        xc = x[start : start + rows]
        s = None
        for eta in _DE_ETAS:
            z = xc * (1.0 + 1j * eta)
            if s is None:
                s = -1.0 / z
                for _ in range(30):  # fixed point: a contraction of the upper half plane at eta = 1
                    s = 1.0 / (-z + (dj / (1.0 + np.multiply.outer(s, dj))).sum(axis=1) / d)
            active = np.ones(xc.shape[0], dtype=bool)
            for _ in range(60):
                sa, za = s[active], z[active]
                qd = dj / (1.0 + np.multiply.outer(sa, dj))
                g = -za + qd.sum(axis=1) / d - 1.0 / sa
                gp = -(qd * qd).sum(axis=1) / d + 1.0 / sa**2
                step = g / gp
                new = sa - step
                for _ in range(40):
                    bad = new.imag <= 0
                    if not bad.any():
                        break
                    step[bad] *= 0.5
                    new = sa - step
                s[active] = new
                done = np.abs(step) <= 1e-12 * np.abs(new)
                idx = np.flatnonzero(active)
                active[idx[done]] = False
                if not active.any():
                    break
        out[start : start + rows] = s
    return out


def _de_measure(params: PLRFParams) -> _DEMeasure:
    """Deterministic equivalent of the spectral measures of W^T D W (no random W), cached.

    With s(z) = (1/d) Tr (W^T D W - z)^-1 -> solution of s = 1/(-z + (1/d) sum_j D_j/(1 + D_j s))
    and the resolvent of K_hat = D^1/2 W W^T D^1/2 -> diag(-1/(z (1 + D_j s))) (the spec's
    diag(1/(D_j m - z)), m = -z s), Stieltjes inversion at z = x + i0+ gives, for x > 0,

        eigenvalue density  rho(x) = (d/pi) Im s(x),
        forcing density     f(x)   = (Im s(x) / (pi x)) sum_j j^-2(alpha+beta) D_j / |1 + D_j s(x)|^2
                                     (from -(1/pi) Im (1/x) sum_j (D^1/2 b)_j^2 / (1 + D_j s)),

    and the point mass of the forcing at 0 is P_inf = sum_j j^-2(alpha+beta) / (1 + D_j s0), where
    s0 = s(0) > 0 solves (1/d) sum_j D_j s0 / (1 + D_j s0) = 1 (needs v > d). Both densities are
    integrated by the trapezoid rule in log x on a grid of 1000 points per decade from
    (sqrt(v/d) - 1)^2 v^-2 alpha / 4 to 2 (1 + Tr D / d)(1 + 4/sqrt d). Mass checks (raise
    RuntimeError beyond 1e-3 relative): sum rho = d, sum x rho = Tr D (= E Tr W^T D W) and
    P_inf + sum f = norm(D^1/2 b)^2.

    Cost: O(n_newton n_x v) with n_x ~ 1000 log10(x_hi / x_lo) (~5000 at d = 200, v = 800) and
    n_newton ~ 50 (most points converge earlier); d = 200, v = 800: a few seconds. Memory
    O(16 MB) per chunk.
    """
    if not isinstance(params, PLRFParams):
        raise ValueError(f"params must be a PLRFParams, got {type(params).__name__}")
    d, v, alpha = params.d, params.v, params.alpha
    if d < _DE_MIN_D:
        raise ValueError(
            f"seed=None (deterministic equivalent) needs d >= {_DE_MIN_D} (a large-d approximation), got d={d}; "
            "pass a seed (one draw of W) and average over seeds"
        )
    if v <= d:
        raise ValueError(f"seed=None (deterministic equivalent) needs v > d = {d}, got v={v}")
    key = (alpha, params.beta, d, v)
    if key in _DE_CACHE:
        return _lru_get(_DE_CACHE, key)
    j = np.arange(1, v + 1, dtype=np.float64)
    dj = j ** (-2.0 * alpha)
    c2 = j ** (-2.0 * (alpha + params.beta))  # (D^1/2 b)_j^2
    trace_d = float(dj.sum())
    from scipy.optimize import brentq

    # (1/d) sum_j D_j s/(1 + D_j s) rises from 0 to v/d > 1: one root, bracketed in log s
    log_s0 = brentq(
        lambda t: float(np.sum(dj / (dj + math.exp(-t)))) / d - 1.0,
        -60.0,
        60.0 + 2.0 * alpha * math.log(v),
        xtol=1e-13,
    )
    s0 = math.exp(log_s0)
    p_inf = float(np.sum(c2 / (1.0 + dj * s0)))
    x_lo = 0.25 * float(dj[-1]) * (math.sqrt(v / d) - 1.0) ** 2
    x_hi = 2.0 * (float(dj[0]) + trace_d / d) * (1.0 + 4.0 / math.sqrt(d))
    n = int(math.ceil(math.log10(x_hi / x_lo) * _DE_POINTS_PER_DECADE)) + 1
    x = np.geomspace(x_lo, x_hi, n)
    s = _de_solve_s(x, dj, d)
    # trapezoid weights in log x, times x (dx = x dlog x)
    h = np.diff(np.log(x))
    wq = np.empty(n)
    wq[1:-1] = 0.5 * (h[1:] + h[:-1])
    wq[0], wq[-1] = 0.5 * h[0], 0.5 * h[-1]
    wq *= x
    im = np.clip(s.imag, 0.0, None)
    rho_w = (d / math.pi) * im * wq
    f_den = np.empty(n)
    rows = max(1, _DE_CHUNK_BYTES // (16 * v))
    for start in range(0, n, rows):
        q = 1.0 / (1.0 + np.multiply.outer(s[start : start + rows], dj))
        f_den[start : start + rows] = (np.abs(q) ** 2) @ (c2 * dj)
    f_w = im / (math.pi * x) * f_den * wq
    p0 = float(np.sum(c2))
    checks = {
        "eigenvalue count / d": float(rho_w.sum()) / d,
        "sum of eigenvalues / Tr D": float(np.sum(x * rho_w)) / trace_d,
        "forcing mass / P(0)": (p_inf + float(f_w.sum())) / p0,
    }
    for name, val in checks.items():
        if not abs(val - 1.0) < _DE_MASS_TOL:
            raise RuntimeError(f"deterministic equivalent failed a mass check: {name} = {val:.6g} (should be 1)")
    big = np.flatnonzero(rho_w > 1e-12 * d)
    lambda_max = float(x[big[-1]])
    for arr in (x, rho_w, f_w):
        arr.setflags(write=False)
    out = _DEMeasure(x=x, rho_w=rho_w, f_w=f_w, p_inf=p_inf, p0=p0, lambda_max=lambda_max, s0=s0)
    return _lru_put(_DE_CACHE, key, out)
