"""From trajectories to point clouds: log-time resampling, log-log coordinates, delay embeddings.

Loss curves of scaling-law models are (broken) power laws. In log-log coordinates a power law
is a straight line, so what persistent homology sees there is curvature and breaks, not the
trivial decay. This module holds the functional kernels and the two scikit-learn steps that
start a topological pipeline:

    list[Trajectory] --LogTimeResampler--> ndarray (n, n_points, f)
                     --DelayEmbedder-----> list of point clouds (m, dim * n_cols)

Cost model: everything here is O(n_points * features) per trajectory except
:func:`random_projection`, which costs O(n * D * dim) time and O(block_rows * dim) extra memory.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from toptraj.validation import check_choice, check_finite_array, check_increasing, check_number, check_seed

REPRESENTATIONS = ("loglog", "slope", "both")


def _as_2d(name: str, x: Any) -> tuple[np.ndarray, bool]:
    """Finite float array as (n, c); also report whether the input was 1-D."""
    arr = check_finite_array(name, x)
    if arr.ndim == 1:
        return arr[:, None], True
    if arr.ndim != 2:
        raise ValueError(f"{name} must have shape (n,) or (n, c), got shape {arr.shape}")
    return arr, False


def resample_log(times: Any, values: Any, n_points: int) -> tuple[np.ndarray, np.ndarray]:
    """Resample a curve on a grid that is uniform in log t.

    Parameters
    ----------
    times : array, shape (n,)
        Strictly increasing, positive.
    values : array, shape (n,) or (n, c)
        Values at ``times``.
    n_points : int
        Number of grid points (>= 2). The grid is ``geomspace(times[0], times[-1], n_points)``.

    Returns
    -------
    t_new : array, shape (n_points,)
    v_new : array, shape (n_points,) or (n_points, c), same number of dimensions as ``values``
        ``values`` interpolated linearly in log t (not in t; values themselves are not logged).
    """
    t = check_increasing("times", times, positive=True)
    v, was_1d = _as_2d("values", values)
    if v.shape[0] != t.shape[0]:
        raise ValueError(f"values has {v.shape[0]} rows but times has {t.shape[0]} entries; they must match")
    n_points = check_number("n_points", n_points, low=2, integer=True)
    if t.size < 2:
        raise ValueError(f"times must have at least 2 entries to resample, got {t.size}")
    lt = np.log(t)
    u = np.linspace(lt[0], lt[-1], n_points)
    out = np.column_stack([np.interp(u, lt, v[:, j]) for j in range(v.shape[1])])
    t_new = np.exp(u)
    # exp(log(t)) is not exactly t: pin the ends so the grid spans the input exactly.
    t_new[0], t_new[-1] = t[0], t[-1]
    return t_new, (out[:, 0] if was_1d else out)


def loglog(times: Any, values: Any) -> tuple[np.ndarray, np.ndarray]:
    """Log-log coordinates of a curve.

    Parameters
    ----------
    times : array, shape (n,), positive
    values : array, shape (n,) or (n, c), positive

    Returns
    -------
    log_t : array, shape (n,)
    log_v : array, same shape as ``values``
    """
    t = check_finite_array("times", times, ndim=1)
    v = check_finite_array("values", values)
    if v.ndim not in (1, 2) or v.shape[0] != t.shape[0]:
        raise ValueError(f"values must have shape ({t.shape[0]},) or ({t.shape[0]}, c), got {v.shape}")
    if np.any(t <= 0):
        i = int(np.argmax(t <= 0))
        raise ValueError(f"times must be positive for log-log coordinates; times[{i}]={t[i]}")
    if np.any(v <= 0):
        bad = tuple(np.argwhere(v <= 0)[0].tolist())
        raise ValueError(f"values must be positive for log-log coordinates; values{list(bad)}={v[bad]}")
    return np.log(t), np.log(v)


def log_slope(times: Any, values: Any) -> np.ndarray:
    """Local log-log slope d log v / d log t.

    Second-order central differences inside, first-order at the ends (``np.gradient`` on the
    log axes, non-uniform spacing allowed). A power law ``v = A t^-r`` gives ``-r`` exactly.

    Parameters
    ----------
    times : array, shape (n,), positive, strictly increasing, n >= 2
    values : array, shape (n,) or (n, c), positive

    Returns
    -------
    slope : array, same shape as ``values``
    """
    check_increasing("times", times, positive=True)
    lt, lv = loglog(times, values)
    if lt.size < 2:
        raise ValueError(f"times must have at least 2 entries for a slope, got {lt.size}")
    return np.gradient(lv, lt, axis=0)


def delay_embed(x: Any, dim: int, lag: int) -> np.ndarray:
    """Takens delay embedding.

    Row i is ``[x[i], x[i + lag], ..., x[i + (dim - 1) lag]]`` (each entry all c channels), so the
    output columns are grouped by delay: columns ``k*c:(k+1)*c`` hold delay k.

    Parameters
    ----------
    x : array, shape (n,) or (n, c)
    dim : int >= 1
    lag : int >= 1

    Returns
    -------
    array, shape (n - (dim - 1) * lag, dim * c)

    Examples
    --------
    >>> import numpy as np
    >>> delay_embed(np.arange(5.0), dim=2, lag=2)
    array([[0., 2.],
           [1., 3.],
           [2., 4.]])
    """
    arr, _ = _as_2d("x", x)
    dim = check_number("dim", dim, low=1, integer=True)
    lag = check_number("lag", lag, low=1, integer=True)
    n = arr.shape[0]
    m = n - (dim - 1) * lag
    if m < 1:
        raise ValueError(f"x has {n} rows; dim={dim} with lag={lag} needs at least {(dim - 1) * lag + 1}")
    return np.concatenate([arr[k * lag : k * lag + m] for k in range(dim)], axis=1)


def sliding_windows(x: Any, width: int, stride: int) -> np.ndarray:
    """Consecutive windows of a series.

    Parameters
    ----------
    x : array, shape (n,) or (n, c)
    width : int, 1 <= width <= n
    stride : int >= 1

    Returns
    -------
    array, shape (n_windows, width, c) with ``n_windows = 1 + (n - width) // stride``; window j
    starts at row ``j * stride``. A trailing remainder shorter than ``width`` is not used.
    """
    arr, _ = _as_2d("x", x)
    n = arr.shape[0]
    width = check_number("width", width, low=1, high=max(n, 1), integer=True)
    stride = check_number("stride", stride, low=1, integer=True)
    starts = np.arange(0, n - width + 1, stride)
    return np.stack([arr[s : s + width] for s in starts])


def random_projection(X: Any, dim: int, seed: int | None = 0, block_rows: int = 65536) -> np.ndarray:
    """Gaussian Johnson-Lindenstrauss sketch ``X @ R`` with ``R_ij ~ N(0, 1) / sqrt(dim)``.

    ``E |x R|^2 = |x|^2``, and pairwise distances of n points are kept within 1 +- eps with
    high probability for dim ~ log(n) / eps^2. R (shape (D, dim)) is drawn row-block by row-block
    from one ``numpy.random.default_rng(seed)`` stream, so memory is O(block_rows * dim) and the
    result does not depend on ``block_rows`` (the normal stream is consumed in the same order).

    Parameters
    ----------
    X : array, shape (n, D)
    dim : int >= 1
    seed : int or None
        Same seed, same R.
    block_rows : int
        Rows of R generated at a time.

    Returns
    -------
    array, shape (n, dim)

    Cost: O(n D dim) time.
    """
    arr = check_finite_array("X", X, ndim=2)
    dim = check_number("dim", dim, low=1, integer=True)
    seed = check_seed("seed", seed)
    block_rows = check_number("block_rows", block_rows, low=1, integer=True)
    rng = np.random.default_rng(seed)
    n, D = arr.shape
    out = np.zeros((n, dim))
    scale = 1.0 / math.sqrt(dim)
    for start in range(0, D, block_rows):
        stop = min(D, start + block_rows)
        R = rng.standard_normal((stop - start, dim))
        out += arr[:, start:stop] @ R
    return out * scale


# ------------------------------------------------------------------------------------------------
# scikit-learn steps
# ------------------------------------------------------------------------------------------------


class LogTimeResampler(TransformerMixin, BaseEstimator, auto_wrap_output_keys=None):
    """Loss curves -> fixed-size log-log curves.

    Parameters
    ----------
    channel : str
        Trajectory channel to use (must be positive: it is logged).
    n_points : int >= 2
        Points of the log-uniform time grid spanning each trajectory's positive times.
    representation : {"loglog", "slope", "both"}
        Output columns: ``"loglog"`` -> (u, y) = (log t, log L); ``"slope"`` -> (u, s) with
        s = d log L / d log t; ``"both"`` -> (u, y, s).
    center : bool
        Subtract the first grid point's u and y. An unknown amplitude A and time-scale factor c
        (L(t) = A f(c t)) then only shift u and y and drop out. s is unchanged by centring.

    Notes
    -----
    Samples with ``t <= 0`` (e.g. the step-0 evaluation) are dropped before taking logs; at
    least two positive times must remain. y is interpolated linearly in u between the kept
    samples (piecewise power law); s is computed by ``np.gradient`` on the resampled (u, y) grid,
    which smooths noise at the grid's resolution. Non-positive loss values raise ValueError.

    ``transform(list of Trajectory)`` -> array, shape (n_samples, n_points, n_features) with
    n_features = 2 or 3; the fitted ``columns_`` names them (``("u", "y")`` etc.).
    """

    def __init__(
        self, channel: str = "test_loss", n_points: int = 64, representation: str = "loglog", center: bool = True
    ):
        self.channel = channel
        self.n_points = n_points
        self.representation = representation
        self.center = center

    def _validate(self) -> None:
        if not isinstance(self.channel, str) or not self.channel:
            raise ValueError(f"channel must be a non-empty string, got {self.channel!r}")
        check_number("n_points", self.n_points, low=2, integer=True)
        check_choice("representation", self.representation, REPRESENTATIONS)
        if not isinstance(self.center, (bool, np.bool_)):
            raise ValueError(f"center must be True or False, got {self.center!r}")

    def fit(self, X: Sequence[Any], y: Any = None) -> LogTimeResampler:
        """Validate the parameters (nothing is learned); return self."""
        self._validate()
        _check_trajectories(X)
        self.columns_ = {"loglog": ("u", "y"), "slope": ("u", "s"), "both": ("u", "y", "s")}[self.representation]
        self.n_features_out_ = len(self.columns_)
        return self

    def _one(self, i: int, traj: Any) -> np.ndarray:
        if not traj.has_channel(self.channel):
            raise ValueError(f"X[{i}] has no channel {self.channel!r}; it has {list(traj.channels)}")
        t = np.asarray(traj.times)
        v = np.asarray(traj.channel(self.channel))
        keep = t > 0
        t, v = t[keep], v[keep]
        if t.size < 2:
            raise ValueError(f"X[{i}] has {t.size} positive times; at least 2 are needed")
        if np.any(v <= 0):
            j = int(np.argmax(v <= 0))
            raise ValueError(f"X[{i}] channel {self.channel!r} must be positive to take logs; value {v[j]} at t={t[j]}")
        lt, lv = np.log(t), np.log(v)
        n = int(self.n_points)
        u = np.linspace(lt[0], lt[-1], n)
        yy = np.interp(u, lt, lv)
        s = np.gradient(yy, u)
        if self.center:
            u = u - u[0]
            yy = yy - yy[0]
        cols = {"loglog": (u, yy), "slope": (u, s), "both": (u, yy, s)}[self.representation]
        return np.column_stack(cols)

    def transform(self, X: Sequence[Any]) -> np.ndarray:
        """Trajectories -> array, shape (n_samples, n_points, n_features)."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "columns_")
        self._validate()
        items = _check_trajectories(X)
        return np.stack([self._one(i, t) for i, t in enumerate(items)])

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Names of the last output axis (u, y and/or s), so that Pipeline/FeatureUnion names work."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "columns_")
        return np.asarray(self.columns_, dtype=object)


