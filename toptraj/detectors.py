"""Detect and forecast the regime changes of a run: overfitting onset t_of and width crossover t_x.

The label definitions are those of :mod:`toptraj.transitions` (docs/theory/dmft.rst):
t_of is the first time the gap ratio (L_test - L_train) / L_test reaches 0.1; t_x is the first time
the local width exponent kappa_N(t) = -log(dL(t, 2N) / dL(t, N)) / log 2, dL(t, N) = L(t, N) - L(t, inf),
crosses (1 + m_late) / 2.

Two modes:

- ``mode="detect"``: the event lies inside the observed data. t_of from a train/test pair; t_x from a
  width sweep of three or more widths, with L(t, inf) extrapolated from the sweep itself, no oracle
  curve (:func:`infinite_width_curve`: Richardson extrapolation in 1/N through the three largest
  widths while every width is in the universal 1/N regime, then the infinite-width closed form
  fitted there carries L(t, inf) on; the fit's (a, b) give the crossing level through
  m_late = min(a - 1, b)).
- ``mode="forecast"``: the event lies after the observed part. ``method="theory"``: fit the
  infinite-size closed form L(t) = A sum_k k^-a exp(-2 k^-b tau t) (Bordelon, Atanasov, Pehlevan
  2024, arXiv 2402.01092) to the early curve (or take r = (a-1)/b from the shipped exponent
  predictor when it is installed, and fit the rest), then solve the DMFT model at the user's width N
  and data size P for t_of and t_x. ``method="learned"``: ridge regression of log t on baseline and
  topological features of the early path plus log N and log P, with an interval from out-of-fold
  residual quantiles.

Detection methods, overfitting onset: ``gap`` (the definition applied to the data), ``breakpoint``
(one-break regression of log L_test against log t, profile interval), ``prechelt_gl`` and
``prechelt_pq`` (Prechelt 1998 early-stopping criteria), ``topology`` (sliding-window H0 statistics of
the path (log t, log L_train, log L_test), then one ruptures change point). Width crossover:
``extrapolation`` (the definition with the extrapolated L(t, inf)), ``breakpoint`` (one-break
regression of log dL(t, N) against log t), ``topology`` (sliding-window H0 statistics of the sweep's
path (log t, log L(t, N_i)), then a change point).
``weight_path`` (t_of; ``PATH_METHODS``): sliding-window H0 statistics of the weight-space path
(``proj_*`` channels, or a :class:`toptraj.weight_path_detection.PairWithPath` sample), then one
ruptures change point (:mod:`toptraj.weight_path_detection`).

Every estimate comes with an interval (``predict_interval``); NaN where the method finds nothing,
with the reason in :meth:`TransitionDetector.estimate`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from toptraj import breakpoints as bp
from toptraj import transitions
from toptraj.exceptions import InputError
from toptraj.trajectory import Trajectory
from toptraj.validation import check_choice, check_number, check_seed

KINDS = ("overfitting_onset", "width_crossover")
MODES = ("detect", "forecast")
DETECT_METHODS = {
    "overfitting_onset": ("gap", "breakpoint", "prechelt_gl", "prechelt_pq", "topology"),
    "width_crossover": ("extrapolation", "breakpoint", "topology"),
}
# methods that need a weight-space path (proj_* channels) besides the pair: allowed, not run by detect_transitions
PATH_METHODS = {"overfitting_onset": ("weight_path",), "width_crossover": ()}
FORECAST_METHODS = ("theory", "learned")
TRAIN_CHANNELS = ("train_loss", "loss")  # a user's CSV calls the training loss "loss"
TEST_CHANNELS = ("test_loss",)


# -- inputs -------------------------------------------------------------------------------------
def _channel(traj: Trajectory, names, what: str, where: str) -> np.ndarray:
    for n in names:
        if traj.has_channel(n):
            return traj.channel(n)
    raise InputError(f"{where}: no {what} channel; expected one of {list(names)}, found {list(traj.channels)}")


def _pair(traj, where: str = "X") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(times, train, test) of a train/test trajectory, positive times only."""
    if not isinstance(traj, Trajectory):
        raise InputError(f"{where} must be a Trajectory with train and test loss channels, got {type(traj).__name__}")
    test = _channel(traj, TEST_CHANNELS, "test-loss", where)
    train = _channel(traj, TRAIN_CHANNELS, "train-loss", where)
    keep = traj.times > 0
    if keep.sum() < 4:
        raise InputError(f"{where}: needs at least 4 points with time > 0, got {int(keep.sum())}")
    return traj.times[keep], train[keep], test[keep]


def _path_sample(traj: Trajectory, where: str):
    from toptraj.weight_path_detection import PairWithPath

    return PairWithPath.from_trajectory(traj, where=where)


def width_of(traj: Trajectory, where: str = "X") -> float:
    """The width of a run: ``params['N']`` (DMFT), ``params['width']`` or ``params['d']`` (PLRF)."""
    for key in ("N", "width", "d"):
        v = traj.params.get(key)
        if v is not None:
            try:
                v = float(v)
            except (TypeError, ValueError):
                continue
            if math.isfinite(v) and v > 0:
                return v
    raise InputError(f"{where}: the run carries no finite width (params 'N', 'width' or 'd'); pass widths explicitly")


def _loss_of(traj: Trajectory) -> np.ndarray:
    for n in ("test_loss", "loss", "train_loss"):
        if traj.has_channel(n):
            return traj.channel(n)
    raise InputError(f"{traj.source}: no loss channel (test_loss, loss or train_loss) in {list(traj.channels)}")


