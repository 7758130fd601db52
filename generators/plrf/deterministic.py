"""Deterministic equivalent of the PLRF spectrum (seed=None): spectral measures without a random W.

The measures come from the Silverstein fixed point (docs/theory/plrf.rst; arXiv:2405.15074), solved by
Newton's method on quadrature atoms fitted to the support of the spectrum (:func:`_de_measure`); the
previous uniform log grid stays callable as a reference (:func:`_de_measure_loggrid`). Cached in
``_DE_GRID_CACHE`` (s(x) per alpha, d, v) and ``_DE_CACHE`` (measures per alpha, beta, d, v).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from generators.plrf.params import PLRFParams
from generators.plrf.spectral import _lru_get, _lru_put
from toptraj.exceptions import ConvergenceError, NumericalError

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
    lambda_max : top edge of the support; conservative for the stability check (above a typical
        draw's lambda_max: 1.11 vs ~0.98 at d = 200, alpha = 0.7)
    s0 : (1/d) Tr (W^T D W)^-1 in the deterministic equivalent
    method : "support-grid" (:func:`_de_measure`) or "log-grid" (:func:`_de_measure_loggrid`)
    """

    x: np.ndarray
    rho_w: np.ndarray
    f_w: np.ndarray
    p_inf: float
    p0: float
    lambda_max: float
    s0: float
    method: str = "support-grid"


_DE_CACHE: OrderedDict = OrderedDict()


def _check_de_params(params) -> None:
    if not isinstance(params, PLRFParams):
        raise ValueError(f"params must be a PLRFParams, got {type(params).__name__}")
    if params.d < _DE_MIN_D:
        raise ValueError(
            f"seed=None (deterministic equivalent) needs d >= {_DE_MIN_D} (a large-d approximation), "
            f"got d={params.d}; pass a seed (one draw of W) and average over seeds"
        )
    if params.v <= params.d:
        raise ValueError(f"seed=None (deterministic equivalent) needs v > d = {params.d}, got v={params.v}")


def _de_s0(dj: np.ndarray, d: int, alpha: float) -> float:
    """s0 = s(0) > 0: (1/d) sum_j D_j s0 / (1 + D_j s0) = 1 (rises from 0 to v/d > 1: one root)."""
    from scipy.optimize import brentq

    log_s0 = brentq(
        lambda t: float(np.sum(dj / (dj + math.exp(-t)))) / d - 1.0,
        -60.0,
        60.0 + 2.0 * alpha * math.log(dj.shape[0]),
        xtol=1e-13,
    )
    return math.exp(log_s0)


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


# -- support-fitted grid (default) ----------------------------------------------------------------
_DE_GRID_CACHE: OrderedDict = OrderedDict()  # (alpha, d, v) -> (x, wq, s, s0, lambda_max, method)
_DE_NEWTON_TOL = 1e-12
_DE_NODES_PER_LN = 120.0  # fine quadrature nodes per unit of log x on each support interval (>= 24)
_DE_TRACK_PER_LN = 30.0  # initial continuation steps per unit of log x (>= 12)
_DE_INTEGER_MASS_TOL = 1e-6  # relative: each separated interval holds a whole number of eigenvalues
_GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0


