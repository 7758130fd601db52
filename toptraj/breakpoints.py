"""Change-point building blocks: one-break regression with a profile interval, Prechelt's criteria,
sliding-window persistence statistics and a ruptures change point.

These are the plain and topological signals the transition detectors (:mod:`toptraj.detectors`)
read; each function is pure and works on 1-D or small 2-D arrays.

- :func:`breakpoint_fit` fits a continuous two-segment line (a broken power law in log-log
  coordinates) by a grid search over the break, with a profile-likelihood (F-test) interval for
  the break (Muggeo 2003 style) and an F-test p-value of "one break" against "no break".
- :func:`prechelt_stop` is the first time Prechelt's GL_alpha or PQ_alpha early-stopping criterion
  fires (Prechelt 1998, "Early stopping - but when?").
- :func:`sliding_persistence` gives, per sliding window of a path, H0 statistics of the window's
  point cloud (total and largest minimum-spanning-tree edge, persistence entropy); H0 of a Rips
  filtration is the minimum spanning tree, see :func:`toptraj.persistence.h0_mst_diagram`.
- :func:`change_point` is one change point of a multivariate signal by ruptures' binary
  segmentation (Truong, Oudre, Vayatis 2020), imported where used.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from toptraj.validation import check_choice, check_finite_array, check_number


@dataclass(frozen=True)
class BreakpointFit:
    """A continuous two-segment fit y = c0 + c1 x + c2 max(x - x_break, 0).

    x_break : best break; low, high : profile interval at ``level`` (x units);
    slopes : (left, right) slopes; p_value : F-test of one break against a single line.
    """

    x_break: float
    low: float
    high: float
    slopes: tuple[float, float]
    p_value: float


def breakpoint_fit(x, y, level: float = 0.9, min_points: int = 3, n_grid: int = 200) -> BreakpointFit:
    """Continuous one-break least-squares fit with a profile-likelihood interval for the break.

    Parameters
    ----------
    x, y : arrays, shape (n,), x strictly increasing, n >= 2 min_points + 1
    level : confidence level of the interval: breaks c with
        (RSS(c) - RSS_min) / (RSS_min / (n - 4)) <= F_{1, n-4}(level)
    min_points : least number of points on each side of the break
    n_grid : candidate breaks, evenly spaced between the min_points-th point from each end

    Returns
    -------
    BreakpointFit

    Notes
    -----
    Cost O(n_grid n). The interval treats the break as the only non-linear parameter (it is the
    profile interval of Muggeo's method); with correlated residuals (smooth curves) it is narrow.
    """
    x = check_finite_array("x", x, ndim=1)
    y = check_finite_array("y", y, ndim=1)
    if x.shape != y.shape:
        raise ValueError(f"x has shape {x.shape}, y {y.shape}; they must match")
    check_number("level", level, low=0.0, high=1.0, low_open=True, high_open=True)
    min_points = int(check_number("min_points", min_points, low=2, integer=True))
    n = x.size
    if n < 2 * min_points + 1:
        raise ValueError(f"x needs at least {2 * min_points + 1} points for a break, got {n}")
    if np.any(np.diff(x) <= 0):
        raise ValueError("x must be strictly increasing")
    grid = np.linspace(x[min_points - 1], x[n - min_points], int(n_grid))
    one = np.ones(n)
    rss = np.empty(grid.size)
    coefs = np.empty((grid.size, 3))
    for i, c in enumerate(grid):
        A = np.column_stack([one, x, np.maximum(x - c, 0.0)])
        coef, *_ = np.linalg.lstsq(A, y, rcond=None)
        r = y - A @ coef
        rss[i], coefs[i] = r @ r, coef
    i = int(np.argmin(rss))
    dof = max(n - 4, 1)
    rmin = max(rss[i], 1e-300)
    fcrit = stats.f.ppf(level, 1, dof)
    inside = (rss - rmin) / (rmin / dof) <= fcrit
    # the connected run of accepted breaks around the best one
    lo = i
    while lo > 0 and inside[lo - 1]:
        lo -= 1
    hi = i
    while hi < grid.size - 1 and inside[hi + 1]:
        hi += 1
    line = np.polyfit(x, y, 1)
    r0 = y - np.polyval(line, x)
    rss0 = r0 @ r0
    fstat = (rss0 - rmin) / (rmin / dof)
    p = float(stats.f.sf(fstat, 2, dof)) if np.isfinite(fstat) else 0.0
    c1, c2 = coefs[i, 1], coefs[i, 2]
    return BreakpointFit(float(grid[i]), float(grid[lo]), float(grid[hi]), (float(c1), float(c1 + c2)), p)


def prechelt_stop(times, train, valid, criterion: str = "GL", alpha: float = 2.0, strip: int = 5) -> int | None:
    """Index of the first point where Prechelt's criterion fires, or None.

    GL(t) = 100 (E_va(t) / min_{s<=t} E_va(s) - 1) (generalisation loss, percent); GL_alpha fires
    when GL > alpha. PQ_alpha fires when GL(t) / P_k(t) > alpha at the end of a strip of k points,
    P_k(t) = 1000 (sum_strip E_tr / (k min_strip E_tr) - 1) (training progress). Shapes (n,).
    """
    check_choice("criterion", criterion, ("GL", "PQ"))
    alpha = check_number("alpha", alpha, low=0.0, low_open=True)
    strip = int(check_number("strip", strip, low=2, integer=True))
    tr = check_finite_array("train", train, ndim=1)
    va = check_finite_array("valid", valid, ndim=1)
    if tr.shape != va.shape or np.asarray(times).shape != va.shape:
        raise ValueError("times, train and valid must have the same shape")
    best = np.minimum.accumulate(va)
    with np.errstate(divide="ignore", invalid="ignore"):
        gl = 100.0 * (va / best - 1.0)
    if criterion == "GL":
        hit = np.flatnonzero(gl > alpha)
        return int(hit[0]) if hit.size else None
    for end in range(strip - 1, va.size, strip):
        s = tr[end - strip + 1 : end + 1]
        m = s.min()
        if m <= 0:
            continue
        pk = 1000.0 * (s.sum() / (strip * m) - 1.0)
        if pk > 0 and gl[end] / pk > alpha:
            return end
    return None


def sliding_persistence(points, width: int, stride: int = 1) -> np.ndarray:
    """H0 statistics of each sliding window of a path, shape (n_windows, 3).

    Columns: total and largest finite H0 lifetime (minimum-spanning-tree edge lengths) of the
    window's points, and the persistence entropy of those lifetimes. ``points`` shape (n, k); window
    i covers rows [i stride, i stride + width). Cost O(n_windows width^2 k).
    """
    from toptraj.persistence import h0_mst_diagram

    X = check_finite_array("points", points)
    if X.ndim == 1:
        X = X[:, None]
    if X.ndim != 2:
        raise ValueError(f"points must be 1-D or 2-D, got shape {X.shape}")
    width = int(check_number("width", width, low=3, integer=True))
    stride = int(check_number("stride", stride, low=1, integer=True))
    if X.shape[0] < width:
        raise ValueError(f"points has {X.shape[0]} rows, fewer than width={width}")
    rows = []
    for start in range(0, X.shape[0] - width + 1, stride):
        d = h0_mst_diagram(X[start : start + width])
        lt = d.finite(0)[:, 1] - d.finite(0)[:, 0]
        tot = float(lt.sum())
        p = lt[lt > 0] / tot if tot > 0 else np.zeros(0)
        ent = float(-(p * np.log(p)).sum()) if p.size else 0.0
        rows.append((tot, float(lt.max()) if lt.size else 0.0, ent))
    return np.asarray(rows)


def change_point(signal, model: str = "l2", min_size: int = 3) -> tuple[int, float]:
    """One change point of ``signal`` (n, k) by ruptures' binary segmentation.

    Each column is standardised first (so that no statistic dominates by its units). Returns the
    index of the first sample after the change and the relative cost drop of the split
    (0 = no gain, 1 = the split explains everything).
    """
    import ruptures

    S = check_finite_array("signal", signal)
    if S.ndim == 1:
        S = S[:, None]
    if S.shape[0] < 2 * min_size + 1:
        raise ValueError(f"signal needs at least {2 * min_size + 1} samples, got {S.shape[0]}")
    sd = S.std(axis=0)
    S = (S - S.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
    algo = ruptures.Binseg(model=model, min_size=min_size, jump=1).fit(S)
    bkp = algo.predict(n_bkps=1)[0]
    cost = algo.cost
    whole = cost.error(0, S.shape[0])
    split = cost.error(0, bkp) + cost.error(bkp, S.shape[0])
    gain = 0.0 if whole <= 0 else float(max(0.0, 1.0 - split / whole))
    return int(bkp), gain


def log_interp(t_new, t, y) -> np.ndarray:
    """Interpolate y(t) at t_new linearly in log t (t, t_new positive); shapes (m,) from (n,)."""
    return np.interp(np.log(t_new), np.log(t), y)


def nan_if(x: float | None) -> float:
    return math.nan if x is None else float(x)
