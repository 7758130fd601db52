"""Power-law random features (PLRF) trained by one-pass SGD: Volterra solver, SGD simulation, phases.

The model of Paquette, Paquette, Xiao and Pennington, "4+3 Phases of Compute-Optimal Neural Scaling
Laws" (NeurIPS 2024), as specified in ../shared/specs/plrf_volterra.md:

    x ~ N(0, D) in R^v, D = diag(j^-2 alpha);  y = <x, b>, b_j = j^-beta;
    features W^T x in R^d, W_ij ~ N(0, 1/d);   P(theta) = norm(D^1/2 (W theta - b))^2;
    theta_{r+1} = theta_r - lr * sum_{i<=B} W^T x_i (<W^T x_i, theta_r> - <x_i, b>),  theta_0 = 0.

Public API
----------
PLRFParams, phase, compute_optimal_exponents, spectrum, volterra, simulate_sgd, loss_grid,
compute_optimal_frontier, FrontierResult, and the CLI hooks add_cli_arguments / run_cli.

The expected loss given W solves the Volterra equation P(r) = F(r) + sum_{s<r} K(r-1-s) P(s) with
F(r) = P_inf + sum_k w_k a_k^r and K(r) = lr^2 B sum_k lambda_k^2 a_k^r, a_k = 1 - 2 lr B lambda_k +
lr^2 B (B+1) lambda_k^2, built from the eigen-decomposition of the d x d matrix W^T D W.

Cost model (one curve to R steps)
---------------------------------
* spectrum: O(v d^2) to form W^T D W (BLAS, in row chunks of W) + O(d^3) for ``eigh``; memory
  O(d^2) (W is never held whole). d = 1600, v = 6400: ~1 s; d = 12800, v = 51200: minutes.
* F and K: exact O(d) sums at r < 4096 and at 200 log-spaced nodes per decade beyond, then a cubic
  spline in log r of log F and log K evaluated at every integer r < R: O(d (4096 + 90 log10 R) + R).
  Interpolation error measured at d = 400..1600, R = 1e6: <= 1e-9 relative for F, <= 1.1e-7 for K
  (at large r where K is negligible); the loss matches an exact O(d R) recursion to 1e-8 (tests).
* convolution: a damped one-shot FFT solve of length 4R (z-transform, absolute error ~1e-13 P(0)),
  then Picard iterations P <- F + K * P with FFT convolution, O(R log R) each, which contract the
  error by the kernel norm ||K|| (~0.13 at lr = 0.25 / Tr D): 2-4 iterations reach 1e-12
  relative. Memory ~ 150 R bytes (steps capped at 2e7).
* SGD: O(n_runs B d) per step in the eigenbasis of W^T D W (see :func:`simulate_sgd`).

* seed=None (deterministic equivalent, no W): O(n_newton n_x v) for the spectral measures on a
  grid of n_x ~ 1000 points per decade (d = 200, v = 800: ~3 s), then F, K as above with n_x atoms.

Seeds: ``seed`` fixes W (same seed, same W in :func:`volterra` and :func:`simulate_sgd`); the SGD
sample stream is a separate child stream of the same seed.
"""

from __future__ import annotations

import argparse
import math
from collections import OrderedDict
from dataclasses import asdict, dataclass

import numpy as np
from scipy import special
from scipy.interpolate import CubicSpline

from toptraj import provenance
from toptraj._validation import check_choice, check_increasing, check_number, check_seed
from toptraj.trajectory import Trajectory

SOURCE = "plrf"
PHASES = ("Ia", "Ib", "Ic", "II", "III", "IVa", "IVb")
#: Boundary between phases IVa and IVb (derived, see the spec).
ALPHA_IV = 1.0 - 1.0 / math.sqrt(2.0)
#: d at or below which simulate_sgd records every coordinate theta_i of the parameter path.
THETA_CHANNELS_MAX_D = 64
#: Seed of the fixed random projection proj_j of the parameter path (shared by every run and seed).
PROJECTION_SEED = 20240515
#: Modes with lambda < _LUMP_REL * lambda_max have unreliable eigenvectors in float64 (eigenvector
#: error ~ eps lambda_max / lambda); their weight is lumped with P_inf (they do not move in practice:
#: lr * lambda * R << 1 for them).
_LUMP_REL = 1e-10
_EXACT_STEPS = 4096  # F, K summed exactly below this step; spline in log r above
_NODES_PER_DECADE = 200
_MAX_STEPS = 20_000_000  # memory guard: ~3 GB at the cap (FFT buffers of length 4R)
_ROW_CHUNK_BYTES = 64 * 2**20


def _trace_d(alpha: float, v: int) -> float:
    return float(np.sum(np.arange(1, v + 1, dtype=np.float64) ** (-2.0 * alpha)))