def _de_z(s: np.ndarray, dj: np.ndarray, d: int) -> tuple[np.ndarray, np.ndarray]:
    """z(s) = -1/s + (1/d) sum_j D_j/(1 + D_j s) (the inverse of s(z)) and z'(s), for s of shape (n,)."""
    z = np.empty(s.shape[0], dtype=np.result_type(s, dj))
    zp = np.empty_like(z)
    rows = max(1, _DE_CHUNK_BYTES // (16 * dj.shape[0]))
    for start in range(0, s.shape[0], rows):
        sc = s[start : start + rows]
        q = dj / (1.0 + sc[:, None] * dj)
        z[start : start + rows] = -1.0 / sc + q.sum(axis=1) / d
        zp[start : start + rows] = 1.0 / sc**2 - np.einsum("ij,ij->i", q, q) / d
    return z, zp


def _de_zpp(s: float, dj: np.ndarray, d: int) -> float:
    q = dj / (1.0 + s * dj)
    return -2.0 / s**3 + 2.0 * float(np.sum(q**3)) / d


def _de_support(dj: np.ndarray, d: int) -> list[tuple[float, float, float, float]]:
    """Support of the eigenvalue density: intervals (a, b, s(a), s(b)), ascending.

    Outside the support s(x) is real and increasing, so x = z(s) with z'(s) > 0 there (Silverstein
    and Choi 1995); the edges are the real critical points of z. Lower edge: the root of z' on
    s > 0, i.e. sum_j (D_j s / (1 + D_j s))^2 = d. Upper edge: the root on (-1/D_1, 0). A gap
    between eigenvalue j and the rest exists iff max z' > 0 between the poles -1/D_j and
    -1/D_{j+1} (z' -> -inf at both), found by a golden-section search over all j of a chunk at once;
    the scan stops at the first chunk of 32 without a gap (separation only weakens as j grows).
    """
    from scipy.optimize import brentq

    v = dj.shape[0]

    def zp_real(s):
        with np.errstate(divide="ignore", invalid="ignore"):  # -inf at a pole is fine for a maximum search
            return _de_z(np.atleast_1d(np.asarray(s, dtype=np.float64)), dj, d)[1]

    s_lo = math.exp(
        brentq(lambda t: float(np.sum((dj / (dj + math.exp(-t))) ** 2)) - d, -80.0, 80.0 + 2 * math.log(v), xtol=1e-14)
    )
    # upper edge: s = -1/p, p = D_1 + e^t in (D_1, inf)
    t_hi = brentq(lambda t: float(zp_real(-1.0 / (dj[0] + math.exp(t)))[0]), -80.0, 80.0, xtol=1e-14)
    s_hi = -1.0 / (dj[0] + math.exp(t_hi))
    gaps = []
    chunk = 32
    for j0 in range(0, v - 1, chunk):
        js = np.arange(j0, min(v - 1, j0 + chunk))
        lo, hi = np.log(dj[js + 1]), np.log(dj[js])  # t = log(-1/s) between the two poles
        a, b = lo.copy(), hi.copy()
        c, e = b - _GOLDEN * (b - a), a + _GOLDEN * (b - a)
        fc, fe = zp_real(-np.exp(-c)), zp_real(-np.exp(-e))
        for _ in range(60):
            left = fc > fe  # the maximum lies in (a, e)
            b = np.where(left, e, b)
            a = np.where(left, a, c)
            c_new, e_new = b - _GOLDEN * (b - a), a + _GOLDEN * (b - a)
            f_c = np.where(left, zp_real(-np.exp(-c_new)), fe)
            f_e = np.where(left, fc, zp_real(-np.exp(-e_new)))
            c, e, fc, fe = c_new, e_new, f_c, f_e
        tm = 0.5 * (a + b)
        fm = zp_real(-np.exp(-tm))
        hit = np.flatnonzero(fm > 0)
        for k in hit:
            def f(t):
                return float(zp_real(-math.exp(-t))[0])

            t1 = brentq(f, lo[k], tm[k], xtol=1e-15)
            t2 = brentq(f, tm[k], hi[k], xtol=1e-15)
            gaps.append((-math.exp(-t1), -math.exp(-t2)))
        if hit.size == 0:
            break
    gaps.sort()
    ends_s = np.array([s_lo] + [s for g in gaps for s in g] + [s_hi])
    ends_x = _de_z(ends_s, dj, d)[0].real
    if np.any(np.diff(ends_x) <= 0):
        raise NumericalError("deterministic equivalent: support edges out of order")
    return [(ends_x[i], ends_x[i + 1], ends_s[i], ends_s[i + 1]) for i in range(0, ends_s.shape[0], 2)]


def _de_newton1(g: complex, x: float, dj: np.ndarray, d: int, max_iter: int = 12):
    """Newton for z(s) = x from g keeping Im s > 0: (s, z'(s), iterations), s None on failure."""
    s = g
    for it in range(1, max_iter + 1):
        q = dj / (1.0 + s * dj)
        zp = 1.0 / (s * s) - (q @ q) / d
        step = (-1.0 / s + q.sum() / d - x) / zp
        new = s - step
        for _ in range(40):  # halve to stay on the physical branch Im s > 0
            if new.imag > 0:
                break
            step *= 0.5
            new = s - step
        s = new
        if not abs(s) < math.inf:
            return None, None, it
        if abs(step) <= _DE_NEWTON_TOL * abs(s):
            return s, zp, it
    return None, None, max_iter


def _de_track(a: float, b: float, s_a: float, s_b: float, dj: np.ndarray, d: int):
    """Continuation of s along one support interval: accepted (theta, s), theta in [0, pi].

    x(theta) = exp(ua + L (1 - cos theta) / 2), ua = log a, L = log(b / a). Predictor: s + s' dt
    (+ the change of s' times dt^2 / 2), with s' = x'(theta) / z'(s) exact; corrector: Newton. A
    step is accepted when Newton lands within Im(s) / 4 of the prediction (every other root of
    z(s) = x lies on or below the real axis, >= Im s away), else halved; grown after easy steps.
    Near the lower edge the prediction is s(a) + i sqrt(2 (x - a) / |z''(s(a))|).
    """
    ua, L = math.log(a), math.log(b / a)
    m = max(12, math.ceil(_DE_TRACK_PER_LN * L))
    zpp_a = _de_zpp(s_a, dj, d)
    ts, ss, ds = [0.0], [complex(s_a)], [None]
    t, dt, dt_min = 0.0, math.pi / m, math.pi / m * 1e-7
    while True:
        t1 = t + dt
        if t1 >= math.pi - 0.25 * dt:
            break
        x1 = math.exp(ua + L * (1.0 - math.cos(t1)) / 2.0)
        if len(ts) == 1:
            pred = s_a + 1j * math.sqrt(2.0 * max(x1 - a, 0.0) / abs(zpp_a))
        else:
            pred = ss[-1] + ds[-1] * dt
            if ds[-2] is not None:
                pred += 0.5 * (ds[-1] - ds[-2]) / (ts[-1] - ts[-2]) * dt * dt
            if not pred.imag > 0:
                pred = complex(pred.real, 0.5 * ss[-1].imag)
        s1, zp1, it = _de_newton1(pred, x1, dj, d)
        if s1 is None or not s1.imag > 1e-9 * abs(s1) or abs(s1 - pred) > 0.25 * s1.imag:
            dt *= 0.5
            if dt < dt_min:
                raise ConvergenceError(f"deterministic equivalent: continuation of s(x) stalled at x = {x1:.6g}")
            continue
        ts.append(t1)
        ss.append(s1)
        ds.append(x1 * L * math.sin(t1) / 2.0 / zp1)
        t = t1
        if it <= 3:
            dt = min(1.5 * dt, 2.0 * math.pi / m)
    ts.append(math.pi)
    ss.append(complex(s_b))
    return np.array(ts), np.array(ss)


def _de_newton(g: np.ndarray, x: np.ndarray, dj: np.ndarray, d: int, max_iter: int = 30):
    """Vectorised Newton for z(s) = x (Im s > 0 kept by halving): (s, converged mask)."""
    s = g.copy()
    active = np.ones(s.shape[0], dtype=bool)
    for _ in range(max_iter):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        sa = s[idx]
        z, zp = _de_z(sa, dj, d)
        step = (z - x[idx]) / zp
        new = sa - step
        for _ in range(40):
            bad = ~(new.imag > 0)
            if not bad.any():
                break
            step[bad] *= 0.5
            new = sa - step
        s[idx] = new
        done = np.abs(step) <= _DE_NEWTON_TOL * np.abs(new)
        active[idx[done]] = False
    return s, ~active


def _de_interval_nodes(a, b, th_c, s_c, n, dj, d):
    """n midpoint nodes in theta on [a, b]: (x, dx weights, s), s by Newton from the tracked path."""
    from scipy.interpolate import CubicSpline

    ua, L = math.log(a), math.log(b / a)
    th = (np.arange(n) + 0.5) * (math.pi / n)
    x = np.exp(ua + L * (1.0 - np.cos(th)) / 2.0)
    wq = x * (L / 2.0) * np.sin(th) * (math.pi / n)
    guess = CubicSpline(th_c, s_c.real)(th) + 1j * np.abs(CubicSpline(th_c, s_c.imag)(th))
    guess = np.where(guess.imag > 0, guess, guess.real + 1e-9j * np.abs(guess))
    s, ok = _de_newton(guess, x, dj, d)
    # a converged root far from the smooth guess or on the real axis is another root: redo by homotopy
    ok &= np.isfinite(s) & (s.imag > 1e-9 * np.abs(s)) & (np.abs(s - guess) < 1e-2 * np.abs(guess))
    if not ok.all():
        s[~ok] = _de_solve_s(x[~ok], dj, d)
    return x, wq, s


def _de_grid(alpha: float, d: int, v: int):
    """Quadrature atoms fitted to the support and s(x) there: (x, wq, s, s0, lambda_max), cached."""
    key = (alpha, d, v)
    if key in _DE_GRID_CACHE:
        return _lru_get(_DE_GRID_CACHE, key)
    dj = np.arange(1, v + 1, dtype=np.float64) ** (-2.0 * alpha)
    xs, ws, ss = [], [], []
    for a, b, s_a, s_b in _de_support(dj, d):
        th_c, s_c = _de_track(a, b, s_a, s_b, dj, d)
        n = max(24, math.ceil(_DE_NODES_PER_LN * math.log(b / a)))
        for _ in range(4):  # refine until the interval holds a whole number of eigenvalues
            x, wq, s = _de_interval_nodes(a, b, th_c, s_c, n, dj, d)
            mass = d / math.pi * float(np.sum(s.imag * wq))
            if abs(mass - round(mass)) <= _DE_INTEGER_MASS_TOL * max(1.0, round(mass)):
                break
            n *= 2
        xs.append(x)
        ws.append(wq)
        ss.append(s)
    out = (np.concatenate(xs), np.concatenate(ws), np.concatenate(ss), _de_s0(dj, d, alpha), float(b))
    return _lru_put(_DE_GRID_CACHE, key, out, 16)


def _de_measure(params: PLRFParams) -> _DEMeasure:
    """Deterministic equivalent of the spectral measures of W^T D W (no random W), cached.

    Same measures as :func:`_de_measure_loggrid` (see there for the formulas), integrated on a grid
    fitted to the support of the eigenvalue density instead of a uniform log grid:

    * the support's intervals (the bulk and the separated outlier bumps) come exactly from the real
      critical points of the inverse function z(s) (:func:`_de_support`);
    * on each interval [a, b] the nodes are x = exp(log a + log(b/a) (1 - cos theta) / 2) at the
      midpoints of n equal steps in theta (n = 120 per unit of log(b/a), at least 24): the density
      vanishes like a square root at both edges, which this map turns into a smooth periodic
      integrand, so the midpoint rule converges spectrally; n is doubled (up to 3 times) until the
      interval holds a whole number of eigenvalues to 1e-6 (exact separation);
    * s(x) at the nodes by vectorised Newton iterations started from a predictor-corrector
      continuation along each interval (:func:`_de_track`), with the homotopy solver
      :func:`_de_solve_s` as a fallback for any node where Newton lands on another root.

    Measured against twice the nodes: 1.5e-6 (alpha = beta = 0.7, d = 400) to 2.6e-4 (alpha = 0.6,
    beta = 0.3, v = 10 d) relative on the loss to 1e5 steps; the log grid differed from the
    converged result by up to 3.3e-4. Cost O(n_x v (n_newton + 1)) with n_x ~ 500-2000 atoms:
    d = 400: ~0.1 s, d = 1600, v = 6400: ~0.5 s. The s(x) grid is cached per (alpha, d, v) and
    shared by every beta; the measures per (alpha, beta, d, v).
    """
    _check_de_params(params)
    key = (params.alpha, params.beta, params.d, params.v)
    if key in _DE_CACHE:
        return _lru_get(_DE_CACHE, key)
    x, wq, s, s0, lambda_max = _de_grid(params.alpha, params.d, params.v)
    dj = np.arange(1, params.v + 1, dtype=np.float64) ** (-2.0 * params.alpha)
    out = _de_assemble(params, dj, x, wq, s, s0, lambda_max, "support-grid")
    return _lru_put(_DE_CACHE, key, out, 16)


# -- reference: the previous uniform log grid ------------------------------------------------
def _de_measure_loggrid(params: PLRFParams) -> _DEMeasure:
    """Reference implementation of :func:`_de_measure` (the previous method; not cached, ~50x slower).

    Kept callable so that tests and benchmarks/bench_plrf.py can measure the support-fitted grid
    against it.

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
    NumericalError, a RuntimeError, beyond 1e-3 relative): sum rho = d, sum x rho = Tr D (= E Tr W^T D W) and
    P_inf + sum f = norm(D^1/2 b)^2.

    Cost: O(n_newton n_x v) with n_x ~ 1000 log10(x_hi / x_lo) (~5000 at d = 200, v = 800) and
    n_newton ~ 50 (most points converge earlier); d = 200, v = 800: a few seconds. Memory
    O(16 MB) per chunk.
    """
    _check_de_params(params)
    d, v, alpha = params.d, params.v, params.alpha
    j = np.arange(1, v + 1, dtype=np.float64)
    dj = j ** (-2.0 * alpha)
    trace_d = float(dj.sum())
    s0 = _de_s0(dj, d, alpha)
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
    big = np.flatnonzero(s.imag * wq > 1e-12 * math.pi)  # atoms holding > 1e-12 d eigenvalues
    return _de_assemble(params, dj, x, wq, s, s0, float(x[big[-1]]), "log-grid")


def _de_assemble(params, dj, x, wq, s, s0, lambda_max, method) -> _DEMeasure:
    """Measures from s(x) at quadrature atoms x with weights wq (for dx), mass-checked."""
    d, v = params.d, params.v
    c2 = np.arange(1, v + 1, dtype=np.float64) ** (-2.0 * (params.alpha + params.beta))  # (D^1/2 b)_j^2
    p_inf = float(np.sum(c2 / (1.0 + dj * s0)))
    im = np.clip(s.imag, 0.0, None)
    rho_w = (d / math.pi) * im * wq
    f_den = np.empty(x.shape[0])
    rows = max(1, _DE_CHUNK_BYTES // (16 * v))
    for start in range(0, x.shape[0], rows):
        q = 1.0 / (1.0 + np.multiply.outer(s[start : start + rows], dj))
        f_den[start : start + rows] = (q.real**2 + q.imag**2) @ (c2 * dj)
    f_w = im / (math.pi * x) * f_den * wq
    p0 = float(np.sum(c2))
    checks = {
        "eigenvalue count / d": float(rho_w.sum()) / d,
        "sum of eigenvalues / Tr D": float(np.sum(x * rho_w)) / float(dj.sum()),
        "forcing mass / P(0)": (p_inf + float(f_w.sum())) / p0,
    }
    for name, val in checks.items():
        if not abs(val - 1.0) < _DE_MASS_TOL:
            raise NumericalError(f"deterministic equivalent failed a mass check: {name} = {val:.6g} (should be 1)")
    x, rho_w, f_w = x.copy(), rho_w, f_w
    for arr in (x, rho_w, f_w):
        arr.setflags(write=False)
    return _DEMeasure(x=x, rho_w=rho_w, f_w=f_w, p_inf=p_inf, p0=p0, lambda_max=lambda_max, s0=s0, method=method)
