"""Data sets for learning exponents from early training: DMFT runs with random normalisation.

Every run gets a random amplitude A (log-uniform in [0.1, 10]) and time scale tau (log-uniform in
[0.3, 3]): L_obs(t) = A L(tau t) (docs/theory/study.rst section 2), shared by all runs of one
sweep. Parameters are drawn from wide priors: a in [1.1, 3], b in [1.05, 2.5], and (prior
``"wide"``) N, P over decades including infinity, M over decades (the tail quadrature of
:func:`generators.dmft.solve` makes M = 1e8 as cheap as 1e4); prior ``"time"`` keeps N = P = inf
(the time-bottleneck regime, where L ~ t^-(a-1)/b holds to the end of the run).

Each builder returns a list of items (Trajectory or :class:`toptraj.predictor.Sweep`), the targets
array and the groups (one per (a, b) point). Same seed, same data.

Cost: a theory curve at N = P = inf costs ~0.05 s; with finite N or P ~0.5-1 s (96 times).
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from generators import dmft

A_RANGE = (1.1, 3.0)
B_RANGE = (1.05, 2.5)
AMPLITUDE = (0.1, 10.0)
TIME_SCALE = (0.3, 3.0)
PRIORS = ("time", "wide")
MODES = (1, 2, 4, 8, 16, 32, 64)


def default_times(n_times: int = 96, t_end: float = 1e4) -> np.ndarray:
    """The logging grid: n_times log-spaced times from 1 to t_end."""
    return np.geomspace(1.0, t_end, n_times)


def _loguniform(rng, lo, hi) -> float:
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def draw_point(rng, prior: str = "time") -> dict:
    """One parameter point: a, b, M, N, P and the normalisation (A, tau)."""
    a = float(rng.uniform(*A_RANGE))
    b = float(rng.uniform(*B_RANGE))
    M = int(round(_loguniform(rng, 1e5, 1e8)))
    N = P = math.inf
    if prior == "wide":
        if rng.uniform() < 0.6:
            N = float(round(_loguniform(rng, 64, 8192)))
        if rng.uniform() < 0.4:
            P = float(round(_loguniform(rng, 128, 16384)))
    elif prior != "time":
        raise ValueError(f"prior must be one of {list(PRIORS)}, got {prior!r}")
    return {"a": a, "b": b, "M": M, "N": N, "P": P, "A": _loguniform(rng, *AMPLITUDE),
            "tau": _loguniform(rng, *TIME_SCALE)}


def normalised(traj, A: float, tau: float, times: np.ndarray):
    """Trajectory on ``times`` from one solved at tau * times: losses and weights times A."""
    vals = np.array(traj.values)
    for j, c in enumerate(traj.channels):
        if c in ("test_loss", "train_loss", "bias") or c.startswith("proj_") or c.startswith("v0_"):
            vals[:, j] *= A
    params = {**traj.params, "amplitude": A, "time_scale": tau}
    return replace(traj, times=np.asarray(times, dtype=np.float64), values=vals, params=params)


def dmft_run(point: dict, times: np.ndarray, modes=(), n_nodes: int = 16):
    """One DMFT theory run (gradient flow) at a drawn point, normalised."""
    p = dmft.DMFTParams(point["a"], point["b"], int(point["M"]), point["N"], point["P"])
    t = dmft.solve(p, point["tau"] * times, modes=modes, n_nodes=n_nodes, with_labels=False)
    return normalised(t, point["A"], point["tau"], times)


def weight_path(point: dict, times: np.ndarray, n_proj: int = 8, M: int = 20000):
    """Infinite-width, infinite-data residual path v0_k(t) = w*_k exp(-lambda_k t), projected by
    :func:`generators.dmft.projection_matrix` (the projection ``simulate`` uses), with its loss.

    Finite M = 20000 modes (a simulation's cap); the loss is exact for that M.
    """
    from toptraj import provenance
    from toptraj.trajectory import Trajectory

    a, b = point["a"], point["b"]
    k = np.arange(1, M + 1, dtype=np.float64)
    lam, lam_w2 = k**-b, k**-a
    wstar = np.sqrt(lam_w2 / lam)
    t = point["tau"] * np.asarray(times, dtype=np.float64)
    v0 = wstar[None, :] * np.exp(-np.outer(t, lam))
    loss = (v0**2) @ lam
    proj = v0 @ dmft.projection_matrix(M, n_proj).T
    values = np.column_stack([loss, proj])
    names = ("test_loss", *(f"proj_{j}" for j in range(n_proj)))
    lab = {"a": a, "b": b, "time_exponent": dmft.time_exponent(a, b)}
    traj = Trajectory(times=t, values=values, channels=names, source="dmft",
                      params={"a": a, "b": b, "M": M, "N": math.inf, "P": math.inf}, labels=lab,
                      provenance=provenance.collect())
    return normalised(traj, point["A"], point["tau"], times)


def make_single(input_type: str, n_points: int, seed: int, prior: str = "time", times=None, runs_per_point: int = 1):
    """Runs for a single-trajectory input type.

    Returns
    -------
    items : list of Trajectory, length n_points * runs_per_point
    y : array (n,) r = (a-1)/b for curve, pair, weights; (n, 2) (a, b) for order_parameters
    groups : array (n,) of int, the (a, b) point
    """
    times = default_times() if times is None else np.asarray(times)
    rng = np.random.default_rng(seed)
    items, y, groups = [], [], []
    for g in range(n_points):
        base = draw_point(rng, prior)
        if input_type == "pair" and math.isinf(base["P"]):
            base["P"] = float(round(_loguniform(rng, 128, 16384)))  # a pair needs finite data
        for _ in range(runs_per_point):
            pt = {**base, "A": _loguniform(rng, *AMPLITUDE), "tau": _loguniform(rng, *TIME_SCALE)}
            if input_type == "weights":
                tr = weight_path(pt, times)
            elif input_type == "order_parameters":
                tr = dmft_run(pt, times, modes=MODES)
            else:
                tr = dmft_run(pt, times)
            items.append(tr)
            a, b = pt["a"], pt["b"]
            y.append([a, b] if input_type == "order_parameters" else (a - 1) / b)
            groups.append(g)
    return items, np.asarray(y, dtype=np.float64), np.asarray(groups)


def make_sweeps(kind: str, n_points: int, seed: int, n_sizes: int = 4, times=None):
    """Width sweeps (N = n0 2^i, P = inf) or data sweeps (P = n0 2^i, N = inf) of one task each.

    n0 is log-uniform in [32, 512]; A and tau are shared by the runs of a sweep.

    Returns
    -------
    items : list of Sweep; y : array (n, 2) of (a, b); groups : array (n,)
    """
    from toptraj.predictor import Sweep

    times = default_times() if times is None else np.asarray(times)
    rng = np.random.default_rng(seed)
    items, y = [], []
    axis = "N" if kind == "width_sweep" else "P"
    for _ in range(n_points):
        pt = draw_point(rng, "time")
        n0 = _loguniform(rng, 32, 512)
        sizes = tuple(float(round(n0 * 2**i)) for i in range(n_sizes))
        runs = [dmft_run({**pt, axis: s}, times) for s in sizes]
        items.append(Sweep(sizes, tuple(runs), axis=axis, labels={"a": pt["a"], "b": pt["b"]}))
        y.append([pt["a"], pt["b"]])
    return items, np.asarray(y, dtype=np.float64), np.arange(n_points)
