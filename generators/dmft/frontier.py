"""Compute-optimal frontier of the DMFT model from its theory curves (C = N t), with fitted exponents.

See docs/theory/dmft.rst, section 5 (arXiv:2402.01092) for the predicted compute exponent.
"""

from __future__ import annotations

import math

import numpy as np

from generators.dmft.params import DEFAULT_EXACT_MODES, DEFAULT_NODES, DMFTParams, model_exponent
from generators.dmft.theory import _curves
from toptraj.validation import check_increasing, check_number


def compute_optimal(a: float, b: float, N_grid, t_grid, M: int | None = None, P: float = math.inf,
                    n_C: int = 40, fit_range: tuple[float, float] = (0.25, 1.0), n_nodes: int = DEFAULT_NODES,
                    exact_modes: int | None = DEFAULT_EXACT_MODES) -> dict:
    """The compute-optimal frontier C = N t measured from theory curves, with fitted exponents (spec 5).

    For each N in ``N_grid`` the gradient-flow test loss L(t, N) is solved on ``t_grid``; for each
    compute C on a log grid, L*(C) = min_N L(C/N, N) (log-log interpolation of every curve whose t_grid
    covers C/N), N*(C) the minimising N refined by a parabola in log N through the three best grid
    points, t* = C/N*. Exponents are least-squares slopes of log L*, log N*, log t* against log C
    over the fraction ``fit_range`` of the log C range (the edges of the range are biased by the grids).

    Parameters
    ----------
    a, b : exponents (a > 1, b > 0)
    N_grid : array, shape (n_N,), increasing model sizes
    t_grid : array, shape (n_t,), increasing positive times
    M : number of modes (default 64 max(N_grid), so that M >> N)
    P : samples (default inf: the data is not limiting)
    n_C : number of compute values
    fit_range : (lo, hi) fractions of the log C span used in the fits

    Returns
    -------
    dict with arrays C, L_star, N_star, t_star (shape (n_C,)), fitted exponents ``loss_exponent``
    (L* ~ C^-loss_exponent), ``N_exponent``, ``t_exponent`` and the predicted ones
    ``predicted_loss_exponent`` etc. from spec 5.

    Notes
    -----
    Cost: n_N theory solves, O(n_N n_t n_nodes^2 M).
    """
    check_number("a", a, low=1.0, low_open=True)
    check_number("b", b, low=0.0, low_open=True)
    Ns = check_increasing("N_grid", N_grid, positive=True)
    ts = check_increasing("t_grid", t_grid, positive=True)
    if Ns.size < 3:
        raise ValueError(f"N_grid needs at least 3 sizes, got {Ns.size}")
    M = int(64 * Ns[-1]) if M is None else int(check_number("M", M, low=1, integer=True))
    check_number("n_C", n_C, low=4, integer=True)
    lo_f, hi_f = fit_range
    check_number("fit_range[0]", lo_f, low=0.0, high=1.0)
    check_number("fit_range[1]", hi_f, low=0.0, high=1.0)
    if hi_f <= lo_f:
        raise ValueError(f"fit_range must satisfy lo < hi, got {fit_range}")
    logL = np.array([np.log(_curves(DMFTParams(a, b, M, float(N), P), ts, (), n_nodes, exact_modes)[1]) for N in Ns])
    lt, lN = np.log(ts), np.log(Ns)
    # compute range where every N has its t = C/N inside t_grid ... relaxed: at least 3 N's cover C
    lC = np.linspace(lN[0] + lt[0], lN[-1] + lt[-1], 4 * n_C)
    Lstar, Nstar, keepC = [], [], []
    for c in lC:
        x = c - lN  # log t for each N
        ok = (x >= lt[0]) & (x <= lt[-1])
        if ok.sum() < 3:
            continue
        vals = np.full(Ns.size, np.inf)
        vals[ok] = [np.interp(x[i], lt, logL[i]) for i in np.flatnonzero(ok)]
        i = int(np.argmin(vals))
        if i == 0 or i == Ns.size - 1 or not (ok[i - 1] and ok[i + 1]):
            continue  # minimum at the edge of the N grid: the frontier is not resolved here
        y0, y1, y2 = vals[i - 1], vals[i], vals[i + 1]
        x0, x1, x2 = lN[i - 1], lN[i], lN[i + 1]
        # parabola through three points (non-uniform spacing)
        den = (x0 - x1) * (x0 - x2) * (x1 - x2)
        A_ = (x2 * (y1 - y0) + x1 * (y0 - y2) + x0 * (y2 - y1)) / den
        B_ = (x2**2 * (y0 - y1) + x1**2 * (y2 - y0) + x0**2 * (y1 - y2)) / den
        C_ = (x1 * x2 * (x1 - x2) * y0 + x2 * x0 * (x2 - x0) * y1 + x0 * x1 * (x0 - x1) * y2) / den
        if A_ > 0:
            xm = -B_ / (2 * A_)
            ym = A_ * xm**2 + B_ * xm + C_
        else:
            xm, ym = x1, y1
        keepC.append(c)
        Lstar.append(ym)
        Nstar.append(xm)
    if len(keepC) < 4:
        raise ValueError("the N and t grids do not resolve the compute-optimal frontier (minimum at the edge of "
                         "N_grid for almost every C): widen N_grid or t_grid")
    lc, ls, ln = np.array(keepC), np.array(Lstar), np.array(Nstar)
    span = lc[-1] - lc[0]
    sel = (lc >= lc[0] + lo_f * span) & (lc <= lc[0] + hi_f * span)
    if sel.sum() < 3:
        sel = np.ones_like(lc, dtype=bool)
    slope_L = np.polyfit(lc[sel], ls[sel], 1)[0]
    slope_N = np.polyfit(lc[sel], ln[sel], 1)[0]
    m = model_exponent(a, b)
    den = a - 1.0 + b * m
    return {
        "C": np.exp(lc), "L_star": np.exp(ls), "N_star": np.exp(ln), "t_star": np.exp(lc - ln),
        "loss_exponent": float(-slope_L), "N_exponent": float(slope_N), "t_exponent": float(1.0 - slope_N),
        "predicted_loss_exponent": (a - 1.0) * m / den, "predicted_N_exponent": (a - 1.0) / den,
        "predicted_t_exponent": b * m / den, "fit_mask": sel,
    }