def _check_trajectories(X: Any) -> list:
    from toptraj.trajectory import Trajectory

    items = list(X)
    if not items:
        raise ValueError("X must contain at least one Trajectory")
    for i, t in enumerate(items):
        if not isinstance(t, Trajectory):
            raise ValueError(f"X[{i}] must be a Trajectory, got {type(t).__name__}")
    return items


class DelayEmbedder(TransformerMixin, BaseEstimator, auto_wrap_output_keys=None):
    """Curves -> point clouds by delay embedding.

    Parameters
    ----------
    dim : int >= 1
        Embedding dimension (number of delays). ``dim=1`` means no delay: each curve's selected
        columns are used as coordinates as they are (e.g. the (u, y) log-log curve itself).
    lag : int >= 1
        Delay in grid steps.
    columns : sequence of int or None
        Columns of the last axis to use; None = all.

    ``transform(array (n, n_points, f))`` -> list of n arrays, each shape
    ``(n_points - (dim - 1) * lag, dim * n_cols)`` (see :func:`delay_embed` for the column order).

    The three steps whose output is not a 2-D table (this one, :class:`LogTimeResampler` and the
    persistence steps) opt out of scikit-learn's ``set_output`` wrapping
    (``auto_wrap_output_keys=None``) but still give ``get_feature_names_out``, so that
    ``FeatureUnion.get_feature_names_out`` works on a whole topological pipeline.
    """

    def __init__(self, dim: int = 3, lag: int = 1, columns: Sequence[int] | None = None):
        self.dim = dim
        self.lag = lag
        self.columns = columns

    def _cols(self, f: int) -> list[int]:
        if self.columns is None:
            return list(range(f))
        cols = [self.columns] if isinstance(self.columns, (int, np.integer)) else list(self.columns)
        if not cols:
            raise ValueError("columns must be None or a non-empty sequence of column indices")
        for c in cols:
            check_number("columns", c, low=-f, high=f - 1, integer=True)
        return [int(c) for c in cols]

    def _check_X(self, X: Any) -> np.ndarray:
        arr = check_finite_array("X", X)
        if arr.ndim == 2:  # (n, n_points): one column per curve
            arr = arr[:, :, None]
        if arr.ndim != 3:
            raise ValueError(f"X must have shape (n, n_points, f), got {arr.shape}")
        if arr.shape[0] < 1:
            raise ValueError("X must contain at least one curve")
        return arr

    def fit(self, X: Any, y: Any = None) -> DelayEmbedder:
        """Validate parameters and the input shape; return self."""
        arr = self._check_X(X)
        check_number("dim", self.dim, low=1, integer=True)
        check_number("lag", self.lag, low=1, integer=True)
        self._cols(arr.shape[2])
        need = (int(self.dim) - 1) * int(self.lag) + 1
        if arr.shape[1] < need:
            raise ValueError(f"curves have {arr.shape[1]} points; dim={self.dim}, lag={self.lag} need at least {need}")
        self.n_features_in_ = arr.shape[2]
        return self

    def transform(self, X: Any) -> list[np.ndarray]:
        """Array (n, n_points, f) -> list of n point clouds."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "n_features_in_")
        arr = self._check_X(X)
        cols = self._cols(arr.shape[2])
        return [delay_embed(curve[:, cols], self.dim, self.lag) for curve in arr]

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Coordinate names of the point clouds, e.g. ``y_lag0, s_lag0, y_lag1, ...``."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "n_features_in_")
        f = self.n_features_in_
        base = [f"x{j}" for j in range(f)] if input_features is None else [str(c) for c in input_features]
        if len(base) != f:
            raise ValueError(f"input_features has {len(base)} names but fit saw {f} columns")
        cols = self._cols(f)
        return np.asarray([f"{base[c]}_lag{k}" for k in range(int(self.dim)) for c in cols], dtype=object)
