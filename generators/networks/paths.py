"""Topology of the weight-sketch path of a network run, against its generalisation gap and t_of.

A run records a fixed random sketch of its parameters (``proj_*`` channels, see
:class:`generators.networks.SparseSketch`) on its log-spaced record grid: a path of n_record
points in R^d. Measured per run (docs/theory/networks.rst):

* Vietoris-Rips persistence of the whole path (H0, H1) with :func:`toptraj.persistence.rips_diagram`:
  H0 and H1 total persistence divided by the path's arc length (scale-free: a straight path has
  H0 total = arc length, ratio 1; a path that folds back or dithers has a smaller ratio),
  the number of H1 bars and the H0 persistence entropy;
* the PH dimension (Birdal et al. 2021, :func:`toptraj.features.ph_dimension`, alpha = 1) of the
  path's points, subsample sizes from n/4 to n;
* a windowed statistic for onset detection: s(window) = the H0 persistence entropy of ``window``
  consecutive records divided by log(window - 1) (1 when all minimum-spanning-tree edges are
  equal, i.e. the path moves at constant speed in log-time, lower when a few steps dominate or the
  path dithers); ``t_topo`` is the first window end where s crosses the midpoint between its first
  value and its extreme value later in the run (the same midpoint rule as the label definition of
  t_x), NaN when the change is below ``min_contrast``. (H0 total / arc length, the first choice,
  is exactly 1 on every measured run: on the log-spaced record grid consecutive records are
  always nearest neighbours, so the minimum spanning tree is the path itself);
* baselines on the same run: final parameter norm, final generalisation gap (test - train loss).

Nothing is tuned to t_of: the rules above are fixed before looking at any run.
Cost per run: one Rips diagram of n points (ripser, O(n^3) worst case; n <= 200) and n_windows
minimum spanning trees.
"""

from __future__ import annotations

import math

import numpy as np

from toptraj.trajectory import Trajectory
from toptraj.validation import check_number

__all__ = ["path_points", "path_topology", "windowed_statistic", "topological_onset"]


def path_points(traj: Trajectory, prefix: str = "proj_") -> np.ndarray:
    """The sketch path of a run, shape (n_record, d)."""
    if not isinstance(traj, Trajectory):
        raise ValueError(f"traj must be a Trajectory, got {type(traj).__name__}")
    cols = traj.channels_with_prefix(prefix)
    if len(cols) < 2:
        raise ValueError(f"traj has {len(cols)} channels starting with {prefix!r}; the path needs >= 2 (projection_dim >= 2)")
    return np.column_stack([traj.channel(c) for c in cols])


def _arc_length(x: np.ndarray) -> float:
    return float(np.linalg.norm(np.diff(x, axis=0), axis=1).sum())


def path_topology(traj: Trajectory, prefix: str = "proj_", seed: int = 0) -> dict:
    """Persistence summaries and PH dimension of a run's sketch path (see the module docstring).

    Returns a dict of floats: h0_ratio, h1_ratio, h1_count, h0_entropy, ph_dimension, arc_length,
    final_param_norm, final_gap (test - train loss at the last record), t_of (the run's label).
    """
    from toptraj.features import alpha_weighted_sum, persistence_entropy, ph_dimension
    from toptraj.persistence import rips_diagram

    x = path_points(traj, prefix)
    n = x.shape[0]
    if n < 8:
        raise ValueError(f"the path has {n} records; path topology needs >= 8 (n_record)")
    arc = _arc_length(x)
    diag = rips_diagram(x, maxdim=1)
    h1 = diag.pairs[1]
    try:
        dim = ph_dimension(x, alpha=1.0, n_min=max(4, n // 4), n_max=n, n_sizes=6, seed=seed)
    except ValueError:
        dim = math.nan
    return {
        "h0_ratio": alpha_weighted_sum(diag, 0, 1.0) / arc if arc > 0 else math.nan,
        "h1_ratio": alpha_weighted_sum(diag, 1, 1.0) / arc if arc > 0 else math.nan,
        "h1_count": float(h1.shape[0]),
        "h0_entropy": persistence_entropy(diag, 0),
        "ph_dimension": float(dim),
        "arc_length": arc,
        "final_param_norm": float(traj.channel("param_norm")[-1]) if "param_norm" in traj.channels else math.nan,
        "final_gap": float(traj.channel("test_loss")[-1] - traj.channel("train_loss")[-1]),
        "t_of": float(traj.labels.get("t_of", math.nan)),
    }


def windowed_statistic(traj: Trajectory, window: int = 12, prefix: str = "proj_") -> tuple[np.ndarray, np.ndarray]:
    """s = H0 persistence entropy / log(window - 1) over sliding windows of ``window`` consecutive records.

    Returns (end times (n - window + 1,), s (same shape)).
    """
    window = check_number("window", window, low=3, integer=True)
    x = path_points(traj, prefix)
    n = x.shape[0]
    if n < window + 2:
        raise ValueError(f"the path has {n} records; window={window} needs at least {window + 2}")
    from toptraj.features import persistence_entropy
    from toptraj.persistence import h0_mst_diagram

    ends, vals = [], []
    for i in range(n - window + 1):
        seg = x[i : i + window]
        diag = h0_mst_diagram(seg)
        vals.append(persistence_entropy(diag, 0) / math.log(window - 1) if _arc_length(seg) > 0 else math.nan)
        ends.append(traj.times[i + window - 1])
    return np.asarray(ends, float), np.asarray(vals, float)


def topological_onset(traj: Trajectory, window: int = 12, min_contrast: float = 0.05, prefix: str = "proj_") -> float:
    """t_topo: first window end where the windowed statistic crosses the midpoint between its first
    value and its most distant later value; NaN when that distance is below ``min_contrast``."""
    from toptraj.transitions import first_reach

    t, s = windowed_statistic(traj, window, prefix)
    ok = np.isfinite(s)
    if ok.sum() < 3:
        return math.nan
    t, s = t[ok], s[ok]
    far = int(np.argmax(np.abs(s - s[0])))
    if abs(s[far] - s[0]) < min_contrast:
        return math.nan
    level = 0.5 * (s[0] + s[far])
    return first_reach(t, s, level, direction=1 if s[far] > s[0] else -1)
