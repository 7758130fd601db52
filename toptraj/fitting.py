"""The time exponent of one loss curve, with an interval that means something.

Sign convention (one, used everywhere in toptraj's reports)
------------------------------------------------------------
- ``slope`` is the signed local slope ``d log L / d log t``: negative while the loss falls.
- the *time exponent* ``r > 0`` is the exponent of the excess loss in ``L(t) = L0 + A t^-r``
  (``L0 >= 0``, ``A > 0``); for a pure power law (``L0 = 0``) ``slope = -r``.

The rule (what :func:`fit_exponent` does)
-----------------------------------------
1. The curve is log-binned (:func:`log_bin`, 16 bins per decade, geometric means of t and L in
   each bin): the fit sees O(100) points whatever the log length, and a 10^6-row log costs one pass.
   Points with t <= 0 or L <= 0 are dropped (their logarithm is undefined).
2. Fit window: the later half of the observed log-time span, ``sqrt(t_first t_last) <= t <= t_last``
   (the early transient is left out, the late curve is what predicts the future), widened to the
   last ``MIN_POINTS`` binned points if it holds fewer; ``window=(tmin, tmax)`` overrides it.
3. Estimator: least squares in log L (every decade counts alike; a curve times 1e-300 or 1e300 has
   the same exponent: everything is computed from log t and log L, centred). For each r on a grid,
   L0 and A are the (iteratively reweighted, relative-error) linear least-squares solution with
   L0 >= 0; r minimises the log-space error (coarse log grid, then a fine grid).
4. Interval: a moving-block residual bootstrap (``n_boot`` replicates, seeded) of the log-space
   residuals, standardised by each bin's point count and inflated by sqrt(n / (n - 3)); the 95%
   percentile interval of the refitted exponents.
5. Curvature check: the exponent is refitted on each half of the window with L0 held at the full
   fit's value (per bootstrap replicate). If the two halves differ by more than twice the bootstrap
   spread of the difference and by more than ``DRIFT_TOL`` relative, the curve is "not yet in the
   power-law regime": the status says so and the interval is widened to cover both halves' exponents.
6. Refusals (status ``"refused"``, a reason, no number): fewer than ``MIN_POINTS`` binned points in
   the window; a loss that does not decrease in the window (log-log slope >= 0 or within two standard
   errors of 0: rising or constant); a fit that did not move from the search bounds of r.

References: Clauset, Shalizi & Newman 2009 (arXiv:0706.1062) on fitting power laws honestly;
Kunsch 1989 (moving-block bootstrap). See docs/theory/study.rst.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

#: Fewest log-binned points in the fit window from which an exponent is reported.
MIN_POINTS = 8
#: Log-binning resolution.
BINS_PER_DECADE = 16
#: Search range of the exponent r.
R_MIN, R_MAX = 1e-3, 5.0
#: Relative drift between the window's halves above which (if also significant) the curve is pre-asymptotic.
DRIFT_TOL = 0.1
#: Two-sided level of the reported intervals.
LEVEL = 0.95

_COARSE = np.geomspace(R_MIN, R_MAX, 72)
_FINE = 25


class NumericalError(RuntimeError):
    """A numerical computation failed (non-finite intermediate); the CLI maps it to exit 3."""


# -- log-binning -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class BinnedCurve:
    """A curve on a logarithmic grid, in log units.

    Attributes
    ----------
    log_t, log_y : ndarray of shape (n_bins,)
        Means of log t and log L in each non-empty bin (geometric means of t and L).
    counts : ndarray of shape (n_bins,)
        Raw points in each bin.
    n_raw : int
        Points used (t > 0 and L > 0).
    """

    log_t: np.ndarray
    log_y: np.ndarray
    counts: np.ndarray
    n_raw: int


def log_bin(times, loss, bins_per_decade: int = BINS_PER_DECADE) -> BinnedCurve:
    """Log-bin a curve: O(n) time, O(n_bins) extra memory.

    Parameters
    ----------
    times, loss : array-like of shape (n,)
        Increasing times; losses. Points with t <= 0 or L <= 0 (or non-finite) are dropped.
    bins_per_decade : int

    Returns
    -------
    BinnedCurve
    """
    t = np.asarray(times, dtype=np.float64)
    y = np.asarray(loss, dtype=np.float64)
    if t.shape != y.shape or t.ndim != 1:
        raise ValueError(f"times and loss must be 1-D of one shape, got {t.shape} and {y.shape}")
    keep = (t > 0) & (y > 0) & np.isfinite(t) & np.isfinite(y)
    lt, ly = np.log(t[keep]), np.log(y[keep])
    if lt.size == 0:
        return BinnedCurve(np.zeros(0), np.zeros(0), np.zeros(0, dtype=np.int64), 0)
    width = math.log(10.0) / bins_per_decade
    # the 1e-7 snaps points lying on a bin edge (up to rounding of log t) to one side, whatever the time unit
    idx = np.floor((lt - lt[0]) / width + 1e-7).astype(np.int64)
    counts = np.bincount(idx)
    nz = counts > 0
    out_t = np.bincount(idx, weights=lt)[nz] / counts[nz]
    out_y = np.bincount(idx, weights=ly)[nz] / counts[nz]
    return BinnedCurve(out_t, out_y, counts[nz], int(lt.size))


# -- the estimator ---------------------------------------------------------------------------------
def _solve_linear(x, y, w, l0_fixed=None):
    """Weighted LS of y ~ L0 + A x with L0 >= 0 (or L0 fixed); shapes broadcast over (..., n)."""
    if l0_fixed is not None:
        yy = y - l0_fixed
        A = np.sum(w * x * yy, -1) / np.sum(w * x * x, -1)
        return np.broadcast_to(l0_fixed[..., 0], A.shape), A
    sw, sx, sxx = np.sum(w, -1), np.sum(w * x, -1), np.sum(w * x * x, -1)
    sy, sxy = np.sum(w * y, -1), np.sum(w * x * y, -1)
    det = sw * sxx - sx * sx
    with np.errstate(divide="ignore", invalid="ignore"):
        A = (sw * sxy - sx * sy) / det
        L0 = (sxx * sy - sx * sxy) / det
    neg = ~(L0 >= 0)  # also catches NaN from a singular system
    A0 = sxy / sxx
    return np.where(neg, 0.0, L0), np.where(neg, A0, A)


def _log_sse(u, ly, r, l0_fixed=None):
    """Profile over the r values ``r`` (shape (R,) or (B, R)) for every replicate ``ly`` (shape (B, n)).

    Returns sse (B, R), L0 (B, R), A (B, R) in the normalised units (y = exp(ly), x = exp(-r u)).
    """
    y = np.exp(ly)[:, None, :]  # (B, 1, n)
    r2 = r[None, :] if r.ndim == 1 else r
    x = np.exp(-r2[:, :, None] * u[None, None, :])  # (1 or B, R, n)
    w = 1.0 / (y * y)
    lf = None if l0_fixed is None else l0_fixed[:, None, None]
    L0, A = _solve_linear(x, y, w, lf)
    for _ in range(2):  # reweight by the model: relative error of the model ~ error in log L
        m = L0[..., None] + A[..., None] * x
        ok = m > 0
        w = np.where(ok, 1.0 / np.where(ok, m, 1.0) ** 2, w)
        L0, A = _solve_linear(x, y, w, lf)
    m = L0[..., None] + A[..., None] * x
    with np.errstate(divide="ignore", invalid="ignore"):
        resid = np.where(m > 0, ly[:, None, :] - np.log(np.where(m > 0, m, 1.0)), np.inf)
    sse = np.sum(resid * resid, -1)
    sse = np.where((A > 0) & np.isfinite(sse), sse, np.inf)
    return sse, L0, A


def _fit_r(u, ly, l0_fixed=None):
    """Best r per replicate: shapes (B, n) -> r, L0, A, at_bound (each (B,))."""
    B = ly.shape[0]
    sse, _, _ = _log_sse(u, ly, _COARSE, l0_fixed)
    i = np.argmin(sse, axis=1)
    at_bound = (i == 0) | (i == len(_COARSE) - 1) | ~np.isfinite(sse[np.arange(B), i])
    lo = np.log(_COARSE[np.clip(i - 1, 0, len(_COARSE) - 1)])
    hi = np.log(_COARSE[np.clip(i + 1, 0, len(_COARSE) - 1)])
    frac = np.linspace(0.0, 1.0, _FINE)
    rows = np.arange(B)
    for _ in range(2):  # two refinements, each replicate in its own bracket: 1e-3 relative resolution
        grid = np.exp(lo[:, None] + frac[None, :] * (hi - lo)[:, None])
        s, L0, A = _log_sse(u, ly, grid, l0_fixed)
        j = np.argmin(s, axis=1)
        step = (hi - lo) / (_FINE - 1)
        lo, hi = np.log(grid[rows, j]) - step, np.log(grid[rows, j]) + step
    return grid[rows, j], L0[rows, j], A[rows, j], at_bound


def _block_resample(e, counts, n_boot, rng):
    """Moving-block bootstrap of count-standardised residuals: (n,) -> (n_boot, n)."""
    n = e.size
    z = e * np.sqrt(counts)
    z = (z - z.mean()) * math.sqrt(n / max(n - 3, 1))
    L = max(1, int(round(n ** (1 / 3))))
    n_blocks = -(-n // L)
    starts = rng.integers(0, n - L + 1, size=(n_boot, n_blocks))
    idx = (starts[:, :, None] + np.arange(L)[None, None, :]).reshape(n_boot, -1)[:, :n]
    return z[idx] / np.sqrt(counts)[None, :]


# -- the result ------------------------------------------------------------------------------------
@dataclass
class ExponentFit:
    """The exponent of one curve (see the module docstring for the rule).

    ``r``, ``r_low``, ``r_high`` are NaN when ``status == "refused"`` (``reason`` says why).
    ``status`` is ``"ok"``, ``"pre-asymptotic"`` (the local exponent still drifts inside the window;
    interval widened) or ``"refused"``. ``L0`` and ``A`` are in the curve's own units
    (``L = L0 + A (t / t_ref)^-r``). ``window`` is (tmin, tmax) in the curve's time units.
    """

    status: str
    reason: str
    r: float = math.nan
    r_low: float = math.nan
    r_high: float = math.nan
    L0: float = math.nan
    A: float = math.nan
    t_ref: float = math.nan
    window: tuple[float, float] = (math.nan, math.nan)
    n_points: int = 0
    n_raw: int = 0
    r_early: float = math.nan
    r_late: float = math.nan
    window_slope: float = math.nan
    window_slope_stderr: float = math.nan
    notes: list[str] = field(default_factory=list)
    # bootstrap replicates in normalised log units (used by forecast); shapes (n_boot,)
    _log_scale: float = 0.0
    _u_ref: float = 0.0
    _boot: np.ndarray | None = None  # (n_boot, 3): L0n, An, r
    _best: np.ndarray | None = None  # (3,)

    @property
    def ok(self) -> bool:
        return self.status != "refused"

    def log_model(self, times) -> np.ndarray:
        """log L of the fitted model at ``times`` (shape (m,)); NaN when refused."""
        t = np.asarray(times, dtype=np.float64)
        if self._best is None:
            return np.full(t.shape, np.nan)
        return self._log_model(self._best[None, :], t)[0]

    def _log_model(self, p, t):
        u = np.log(t) - self._u_ref
        L0, A, r = p[:, 0:1], p[:, 1:2], p[:, 2:3]
        # log(L0 + A e^{-r u}) computed stably in log space (no overflow for any scale)
        with np.errstate(divide="ignore"):
            a = np.log(np.maximum(L0, 0.0)) + np.zeros_like(u)[None, :]
        bb = np.log(A) - r * u[None, :]
        return np.logaddexp(a, bb) + self._log_scale

    def forecast(self, times, level: float = LEVEL) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Loss forecast at ``times`` (shape (m,)): (point, low, high) from the bootstrap replicates."""
        t = np.asarray(times, dtype=np.float64)
        if self._best is None or self._boot is None:
            nan = np.full(t.shape, np.nan)
            return nan, nan.copy(), nan.copy()
        point = np.exp(self.log_model(t))
        lb = self._log_model(self._boot, t)
        q = (1 - level) / 2
        lo, hi = np.quantile(lb, [q, 1 - q], axis=0)
        return point, np.exp(lo), np.exp(hi)

    def to_dict(self) -> dict:
        """Plain-data summary (NaN kept as float NaN; use :func:`toptraj.analyze.strict_json`)."""
        return {
            "status": self.status,
            "reason": self.reason,
            "time_exponent": self.r,
            "time_exponent_interval": [self.r_low, self.r_high],
            "interval_level": LEVEL,
            "offset_L0": self.L0,
            "amplitude_A": self.A,
            "t_ref": self.t_ref,
            "fit_window": list(self.window),
            "n_points_window": self.n_points,
            "n_points_raw": self.n_raw,
            "exponent_first_half_of_window": self.r_early,
            "exponent_second_half_of_window": self.r_late,
            "window_loglog_slope": self.window_slope,
            "window_loglog_slope_stderr": self.window_slope_stderr,
            "notes": list(self.notes),
        }


