"""Plain baselines every topological predictor is reported beside.

- ``loglog_slope``: least-squares slope of log L against log t over the observed part of the curve
  (or its last portion), with its standard error. ``-slope`` estimates the time exponent.
- ``fit_offset_power_law``: least-squares fit of ``L(t) = L0 + A t^-r`` (in log space, so every
  decade counts alike), with a standard error for ``r`` from the Jacobian.
- ``final_weight_norm``: the l2 norm of the final iterate's weights (Tan et al. 2024 showed it
  correlates with generalisation better than PH dimension), from a weight-path channel group.

:class:`BaselineFeatures` wraps them as a scikit-learn step (list of Trajectory -> features).
All features are invariant to an unknown loss amplitude and time scale (a real run's
normalisation and learning rate), so they cannot read the answer off a convention.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
from scipy import optimize
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from toptraj.trajectory import Trajectory
from toptraj.validation import check_finite_array, check_fraction, check_increasing


def _positive_curve(times, loss) -> tuple[np.ndarray, np.ndarray]:
    t = check_increasing("times", times)
    y = check_finite_array("loss", loss, ndim=1)
    if y.shape != t.shape:
        raise ValueError(f"loss has shape {y.shape}, times has {t.shape}; they must match")
    keep = (t > 0) & (y > 0)
    if keep.sum() < 2:
        raise ValueError("need at least 2 points with time > 0 and loss > 0 for a log-log fit")
    return t[keep], y[keep]


@dataclass(frozen=True)
class SlopeFit:
    """Result of a log-log line fit: log L = intercept + slope log t."""

    slope: float
    stderr: float
    intercept: float
    n_points: int


def loglog_slope(times, loss, last: float = 1.0) -> SlopeFit:
    """Slope of log L vs log t over the last ``last`` fraction (in log t) of the curve.

    Parameters
    ----------
    times, loss : arrays, shape (n,)
        Points with t <= 0 or L <= 0 are ignored (logs undefined).
    last : float in (0, 1]
        Fraction of the log-time range, counted from the end, used for the fit.

    Returns
    -------
    SlopeFit
        ``slope``, its standard error, ``intercept`` and the number of points used.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.geomspace(1, 1e4, 9)
    >>> fit = loglog_slope(t, 3.0 * t**-0.25)
    >>> round(fit.slope, 6), fit.n_points
    (-0.25, 9)
    """
    last = check_fraction("last", last)
    t, y = _positive_curve(times, loss)
    u, v = np.log(t), np.log(y)
    keep = u >= u[-1] - last * (u[-1] - u[0])
    if keep.sum() < 2:
        keep[-2:] = True
    u, v = u[keep], v[keep]
    n = len(u)
    slope, intercept = np.polyfit(u, v, 1)
    if n > 2:
        resid = v - (intercept + slope * u)
        stderr = math.sqrt(resid @ resid / (n - 2) / np.sum((u - u.mean()) ** 2))
    else:
        stderr = math.nan
    return SlopeFit(float(slope), float(stderr), float(intercept), n)


@dataclass(frozen=True)
class PowerLawFit:
    """Result of ``L(t) = L0 + A t^-r`` (least squares on log L)."""

    L0: float
    A: float
    r: float
    r_stderr: float
    rmse_log: float
    success: bool


def fit_offset_power_law(times, loss, r_max: float = 5.0) -> PowerLawFit:
    """Fit ``L0 + A t^-r`` with L0 >= 0, A > 0, 0 < r <= r_max, minimising the error in log L.

    Several starting exponents are tried (the problem is not convex); the best is kept. The
    standard error of r comes from the Gauss-Newton covariance at the optimum (NaN if singular).
    """
    t, y = _positive_curve(times, loss)
    logy = np.log(y)
    tscale = t[0]
    tt = t / tscale  # A is defined relative to t[0] internally: better conditioning

    def resid(p):
        L0, logA, r = p
        return np.log(L0 + np.exp(logA) * tt ** (-r)) - logy

    best = None
    for r0 in (0.1, 0.5, 1.5):
        for frac in (0.0, 0.5):
            p0 = [frac * y.min(), math.log(max(y[0] - frac * y.min(), 1e-300)), r0]
            try:
                sol = optimize.least_squares(
                    resid, p0, bounds=([0.0, -np.inf, 1e-6], [np.inf, np.inf, r_max]), method="trf"
                )
            except ValueError:
                continue
            if best is None or sol.cost < best.cost:
                best = sol
    if best is None:  # pragma: no cover - least_squares always returns for finite input
        return PowerLawFit(math.nan, math.nan, math.nan, math.nan, math.nan, False)
    L0, logA, r = best.x
    n, k = len(t), 3
    rmse = math.sqrt(2 * best.cost / n)
    try:
        jtj = best.jac.T @ best.jac
        cov = np.linalg.inv(jtj) * (2 * best.cost / max(n - k, 1))
        r_err = float(math.sqrt(cov[2, 2])) if cov[2, 2] >= 0 else math.nan
    except np.linalg.LinAlgError:
        r_err = math.nan
    A = math.exp(logA) * tscale**r
    return PowerLawFit(float(L0), float(A), float(r), r_err, rmse, bool(best.success))


def final_weight_norm(traj: Trajectory, prefix: str = "proj_") -> float:
    """l2 norm of the last row of the channels starting with ``prefix`` (a weight path or sketch)."""
    cols = traj.channels_with_prefix(prefix)
    if not cols:
        raise ValueError(f"trajectory has no channels starting with {prefix!r}; channels are {list(traj.channels)[:8]}...")
    return float(np.linalg.norm(traj.select(cols).values[-1]))


#: Names of the features :class:`BaselineFeatures` can produce.
BASELINE_FEATURES = ("loglog_slope", "loglog_slope_late", "power_law_r", "offset_fraction", "curvature", "weight_norm")


def curve_features(times, loss, features=BASELINE_FEATURES[:5]) -> tuple[list[float], list[str]]:
    """The curve baselines of one run, and why any of them is undefined.

    Parameters
    ----------
    times, loss : array of shape (n,)
        The observed curve (strictly increasing times).
    features : sequence of str
        Names from :data:`BASELINE_FEATURES` except ``"weight_norm"`` (which needs weights).

    Returns
    -------
    values : list of float, one per feature (NaN where undefined)
    reasons : list of str, one per feature ("" where defined)

    Examples
    --------
    >>> import numpy as np
    >>> t = np.geomspace(1, 1e3, 30)
    >>> values, reasons = curve_features(t, 2.0 * t**-0.5, ("loglog_slope", "power_law_r"))
    >>> [round(v, 6) for v in values], reasons
    ([-0.5, 0.5], ['', ''])
    """
    t = np.asarray(times, dtype=np.float64)
    y = np.asarray(loss, dtype=np.float64)
    out, why = {}, {}
    whole = loglog_slope(t, y)
    out["loglog_slope"] = whole.slope
    if {"loglog_slope_late", "curvature"} & set(features):
        late = loglog_slope(t, y, last=1 / 3)
        early = loglog_slope(t[: max(3, len(t) // 3)], y[: max(3, len(t) // 3)])
        out["loglog_slope_late"] = late.slope
        out["curvature"] = late.slope - early.slope
    if {"power_law_r", "offset_fraction"} & set(features):
        fit = fit_offset_power_law(t, y)
        out["power_law_r"] = fit.r
        if not math.isfinite(fit.r):
            why["power_law_r"] = why["offset_fraction"] = "the L0 + A t^-r fit found no finite optimum"
        if y[-1] > 0:
            out["offset_fraction"] = fit.L0 / y[-1]
        else:
            out["offset_fraction"] = math.nan
            why.setdefault("offset_fraction", f"the last loss is {float(y[-1])!r}, so L0 / L_last is undefined")
    values = [float(out[f]) for f in features]
    reasons = [why.get(f, "" if math.isfinite(v) else "not finite") for f, v in zip(features, values)]
    return values, reasons


class BaselineFeatures(TransformerMixin, BaseEstimator):
    """Baseline features of the observed curve: list of n Trajectory -> array (n, n_features).

    Features (all invariant to amplitude and time-scale factors):
    ``loglog_slope`` (whole observed window), ``loglog_slope_late`` (last third in log t),
    ``power_law_r`` (exponent of the L0 + A t^-r fit), ``offset_fraction`` (L0 / L_last of that
    fit), ``curvature`` (late slope minus early slope), ``weight_norm`` (final iterate's norm of
    ``weight_prefix`` channels; only when requested).

    Parameters
    ----------
    channel : str
        The loss channel read from each Trajectory.
    features : sequence of str
        Names from :data:`BASELINE_FEATURES`.
    weight_prefix : str
        Channels of the weight path (for ``weight_norm``).
    memory : None, str or joblib.Memory
        Cache of the per-run curve fits (keyed on the curve and ``features``). Cross-validation
        asks for the same runs once per fold and method and the L0 + A t^-r fit dominates the
        cost, so :func:`~toptraj.regression.evaluate` passes one; None computes every time.

    Notes
    -----
    A feature that is undefined for a run (a fit with no finite optimum, a last loss of 0) is
    set to 0 so that a regressor can still run, and a ``RuntimeWarning`` names the feature, the
    run and the reason.

    Examples
    --------
    >>> import numpy as np
    >>> from toptraj import Trajectory
    >>> t = np.geomspace(1, 1e3, 30)
    >>> runs = [Trajectory(times=t, values=(a * t**-r)[:, None], channels=("test_loss",))
    ...         for a, r in [(1.0, 0.5), (30.0, 0.5), (1.0, 0.8)]]
    >>> F = BaselineFeatures(features=("loglog_slope", "power_law_r")).fit(runs).transform(runs)
    >>> F.shape
    (3, 2)
    >>> np.round(F[:, 0], 6)
    array([-0.5, -0.5, -0.8])
    """

    def __init__(self, channel: str = "test_loss", features=BASELINE_FEATURES[:5], weight_prefix: str = "proj_",
                 memory=None):
        self.channel = channel
        self.features = features
        self.weight_prefix = weight_prefix
        self.memory = memory

    def fit(self, X, y=None):
        """Validate the parameters; return self (nothing is learned)."""
        unknown = [f for f in self.features if f not in BASELINE_FEATURES]
        if unknown:
            raise ValueError(f"features: unknown {unknown}; allowed {list(BASELINE_FEATURES)}")
        if len(self.features) == 0:
            raise ValueError("features must not be empty")
        self.n_features_out_ = len(self.features)
        return self

    def _curve_fn(self):
        if self.memory is None:
            return curve_features
        from joblib import Memory

        mem = self.memory if isinstance(self.memory, Memory) else Memory(self.memory, verbose=0)
        return mem.cache(curve_features)

    def transform(self, X):
        """List of n Trajectory -> array of shape (n, n_features)."""
        check_is_fitted(self, "n_features_out_")
        fn = self._curve_fn()
        curve = tuple(f for f in self.features if f != "weight_norm")
        rows, problems = [], []
        for i, traj in enumerate(X):
            vals, reasons = fn(traj.times, traj.channel(self.channel), curve) if curve else ([], [])
            got = dict(zip(curve, vals))
            if "weight_norm" in self.features:
                got["weight_norm"] = final_weight_norm(traj, self.weight_prefix)
            rows.append([got[f] for f in self.features])
            problems += [(i, f, r) for f, r in zip(curve, reasons) if r]
        rows = np.asarray(rows, dtype=np.float64).reshape(len(rows), len(self.features))
        bad = ~np.isfinite(rows)
        if bad.any():
            named = {(i, f) for i, f, _ in problems}
            problems += [(int(i), self.features[j], "not finite") for i, j in zip(*np.nonzero(bad))
                         if (int(i), self.features[j]) not in named]
            shown = "; ".join(f"run {i} {f}: {r}" for i, f, r in problems[:5])
            more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
            warnings.warn(f"BaselineFeatures: {int(bad.sum())} undefined feature value(s) set to 0: {shown}{more}",
                          RuntimeWarning, stacklevel=2)
        # A failed fit (NaN) becomes 0 so that regressors can run; the warning above says which.
        return np.nan_to_num(rows, nan=0.0, posinf=0.0, neginf=0.0)

    def get_feature_names_out(self, input_features=None):
        """``baseline__<feature>`` for each feature."""
        return np.array([f"baseline__{f}" for f in self.features], dtype=object)
