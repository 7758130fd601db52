"""Laplace inversion for the DMFT theory: fixed-Talbot nodes, kappa(s) on the contour, optimizer nodes.

Fixed Talbot (Abate-Valko) with a Newton solve for kappa(s) continued along the contour; GD and
heavy-ball momentum are exact substitutions of the Laplace variable (docs/theory/dmft.rst; arXiv:2402.01092).
"""

from __future__ import annotations

import numpy as np

from generators.dmft.spectrum import _NEWTON_TOL, _inv, _kappa_real
from toptraj.exceptions import ConvergenceError

_NEWTON_MAXITER_COMPLEX = 60  # per contour node; a node that needs more is approached in substeps


def _talbot(times: np.ndarray, n_nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """Upper-half fixed-Talbot nodes and weights for each time.

    The contour s(theta) = r theta (cot theta + i), r = 2 n / (5 t), theta_j = j pi / n, j = 0..n-1,
    is conjugate-symmetric, so f(t) = w_0 F(s_0) + 2 Re sum_{j>=1} w_j F(s_j) for a real f.
    w_j = (r / 2n) (1 + i sigma_j) exp(s_j t), sigma = theta + (theta cot theta - 1) cot theta.

    Returns
    -------
    s, w : complex arrays, shape (n_times, n_nodes)
    """
    n = int(n_nodes)
    theta = np.arange(n) * (np.pi / n)
    th = theta[1:]
    cot = 1.0 / np.tan(th)
    shape = np.concatenate([[1.0 + 0j], th * (cot + 1j)])  # s / r
    sig = np.concatenate([[0.0], th + (th * cot - 1.0) * cot])
    r = (2.0 * n / 5.0) / times
    s = r[:, None] * shape[None, :]
    w = (r[:, None] / (2 * n)) * (1.0 + 1j * sig[None, :]) * np.exp(s * times[:, None])
    return s, w


def _newton_complex(s: np.ndarray, k0: np.ndarray, lam: np.ndarray, iN: float, iP: float, wl: np.ndarray):
    """Newton for kappa (1 - df/N)(1 - df/P) = s at complex s from the guesses k0 (shapes (n,)).

    wl = lam * multiplicity. Returns kappa (n,), the number of iterations, and whether every entry converged.
    Cost O(n M) per iteration.
    """
    k = k0.astype(np.complex128)
    for it in range(1, _NEWTON_MAXITER_COMPLEX + 1):
        q = 1.0 / (lam[None, :] + k[:, None])
        df = q @ wl
        dq = (q * q) @ wl  # = -d df / d kappa
        r3, r1 = 1.0 - df * iN, 1.0 - df * iP
        g = k * r3 * r1 - s
        dg = r3 * r1 + k * dq * (iN * r1 + iP * r3)
        step = g / dg
        k = k - step
        if np.all(np.abs(step) <= _NEWTON_TOL * np.abs(k)):
            return k, it, True
    return k, it, False


def _kappa_contour(s: np.ndarray, lam: np.ndarray, N: float, P: float, mult=None) -> np.ndarray:
    """kappa(s) on the upper-half Talbot nodes of every time, shape (n_times, n_nodes).

    Real start at theta = 0 (unique root above kappa0), then continuation along the contour:
    each node starts Newton from the previous node's root or from the large-|s| asymptote
    kappa ~ s + sum(lam)(1/N + 1/P), whichever has the smaller residual; an interval whose Newton
    fails is split in two (up to 6 times) so that the root stays on the principal branch.
    Cost O(n_times n_nodes M) per Newton iteration (about 4-8 iterations per node).
    """
    iN, iP = _inv(N), _inv(P)
    if iN == 0.0 and iP == 0.0:
        return s.copy()
    nt, nn = s.shape
    kappa = np.empty_like(s)
    kappa[:, 0] = _kappa_real(s[:, 0].real, lam, N, P, mult)
    wl = lam if mult is None else lam * mult
    shift = wl.sum() * (iN + iP)

    def residual(k, target):
        df = (1.0 / (lam[None, :] + k[:, None])) @ wl
        return np.abs(k * (1 - df * iN) * (1 - df * iP) - target)

    for j in range(1, nn):
        prev, target = kappa[:, j - 1], s[:, j]
        guess = np.where(residual(prev, target) <= residual(target + shift, target), prev, target + shift)
        k, _, ok = _newton_complex(target, guess, lam, iN, iP, wl)
        if not ok:
            # continuation with substeps from the previous node
            k = prev.copy()
            for sub in (2, 4, 8, 16, 32, 64):
                k = prev.copy()
                good = True
                for frac in np.arange(1, sub + 1) / sub:
                    mid = s[:, j - 1] + frac * (target - s[:, j - 1])
                    k, _, ok = _newton_complex(mid, k, lam, iN, iP, wl)
                    if not ok:
                        good = False
                        break
                if good:
                    break
            else:
                raise ConvergenceError(
                    f"Newton solve for kappa(s) did not converge on the Talbot contour near s={target[0]:.4g} "
                    f"(N={N}, P={P}, M={lam.size}); allowed: a, b, N, P for which kappa(s) is analytic off (-inf, 0]")
        kappa[:, j] = k
    return kappa


def _nodes_momentum(beta: float, n_nodes: int):
    """Heavy-ball flow: v0 transform (1 + beta s) V_flow(s + beta s^2), exact per realisation."""
    def nodes(t):
        u, w = _talbot(t, n_nodes)
        return u + beta * u * u, w * (1.0 + beta * u)
    return nodes


def _nodes_gd(lr: float, n_nodes: int):
    """Gradient descent, time t = lr * step (integer steps).

    The Z-transform of v0 at step n is (z/lr) V_flow((z - 1)/lr) (exact per realisation), so
    v0(n) = (1/2 pi i) int exp(lr u (n + 1)) V_flow(s(u)) du with z = exp(lr u), s = expm1(lr u)/lr:
    a Laplace inversion in u at time lr n, done on the Talbot contour when it stays inside the
    strip |Im u| < pi/lr (r < 0.9/lr), else (first few steps) on the circle |z| = 2 with 2 n_nodes - 1
    trapezoid nodes (aliasing error 2^-(2 n_nodes - 1), round-off growth 2^(2 step + 2)).
    """
    K = 2 * n_nodes - 1
    m = np.arange(n_nodes)
    z_circle = 2.0 * np.exp(2j * np.pi * m / K)

    def nodes(t):
        steps = np.rint(t / lr)
        u, w = _talbot(t, n_nodes)
        r = (2.0 * n_nodes / 5.0) / t
        s = np.expm1(lr * u) / lr
        w = w * np.exp(lr * u)
        small = r >= 0.9 / lr
        if np.any(small):
            zc = z_circle[None, :]
            s[small] = (zc - 1.0) / lr
            w[small] = zc ** (steps[small, None] + 1.0) / (lr * K)
        return s, w
    return nodes
