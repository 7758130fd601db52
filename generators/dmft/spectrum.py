"""Spectral core of the DMFT theory: kappa(s) and r on the real axis, the 2x2 system, the theory's spectrum.

The 2x2 system (docs/theory/dmft.rst, section 3; arXiv:2402.01092) is shared by the static/ridge loss
and the time-domain solver. :func:`theory_spectrum` compresses the tail of a large-M spectrum by
quadrature; :func:`_spectral_edge` bounds the top eigenvalue for the GD and momentum contours.
"""

from __future__ import annotations

import math

import numpy as np

from generators.dmft.params import DMFTParams
from toptraj.exceptions import ConvergenceError
from toptraj.validation import check_finite_array, check_number

_NEWTON_TOL = 1e-13  # relative step size at which a Newton solve for kappa counts as converged
_NEWTON_MAXITER = 200


def _inv(x: float) -> float:
    """1/x with 1/inf = 0 (N or P infinite)."""
    return 0.0 if math.isinf(x) else 1.0 / x


def _kappa_real(s: np.ndarray, lam: np.ndarray, N: float, P: float, mult=None) -> np.ndarray:
    """kappa(s) for real s > 0: the root kappa > kappa0 of kappa (1 - df/N)(1 - df/P) = s.

    On kappa > kappa0 (df(kappa0) = min(N, P), or kappa0 = 0 if min(N, P) >= M) both factors are
    positive and increasing, so g(kappa) = kappa R3 R1 increases from 0 to infinity and the root is
    unique. It lies in [kappa0, s + sum(lam) (1/N + 1/P)] because g(kappa) >= kappa - sum(lam)(1/N + 1/P).
    Safeguarded Newton (bisection when Newton leaves the bracket). Cost O(M) per iteration per s.

    Parameters
    ----------
    s : array, shape (n,), positive
    lam : array, shape (M,), positive
    mult : array, shape (M,), or None
        Multiplicity of each entry of lam (quadrature weights of a compressed spectrum); None = ones.

    Returns
    -------
    kappa : array, shape (n,)
    """
    s = np.atleast_1d(np.asarray(s, dtype=np.float64))
    iN, iP = _inv(N), _inv(P)
    if iN == 0.0 and iP == 0.0:
        return s.copy()
    wl = lam if mult is None else lam * mult
    n = min(N, P)
    r0 = _r_root(lam, n, mult)
    kappa0 = 0.0 if math.isinf(r0) else 1.0 / r0
    lo = np.full_like(s, kappa0)
    hi = s + wl.sum() * (iN + iP)
    k = hi.copy()
    for _ in range(_NEWTON_MAXITER):
        q = 1.0 / (lam[None, :] + k[:, None])
        df = q @ wl
        ddf = -((q * q) @ wl)  # d df / d kappa
        r3, r1 = 1.0 - df * iN, 1.0 - df * iP
        g = k * r3 * r1 - s
        dg = r3 * r1 - k * ddf * (iN * r1 + iP * r3)
        lo = np.where(g < 0, k, lo)
        hi = np.where(g > 0, k, hi)
        step = g / dg
        new = k - step
        out = (new <= lo) | (new >= hi) | ~np.isfinite(new)
        new = np.where(out, 0.5 * (lo + hi), new)
        done = np.abs(new - k) <= _NEWTON_TOL * np.abs(new)
        k = new
        if np.all(done):
            return k
    raise ConvergenceError(f"Newton solve for kappa(s) did not converge for s in [{s.min()}, {s.max()}] "
                           f"(N={N}, P={P}, M={lam.size}); allowed: s > 0 with a finite positive spectrum")


def _r_root(lam: np.ndarray, n: float, mult=None) -> float:
    """r > 0 solving n = sum_k lam_k r / (1 + lam_k r) (spec 4), for 0 < n < M; inf if n >= M.

    The right side increases from 0 to M in r, so the root is unique; Newton in log r from a
    bracket, with bisection safeguard. Cost O(M) per iteration.
    """
    m_ = np.ones_like(lam) if mult is None else mult
    M = float(m_.sum())
    if n >= M:
        return math.inf
    lo, hi = 0.0, 1.0
    while np.sum(m_ * lam * hi / (1.0 + lam * hi)) < n:
        hi *= 2.0
        if hi > 1e300:
            raise ConvergenceError(f"no root r for n={n} with M={M} modes")
    r = hi
    for _ in range(_NEWTON_MAXITER):
        x = lam * r
        f = np.sum(m_ * x / (1.0 + x)) - n
        df = np.sum(m_ * lam / (1.0 + x) ** 2)
        if f < 0:
            lo = r
        else:
            hi = r
        new = r - f / df
        if not (lo < new < hi):
            new = 0.5 * (lo + hi)
        if abs(new - r) <= _NEWTON_TOL * new:
            return float(new)
        r = new
    raise ConvergenceError(f"Newton solve for r did not converge for n={n}, M={M}")