@dataclass(frozen=True)
class PLRFParams:
    """Parameters of one PLRF + SGD problem.

    ``v`` and ``lr`` are resolved at construction, so ``asdict(params)`` holds the numbers used.

    Parameters
    ----------
    alpha : data exponent, > 0 (D_jj = j^-2 alpha)
    beta : target exponent, with 2 (alpha + beta) > 1 (b_j = j^-beta)
    d : number of parameters (features), >= 1
    v : data dimension, >= d; default 4 d (the spec: v = 4d..10d; for 2 alpha < 1 the ratio v/d
        must stay fixed as d grows, which the default does)
    lr : learning rate gamma; default 0.25 / Tr(D) (the paper's c = 0.25)
    batch : batch size B >= 1 (gradient summed over the batch)
    """

    alpha: float
    beta: float
    d: int
    v: int | None = None
    lr: float | None = None
    batch: int = 1

    def __post_init__(self) -> None:
        check_number("alpha", self.alpha, low=0.0, low_open=True)
        check_number("beta", self.beta)
        if 2.0 * (self.alpha + self.beta) <= 1.0:
            raise ValueError(
                f"alpha + beta must be > 1/2 (2(alpha+beta) > 1, else the loss has no power law), "
                f"got alpha={self.alpha}, beta={self.beta}"
            )
        d = check_number("d", self.d, low=1, integer=True)
        v = 4 * d if self.v is None else check_number("v", self.v, low=1, integer=True)
        if v < d:
            raise ValueError(f"v must be >= d = {d} (the spec needs v >= d), got v={v}")
        batch = check_number("batch", self.batch, low=1, integer=True)
        lr = 0.25 / _trace_d(float(self.alpha), v) if self.lr is None else check_number(
            "lr", self.lr, low=0.0, low_open=True
        )
        object.__setattr__(self, "alpha", float(self.alpha))
        object.__setattr__(self, "beta", float(self.beta))
        object.__setattr__(self, "d", d)
        object.__setattr__(self, "v", v)
        object.__setattr__(self, "lr", float(lr))
        object.__setattr__(self, "batch", batch)


# -- phases and compute-optimal exponents (spec section 4) --------------------------------------
def _check_ab(alpha, beta) -> tuple[float, float]:
    a = check_number("alpha", alpha, low=0.0, low_open=True)
    b = check_number("beta", beta)
    if 2.0 * (a + b) <= 1.0:
        raise ValueError(
            f"alpha + beta must be > 1/2: no power law when 2(alpha+beta) <= 1, got alpha={alpha}, beta={beta}"
        )
    return a, b


def phase(alpha: float, beta: float) -> str:
    """Phase of (alpha, beta): one of ``PHASES``.

    Regions (spec table). Points on a boundary are assigned to one side by the half-open
    conventions 2 beta >= 1 -> II/III/IV/Ic side, 2 alpha >= 1 -> Ia/II/III side, beta >= alpha ->
    III, alpha >= 1/4 -> IV side, alpha >= 1 - 1/sqrt 2 -> IVa; the exponents are continuous across
    every boundary, so the convention changes no number. (0.7, 0.7) (on the II/III line) is "III".

    Raises ValueError for alpha <= 0 or 2 (alpha + beta) <= 1 (no power law there).
    """
    a, b = _check_ab(alpha, beta)
    if 2.0 * b < 1.0:
        return "Ia" if 2.0 * a >= 1.0 else "Ib"
    if 2.0 * a >= 1.0:
        return "III" if b >= a else "II"
    if a < 0.25:
        return "Ic"
    return "IVa" if a >= ALPHA_IV else "IVb"


def compute_optimal_exponents(alpha: float, beta: float) -> tuple[float, float]:
    """(eta, xi) with P*(f) ~ f^-eta and d*(f) ~ f^xi, from the spec's table (section 4)."""
    a, b = _check_ab(alpha, beta)
    p = phase(a, b)
    if p == "Ia":
        return (2 * a + 2 * b - 1) / (2 * a + 1), 1.0 / (2 * a + 1)
    if p == "Ib":
        return a + b - 0.5, 0.5
    if p == "Ic":
        den = 3 * a + 2 * b - 1 - 2 * a * b
        return a * (2 * a + 2 * b - 1) / den, (2 * a + 2 * b - 1) / (2 * den)
    if p == "II":
        return (2 * a + 2 * b - 1) / (2 * (a + b)), b / (a + b)
    if p == "III":
        return 1.0 - 1.0 / (4 * a), 0.5
    if p == "IVa":
        return a, 0.5
    den = 2 * b - a - 2 * a * b  # IVb
    return (1 - 2 * a) * (2 * a + 2 * b - 1) / (2 * den), (b - a) / den