def _line(u, v):
    """Least-squares slope of v on u and its standard error (NaN for n <= 2)."""
    n = u.size
    uc = u - u.mean()
    sxx = float(uc @ uc)
    if sxx == 0:
        return math.nan, math.nan
    slope = float(uc @ (v - v.mean())) / sxx
    if n <= 2:
        return slope, math.nan
    res = v - v.mean() - slope * uc
    return slope, math.sqrt(float(res @ res) / (n - 2) / sxx)


def fit_exponent(times, loss, window: tuple[float, float] | None = None, n_boot: int = 200,
                 seed: int = 0, binned: BinnedCurve | None = None) -> ExponentFit:
    """Time exponent of ``L = L0 + A t^-r`` with a bootstrap interval and a curvature check.

    Parameters
    ----------
    times, loss : array-like of shape (n,)
        The curve (any length; log-binned first). Ignored when ``binned`` is given.
    window : (tmin, tmax) or None
        Fit window in time units; None applies the stated rule (later half of the log-time span).
    n_boot : int
        Bootstrap replicates (>= 20).
    seed : int
        Seed of the bootstrap (same seed, same interval).
    binned : BinnedCurve, optional
        A curve already log-binned by :func:`log_bin`.

    Returns
    -------
    ExponentFit
        Never raises for a curve that is merely unsuitable: refusals come back with
        ``status="refused"`` and a reason. Raises ``ValueError`` for bad arguments.
    """
    if not isinstance(n_boot, (int, np.integer)) or n_boot < 20:
        raise ValueError(f"n_boot must be an integer >= 20, got {n_boot!r}")
    if window is not None:
        if len(window) != 2 or not all(isinstance(w, (int, float)) and math.isfinite(w) for w in window) \
                or not 0 < window[0] < window[1]:
            raise ValueError(f"window must be (tmin, tmax) with 0 < tmin < tmax, got {window!r}")
    c = binned if binned is not None else log_bin(times, loss)
    if c.log_t.size < 2:
        return ExponentFit("refused", f"too few points: {c.log_t.size} log-binned point(s) with t > 0 and loss > 0, need >= {MIN_POINTS}",
                           n_raw=c.n_raw)
    # the window in log units (no exp/log round trip: the same bins for t and 1e200 t)
    lw0, lw1 = ((0.5 * (c.log_t[0] + c.log_t[-1]), c.log_t[-1]) if window is None
                else (math.log(window[0]), math.log(window[1])))
    sel = (c.log_t >= lw0 - 1e-9) & (c.log_t <= lw1 + 1e-9)
    notes = []
    if window is None and sel.sum() < MIN_POINTS and c.log_t.size >= MIN_POINTS:
        sel = np.zeros(c.log_t.size, dtype=bool)
        sel[-MIN_POINTS:] = True
        notes.append(f"window widened to the last {MIN_POINTS} binned points")
    u_all, ly_all, cnt = c.log_t[sel], c.log_y[sel], c.counts[sel]
    n = int(u_all.size)
    base = dict(n_points=n, n_raw=c.n_raw, notes=notes)
    if n:
        base["window"] = (math.exp(u_all[0]), math.exp(u_all[-1]))
    if n < MIN_POINTS:
        return ExponentFit("refused", f"too few points: {n} log-binned points in the fit window, need >= {MIN_POINTS}",
                           **base)
    u_ref, log_scale = float(u_all.mean()), float(ly_all.mean())
    u, ly = u_all - u_ref, ly_all - log_scale
    slope, se = _line(u, ly)
    base.update(window_slope=slope, window_slope_stderr=se)
    if float(np.ptp(ly)) < 1e-9 or not math.isfinite(slope):
        return ExponentFit("refused", "loss is constant in the fit window", **base)
    if slope >= 0 or (math.isfinite(se) and slope > -2 * se):
        return ExponentFit("refused", f"loss does not decrease in the fit window (log-log slope {slope:+.3g} "
                           f"+- {se:.2g}; rising or flat)", **base)
    with np.errstate(over="ignore", under="ignore"):
        r, L0, A, bound = _fit_r(u, ly[None, :])
    if bound[0]:
        return ExponentFit("refused", f"the fit did not move: the exponent sits at the search bound "
                           f"[{R_MIN:g}, {R_MAX:g}]", **base)
    best = np.array([L0[0], A[0], r[0]])
    m = np.log(L0[0] + A[0] * np.exp(-r[0] * u))
    e = ly - m
    rng = np.random.default_rng(seed)
    ly_b = m[None, :] + _block_resample(e, cnt.astype(np.float64), int(n_boot), rng)
    with np.errstate(over="ignore", under="ignore"):
        rb, L0b, Ab, bb = _fit_r(u, ly_b)
    if not np.all(np.isfinite(rb)):
        raise NumericalError("bootstrap refit produced a non-finite exponent")
    q = (1 - LEVEL) / 2
    qlo, qhi = (float(v) for v in np.quantile(rb, [q, 1 - q]))
    # union of the percentile and the basic (reflected) intervals: the exponent's sampling
    # distribution is skewed near L0 = 0 and for large offsets, in either direction
    lo = max(min(qlo, 2 * float(r[0]) - qhi), R_MIN)
    hi = min(max(qhi, 2 * float(r[0]) - qlo), R_MAX)
    if bb.mean() > q:
        notes.append(f"{bb.mean():.0%} of bootstrap refits reached the search bound; the interval is open there")
    status, reason = "ok", ""
    # curvature check: exponent on each half of the window, L0 held at each replicate's value
    half = u.size // 2
    r_e = r_l = math.nan
    if half >= 4:
        l0_all = np.concatenate([L0, L0b])
        ly_all2 = np.vstack([ly[None, :], ly_b])
        with np.errstate(over="ignore", under="ignore"):
            re_, _, _, _ = _fit_r(u[:half], ly_all2[:, :half], l0_all)
            rl_, _, _, _ = _fit_r(u[-half:], ly_all2[:, -half:], l0_all)
        r_e, r_l = float(re_[0]), float(rl_[0])
        drift = r_l - r_e
        sd = float(np.std(rl_[1:] - re_[1:]))
        if abs(drift) > 2 * sd and abs(drift) > DRIFT_TOL * float(r[0]):
            status = "pre-asymptotic"
            reason = (f"not yet in the power-law regime: the exponent drifts from {r_e:.3g} (first half of the window) "
                      f"to {r_l:.3g} (second half); interval widened to cover both")
            lo, hi = min(lo, r_e, r_l), max(hi, r_e, r_l)
    plateau = float(L0[0]) / float(np.exp(m[0]))  # share of the offset in the loss at the window's start
    if plateau > 0.75:
        notes.append(f"the offset L0 is {plateau:.0%} of the loss at the window's start: r describes the approach "
                     "to a plateau (finite width or data), not a scaling regime")
    scale = math.exp(log_scale)
    return ExponentFit(
        status, reason, r=float(r[0]), r_low=lo, r_high=hi,
        L0=float(L0[0]) * scale if math.isfinite(scale) else math.nan,
        A=float(A[0]) * scale if math.isfinite(scale) else math.nan,
        t_ref=math.exp(u_ref), r_early=r_e, r_late=r_l,
        _log_scale=log_scale, _u_ref=u_ref, _boot=np.column_stack([L0b, Ab, rb]), _best=best, **base,
    )


# -- local slope -----------------------------------------------------------------------------------
def local_slope(binned: BinnedCurve, half_width_decades: float = 0.25):
    """Local slope d log L / d log t of a binned curve with a 95% interval.

    A least-squares line over the bins within ``half_width_decades`` of each bin (at least two
    neighbours each side); the interval is slope +- 2 standard errors (NaN where undefined).

    Returns
    -------
    t : ndarray of shape (m,), slope, low, high : ndarrays of shape (m,)
    """
    u, v = binned.log_t, binned.log_y
    h = half_width_decades * math.log(10.0)
    n = u.size
    slope = np.full(n, np.nan)
    se = np.full(n, np.nan)
    for i in range(n):
        lo = min(int(np.searchsorted(u, u[i] - h)), max(i - 2, 0))
        hi = max(int(np.searchsorted(u, u[i] + h, side="right")), min(i + 3, n))
        if hi - lo >= 3:
            slope[i], se[i] = _line(u[lo:hi], v[lo:hi])
    return np.exp(u), slope, slope - 2 * se, slope + 2 * se