def _two_by_two(s, s2, R1, R1p, R3, R3p, S1, S2, W1, W2, N: float, P: float):
    """Solve the 2x2 system of spec 3 for (C0, C2) at the pair (s, s'); broadcasting, real or complex.

        [1 - (R1R1'R3R3'/P) S2] C0 - (R3R3'/N) S1 C2            = W1
        -(s s' R1R1'/P) S1 C0    + [1 - (R1R1'R3R3'/N) S2] C2   = R1R1' W2

    This is the only implementation of the system: the ridge/static loss and the time-domain
    (double Talbot) solver both call it. Cost O(1) per pair (the mode sums S1..W2 are inputs).
    """
    iN, iP = _inv(N), _inv(P)
    r11 = R1 * R1p
    r33 = R3 * R3p
    q = r11 * r33 * S2
    a11 = 1.0 - q * iP
    a12 = -r33 * S1 * iN
    a21 = -s * s2 * r11 * S1 * iP
    a22 = 1.0 - q * iN
    b2 = r11 * W2
    det = a11 * a22 - a12 * a21
    C0 = (W1 * a22 - a12 * b2) / det
    C2 = (a11 * b2 - a21 * W1) / det
    return C0, C2


def _check_spectrum(lam, lam_w2, N, P):
    lam = check_finite_array("lam", lam, ndim=1)
    lam_w2 = check_finite_array("lam_w2", lam_w2, ndim=1)
    if lam.size == 0 or np.any(lam <= 0):
        raise ValueError(f"lam must be a non-empty array of positive eigenvalues, got min {lam.min() if lam.size else None}")
    if lam_w2.shape != lam.shape:
        raise ValueError(f"lam_w2 must have the shape of lam {lam.shape}, got {lam_w2.shape}")
    if np.any(lam_w2 < 0):
        raise ValueError(f"lam_w2 must be >= 0 (it is lambda_k w_k^2), got min {lam_w2.min()}")
    N = check_number("N", N, low=0.0, low_open=True, allow_inf=True)
    P = check_number("P", P, low=0.0, low_open=True, allow_inf=True)
    return lam, lam_w2, N, P


def _spectral_edge(lam: np.ndarray, N: float, P: float, mult=None) -> float:
    """Largest eigenvalue of (A^T A/N)(Psi^T Psi/P) in the large-size limit (edge of the support).

    For real kappa < -lam_max, g(kappa) = kappa (1 - df/N)(1 - df/P) rises from -inf to a maximum
    and falls back to -inf; kappa(s) has its branch point at that maximum, which is -e_max.
    Golden-section search in log(-kappa - lam_max); cost O(M) per evaluation (about 150).
    """
    iN, iP = _inv(N), _inv(P)
    lmax = float(lam.max())
    wl = lam if mult is None else lam * mult
    if iN == 0.0 and iP == 0.0:
        return lmax

    def g(logx):
        k = -lmax - math.exp(logx)
        df = float(np.sum(wl / (lam + k)))
        return k * (1 - df * iN) * (1 - df * iP)

    grid = np.linspace(-25, 20, 91) + math.log(lmax)  # kappa + lmax from -1e-11 lmax down
    vals = np.array([g(x) for x in grid])
    i = int(np.argmax(vals))
    a_, b_ = grid[max(i - 1, 0)], grid[min(i + 1, grid.size - 1)]
    phi = (math.sqrt(5) - 1) / 2
    for _ in range(60):
        c_, d_ = b_ - phi * (b_ - a_), a_ + phi * (b_ - a_)
        if g(c_) > g(d_):
            b_ = d_
        else:
            a_ = c_
    return -g(0.5 * (a_ + b_))


_GL_NODES = 10  # Gauss-Legendre nodes per panel of the compressed tail
_GL_PANEL = 0.25  # panel width in log k


def theory_spectrum(params: DMFTParams, exact_modes: int | None = None):
    """The power-law spectrum as (lam, lam_w2, mult) for the theory's mode sums.

    Modes k <= exact_modes are kept one by one (mult = 1). When M > 2 exact_modes the tail
    exact_modes < k <= M is replaced by a quadrature: sum_k f(k) ~ int_{K+1/2}^{M+1/2} f(x) dx (midpoint
    rule, error ~ f'/24 at the ends, below 1e-9 relative for K = 4096), the integral done in log x with
    Gauss-Legendre panels of width 0.25 and 10 nodes. Every mode sum of the theory is of the form
    sum_k f(lambda_k) lambda_k^p w_k^2 with f smooth in k on the tail, so this cuts the cost from O(M)
    to O(exact_modes + 40 log(M/exact_modes)) with relative changes of ~1e-9 (measured in the tests).
    exact_modes None: every mode exact.

    Returns
    -------
    lam, lam_w2, mult : arrays, shape (M_eff,)
    """
    M = int(params.M)
    if exact_modes is None or M <= 2 * int(exact_modes):
        lam, lam_w2 = params.spectrum()
        return lam, lam_w2, np.ones_like(lam)
    K = int(check_number("exact_modes", exact_modes, low=16, integer=True))
    k = np.arange(1, K + 1, dtype=np.float64)
    y0, y1 = math.log(K + 0.5), math.log(M + 0.5)
    n_pan = max(1, int(math.ceil((y1 - y0) / _GL_PANEL)))
    xg, wg = np.polynomial.legendre.leggauss(_GL_NODES)
    edges = np.linspace(y0, y1, n_pan + 1)
    half = 0.5 * (edges[1:] - edges[:-1])
    mid = 0.5 * (edges[1:] + edges[:-1])
    y = (mid[:, None] + half[:, None] * xg[None, :]).ravel()
    wy = (half[:, None] * wg[None, :]).ravel()
    x = np.exp(y)
    kk = np.concatenate([k, x])
    mult = np.concatenate([np.ones(K), wy * x])  # dx = x dy
    return kk**-params.b, kk**-params.a, mult
