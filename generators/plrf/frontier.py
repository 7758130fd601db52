"""Compute-optimal frontier of the PLRF model from a grid of Volterra losses (docs/theory/plrf.rst, section 5)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from generators.plrf.params import PLRFParams, _trace_d
from generators.plrf.phases import _check_ab
from generators.plrf.solver import volterra
from generators.plrf.spectral import _MAX_STEPS
from toptraj.validation import check_choice, check_increasing, check_number, check_seed


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
    dtype: str = "float64",
) -> np.ndarray:
    """Volterra loss of each model size at each compute f = r B d, shape (n_d, n_f).

    Entry [i, m] is P at r = f_m / (B d_i), interpolated linearly in (log r, log P) between the
    neighbouring integer steps (rounding r would shift small-r compute by up to 50%), averaged over
    the W of seeds ``seed .. seed + n_seeds - 1`` (W-to-W fluctuations of P are 5-20% at d ~ 100
    and shrink with d; averaging approximates the deterministic equivalent). NaN where r < 1 or
    r + 1 exceeds the step cap (those points never enter an envelope). ``max_steps`` and
    ``n_seeds`` are scalars or arrays (n_d,) of per-size values. v = round(v_factor d),
    lr = lr_factor / Tr(D). ``dtype`` is passed to :func:`volterra` (the type of the O(v d^2 + d^3)
    spectrum part).
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
            mean += volterra(p, uniq, seed=seed + s, dtype=dtype).channel("loss")
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