# -- spectrum of one draw of W -------------------------------------------------------------------
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
        raise ValueError(
            f"lr={lr:.6g} is unstable: lr*(batch+1)*lambda_max = {edge:.6g} must be < 2 "
            f"(lambda_max={spec.lambda_max:.6g}); use lr < {2.0 / ((bsz + 1) * spec.lambda_max):.6g}"
        )
    kn = kernel_norm(params, spec)
    if kn >= 1.0:
        raise ValueError(
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


# -- deterministic equivalent (seed=None): no random W -------------------------------------------
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
    p0 : |D^1/2 b|^2 = P(0)
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
    P_inf + sum f = |D^1/2 b|^2.

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


def _volterra_de(params: PLRFParams, r: np.ndarray) -> Trajectory:
    """volterra(params, steps, seed=None): the Volterra solve on the deterministic-equivalent measures."""
    de = _de_measure(params)
    lr, bsz = params.lr, params.batch
    edge = lr * (bsz + 1) * de.lambda_max
    if edge >= 2.0:
        raise ValueError(
            f"lr={lr:.6g} is unstable: lr*(batch+1)*lambda_max = {edge:.6g} must be < 2 "
            f"(lambda_max={de.lambda_max:.6g}, deterministic equivalent); "
            f"use lr < {2.0 / ((bsz + 1) * de.lambda_max):.6g}"
        )
    kn = float(np.sum(de.rho_w * lr * de.x / (2.0 - (bsz + 1) * lr * de.x)))
    if kn >= 1.0:
        raise ValueError(
            f"lr={lr:.6g} is unstable: the kernel norm ||K|| = {kn:.6g} must be < 1 (expected loss diverges)"
        )
    n = int(r[-1]) + 1
    okf, okk = de.f_w > 0, de.rho_w > 0
    f, k = _forcing_kernel_measure(params, de.x[okf], de.f_w[okf], de.p_inf, de.x[okk], de.rho_w[okk], n)
    p, iters = _picard(f, k)
    solver = {
        "method": "volterra-deterministic-equivalent-picard-fft",
        "deterministic_equivalent": True,
        "lambda_max": de.lambda_max,
        "kernel_norm": kn,
        "trace_D": _trace_d(params.alpha, params.v),
        "p_inf": de.p_inf,
        "n_lumped": 0,
        "picard_iterations": iters,
        "n_quadrature": int(de.x.shape[0]),
    }
    return _volterra_trajectory(params, r, p, f, de.p_inf, None, solver)


# -- Volterra solver ---------------------------------------------------------------------------
def _mode_sums_log(log_amp: np.ndarray, log_a: np.ndarray, r: np.ndarray) -> np.ndarray:
    """log sum_k exp(log_amp_k + r log_a_k) for each r, shape (n_r,), chunked over r."""
    out = np.empty(r.shape[0])
    rows = max(1, (8 * 2**20) // max(1, log_a.shape[0]))
    for start in range(0, r.shape[0], rows):
        rr = r[start : start + rows, None].astype(np.float64)
        out[start : start + rows] = special.logsumexp(log_amp[None, :] + rr * log_a[None, :], axis=1)
    return out


def _mode_sums(log_amp: np.ndarray, log_a: np.ndarray, r: np.ndarray) -> np.ndarray:
    """sum_k exp(log_amp_k + r log_a_k) for each r (small r: no overflow, underflow harmless)."""
    amp = np.exp(log_amp)
    out = np.empty(r.shape[0])
    rows = max(1, (8 * 2**20) // max(1, log_a.shape[0]))
    for start in range(0, r.shape[0], rows):
        out[start : start + rows] = np.exp(np.outer(r[start : start + rows], log_a)) @ amp
    return out


def _forcing_kernel(params: PLRFParams, spec: Spectrum, n_steps: int) -> tuple[np.ndarray, np.ndarray]:
    """F(r) and K(r) for r = 0 .. n_steps-1, shapes (n_steps,), (n_steps,).

    Exact mode sums (in log space, no underflow) below ``_EXACT_STEPS`` and at log-spaced nodes
    beyond, joined by a cubic spline of log F, log K in log r (smooth: sums of exp(-c e^s)).
    """
    rel = spec.reliable & (spec.weights > 0)
    pos = spec.lam > 0
    return _forcing_kernel_measure(
        params, spec.lam[rel], spec.weights[rel], spec.p_frozen, spec.lam[pos], np.ones(int(pos.sum())), n_steps
    )


def _forcing_kernel_measure(
    params: PLRFParams,
    x_f: np.ndarray,
    w_f: np.ndarray,
    p_frozen: float,
    x_k: np.ndarray,
    m_k: np.ndarray,
    n_steps: int,
) -> tuple[np.ndarray, np.ndarray]:
    """F(r) = p_frozen + sum_i w_f_i a(x_f_i)^r and K(r) = lr^2 B sum_i m_k_i x_k_i^2 a(x_k_i)^r, r < n_steps.

    Atoms (x > 0, weights > 0) of the forcing measure and of the eigenvalue measure (multiplicities
    m_k: 1 per eigenvalue for one W, quadrature weights for the deterministic equivalent).
    """
    lr, bsz = params.lr, params.batch

    def log_contraction(x):
        # a(x) > 0 always (its discriminant is < 0)
        return np.log(1.0 - 2.0 * lr * bsz * x + lr**2 * bsz * (bsz + 1) * x**2)

    # forcing: the atoms plus the frozen part as a mode with a = 1
    lf_amp = np.concatenate([np.log(w_f), [math.log(p_frozen) if p_frozen > 0 else -np.inf]])
    lf_a = np.concatenate([log_contraction(x_f), [0.0]])
    lk_amp = np.log(lr**2 * bsz * m_k * x_k**2)
    lk_a = log_contraction(x_k)
    n_exact = min(n_steps, _EXACT_STEPS)
    r_exact = np.arange(n_exact)
    f_exact = _mode_sums(lf_amp, lf_a, r_exact)
    k_exact = _mode_sums(lk_amp, lk_a, r_exact)
    if n_steps <= n_exact:
        return f_exact, k_exact
    lo, hi = math.log(n_exact - 64), math.log(n_steps)
    n_nodes = max(8, int(math.ceil((hi - lo) / math.log(10.0) * _NODES_PER_DECADE)) + 1)
    nodes = np.exp(np.linspace(lo, hi, n_nodes))
    nf = _mode_sums_log(lf_amp, lf_a, nodes)
    nk = _mode_sums_log(lk_amp, lk_a, nodes)
    r_rest = np.arange(n_exact, n_steps, dtype=np.float64)
    s = np.log(r_rest)
    f = np.empty(n_steps)
    k = np.empty(n_steps)
    f[:n_exact], k[:n_exact] = f_exact, k_exact
    f[n_exact:] = np.exp(CubicSpline(np.log(nodes), nf)(s))
    k[n_exact:] = np.exp(CubicSpline(np.log(nodes), nk)(s))
    return f, k


def _damped_fft_solve(f: np.ndarray, k: np.ndarray) -> np.ndarray:
    """One-shot FFT solution of the Volterra equation on [0, n), used as Picard's starting point.

    With rho^r damping, P~ = rho^r P solves P~ = F~ + (rho K~) * P~ whose z-transform is
    F~(z) / (1 - rho z K~(z)). A circular solve of length N = 4n aliases P~(r + N) = O(rho^N P(0))
    onto r; choosing rho^N = 1e-13 makes the aliasing ~1e-13 P(0) and the rounding
    ~1e-16 P(0) / rho^n ~ 2e-13 P(0) (absolute). Causality makes the truncation of F, K at n exact.
    """
    from scipy import fft as sfft

    n = f.shape[0]
    nfft = sfft.next_fast_len(4 * n, real=True)
    log_rho = math.log(1e-13) / nfft
    damp = np.exp(log_rho * np.arange(n))
    f_hat = sfft.rfft(f * damp, nfft)
    k_hat = sfft.rfft(k * damp, nfft)
    z = np.exp(-2j * np.pi * np.arange(f_hat.shape[0]) / nfft)  # delay by one step (K(r-1-s))
    p = sfft.irfft(f_hat / (1.0 - math.exp(log_rho) * z * k_hat), nfft)[:n] / damp
    return np.maximum(p, f)


def _picard(f: np.ndarray, k: np.ndarray, tol: float = 1e-12, max_iter: int = 2000) -> tuple[np.ndarray, int]:
    """Solve P(r) = F(r) + sum_{s<r} K(r-1-s) P(s) by Picard iteration with FFT convolution.

    Starts from :func:`_damped_fft_solve` (absolute error ~1e-13 P(0)), so 2-3 iterations
    usually reach ``tol``. Returns (P, iterations). Picard contracts absolute errors by ||K||_1 < 1
    (checked by the caller) per iteration. Accuracy: ``tol`` relative where P > 1e-13 P(0); below
    that the FFT's absolute rounding (~1e-16 P(0)) dominates.
    """
    from scipy import fft as sfft

    n = f.shape[0]
    nfft = sfft.next_fast_len(2 * n, real=True)
    k_hat = sfft.rfft(k, nfft)
    p = _damped_fft_solve(f, k) if n > 1 else f.copy()
    for it in range(1, max_iter + 1):
        conv = sfft.irfft(sfft.rfft(p, nfft) * k_hat, nfft)[: n - 1]
        new = f.copy()
        new[1:] += conv
        np.maximum(new, f, out=new)  # the convolution term is >= 0; clip FFT rounding noise
        # pointwise relative change; below ~1e-13 P(0) FFT rounding (~1e-16 P(0)) is the floor
        err = float(np.max(np.abs(new - p) / (new + 1e-13 * f[0])))
        p = new
        if err < tol:
            return p, it
    raise RuntimeError(f"Picard iteration did not converge in {max_iter} iterations (last relative change {err:.3g})")


def volterra(params: PLRFParams, steps, seed: int | None = 0) -> Trajectory:
    """Expected loss P(r) of one-pass SGD at the given steps, from the Volterra equation for one W.

    Parameters
    ----------
    params : PLRFParams
    steps : array of int, shape (n_steps,)
        Strictly increasing SGD steps r >= 0 (r = 0 is the initial loss P(0) = norm(D^1/2 b)^2).
    seed : int or None
        Fixes W (the same W as :func:`simulate_sgd` with this seed). ``None``: the deterministic
        equivalent (no random W; approximates the average over W, error O(1/d)): F and K are
        integrals of a(x)^r against the deterministic-equivalent spectral measures (see
        :func:`_de_measure`), then the same Volterra solve. Needs d >= 32 and v > d (else
        ValueError). Measured against the mean of the one-W curves over seeds 0..199 (v = 4d,
        r in [1, 1e5]): max 2.1% at (0.7, 0.7), d = 200 and 3.1% at (1.0, 0.75), d = 200 (the
        averages' own standard errors ~1-1.5%); the DE sits ~1% below the W-average.

    Returns
    -------
    Trajectory
        axis "step", channels ``loss`` P(r), ``forcing`` F(r), ``forcing_0`` (P_inf, plus the
        weight of the modes lumped because lambda < 1e-10 lambda_max, constant in r) and
        ``kernel_term`` (sum_{s<r} K(r-1-s) P(s) = P - F); labels alpha, beta, phase, eta, xi;
        provenance["solver"] holds lambda_max, kernel_norm, trace_D, p_inf, n_lumped, iterations.

    Cost: spectrum O(v d^2 + d^3) (cached), then O(d (4096 + 200 log10 R)) for F, K and
    O(R log R) per Picard iteration, R = steps[-1] + 1. seed=None: the spectrum is replaced by the
    deterministic equivalent, O(n_newton n_x v) with n_x ~ 1000 per decade of the spectrum (cached),
    and F, K cost O(n_x (4096 + 200 log10 R)).
    """
    if not isinstance(params, PLRFParams):
        raise ValueError(f"params must be a PLRFParams, got {type(params).__name__}")
    r = _check_steps(steps)
    seed = check_seed("seed", seed)
    if seed is None:
        return _volterra_de(params, r)
    spec = spectrum(params, seed)
    kn = _check_stable(params, spec)
    n = int(r[-1]) + 1
    f, k = _forcing_kernel(params, spec, n)
    p, iters = _picard(f, k)
    solver = {
        "method": "volterra-eigen-picard-fft",
        "lambda_max": spec.lambda_max,
        "kernel_norm": kn,
        "trace_D": _trace_d(params.alpha, params.v),
        "p_inf": spec.p_frozen,
        "n_lumped": int(np.sum(~spec.reliable)),
        "picard_iterations": iters,
    }
    return _volterra_trajectory(params, r, p, f, spec.p_frozen, seed, solver)


def _volterra_trajectory(params: PLRFParams, r: np.ndarray, p: np.ndarray, f: np.ndarray, p_frozen: float,
                         seed: int | None, solver: dict) -> Trajectory:
    """Package a Volterra solution (loss p and forcing f on 0..R) at the requested steps r."""
    values = np.column_stack([p[r], f[r], np.full(r.shape[0], p_frozen), p[r] - f[r]])
    return Trajectory(
        times=r.astype(np.float64),
        values=values,
        channels=("loss", "forcing", "forcing_0", "kernel_term"),
        axis="step",
        source=SOURCE,
        params=asdict(params),
        seed=seed,
        labels=_labels(params),
        provenance=provenance.collect(device="cpu", solver=solver),
    )


def _labels(params: PLRFParams) -> dict:
    eta, xi = compute_optimal_exponents(params.alpha, params.beta)
    return {"alpha": params.alpha, "beta": params.beta, "phase": phase(params.alpha, params.beta), "eta": eta, "xi": xi}


# -- SGD simulation ------------------------------------------------------------------------------
def projection_matrix(d: int, n_proj: int) -> np.ndarray:
    """Fixed random projection (n_proj, d), rows N(0, 1/d), from PROJECTION_SEED (run-independent)."""
    rng = np.random.default_rng([PROJECTION_SEED, d])
    return rng.standard_normal((n_proj, d)) / math.sqrt(d)


def simulate_sgd(
    params: PLRFParams,
    steps,
    seed: int,
    n_runs: int = 1,
    *,
    n_proj: int = 8,
    method: str = "eigen",
    backend: str = "auto",
) -> Trajectory:
    """Streaming one-pass SGD on fresh Gaussian samples; loss and parameter path at ``steps``.

    Parameters
    ----------
    params : PLRFParams
    steps : array of int, shape (n_steps,)
        Strictly increasing steps r >= 0 at which theta_r (after r updates) is recorded.
    seed : int
        Fixes W (same W as :func:`volterra`) and, through a separate child stream, the samples.
        Same seed, n_runs, method and backend: same numbers.
    n_runs : int
        Independent SGD runs on the same W (vectorised together).
    n_proj : int
        Number of fixed random projections ``proj_j`` of theta (matrix :func:`projection_matrix`).
    method : "eigen" or "data"
        "eigen" (default) samples the Gaussian pair (features W^T x, target <x, b>) directly in the
        eigenbasis of W^T D W: psi = sqrt(lambda) xi, y = sum_k (gproj_k / sqrt(lambda_k)) xi_k +
        sqrt(P_inf) zeta, which has exactly the law of (V^T W^T x, <x, b>); cost O(n_runs B d) per
        step. "data" draws x ~ N(0, D) in R^v and forms W^T x, cost O(n_runs B v d) per step (a
        reference for small sizes).
    backend : "auto", "numpy" or "torch"
        "auto" is torch on a GPU when torch.cuda.is_available(), numpy otherwise. "torch" uses
        torch on the GPU if present else the CPU. Different backends draw different (equally
        distributed) samples.

    Returns
    -------
    Trajectory
        axis "step"; channels ``loss`` (population loss P(theta_r), mean over runs), ``loss_sem``
        (its standard error, only when n_runs > 1), ``theta_{i}`` for i < d (only when d <= 64)
        and ``proj_{j}`` for j < n_proj: the parameter path of run 0 in the original coordinates.
    """
    if not isinstance(params, PLRFParams):
        raise ValueError(f"params must be a PLRFParams, got {type(params).__name__}")
    r = _check_steps(steps)
    seed = check_seed("seed", seed)
    if seed is None:
        raise ValueError("seed must be a non-negative integer (it fixes W and the samples)")
    n_runs = check_number("n_runs", n_runs, low=1, integer=True)
    n_proj = check_number("n_proj", n_proj, low=0, integer=True)
    check_choice("method", method, ("eigen", "data"))
    check_choice("backend", backend, ("auto", "numpy", "torch"))
    spec = spectrum(params, seed)
    _check_stable(params, spec)
    use_torch = backend == "torch"
    if backend == "auto":
        try:
            import torch

            use_torch = bool(torch.cuda.is_available())
        except ImportError:
            use_torch = False
    rng_seed = _seed_streams(seed)[1]
    if method == "data":
        losses, path, device = _sgd_data(params, spec, r, rng_seed, n_runs, seed)
    elif use_torch:
        losses, path, device = _sgd_eigen_torch(params, spec, r, rng_seed, n_runs)
    else:
        losses, path, device = _sgd_eigen_numpy(params, spec, r, rng_seed, n_runs)
    # losses (n_steps, n_runs); path (n_steps, d) = theta of run 0 in the original coordinates
    cols = [losses.mean(axis=1)]
    names = ["loss"]
    if n_runs > 1:
        cols.append(losses.std(axis=1, ddof=1) / math.sqrt(n_runs))
        names.append("loss_sem")
    if params.d <= THETA_CHANNELS_MAX_D:
        cols.extend(path.T)
        names.extend(f"theta_{i}" for i in range(params.d))
    if n_proj:
        cols.extend((path @ projection_matrix(params.d, n_proj).T).T)
        names.extend(f"proj_{j}" for j in range(n_proj))
    return Trajectory(
        times=r.astype(np.float64),
        values=np.column_stack(cols),
        channels=tuple(names),
        axis="step",
        source=SOURCE,
        params=asdict(params),
        seed=seed,
        labels=_labels(params),
        provenance=provenance.collect(
            device=device, solver={"method": f"sgd-{method}", "n_runs": n_runs, "n_proj": n_proj}
        ),
    )


def _eigen_setup(spec: Spectrum) -> tuple[np.ndarray, np.ndarray, float]:
    """(sqrt(lambda), target coefficients s_k, noise std) of the eigenbasis sampler."""
    lam = np.clip(spec.lam, 0.0, None)
    sl = np.sqrt(lam)
    s = np.where(spec.reliable, spec.gproj / np.where(spec.reliable, sl, 1.0), 0.0)
    return sl, s, math.sqrt(spec.p_frozen)


def _eigen_loss(theta_e: np.ndarray, sl: np.ndarray, s: np.ndarray, p_frozen: float) -> np.ndarray:
    """P(theta) in the eigenbasis: sum_k (sqrt(lam_k) theta_k - s_k)^2 + P_frozen, shape (n_runs,)."""
    return np.sum((theta_e * sl - s) ** 2, axis=-1) + p_frozen


def _sgd_eigen_numpy(params, spec, r, seed_seq, n_runs):
    rng = np.random.default_rng(seed_seq)
    sl, s, noise = _eigen_setup(spec)
    d, bsz, lr = params.d, params.batch, params.lr
    theta = np.zeros((n_runs, d))
    losses = np.empty((r.shape[0], n_runs))
    path = np.empty((r.shape[0], d))
    block = max(1, min(256, (4 * 2**20) // (n_runs * bsz * (d + 1))))  # steps per RNG call
    i_out, step, total = 0, 0, int(r[-1])
    while True:
        # record every requested step reached so far
        while i_out < r.shape[0] and r[i_out] == step:
            losses[i_out] = _eigen_loss(theta, sl, s, spec.p_frozen)
            path[i_out] = spec.vecs @ theta[0]
            i_out += 1
        if step >= total:
            break
        nb = min(block, total - step)
        z = rng.standard_normal((nb, n_runs, bsz, d + 1))
        xi = np.ascontiguousarray(z[..., :d])
        psi_blk = xi * sl
        y_blk = xi @ s + noise * z[..., d]
        for b in range(nb):
            if i_out < r.shape[0] and r[i_out] == step:
                losses[i_out] = _eigen_loss(theta, sl, s, spec.p_frozen)
                path[i_out] = spec.vecs @ theta[0]
                i_out += 1
            psi = psi_blk[b]  # (n_runs, B, d)
            resid = np.einsum("nbd,nd->nb", psi, theta) - y_blk[b]  # (n_runs, B)
            theta -= lr * np.einsum("nbd,nb->nd", psi, resid)
            step += 1
    return losses, path, "cpu"


def _sgd_eigen_torch(params, spec, r, seed_seq, n_runs):
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    gen = torch.Generator(device=device)
    gen.manual_seed(int(seed_seq.generate_state(1, dtype=np.uint64)[0] % (2**63)))
    sl_np, s_np, noise = _eigen_setup(spec)
    kw = {"dtype": torch.float64, "device": device}
    sl, s = torch.as_tensor(sl_np, **kw), torch.as_tensor(s_np, **kw)
    d, bsz, lr = params.d, params.batch, params.lr
    theta = torch.zeros((n_runs, d), **kw)
    losses = np.empty((r.shape[0], n_runs))
    thetas = np.empty((r.shape[0], d))
    todo = set(int(x) for x in r)
    out_index = {int(x): i for i, x in enumerate(r)}
    for step in range(int(r[-1]) + 1):
        if step in todo:
            i = out_index[step]
            losses[i] = (((theta * sl - s) ** 2).sum(dim=-1) + spec.p_frozen).cpu().numpy()
            thetas[i] = theta[0].cpu().numpy()
        if step == int(r[-1]):
            break
        z = torch.randn((n_runs, bsz, d + 1), generator=gen, **kw)
        psi = z[..., :d] * sl
        y = z[..., :d] @ s + noise * z[..., d]
        resid = torch.einsum("nbd,nd->nb", psi, theta) - y
        theta -= lr * torch.einsum("nbd,nb->nd", psi, resid)
    return losses, thetas @ spec.vecs.T, device


def _sgd_data(params, spec, r, seed_seq, n_runs, seed):
    """Reference SGD in the data space: x ~ N(0, D) in R^v, features W^T x. O(n_runs B v d) per step."""
    d, v, bsz, lr = params.d, params.v, params.batch, params.lr
    rng_w = np.random.default_rng(_seed_streams(seed)[0])
    j = np.arange(1, v + 1, dtype=np.float64)
    sqrt_d = j ** (-params.alpha)
    rows = max(1, _ROW_CHUNK_BYTES // (8 * d))
    a = np.concatenate(  # D^1/2 W, drawn exactly as in spectrum()
        [rng_w.standard_normal((min(v, s0 + rows) - s0, d)) for s0 in range(0, v, rows)]
    ) * (sqrt_d[:, None] / math.sqrt(d))
    c = j ** (-params.alpha - params.beta)
    m = a.T @ a
    g = a.T @ c
    rng = np.random.default_rng(seed_seq)
    theta = np.zeros((n_runs, d))
    losses = np.empty((r.shape[0], n_runs))
    path = np.empty((r.shape[0], d))
    i_out = 0
    for step in range(int(r[-1]) + 1):
        if r[i_out] == step:
            losses[i_out] = np.einsum("nd,nd->n", theta @ m, theta) - 2 * theta @ g + spec.p0
            path[i_out] = theta[0]
            i_out += 1
        if i_out == r.shape[0]:
            break
        z = rng.standard_normal((n_runs, bsz, v))  # x = D^1/2 z
        feats = z @ a  # (n_runs, B, d) = W^T x
        y = z @ c
        resid = np.einsum("nbd,nd->nb", feats, theta) - y
        theta -= lr * np.einsum("nbd,nb->nd", feats, resid)
    return losses, path, "cpu"


# -- compute-optimal frontier (spec section 5) ---------------------------------------------------
def loss_grid(
    alpha: float,
    beta: float,
    d_grid,
    flops_grid,
    *,
    seed: int = 0,
    n_seeds=1,
    v_factor: float = 4.0,
    lr_factor: float = 0.25,
    batch: int = 1,
    max_steps=4_000_000,
) -> np.ndarray:
    """Volterra loss of each model size at each compute f = r B d, shape (n_d, n_f).

    Entry [i, m] is P at r = f_m / (B d_i), interpolated linearly in (log r, log P) between the
    neighbouring integer steps (rounding r would shift small-r compute by up to 50%), averaged over
    the W of seeds ``seed .. seed + n_seeds - 1`` (W-to-W fluctuations of P are 5-20% at d ~ 100
    and shrink with d; averaging approximates the deterministic equivalent). NaN where r < 1 or
    r + 1 exceeds the step cap (those points never enter an envelope). ``max_steps`` and
    ``n_seeds`` are scalars or arrays (n_d,) of per-size values. v = round(v_factor d),
    lr = lr_factor / Tr(D).
    Cost: n_seeds :func:`volterra` calls per d (dominated by the largest d's eigh, O(v d^2 + d^3),
    and by R = min(max f / (B d), cap) steps).
    """
    a, b = _check_ab(alpha, beta)
    dg = check_increasing("d_grid", d_grid, positive=True)
    fg = check_increasing("flops_grid", flops_grid, positive=True)
    check_number("v_factor", v_factor, low=1.0)
    check_number("lr_factor", lr_factor, low=0.0, low_open=True)
    seed = check_seed("seed", seed)
    caps = np.broadcast_to(np.asarray(max_steps, dtype=np.float64), dg.shape)
    seeds_per_d = np.broadcast_to(np.asarray(n_seeds), dg.shape)
    for i in range(dg.shape[0]):
        check_number(f"max_steps[{i}]", float(caps[i]), low=2, high=_MAX_STEPS)
        check_number(f"n_seeds[{i}]", seeds_per_d[i], low=1, integer=True)
    out = np.full((dg.shape[0], fg.shape[0]), np.nan)
    for i, d in enumerate(dg):
        d = int(round(d))
        v = int(round(v_factor * d))
        p = PLRFParams(a, b, d, v=v, lr=lr_factor / _trace_d(a, v), batch=batch)
        r = fg / (batch * d)
        lo = np.floor(r)
        ok = (lo >= 1) & (lo + 1 <= caps[i])
        if not ok.any():
            continue
        uniq, inv = np.unique(np.concatenate([lo[ok], lo[ok] + 1]), return_inverse=True)
        mean = np.zeros(uniq.shape[0])
        for s in range(int(seeds_per_d[i])):
            mean += volterra(p, uniq, seed=seed + s).channel("loss")
        logp = np.log(mean / int(seeds_per_d[i]))
        k = int(ok.sum())
        w = np.log(r[ok] / lo[ok]) / np.log1p(1.0 / lo[ok])
        out[i, ok] = np.exp((1 - w) * logp[inv[:k]] + w * logp[inv[k:]])
    return out


@dataclass(frozen=True)
class FrontierResult:
    """Compute-optimal frontier and fitted exponents.

    approach : 0, 1 or 2
    d_grid : (n_d,) ; flops : (n_f,) ; loss : (n_d, n_f) (NaN where not computed)
    envelope : (n_f,) min over d of loss ; d_star : (n_f,) argmin d on the grid
    opt_flops, opt_d, opt_loss : the points fitted (approach 2: parabola vertices)
    window : (f_lo, f_hi) fitting window ; eta, xi : fitted exponents (xi NaN for approach 0)
    """

    approach: int
    d_grid: np.ndarray
    flops: np.ndarray
    loss: np.ndarray
    envelope: np.ndarray
    d_star: np.ndarray
    opt_flops: np.ndarray
    opt_d: np.ndarray
    opt_loss: np.ndarray
    window: tuple[float, float]
    eta: float
    xi: float


def compute_optimal_frontier(
    alpha: float,
    beta: float,
    d_grid,
    flops_grid,
    approach: int = 0,
    *,
    losses=None,
    window: tuple[float, float] | None = None,
    isoflop_points: int = 5,
    **grid_kwargs,
) -> FrontierResult:
    """Envelope, d*(f) and fitted (eta, xi) as in Hoffmann et al. (2022).

    Approach 0: slope of a log-log line fit of the lower envelope min_d P_d(f) (eta; xi = NaN).
    Approach 1: the envelope minimiser d*(f) on the grid; fit log d* vs log f (xi) and the envelope
    (eta). Approach 2: IsoFLOP profiles: at each f, a parabola in log d through the
    ``isoflop_points`` grid points nearest the minimum of log P, its vertex gives (d_opt, P_opt);
    fit both against f (with fewer sizes than ``isoflop_points``, all sizes are used).

    The default ``window`` is the range of f strictly between the last compute whose grid minimiser
    is the smallest d and the first whose minimiser is the largest d (the envelope is biased where
    the optimum sits on an end of the grid). ``losses``
    (n_d, n_f) may be given (e.g. from :func:`loss_grid`) to avoid recomputing; otherwise
    ``loss_grid(alpha, beta, d_grid, flops_grid, **grid_kwargs)`` is called.
    """
    check_choice("approach", approach, (0, 1, 2))
    dg = check_increasing("d_grid", d_grid, positive=True)
    fg = check_increasing("flops_grid", flops_grid, positive=True)
    if dg.shape[0] < 3:
        raise ValueError(f"d_grid must have at least 3 sizes, got {dg.shape[0]}")
    if losses is None:
        losses = loss_grid(alpha, beta, dg, fg, **grid_kwargs)
    else:
        _check_ab(alpha, beta)
        losses = np.asarray(losses, dtype=np.float64)
        if losses.shape != (dg.shape[0], fg.shape[0]):
            raise ValueError(f"losses must have shape (n_d, n_f) = {(dg.shape[0], fg.shape[0])}, got {losses.shape}")
    isoflop_points = check_number("isoflop_points", isoflop_points, low=3, integer=True)
    masked = np.where(np.isfinite(losses), losses, np.inf)
    has = np.isfinite(losses).any(axis=0)
    idx = np.argmin(masked, axis=0)
    envelope = np.where(has, masked[idx, np.arange(fg.shape[0])], np.nan)
    d_star = np.where(has, dg[idx], np.nan)
    interior = has & (idx > 0) & (idx < dg.shape[0] - 1)
    if window is None:
        # strictly between the last f whose optimum sits on d_min and the first on d_max
        at_lo = np.flatnonzero(has & (idx == 0))
        at_hi = np.flatnonzero(has & (idx == dg.shape[0] - 1))
        start = at_lo.max() + 1 if at_lo.size else int(np.flatnonzero(has)[0]) if has.any() else 0
        stop = at_hi[at_hi >= start].min() - 1 if (at_hi >= start).any() else fg.shape[0] - 1
        if not has.any() or stop < start or not interior[start : stop + 1].any():
            raise ValueError("no compute level has its optimal d strictly inside d_grid; widen d_grid or flops_grid")
        window = (float(fg[start]), float(fg[stop]))
    else:
        window = (check_number("window[0]", window[0], low=0.0, low_open=True), check_number("window[1]", window[1]))
        if window[1] <= window[0]:
            raise ValueError(f"window must be (f_lo, f_hi) with f_lo < f_hi, got {window}")
    inw = has & (fg >= window[0] * (1 - 1e-12)) & (fg <= window[1] * (1 + 1e-12))
    if approach in (0, 1):
        sel = inw if approach == 0 else inw & interior
        opt_f, opt_d, opt_l = fg[sel], d_star[sel], envelope[sel]
    else:
        ld = np.log(dg)
        of, od, ol = [], [], []
        npts = min(isoflop_points, dg.shape[0])
        half = npts // 2
        for m in np.flatnonzero(inw & interior):
            col = np.log(masked[:, m])
            i0 = int(idx[m])
            lo = max(0, min(i0 - half, dg.shape[0] - npts))
            pts = np.arange(lo, lo + npts)
            if not np.all(np.isfinite(col[pts])):
                continue
            c2, c1, c0 = np.polyfit(ld[pts], col[pts], 2)
            if c2 <= 0:
                continue  # not a valley: no minimum to read off
            x = -c1 / (2 * c2)
            of.append(fg[m])
            od.append(math.exp(x))
            ol.append(math.exp(c0 + c1 * x + c2 * x * x))
        opt_f, opt_d, opt_l = np.array(of), np.array(od), np.array(ol)
    if opt_f.shape[0] < 3:
        raise ValueError(f"only {opt_f.shape[0]} compute levels in the fitting window {window}; need >= 3")
    eta = -float(np.polyfit(np.log(opt_f), np.log(opt_l), 1)[0])
    xi = math.nan if approach == 0 else float(np.polyfit(np.log(opt_f), np.log(opt_d), 1)[0])
    return FrontierResult(
        approach=approach, d_grid=dg, flops=fg, loss=losses, envelope=envelope, d_star=d_star,
        opt_flops=opt_f, opt_d=opt_d, opt_loss=opt_l, window=window, eta=eta, xi=xi,
    )


# -- command line: `toptraj generate plrf ...` ---------------------------------------------------
def add_cli_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `toptraj generate plrf`."""
    parser.add_argument("--alpha", type=float, required=True, help="data exponent (> 0)")
    parser.add_argument("--beta", type=float, required=True, help="target exponent (2(alpha+beta) > 1)")
    parser.add_argument("--d", type=int, required=True, help="number of parameters")
    parser.add_argument("--v", type=int, default=None, help="data dimension (default 4 d)")
    parser.add_argument("--lr", type=float, default=None, help="learning rate (default 0.25 / Tr D)")
    parser.add_argument("--batch", type=int, default=1, help="batch size (default 1)")
    parser.add_argument(
        "--steps", default="1:1e5:64", help="START:STOP:N log-spaced, rounded to distinct integers (default 1:1e5:64)"
    )
    parser.add_argument("--sgd", action="store_true", help="simulate SGD instead of solving the Volterra equation")
    parser.add_argument("--n-runs", type=int, default=1, help="SGD runs averaged per seed (with --sgd)")
    parser.add_argument("--seeds", default="0", help="seeds (each fixes W), e.g. 0:10 or 0,3,7 (default 0)")


def run_cli(args: argparse.Namespace) -> list[Trajectory]:
    """Build trajectories from parsed `toptraj generate plrf` arguments."""
    from toptraj.cli_args import parse_int_logspace, parse_seeds

    params = PLRFParams(args.alpha, args.beta, args.d, v=args.v, lr=args.lr, batch=args.batch)
    steps = parse_int_logspace("--steps", args.steps)
    seeds = parse_seeds("--seeds", args.seeds)
    if args.sgd:
        return [simulate_sgd(params, steps, seed=s, n_runs=args.n_runs) for s in seeds]
    return [volterra(params, steps, seed=s) for s in seeds]
