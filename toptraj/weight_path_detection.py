"""Overfitting onset t_of from the topology of the weight-space path: sliding-window persistence, then ruptures.

The input is a run's train/test pair together with its weight-space path: the parameters (or a
fixed random sketch of them, the ``proj_*`` channels of network runs and of finite DMFT
simulations) recorded at the same times, see :class:`PairWithPath`.

The method (issue "the study, part 2"; docs/theory/study.rst):

1. the path is projected once by a fixed Gaussian matrix to ``dim`` coordinates (seeded, so the
   same seed gives the same projection; skipped when the path already has <= ``dim`` columns) and
   resampled to ``n_grid`` log-spaced times (linear interpolation in log t), so the windows cover
   equal stretches of log-time whatever the record grid;
2. for each sliding window of ``window`` consecutive grid points, the H0 Vietoris-Rips diagram of the
   window's point cloud (the minimum spanning tree, :func:`toptraj.persistence.h0_mst_diagram`)
   gives four statistics: log of the total H0 persistence (how far the weights move in that
   stretch of log-time), total H0 persistence over the window's diameter (1 for a straight
   stretch, larger when the path turns or dithers), the largest bar over the total (one jump
   against an even walk) and the persistence entropy divided by log(window - 1);
3. one change point of the standardised statistics by ruptures' binary segmentation (Truong, Oudre,
   Vayatis 2020, arXiv 1801.00826) with the l2 cost: t_hat is the centre time of the first window
   after the change. The interval is the set of split positions whose l2 cost lies within the
   chi-square(1) quantile at ``level`` of the best one (a profile interval for the change location,
   the noise variance from the split's residual, the count of independent samples divided by the
   window length because windows overlap), widened to at least one half-window on each side.

``signal="path"`` uses the weight path only; ``signal="pair+path"`` adds the same four statistics of
the loss path (log t, log L_train, log L_test) (what :class:`toptraj.detectors.TransitionDetector`
with ``method="topology"`` reads), to measure what the weight path adds to the pair.

Cost: O(n_grid window^2 dim) for the diagrams plus O(n_grid^2) for the change point; about 10 ms
for the defaults.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from toptraj.exceptions import InputError
from toptraj.trajectory import Trajectory
from toptraj.validation import check_choice, check_number

SIGNALS = ("path", "pair+path")
STATISTICS = ("log_total_h0", "total_over_diameter", "max_over_total", "entropy")
PATH_PREFIX = "proj_"
TRAIN_CHANNELS = ("train_loss", "loss")
TEST_CHANNELS = ("test_loss",)

__all__ = ["PATH_PREFIX", "SIGNALS", "STATISTICS", "PairWithPath", "detect_onset", "fixed_projection",
           "window_statistics"]


@dataclass(frozen=True)
class PairWithPath:
    """A train/test loss pair and the weight-space path recorded at the same times.

    Parameters
    ----------
    times : ndarray of shape (n,)
        Strictly increasing, positive (steps or time); n >= 8.
    train, test : ndarray of shape (n,)
        Training and test loss, finite and positive.
    path : ndarray of shape (n, d)
        The weights (or a fixed linear sketch of them) at ``times``, finite, d >= 2.

    Build one from arrays (validated here) or from a :class:`~toptraj.trajectory.Trajectory` with
    :meth:`from_trajectory` (channels ``train_loss`` or ``loss``, ``test_loss`` and ``proj_0..``).
    """

    times: np.ndarray
    train: np.ndarray
    test: np.ndarray
    path: np.ndarray

    def __post_init__(self):
        t = np.asarray(self.times, dtype=np.float64)
        if t.ndim != 1 or t.size < 8:
            raise InputError(f"times must be a 1-D array of at least 8 points, got shape {t.shape}")
        if not np.all(np.isfinite(t)) or t[0] <= 0 or np.any(np.diff(t) <= 0):
            raise InputError("times must be finite, positive and strictly increasing")
        n = t.size
        arrays = {"times": t}
        for name in ("train", "test"):
            v = np.asarray(getattr(self, name), dtype=np.float64)
            if v.shape != (n,):
                raise InputError(f"{name} must have shape ({n},) (one loss per time), got {v.shape}")
            if not np.all(np.isfinite(v)) or np.any(v <= 0):
                raise InputError(f"{name} must be finite and positive (losses), got min {np.nanmin(v):g}")
            arrays[name] = v
        p = np.asarray(self.path, dtype=np.float64)
        if p.ndim != 2 or p.shape[0] != n or p.shape[1] < 2:
            raise InputError(f"path must have shape ({n}, d) with d >= 2 (one point per time), got {p.shape}")
        if not np.all(np.isfinite(p)):
            raise InputError("path must be finite (no NaN or inf in the weight path)")
        arrays["path"] = p
        for k, v in arrays.items():
            object.__setattr__(self, k, v)

    @classmethod
    def from_trajectory(cls, traj: Trajectory, prefix: str = PATH_PREFIX, where: str = "traj") -> PairWithPath:
        """The pair (``train_loss`` or ``loss``, ``test_loss``) and the ``prefix*`` channels of a run (times > 0)."""
        if not isinstance(traj, Trajectory):
            raise InputError(f"{where} must be a Trajectory with train/test loss and {prefix}* channels, "
                             f"got {type(traj).__name__}")
        found = {}
        for what, names in (("train", TRAIN_CHANNELS), ("test", TEST_CHANNELS)):
            name = next((c for c in names if traj.has_channel(c)), None)
            if name is None:
                raise InputError(f"{where}: no {what}-loss channel; expected one of {list(names)}, "
                                 f"found {list(traj.channels)}")
            found[what] = traj.channel(name)
        cols = traj.channels_with_prefix(prefix)
        if len(cols) < 2:
            raise InputError(f"{where}: the weight path needs >= 2 channels named {prefix}0, {prefix}1, ...; "
                             f"found {len(cols)} (a network run with projection_dim >= 2, or dmft simulate with n_proj >= 2)")
        keep = traj.times > 0
        path = np.column_stack([traj.channel(c) for c in cols])
        try:
            return cls(traj.times[keep], found["train"][keep], found["test"][keep], path[keep])
        except InputError as exc:
            raise InputError(f"{where}: {exc}") from None


def fixed_projection(d: int, dim: int, seed: int) -> np.ndarray:
    """The fixed Gaussian projection R^d -> R^dim, shape (d, dim), entries N(0, 1/dim) from ``seed``.

    Distances are preserved in expectation (Johnson-Lindenstrauss); the same (d, dim, seed) gives
    the same matrix.
    """
    d = int(check_number("d", d, low=1, integer=True))
    dim = int(check_number("dim", dim, low=1, integer=True))
    rng = np.random.default_rng([int(seed), d, dim])
    return rng.standard_normal((d, dim)) / math.sqrt(dim)


def window_statistics(points, window: int) -> np.ndarray:
    """The four H0 statistics (``STATISTICS``) of each sliding window of a path, shape (n - window + 1, 4).

    ``points`` shape (n, k). A window whose points all coincide gets log_total_h0 = log(1e-300)
    and ratios 1, 0, 1 (no movement: a straight, even, zero-length stretch).
    """
    from toptraj.persistence import h0_mst_diagram

    X = np.asarray(points, dtype=np.float64)
    window = int(window)
    rows = []
    for start in range(X.shape[0] - window + 1):
        W = X[start:start + window]
        bars = h0_mst_diagram(W).finite(0)
        life = bars[:, 1] - bars[:, 0]
        total = float(life.sum())
        diam = float(np.max(np.linalg.norm(W[:, None, :] - W[None, :, :], axis=-1)))
        if total <= 0 or diam <= 0:
            rows.append((math.log(1e-300), 1.0, 0.0, 1.0))
            continue
        p = life[life > 0] / total
        ent = float(-(p * np.log(p)).sum()) / math.log(window - 1)
        rows.append((math.log(total), total / diam, float(life.max()) / total, ent))
    return np.asarray(rows)


def _resample(times, X, grid):
    lt, lg = np.log(times), np.log(grid)
    return np.column_stack([np.interp(lg, lt, X[:, j]) for j in range(X.shape[1])])


def _profile(S, min_size):
    """(split index, cost per admissible split (array over k = min_size..n-min_size), gain) by ruptures."""
    import ruptures

    n = S.shape[0]
    algo = ruptures.Binseg(model="l2", min_size=min_size, jump=1).fit(S)
    k_best = int(algo.predict(n_bkps=1)[0])
    ks = np.arange(min_size, n - min_size + 1)
    cost = np.array([algo.cost.error(0, k) + algo.cost.error(k, n) for k in ks])
    whole = algo.cost.error(0, n)
    gain = 0.0 if whole <= 0 else float(max(0.0, 1.0 - cost[ks == k_best][0] / whole))
    return k_best, ks, cost, gain


def detect_onset(sample, *, signal: str = "path", window: int = 8, dim: int = 16, n_grid: int = 64,
                 level: float = 0.9, seed: int = 0, min_gain: float = 0.2) -> dict:
    """Overfitting onset t_of from the weight-space path (see the module docstring).

    Parameters
    ----------
    sample : PairWithPath or Trajectory
        The run (a Trajectory is read by :meth:`PairWithPath.from_trajectory`).
    signal : {"path", "pair+path"}
        Statistics of the weight path only, or of the weight path and of the loss path.
    window : int
        Sliding-window length in grid points (>= 4, <= n_grid / 3).
    dim : int
        Coordinates of the fixed random projection of the path (>= 2).
    n_grid : int
        Log-spaced resampling points (>= 16).
    level : float
        Nominal level of the interval, in (0, 1).
    seed : int
        Seed of the fixed projection.
    min_gain : float
        A change whose relative l2 cost drop is below this gets a "weak change" note (the estimate
        is still given).

    Returns
    -------
    dict with ``estimate``, ``low``, ``high`` (times in the run's units), ``note``, ``cost_drop``,
    ``grid`` (n_grid,) times, ``centres`` (n_windows,) window centre times and ``statistics``
    (n_windows, 4 or 8) as lists.
    """
    from scipy import stats

    check_choice("signal", signal, SIGNALS)
    window = int(check_number("window", window, low=4, integer=True))
    dim = int(check_number("dim", dim, low=2, integer=True))
    n_grid = int(check_number("n_grid", n_grid, low=16, integer=True))
    if window > n_grid // 3:
        raise InputError(f"window must be <= n_grid // 3 = {n_grid // 3} (room for a change), got {window}")
    level = check_number("level", level, low=0.0, high=1.0, low_open=True, high_open=True)
    seed = int(check_number("seed", seed, low=0, integer=True))
    min_gain = check_number("min_gain", min_gain, low=0.0, high=1.0)
    if isinstance(sample, Trajectory):
        sample = PairWithPath.from_trajectory(sample, where="sample")
    elif not isinstance(sample, PairWithPath):
        raise InputError(f"sample must be a PairWithPath or a Trajectory with a weight path, got {type(sample).__name__}")
    t = sample.times
    path = sample.path
    if path.shape[1] > dim:
        path = path @ fixed_projection(path.shape[1], dim, seed)
    grid = np.geomspace(t[0], t[-1], n_grid)
    S = window_statistics(_resample(t, path, grid), window)
    if signal == "pair+path":
        lg = np.log(grid)
        loss = _resample(t, np.column_stack([np.log(sample.train), np.log(sample.test)]), grid)
        cols = [(lg - lg[0]) / max(lg[-1] - lg[0], 1e-12)] + [(c - c.min()) / max(np.ptp(c), 1e-12) for c in loss.T]
        S = np.column_stack([S, window_statistics(np.column_stack(cols), window)])
    # standardise so that no statistic dominates by its units; constant columns carry no change
    sd = S.std(axis=0)
    sd = np.where(sd > 1e-9 * (1.0 + np.abs(S.mean(axis=0))), sd, 0.0)  # rounding of a constant column is no change
    Z = (S - S.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
    centres = grid[window // 2:][: Z.shape[0]]
    min_size = 3
    extra = {"grid": grid.tolist(), "centres": centres.tolist(), "statistics": S.tolist()}
    if not np.any(sd > 0):
        return {"estimate": math.nan, "low": math.nan, "high": math.nan, "cost_drop": 0.0,
                "note": "the window statistics are constant: the path shows no change", **extra}
    k, ks, cost, gain = _profile(Z, min_size)
    # profile statistic of the change location; overlapping windows: ~1/window of the rows are independent
    sigma2 = max(cost.min() / Z.size, 1e-12)
    accept = ks[(cost - cost.min()) / sigma2 / window <= stats.chi2.ppf(level, 1)]
    j = min(k, centres.size - 1)
    half = window // 2
    lo_i = max(min(int(accept.min()), j - half), 0)
    hi_i = min(max(int(accept.max()), j + half), centres.size - 1)
    note = "" if gain >= min_gain else f"weak change (cost drop {gain:.2f} < {min_gain:g})"
    return {"estimate": float(centres[j]), "low": float(centres[lo_i]), "high": float(centres[hi_i]),
            "cost_drop": gain, "note": note, **extra}