def sweep_arrays(sweep, widths=None, where: str = "X") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(widths (k,), times (n,), losses (k, n)) of a width sweep of >= 3 runs, sorted by width.

    Runs are put on the times of the run with the fewest points inside the common time range
    (log-log interpolation); the runs must share an axis ("time" or "step").
    """
    if isinstance(sweep, Trajectory) or not isinstance(sweep, Sequence):
        raise InputError(f"{where} must be a sequence of >= 3 Trajectory runs at different widths")
    runs = list(sweep)
    if len(runs) < 3:
        raise InputError(f"{where}: a width sweep needs at least 3 widths, got {len(runs)}")
    for i, r in enumerate(runs):
        if not isinstance(r, Trajectory):
            raise InputError(f"{where}[{i}] must be a Trajectory, got {type(r).__name__}")
    if widths is None:
        w = np.array([width_of(r, f"{where}[{i}]") for i, r in enumerate(runs)])
    else:
        w = np.asarray(widths, dtype=np.float64)
        if w.shape != (len(runs),) or not np.all(np.isfinite(w)) or np.any(w <= 0):
            raise InputError(f"widths must be {len(runs)} positive finite numbers (one per run), got {widths!r}")
    if np.unique(w).size != w.size:
        raise InputError(f"widths: each width must appear once, got {sorted(w.tolist())}")
    axes = {r.axis for r in runs}
    if len(axes) > 1:
        raise InputError(f"{where}: runs are on different axes {sorted(axes)}; all must be 'time' or all 'step'")
    order = np.argsort(w)
    runs = [runs[i] for i in order]
    w = w[order]
    curves = []
    for r in runs:
        keep = (r.times > 0) & (_loss_of(r) > 0)
        curves.append((r.times[keep], _loss_of(r)[keep]))
    lo = max(c[0][0] for c in curves)
    hi = min(c[0][-1] for c in curves)
    if not hi > lo:
        raise InputError(f"{where}: the runs share no time range (each needs points inside the others' range)")
    ref = min((c[0][(c[0] >= lo) & (c[0] <= hi)] for c in curves), key=len)
    if ref.size < 4:
        raise InputError(f"{where}: fewer than 4 common time points across the runs")
    L = np.array([np.exp(bp.log_interp(ref, t, np.log(y))) for t, y in curves])
    return w, ref, L


def extrapolate_infinite_width(widths, losses) -> tuple[np.ndarray, np.ndarray]:
    """L(t, inf) and the local exponent k(t) from the three largest widths, shapes (n,).

    Solves (L_a - L_b) / (L_b - L_c) = (N_a^-k - N_b^-k) / (N_b^-k - N_c^-k) for k in [0.02, 8] by
    bisection (the right side increases with k for N_a < N_b < N_c), then
    L_inf = L_c - (L_b - L_c) N_c^-k / (N_b^-k - N_c^-k). NaN where the losses are not decreasing in N
    or the ratio is out of range (no power-law correction to extrapolate).
    """
    Na, Nb, Nc = (float(x) for x in widths[-3:])
    La, Lb, Lc = losses[-3:]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = (La - Lb) / (Lb - Lc)

    def rhs(k):
        return (Na**-k - Nb**-k) / (Nb**-k - Nc**-k)

    lo_k, hi_k = 0.02, 8.0
    ok = (La > Lb) & (Lb > Lc) & (ratio > rhs(lo_k)) & (ratio < rhs(hi_k))
    lo = np.full(ratio.shape, lo_k)
    hi = np.full(ratio.shape, hi_k)
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        big = rhs(mid) > ratio
        hi = np.where(big, mid, hi)
        lo = np.where(big, lo, mid)
    k = np.where(ok, 0.5 * (lo + hi), np.nan)
    Linf = Lc - (Lb - Lc) * Nc**-k / (Nb**-k - Nc**-k)
    return np.where(ok, Linf, np.nan), k


def local_width_exponent_sweep(widths, losses) -> tuple[np.ndarray, np.ndarray]:
    """kappa_N1(t) of the smallest width from the sweep, with the extrapolated L(t, inf); shapes (n,).

    kappa = -log(dL(t, N_2) / dL(t, N_1)) / log(N_2 / N_1), dL = L - L_inf (with three widths this is
    the three-point exponent k(t) itself).
    """
    Linf, _ = extrapolate_infinite_width(widths, losses)
    d1, d2 = losses[0] - Linf, losses[1] - Linf
    kap = np.full(Linf.shape, np.nan)
    ok = (d1 > 0) & (d2 > 0)
    kap[ok] = -np.log(d2[ok] / d1[ok]) / math.log(widths[1] / widths[0])
    return kap, Linf


def _check_sweep_arrays(widths, losses, times=None) -> tuple[np.ndarray, np.ndarray]:
    w = np.asarray(widths, dtype=np.float64)
    L = np.asarray(losses, dtype=np.float64)
    if w.ndim != 1 or w.size < 3 or not np.all(np.isfinite(w)) or np.any(w <= 0) or np.any(np.diff(w) <= 0):
        raise InputError(f"widths must be >= 3 finite positive numbers in increasing order, got {np.asarray(widths).tolist()}")
    if L.ndim != 2 or L.shape[0] != w.size or L.shape[1] < 4:
        raise InputError(f"losses must have shape ({w.size}, n_times >= 4) (one row per width), got {L.shape}")
    if not np.all(np.isfinite(L)):
        raise InputError("losses must be finite (NaN or inf found)")
    if times is not None:
        t = np.asarray(times, dtype=np.float64)
        if t.shape != (L.shape[1],) or np.any(t <= 0) or np.any(np.diff(t) <= 0):
            raise InputError(f"times must be {L.shape[1]} positive, strictly increasing numbers, got shape {t.shape}")
    return w, L


def richardson_infinite_width(widths, losses) -> tuple[np.ndarray, np.ndarray]:
    """L(t, inf) by Richardson extrapolation in 1/N through the three largest widths, shapes (n,).

    Solves L(t, N_i) = L_inf(t) + c1(t) / N_i + c2(t) / N_i^2 exactly for the three largest widths: the
    finite-width correction of the DMFT model is 1/N while every width is early (t well below the
    crossover; docs/theory/dmft.rst, section 6), so this is exact there up to O(N^-3). Returns the
    extrapolation and its relative reliability abs(R1 - R2) / (L(t, N_min) - R2), where R1 is the
    two-width (1/N only) extrapolation from the two largest widths: small where the 1/N series holds,
    large once the smallest width has crossed over (then the series is wrong and R2 must not be used).
    """
    w, L = _check_sweep_arrays(widths, losses)
    Na, Nb, Nc = w[-3:]
    A = np.array([[1.0, 1 / Na, Na**-2], [1.0, 1 / Nb, Nb**-2], [1.0, 1 / Nc, Nc**-2]])
    R2 = np.linalg.solve(A, L[-3:])[0]
    R1 = (Nc * L[-1] - Nb * L[-2]) / (Nc - Nb)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.abs(R1 - R2) / (L[0] - R2)
    rel = np.where(np.isfinite(rel) & (L[0] - R2 > 0), rel, np.inf)
    return R2, rel


#: Richardson's L(t, inf) is trusted while its two- and three-width versions agree to this fraction of
#: the smallest width's correction (0.02 rather than 0.05, chosen on a development draw of 12 sweeps
#: disjoint from the analysis's held-out draws; never on them).
RICHARDSON_TOLERANCE = 0.02
_MIN_WINDOW = 12  # points the closed-form fit of L(t, inf) needs at least


def infinite_width_curve(widths, times, losses) -> tuple[np.ndarray, dict]:
    """L(t, inf) of a width sweep without an oracle curve, shape (n,), and how it was obtained.

    Early, Richardson extrapolation in 1/N (:func:`richardson_infinite_width`), trusted on the leading
    run of times where it is reliable (at least the first 12 points); on that window the
    infinite-width closed form A sum_k k^-a exp(-2 k^-b tau t) (:func:`closed_form_curve`,
    arXiv 2402.01092) is fitted, and it carries L(t, inf) to later times, where the finite-width
    correction dominates the loss and L(t, inf) matters less. The switch is a log-linear blend over
    8 points. The fit's (a, b) also give the late width exponent m_late = min(a - 1, b).

    Parameters
    ----------
    widths : array of shape (k,), k >= 3, increasing
    times : array of shape (n,), positive, increasing
    losses : array of shape (k, n)

    Returns
    -------
    Linf : ndarray of shape (n,)
    info : dict with ``window`` (points where Richardson is used), ``fit`` (the closed-form fit dict,
        see :func:`fit_time_bottleneck`) and ``m_late``, ``m_late_sd`` (from the fit's covariance).
    """
    _check_sweep_arrays(widths, losses, times)
    t = np.asarray(times, dtype=np.float64)
    L = np.asarray(losses, dtype=np.float64)
    R2, rel = richardson_infinite_width(widths, L)
    ok = (rel < RICHARDSON_TOLERANCE) & (R2 > 0)
    n = int(np.argmin(ok)) if not ok.all() else ok.size
    n = max(n, _MIN_WINDOW)
    good = np.isfinite(R2[:n]) & (R2[:n] > 0)
    if good.sum() < 6:
        raise RuntimeError("the Richardson extrapolation of L(t, inf) is not positive on 6 early points")
    fit = fit_time_bottleneck(t[:n][good], R2[:n][good])
    Lcf = fit["amplitude"] * closed_form_curve(t, fit["a"], fit["b"], fit["tau"])
    wgt = np.clip((np.arange(t.size) - n + 4) / 8.0, 0.0, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        Linf = np.exp((1 - wgt) * np.log(np.where(R2 > 0, R2, Lcf)) + wgt * np.log(np.maximum(Lcf, 1e-300)))
    a, b = fit["a"], fit["b"]
    cov = fit["cov"]
    j = 0 if a - 1 < b else 1  # which exponent sets m_late = min(a - 1, b)
    sd = float(math.sqrt(cov[j, j])) if np.all(np.isfinite(cov)) and cov[j, j] >= 0 else math.nan
    return Linf, {"window": n, "fit": fit, "m_late": float(min(a - 1, b)), "m_late_sd": sd}


def crossover_exponent_sweep(widths, times, losses) -> tuple[np.ndarray, np.ndarray, dict]:
    """kappa_N(t) of the smallest width with L(t, inf) from :func:`infinite_width_curve`, shape (n,).

    kappa = -log(dL(t, N_2) / dL(t, N_1)) / log(N_2 / N_1), dL = L - L_inf, N_1 < N_2 the two smallest
    widths (the label uses N_2 = 2 N_1). Returns (kappa, Linf, info).
    """
    w = np.asarray(widths, dtype=np.float64)
    L = np.asarray(losses, dtype=np.float64)
    Linf, info = infinite_width_curve(w, times, L)
    d1, d2 = L[0] - Linf, L[1] - Linf
    kap = np.full(Linf.shape, np.nan)
    ok = (d1 > 0) & (d2 > 0)
    kap[ok] = -np.log(d2[ok] / d1[ok]) / math.log(w[1] / w[0])
    return kap, Linf, info


# -- the closed-form curve used by the theory forecast --------------------------------------------
_CF_MODES = 2**15


def closed_form_curve(times, a: float, b: float, tau: float = 1.0, amplitude: float = 1.0, modes: int = _CF_MODES):
    """A sum_k k^-a exp(-2 k^-b tau t), k <= modes: the infinite-width, infinite-data DMFT loss, shape (n,).

    The tail beyond 4096 modes is summed on a log-spaced grid in k (midpoint weights), which is exact
    to ~1e-6 relative for these smooth sums. Cost O(n (4096 + 200)).
    """
    t = np.asarray(times, dtype=np.float64)
    k = np.arange(1, 4097, dtype=np.float64)
    w = np.ones_like(k)
    if modes > 4096:
        edges = np.geomspace(4096.5, modes + 0.5, 201)
        k = np.concatenate([k, np.sqrt(edges[1:] * edges[:-1])])
        w = np.concatenate([w, np.diff(edges)])
    return amplitude * (np.exp(-2.0 * np.outer(tau * t, k**-b)) @ (w * k**-a))


def fit_time_bottleneck(times, loss, r: float | None = None, b: float | None = None) -> dict:
    """Fit (a, b, tau, amplitude) of :func:`closed_form_curve` to a curve, in log loss.

    With ``r`` given, a = 1 + r b is imposed (r from an exponent predictor); with ``b`` given, b is held
    fixed (and with both, a too: only tau and the amplitude are fitted). Returns a dict with a, b,
    tau, amplitude, the covariance of (a, b, log tau) and the rms log residual. Cost: a few hundred
    curve evaluations, O(n 4300) each.
    """
    from scipy import optimize

    t = np.asarray(times, dtype=np.float64)
    y = np.log(np.asarray(loss, dtype=np.float64))

    b_fixed = b

    def unpack(p):
        if b_fixed is not None:
            lt = p[-1]
            bb = b_fixed
            a = 1.0 + r * bb if r is not None else p[0]
            return a, bb, lt
        if r is None:
            a, bb, lt = p
        else:
            bb, lt = p
            a = 1.0 + r * bb
        return a, bb, lt

    def resid(p):
        a, b, lt = unpack(p)
        m = np.log(np.maximum(closed_form_curve(t, a, b, math.exp(lt)), 1e-300))  # underflow at huge tau
        res = y - m
        return res - res.mean()  # the amplitude is profiled out (its log is the mean residual)

    starts = []
    for b0 in (0.8, 1.3, 2.0):
        for lt0 in (math.log(0.3 / t[0]), math.log(1.0 / t[0]), math.log(3.0 / t[0])):
            if b_fixed is not None:
                starts.append([lt0] if r is not None else [1.0 + 0.5 * b0, lt0])
            else:
                starts.append([1.0 + 0.5 * b0, b0, lt0] if r is None else [b0, lt0])
    if b_fixed is not None:
        lb, ub = ([-40.0], [40.0]) if r is not None else ([1.02, -40.0], [5.0, 40.0])
    elif r is None:
        lb, ub = [1.02, 0.3, -40.0], [5.0, 5.0, 40.0]
    else:
        lb, ub = [max(0.3, 0.02 / max(r, 1e-6)), -40.0], [5.0, 40.0]
    best = None
    for p0 in starts:
        p0 = np.clip(p0, np.array(lb) + 1e-6, np.array(ub) - 1e-6)
        try:
            sol = optimize.least_squares(resid, p0, bounds=(lb, ub), method="trf", x_scale="jac")
        except ValueError:
            continue
        if best is None or sol.cost < best.cost:
            best = sol
    if best is None:
        raise RuntimeError("the closed-form fit failed for every start")
    a, b, lt = unpack(best.x)
    res = resid(best.x)
    amp = math.exp(float(np.mean(y - np.log(closed_form_curve(t, a, b, math.exp(lt))))))
    n, k = t.size, best.x.size + 1
    s2 = 2 * best.cost / max(n - k, 1)
    try:
        cov = np.linalg.pinv(best.jac.T @ best.jac) * max(s2, 1e-12)
    except np.linalg.LinAlgError:
        cov = np.full((best.x.size, best.x.size), np.nan)
    return {"a": a, "b": b, "tau": math.exp(lt), "amplitude": amp, "x": best.x, "cov": cov,
            "rms_log": float(np.sqrt(np.mean(res**2))), "r_given": r is not None, "b_given": b_fixed is not None}


def gap_time_exponent(times, train, test) -> tuple[float, float]:
    """1/b from the early train/test gap: the log-log slope of (L_test - L_train) / L_test, (slope, 1/slope).

    Early in training (t well below t_of) the finite-P gap is a first-order correction proportional to
    the number of modes learned by time t, which grows like t^(1/b) (mode k is learned when
    k^-b tau t ~ 1; docs/theory/dmft.rst): the gap ratio's log-log slope estimates 1/b. Measured on
    DMFT curves with P >= 512 observed up to t ~ 10: within about 0.05 of 1/b for b <= 1.6, too
    steep for larger b (0.62 at b = 2, i.e. b estimated as 1.6). Fitted on the second half of the points with a
    positive gap. NaN when fewer than 4 such points or the slope is not in (0.1, 3).
    """
    t = np.asarray(times, dtype=np.float64)
    g = (np.asarray(test, dtype=np.float64) - np.asarray(train, dtype=np.float64)) / np.asarray(test, dtype=np.float64)
    h = t.size // 2
    ok = np.isfinite(g[h:]) & (g[h:] > 0) & (t[h:] > 0)
    if ok.sum() < 4:
        return math.nan, math.nan
    slope = float(np.polyfit(np.log(t[h:][ok]), np.log(g[h:][ok]), 1)[0])
    if not 0.1 < slope < 3.0:
        return slope, math.nan
    return slope, 1.0 / slope


# -- features for the learned forecast -----------------------------------------------------------
def forecast_features(traj: Trajectory, N: float, P: float) -> np.ndarray:
    """Features of an early curve for the learned forecast, shape (12,).

    Baselines (log-log slopes, L0 + A t^-r fit), H0 statistics of the log-log path and of the
    slope's sublevel filtration (topology), time anchors (log of the first and last time, and of the
    times where the loss has fallen to 1/2 and 1/4 of its first value, which carry the unknown time
    scale), log N and log P (inf -> 20).
    """
    from toptraj.baselines import fit_offset_power_law, loglog_slope
    from toptraj.embeddings import log_slope
    from toptraj.persistence import h0_mst_diagram, lower_star_diagram

    y = _loss_of(traj)
    keep = (traj.times > 0) & (y > 0)
    t, y = traj.times[keep], y[keep]
    if t.size < 4:
        raise InputError(f"{traj.source}: needs at least 4 points with positive time and loss")
    whole = loglog_slope(t, y).slope
    late = loglog_slope(t, y, last=1 / 3).slope
    fit = fit_offset_power_law(t, y)
    lt, ly = np.log(t), np.log(y)
    cloud = np.column_stack([(lt - lt[0]) / max(lt[-1] - lt[0], 1e-12), (ly - ly[0]) / max(abs(ly[-1] - ly[0]), 1e-12)])
    h0 = h0_mst_diagram(cloud).finite(0)
    slope = log_slope(t, y)
    ls = lower_star_diagram(slope).finite(0)
    anchors = [transitions.first_reach(t, y, y[0] * f, -1) for f in (0.5, 0.25)]
    anchors = [math.log(x) if math.isfinite(x) else lt[-1] + 1.0 for x in anchors]

    def lg(v):
        return 20.0 if math.isinf(v) else math.log(v)

    return np.array([
        whole, late, fit.r if math.isfinite(fit.r) else 0.0, float(np.sum(h0[:, 1] - h0[:, 0])),
        float(np.max(h0[:, 1] - h0[:, 0])) if h0.size else 0.0, float(np.sum(ls[:, 1] - ls[:, 0])) if ls.size else 0.0,
        lt[0], lt[-1], anchors[0], anchors[1], lg(N), lg(P),
    ])


# -- the estimator -------------------------------------------------------------------------------
def _result(estimate, low, high, note="", **extra) -> dict:
    est = float(estimate) if estimate is not None and np.isfinite(estimate) else math.nan
    out = {"estimate": est, "low": float(low) if np.isfinite(est) else math.nan,
           "high": float(high) if np.isfinite(est) else math.nan, "note": note}
    out.update(extra)
    return out


def _bracket(times, t_hat) -> tuple[float, float]:
    """The grid interval that contains t_hat (the resolution of a threshold crossing)."""
    i = int(np.searchsorted(times, t_hat))
    lo = times[max(i - 1, 0)]
    hi = times[min(i, times.size - 1)]
    return float(min(lo, t_hat)), float(max(hi, t_hat))


class TransitionDetector(BaseEstimator):
    """Detect (inside the data) or forecast (after it) the overfitting onset or the width crossover.

    Parameters
    ----------
    kind : "overfitting_onset" or "width_crossover"
    method : str or None
        detect: one of ``DETECT_METHODS[kind]`` (None: "gap" for t_of, "extrapolation" for t_x);
        forecast: "theory" or "learned" (None: "theory").
    mode : "detect" or "forecast"
    N, P : float or None
        Forecast only: the width and data size of the run (None: read from each run's params
        'N' and 'P'; math.inf allowed). For t_x, N is the width whose crossover is wanted.
    M : int or None
        Forecast/theory only: modes of the DMFT model solved (None: 64 max(finite N, P), at least 4096).
    m_late : float or None
        Width crossover only: the late width exponent (None: min(a - 1, b) of the closed-form fit of
        the extrapolated L(t, inf), see :func:`infinite_width_curve`).
    level : float
        Nominal level of the intervals (0.9).
    threshold : float
        Gap-ratio threshold of t_of (0.1, the label definition).
    prechelt_alpha, prechelt_strip : float, int
        GL_alpha / PQ_alpha threshold and strip length of the Prechelt criteria.
    window : int
        Sliding-window length (points) of the topology method; the path is resampled to 64 log-spaced points.
    n_draws : int, default 0
        Theory forecast: parameter draws from the fit's covariance added to the interval (each costs
        one DMFT solve). 0: the interval comes from the fit's misfit and, after ``fit(X, y)``, from
        the calibration on runs with known times.
    alpha : float
        Learned forecast: ridge penalty.
    seed : int
        Seeds the parameter draws and the learned route's folds.

    Notes
    -----
    overfitting_onset: a sequence of Trajectory, each with a test-loss channel ``test_loss`` and a
    train-loss channel ``train_loss`` (or ``loss``). width_crossover: a sequence of sweeps, each a
    sequence of >= 3 Trajectory at different widths (``params['N']``), same axis. Forecast with the
    learned route, width_crossover: each sample is one Trajectory (the run of width N).

    Attributes
    ----------
    ``method_``: the method used; ``n_features_`` (learned): features per run; ``coef_``, ``intercept_`` (learned);
    residual_quantiles_ (learned): out-of-fold quantiles of log(t_true / t_hat) that give the interval.
    """

    def __init__(self, kind: str = "overfitting_onset", method: str | None = None, mode: str = "detect",
                 N: float | None = None, P: float | None = None, M: int | None = None,
                 m_late: float | None = None, level: float = 0.9, threshold: float = transitions.GAP_THRESHOLD,
                 prechelt_alpha: float = 2.0, prechelt_strip: int = 5, window: int = 8, n_draws: int = 0,
                 alpha: float = 1.0, seed: int = 0):
        self.kind = kind
        self.method = method
        self.mode = mode
        self.N = N
        self.P = P
        self.M = M
        self.m_late = m_late
        self.level = level
        self.threshold = threshold
        self.prechelt_alpha = prechelt_alpha
        self.prechelt_strip = prechelt_strip
        self.window = window
        self.n_draws = n_draws
        self.alpha = alpha
        self.seed = seed

    # parameters ----------------------------------------------------------------------------
    def _method(self) -> str:
        check_choice("kind", self.kind, KINDS)
        check_choice("mode", self.mode, MODES)
        if self.mode == "detect":
            allowed = DETECT_METHODS[self.kind] + PATH_METHODS[self.kind]
            m = allowed[0] if self.method is None else self.method
        else:
            allowed = FORECAST_METHODS
            m = "theory" if self.method is None else self.method
        if m not in allowed:
            raise InputError(f"method must be one of {list(allowed)} for kind={self.kind!r}, mode={self.mode!r}; got {m!r}")
        check_number("level", self.level, low=0.0, high=1.0, low_open=True, high_open=True)
        check_number("threshold", self.threshold, low=0.0, high=1.0, low_open=True, high_open=True)
        check_number("window", self.window, low=4, integer=True)
        check_number("n_draws", self.n_draws, low=0, integer=True)
        check_number("alpha", self.alpha, low=0.0)
        check_seed("seed", self.seed, allow_none=False)  # the folds and draws need a concrete seed
        for name in ("N", "P"):
            v = getattr(self, name)
            if v is not None:
                check_number(name, v, low=0.0, low_open=True, allow_inf=True)
        if self.m_late is not None:
            check_number("m_late", self.m_late, low=0.0, low_open=True)
        return m

    def _samples(self, X) -> list:
        if isinstance(X, Trajectory) or not isinstance(X, Sequence) or len(X) == 0:
            raise InputError("X must be a non-empty sequence of samples (see the class docstring for what a sample is)")
        return list(X)

    def _NP(self, sample, i: int) -> tuple[float, float]:
        traj = sample if isinstance(sample, Trajectory) else list(sample)[0]
        vals = []
        for name in ("N", "P"):
            v = getattr(self, name)
            if v is None:
                v = traj.params.get(name) if isinstance(traj, Trajectory) else None
            try:
                v = float(v)
            except (TypeError, ValueError):
                raise InputError(f"{name} must be given (the run's {'width' if name == 'N' else 'number of training samples'}; "
                                 f"math.inf allowed): not set and X[{i}] has no params[{name!r}]") from None
            if not v > 0:
                raise InputError(f"{name} must be > 0, got {v} for X[{i}]")
            vals.append(v)
        return vals[0], vals[1]

    # sklearn API -----------------------------------------------------------------------------
    def fit(self, X=None, y=None):
        """Validate the parameters; the learned forecast also fits its regression (y: true times, (n,)).

        Detection has nothing to learn; ``fit(X=None)`` is enough. The theory forecast fits nothing
        either, but given runs X with known times y it calibrates its interval on them
        (``residual_quantiles_``, quantiles of log(t_true / t_hat) at ``level``).
        """
        self.method_ = self._method()
        if self.mode == "forecast" and self.method_ == "learned":
            X = self._samples(X)
            yy = np.asarray(y, dtype=np.float64)
            if yy.shape != (len(X),):
                raise InputError(f"y must have shape ({len(X)},) (the true times of the training runs), got {yy.shape}")
            ok = np.isfinite(yy) & (yy > 0)
            if ok.sum() < 5:
                raise InputError(f"y: the learned forecast needs >= 5 runs with a finite positive time, got {int(ok.sum())}")
            F = np.array([self._features(x, i) for i, x in enumerate(X)])[ok]
            target = np.log(yy[ok])
            self._fit_ridge(F, target)
        elif self.mode == "forecast" and X is not None and y is not None:
            # theory route: calibrate the interval on runs with known times (out of sample by construction:
            # nothing is fitted to them), as quantiles of log(t_true / t_hat)
            X = self._samples(X)
            yy = np.asarray(y, dtype=np.float64)
            if yy.shape != (len(X),):
                raise InputError(f"y must have shape ({len(X)},) (the true times of the calibration runs), got {yy.shape}")
            est = np.array([self._theory(x, i, draws=False)["estimate"] for i, x in enumerate(X)])
            ok = np.isfinite(yy) & (yy > 0) & np.isfinite(est) & (est > 0)
            if ok.sum() < 5:
                raise InputError(f"y: calibrating the theory route needs >= 5 runs with finite times, got {int(ok.sum())}")
            q = (1.0 - float(self.level)) / 2.0
            self.residual_quantiles_ = tuple(float(v) for v in np.quantile(np.log(yy[ok] / est[ok]), [q, 1.0 - q]))
        return self

    def _features(self, x, i):
        traj = x if isinstance(x, Trajectory) else list(x)[0]
        N, P = self._NP(traj, i)
        return forecast_features(traj, N, P)

    def _fit_ridge(self, F, target):
        from sklearn.linear_model import Ridge
        from sklearn.model_selection import KFold, cross_val_predict
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        model = make_pipeline(StandardScaler(), Ridge(alpha=float(self.alpha)))
        k = min(5, F.shape[0])
        oof = cross_val_predict(model, F, target, cv=KFold(k, shuffle=True, random_state=int(self.seed)))
        q = (1.0 - float(self.level)) / 2.0
        self.residual_quantiles_ = tuple(float(v) for v in np.quantile(target - oof, [q, 1.0 - q]))
        model.fit(F, target)
        self.model_ = model
        self.n_features_ = F.shape[1]
        self.coef_ = model[-1].coef_
        self.intercept_ = float(model[-1].intercept_)

    def estimate(self, X) -> list[dict]:
        """Per sample: dict with ``estimate``, ``low``, ``high`` (interval at ``level``), ``note``
        (why NaN, or which route was used) and method-specific extras."""
        check_is_fitted(self, "method_")
        X = self._samples(X)
        return [self._one(x, i) for i, x in enumerate(X)]

    def predict(self, X) -> np.ndarray:
        """Estimated times, shape (n_samples,) (NaN where none)."""
        return np.array([r["estimate"] for r in self.estimate(X)])

    def predict_interval(self, X) -> np.ndarray:
        """Intervals (low, high), shape (n_samples, 2)."""
        return np.array([[r["low"], r["high"]] for r in self.estimate(X)])

    # one sample ------------------------------------------------------------------------------
    def _one(self, x, i: int) -> dict:
        where = f"X[{i}]"
        m = self.method_
        if self.mode == "forecast":
            if m == "learned":
                check_is_fitted(self, "model_")
                f = self._features(x, i)[None, :]
                z = float(self.model_.predict(f)[0])
                lo, hi = self.residual_quantiles_
                return _result(math.exp(z), math.exp(z + lo), math.exp(z + hi), "learned ridge regression")
            return self._theory(x, i)
        if m == "weight_path":  # toptraj.weight_path_detection: the pair plus the weight path
            from toptraj.weight_path_detection import detect_onset

            r = detect_onset(x if not isinstance(x, Trajectory) else _path_sample(x, where), window=int(self.window),
                             level=float(self.level), seed=int(self.seed))
            return _result(r["estimate"], r["low"], r["high"], r["note"], cost_drop=r["cost_drop"])
        if self.kind == "overfitting_onset":
            t, train, test = _pair(x, where)
            return getattr(self, f"_of_{m}")(t, train, test)
        w, t, L = sweep_arrays(x, where=where)
        return getattr(self, f"_tx_{m}")(w, t, L)

    # t_of detection
    def _of_gap(self, t, train, test):
        if np.any(test <= 0):
            keep = test > 0
            t, train, test = t[keep], train[keep], test[keep]
        ratio = (test - train) / test
        t_hat = transitions.first_reach(t, ratio, float(self.threshold), +1)
        if not math.isfinite(t_hat):
            return _result(math.nan, 0, 0, f"the gap ratio stays below {self.threshold} in the data")
        lo, hi = _bracket(t, t_hat)
        return _result(t_hat, lo, hi)

    def _of_breakpoint(self, t, train, test):
        lt, ly = np.log(t), np.log(np.maximum(test, 1e-300))
        fit = bp.breakpoint_fit(lt, ly, level=float(self.level))
        note = "" if fit.p_value < 1 - float(self.level) else f"weak break (p = {fit.p_value:.2g})"
        return _result(math.exp(fit.x_break), math.exp(fit.low), math.exp(fit.high), note,
                       slopes=list(fit.slopes), p_value=fit.p_value)

    def _of_prechelt(self, t, train, test, criterion):
        j = bp.prechelt_stop(t, train, test, criterion, float(self.prechelt_alpha), int(self.prechelt_strip))
        if j is None:
            return _result(math.nan, 0, 0, f"{criterion}_{self.prechelt_alpha:g} never fires (the test loss never "
                           "rises enough above its minimum)")
        lo = t[max(j - (1 if criterion == "GL" else int(self.prechelt_strip)), 0)]
        return _result(t[j], lo, t[j])

    def _of_prechelt_gl(self, t, train, test):
        return self._of_prechelt(t, train, test, "GL")

    def _of_prechelt_pq(self, t, train, test):
        return self._of_prechelt(t, train, test, "PQ")

    def _topology(self, t, columns):
        """Sliding-window H0 statistics of the path (log t, columns...) on 64 log-spaced points."""
        grid = np.geomspace(t[0], t[-1], 64)
        cols = [bp.log_interp(grid, t, c) for c in columns]
        lg = np.log(grid)
        path = np.column_stack([(lg - lg[0]) / max(lg[-1] - lg[0], 1e-12)] +
                               [(c - c.min()) / max(np.ptp(c), 1e-12) for c in cols])
        w = int(self.window)
        S = bp.sliding_persistence(path, w)
        k, gain = bp.change_point(S, min_size=3)
        centre = grid[w // 2:][: S.shape[0]]
        t_hat = centre[min(k, centre.size - 1)]
        lo = centre[max(k - w // 2, 0)]
        hi = centre[min(k + w // 2, centre.size - 1)]
        return _result(t_hat, lo, hi, "" if gain > 0.2 else f"weak change (cost drop {gain:.2f})", cost_drop=gain)

    def _of_topology(self, t, train, test):
        return self._topology(t, [np.log(np.maximum(train, 1e-300)), np.log(np.maximum(test, 1e-300))])

    # t_x detection
    def _tx_extrapolation(self, w, t, L):
        try:
            kap, Linf, info = crossover_exponent_sweep(w, t, L)
        except RuntimeError as exc:
            return _result(math.nan, 0, 0, f"L(t, inf) could not be extrapolated: {exc}")
        if self.m_late is not None:
            m, sd = float(self.m_late), 0.0
        else:
            m, sd = info["m_late"], info["m_late_sd"]
        extra = {"times": t.tolist(), "kappa": kap.tolist(), "m_late": m, "richardson_window": info["window"],
                 "a": info["fit"]["a"], "b": info["fit"]["b"]}
        if not math.isfinite(m):
            return _result(math.nan, 0, 0, "no late width exponent", **extra)
        if abs(m - 1.0) < transitions.CROSSOVER_MIN_CONTRAST:
            return _result(math.nan, 0, 0, f"m_late = {m:.3f} is within 0.1 of 1: t_x undefined", **extra)
        t_hat = transitions.width_crossover_time(t, kap, m)
        if not math.isfinite(t_hat):
            return _result(math.nan, 0, 0, "kappa never crosses (1 + m_late)/2 in the data", **extra)
        # interval: the crossings of the levels moved by the uncertainty of m_late, and the grid step
        cands = [t_hat, *_bracket(t, t_hat)]
        if math.isfinite(sd):
            for dm in (-1.645 * sd, 1.645 * sd):
                level_m = m + dm
                if abs(level_m - 1.0) >= 1e-3:
                    c = transitions.first_reach(t, kap, 0.5 * (1 + level_m), 1 if m > 1 else -1)
                    if math.isfinite(c):
                        cands.append(c)
        return _result(t_hat, min(cands), max(cands), **extra)

    def _tx_breakpoint(self, w, t, L):
        try:
            Linf = infinite_width_curve(w, t, L)[0]
        except RuntimeError as exc:
            return _result(math.nan, 0, 0, f"L(t, inf) could not be extrapolated: {exc}")
        d = L[0] - Linf
        ok = np.isfinite(d) & (d > 0)
        if ok.sum() < 7:
            return _result(math.nan, 0, 0, "fewer than 7 points with an extrapolated width correction")
        fit = bp.breakpoint_fit(np.log(t[ok]), np.log(d[ok]), level=float(self.level))
        note = "" if fit.p_value < 1 - float(self.level) else f"weak break (p = {fit.p_value:.2g})"
        return _result(math.exp(fit.x_break), math.exp(fit.low), math.exp(fit.high), note, slopes=list(fit.slopes))

    def _tx_topology(self, w, t, L):
        return self._topology(t, [np.log(row) for row in L])

    # forecast (theory)
    def _theory(self, x, i, draws: bool = True) -> dict:
        where = f"X[{i}]"
        if self.kind == "width_crossover" and not isinstance(x, Trajectory):
            runs = list(x)
            if not runs or not isinstance(runs[0], Trajectory):
                raise InputError(f"{where} must be a Trajectory (or a sweep of them)")
            traj = min(runs, key=lambda r: width_of(r, where))
        elif isinstance(x, Trajectory):
            traj = x
        else:
            raise InputError(f"{where} must be a Trajectory, got {type(x).__name__}")
        N, P = self._NP(traj, i)
        y = _loss_of(traj)
        keep = (traj.times > 0) & (y > 0)
        if keep.sum() < 5:
            raise InputError(f"{where}: the theory forecast needs >= 5 points with positive time and loss")
        t, y = traj.times[keep], y[keep]
        from toptraj.predictor import load_shipped_or_none

        pred = load_shipped_or_none("curve")[0]  # None: the closed-form fit alone (source says so)
        r, source = None, "closed-form fit of (a, b, tau, A)"
        if pred is not None:
            try:
                r = float(np.asarray(pred.predict([traj.select([c for c in ("test_loss", "loss") if traj.has_channel(c)][:1])]))[0])
                source = "shipped exponent predictor for r, closed-form fit of (b, tau, A)"
            except Exception:  # noqa: BLE001 - fall back to the fit, and say so
                r = None
        b_gap = math.nan
        if self.kind == "overfitting_onset" and math.isfinite(P) and traj.has_channel("test_loss") and any(
                traj.has_channel(c) for c in TRAIN_CHANNELS):
            tg, train_g, test_g = _pair(traj, where)
            b_gap = gap_time_exponent(tg, train_g, test_g)[1]
        if math.isfinite(b_gap):
            fit = fit_time_bottleneck(t, y, r, b=min(max(b_gap, 0.3), 5.0))
            source = ("shipped exponent predictor for r" if r is not None else "closed-form fit of a") + \
                "; b from the early train/test gap slope; closed-form fit of tau"
        else:
            fit = fit_time_bottleneck(t, y, r)
        from toptraj.registry import get_generator

        dmft = get_generator("dmft")  # the core reaches the model through the registry
        finite = [v for v in (N, P) if math.isfinite(v)]
        M = int(self.M) if self.M is not None else int(max(4096, 64 * max(finite))) if finite else 4096

        def solve_time(a, b):
            a = min(max(a, 1.02), 5.0)
            b = min(max(b, 0.3), 5.0)
            p = dmft.params(a, b, M, N, P)
            try:
                if self.kind == "overfitting_onset":
                    return dmft.theory["overfitting_onset"](p)
                return dmft.theory["width_crossover"](p)[0]
            except (ValueError, RuntimeError):
                return math.nan

        tau = fit["tau"]
        t_model = solve_time(fit["a"], fit["b"])
        centre = t_model / tau
        if math.isfinite(b_gap) and math.isfinite(t_model):
            # the time scale from the gap instead of the loss: the observed gap ratio is matched to the
            # model's, so that only the short way from the last observed gap to the threshold is
            # extrapolated by the model (the loss fit's tau carries the error of b into t_of)
            p = dmft.params(min(max(fit["a"], 1.02), 5.0), min(max(fit["b"], 0.3), 5.0), M, N, P)
            tau_gap = _gap_time_scale(dmft, p, t_model, tg, (test_g - train_g) / test_g)
            if math.isfinite(tau_gap):
                tau, centre = tau_gap, t_model / tau_gap
                source += "; time scale matched on the observed gap ratio"
        samples = []
        cov = fit["cov"]
        if draws and int(self.n_draws) > 0 and np.all(np.isfinite(cov)):
            rng = np.random.default_rng(int(self.seed) + i)
            for p in rng.multivariate_normal(fit["x"], cov, size=int(self.n_draws), check_valid="ignore"):
                if fit["b_given"]:
                    b, lt = fit["b"], p[-1]
                    a = 1.0 + r * b if fit["r_given"] else p[0]
                elif fit["r_given"]:
                    b, lt = p
                    a = 1.0 + r * b
                else:
                    a, b, lt = p
                samples.append(solve_time(a, b) / math.exp(lt))
        vals = [v for v in [centre, *samples] if math.isfinite(v)]
        extra = {"a": fit["a"], "b": fit["b"], "tau": tau, "fit_rms_log": fit["rms_log"], "exponent_source": source,
                 "N": N, "P": P, "M": M}
        if not math.isfinite(centre):
            what = "t_of" if self.kind == "overfitting_onset" else "t_x"
            return _result(math.nan, 0, 0, f"the DMFT model at the fitted (a, b) = ({fit['a']:.3g}, {fit['b']:.3g}) "
                           f"has no {what} (N = {N:g}, P = {P:g})", **extra)
        # the interval: parameter draws, widened by the fit's unexplained misfit (a factor e^(2 rms))
        spread = math.exp(2.0 * fit["rms_log"])
        lo, hi = min(vals) / spread, max(vals) * spread
        if hasattr(self, "residual_quantiles_"):  # calibrated on runs with known times (fit with y)
            lo = min(lo, centre * math.exp(self.residual_quantiles_[0]))
            hi = max(hi, centre * math.exp(self.residual_quantiles_[1]))
        return _result(centre, lo, hi, f"theory route: {source}", **extra)


def _gap_time_scale(dmft, params, t_model: float, times, gap) -> float:
    """tau such that the model's gap ratio at tau t matches the observed gap at t (median over the second
    half of the observed points with a positive gap); NaN when none matches. One model solve on 80 times."""
    grid = np.geomspace(1e-2, max(3.0 * t_model, 10.0), 80)
    try:
        run = dmft.function("solve").function(params, grid, with_labels=False)
        gm = (run.channel("test_loss") - run.channel("train_loss")) / run.channel("test_loss")
    except (ValueError, RuntimeError):
        return math.nan
    h = times.size // 2
    ratios = []
    for t, g in zip(times[h:], gap[h:]):
        if g > 0:
            tm = transitions.first_reach(grid, gm, float(g), +1)
            if math.isfinite(tm):
                ratios.append(tm / t)
    return float(np.exp(np.median(np.log(ratios)))) if ratios else math.nan


def detect_transitions(trajectory_or_pair, widths=None, level: float = 0.9) -> dict:
    """Every detection method on one input, as plain data (for reports such as ``toptraj analyze``).

    Parameters
    ----------
    trajectory_or_pair : Trajectory with test and train loss channels (-> overfitting onset), or a
        sequence of >= 3 Trajectory at different widths (-> width crossover; widths from params or
        ``widths``).

    Returns
    -------
    dict: {"kind": ..., "methods": {method: {"estimate", "low", "high", "note"}}}; times in the
    run's own units; NaN (with the note) where a method finds nothing.
    """
    if isinstance(trajectory_or_pair, Trajectory):
        kind, X = "overfitting_onset", [trajectory_or_pair]
    else:
        kind = "width_crossover"
        runs = list(trajectory_or_pair)
        if widths is not None:
            w, t, L = sweep_arrays(runs, widths, where="trajectory_or_pair")
            runs = [Trajectory(times=t, values=L[j][:, None], channels=("loss",), params={"N": float(w[j])})
                    for j in range(len(w))]
        X = [runs]
    out = {}
    for m in DETECT_METHODS[kind]:
        det = TransitionDetector(kind=kind, method=m, level=level).fit()
        r = det.estimate(X)[0]
        out[m] = {k: r[k] for k in ("estimate", "low", "high", "note")}
    return {"kind": kind, "methods": out}


__all__ = [
    "DETECT_METHODS",
    "FORECAST_METHODS",
    "KINDS",
    "MODES",
    "PATH_METHODS",
    "TransitionDetector",
    "closed_form_curve",
    "detect_transitions",
    "crossover_exponent_sweep",
    "extrapolate_infinite_width",
    "fit_time_bottleneck",
    "gap_time_exponent",
    "forecast_features",
    "infinite_width_curve",
    "local_width_exponent_sweep",
    "richardson_infinite_width",
    "sweep_arrays",
    "width_of",
]
