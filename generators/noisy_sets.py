"""Noisy and foreign data sets for the exponent study, made through the sweep runner and cached.

Each data set is a list of independently drawn parameter points; every point becomes one sweep
config (a dict for :func:`toptraj.sweeps.run_sweep`) whose runs are stored in a store folder and
read back with :func:`toptraj.sweeps.load_sweep`. A second call with the same seed finds the runs
done and only reads them (the store is the cache); the same seed gives the same numbers.

Every run gets a random amplitude A (log-uniform in [0.1, 10]) and time scale tau (log-uniform in
[0.3, 3]): L_obs(t) = A L(tau t) (docs/theory/study.rst section 2). The generator is run on the
times tau * t (steps rounded, duplicates dropped) and the result is relabelled to t.

Kinds (``KINDS``) and their targets:

- ``dmft_sim``: finite simulations of the DMFT model (``dmft.simulate``, gradient flow, one
  realisation of features and data per seed), N log-uniform in [64, 1024], P in [256, 4096],
  M = 2000 modes; channels test_loss, train_loss, H_k (k = 1..64), proj_j. Target r = (a-1)/b
  (and (a, b) for ``order_parameters``), a in [1.1, 3], b in [1.05, 2.5] (the theory's prior).
- ``plrf_sgd``: one-pass SGD on power-law random features (``plrf.simulate_sgd``), d
  log-uniform in [100, 400], steps up to 2e4 with the default step size. In DMFT notation the
  model has b = 2 alpha and a = 2 alpha + 2 beta (eigenvalues j^-2alpha, target power
  j^-2alpha j^-2beta), so the time exponent of its deterministic forcing F_pp is
  r = (2 alpha + 2 beta - 1)/(2 alpha) (docs/theory/plrf.rst section 3). Points are drawn in
  phases I and II only (alpha in [0.55, 1.25], beta in [0.3, min(alpha, 1.2)) ), where F_pp, not
  the SGD noise K_pp, sets the decay; channels: the loss (renamed test_loss) and proj_j of theta.
- ``maloney``: the latent-space model's theory loss along the number of samples T (N = inf,
  M = 1e5), T from 2 to 2e4; target the curve's power-law exponent alpha (L ~ T^-alpha,
  docs/theory/maloney.rst), alpha in [0.1, 2] (a = 1 + alpha in the DMFT prior's range). Not a
  time curve: a test of whether a curve model transfers to another axis.
- ``network``: small MLPs trained by SGD on MNIST-1D or digits (``network.train_widths`` at
  widths 16 and 64, one seed), lr log-uniform in [0.02, 0.3], depth 2 or 3, batch 16 or 64.
  Target: the measured test-loss time exponent of each width (generators/networks/truth.py:
  slope over log-time fraction >= 0.3 up to the test-loss minimum), not a theory value.

Cost (2-core machine, one thread): dmft_sim ~1-2 s per run, plrf_sgd ~0.3 s, maloney ~0.3 s,
network ~5-15 s per width.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np

from generators.exponent_sets import A_RANGE, AMPLITUDE, B_RANGE, MODES, TIME_SCALE, _loguniform, normalised

KINDS = ("dmft_sim", "plrf_sgd", "maloney", "network")
#: Input types each kind gives (order_parameters: the DMFT simulation's per-mode H_k).
INPUT_TYPES = {"dmft_sim": ("curve", "pair", "weights", "order_parameters"), "plrf_sgd": ("curve", "weights"),
               "maloney": ("curve",), "network": ("curve", "pair", "weights")}
_LOSS = {"plrf_sgd": "loss", "maloney": "theory_loss"}


def plrf_time_exponent(alpha: float, beta: float) -> float:
    """r = (2 alpha + 2 beta - 1)/(2 alpha): the decay exponent of PLRF's forcing F_pp in t = gamma B r.

    In DMFT notation (a = 2 alpha + 2 beta, b = 2 alpha) this is (a - 1)/b.
    """
    if not (alpha > 0 and math.isfinite(alpha)):
        raise ValueError(f"alpha must be a finite number > 0, got {alpha!r}")
    if not (math.isfinite(beta) and 2 * (alpha + beta) > 1):
        raise ValueError(f"beta must be finite with 2 (alpha + beta) > 1, got alpha={alpha!r}, beta={beta!r}")
    return (2 * alpha + 2 * beta - 1) / (2 * alpha)


def _check(kind: str, n_points: int, seed: int, n_times: int) -> None:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {list(KINDS)}, got {kind!r}")
    for name, v, lo in (("n_points", n_points, 1), ("seed", seed, 0), ("n_times", n_times, 8)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
            raise ValueError(f"{name} must be an integer >= {lo}, got {v!r}")


def draw_configs(kind: str, n_points: int, seed: int, n_times: int = 48) -> list[tuple[dict, dict]]:
    """Sweep configs of ``n_points`` independently drawn parameter points.

    Returns
    -------
    list of (config, meta): ``config`` a dict for :func:`toptraj.sweeps.run_sweep`; ``meta`` has
    the normalisation ``A``, ``tau``, the observed ``times`` (array) and the targets ``r`` (and
    ``a``, ``b`` where defined; network targets are read from the runs' measured labels).
    """
    _check(kind, n_points, seed, n_times)
    rng = np.random.default_rng([seed, KINDS.index(kind)])
    out = []
    for _ in range(n_points):
        A, tau = _loguniform(rng, *AMPLITUDE), _loguniform(rng, *TIME_SCALE)
        if kind == "dmft_sim":
            a, b = float(rng.uniform(*A_RANGE)), float(rng.uniform(*B_RANGE))
            N, P = float(round(_loguniform(rng, 64, 1024))), float(round(_loguniform(rng, 256, 4096)))
            times = np.geomspace(1.0, 1e4, n_times)
            cfg = {"generator": "dmft", "function": "simulate", "seeds": [int(rng.integers(0, 2**31))],
                   "params": {"a": a, "b": b, "M": 2000, "N": N, "P": P},
                   "axis": {"times": [float(x) for x in tau * times]}, "options": {"modes": list(MODES)}}
            meta = {"r": (a - 1) / b, "a": a, "b": b}
        elif kind == "plrf_sgd":
            alpha = float(rng.uniform(0.55, 1.25))
            beta = float(rng.uniform(0.3, min(alpha, 1.2)))
            d = int(round(_loguniform(rng, 100, 400)))
            steps = np.unique(np.round(tau * np.geomspace(1.0, 2e4, n_times)).astype(np.int64))
            steps = steps[steps >= 1]
            times = steps / tau
            cfg = {"generator": "plrf", "function": "simulate_sgd", "seeds": [int(rng.integers(0, 2**31))],
                   "params": {"alpha": alpha, "beta": beta, "d": d}, "axis": {"steps": [int(s) for s in steps]}}
            meta = {"r": plrf_time_exponent(alpha, beta), "alpha": alpha, "beta": beta}
        elif kind == "maloney":
            alpha = float(rng.uniform(0.1, 2.0))
            T = np.unique(np.round(tau * np.geomspace(2.0, 2e4, n_times)).astype(np.int64))
            times = T / tau
            cfg = {"generator": "maloney", "function": "scaling_curve",
                   "params": {"alpha": alpha, "M": 100000, "N": math.inf},
                   "axis": {"name": "T", "values": [int(v) for v in T]}}
            meta = {"r": alpha, "alpha": alpha}
        else:  # network
            cfg = {"generator": "network", "function": "train_widths", "seeds": [0],
                   "params": {"dataset": str(rng.choice(["mnist1d", "digits"])), "arch": "mlp",
                              "lr": round(_loguniform(rng, 0.02, 0.3), 4), "depth": int(rng.choice([2, 3])),
                              "batch_size": int(rng.choice([16, 64])), "steps": 1500, "n_record": n_times,
                              "device": "cpu", "data_seed": int(rng.integers(0, 1000)),
                              "projection_dim": 16},
                   "options": {"widths": [16, 64]}}
            times = None
            meta = {}
        out.append((cfg, {"A": A, "tau": tau, "times": times, **meta}))
    return out


def _relabel(traj, kind: str, meta: dict):
    """Rename the loss channel to test_loss and apply the run's normalisation (A, tau)."""
    if kind in _LOSS:
        traj = replace(traj, channels=tuple("test_loss" if c == _LOSS[kind] else c for c in traj.channels))
    times = meta["times"] if meta["times"] is not None else np.asarray(traj.times, dtype=np.float64) / meta["tau"]
    return normalised(traj, meta["A"], meta["tau"], times)


def load_runs(kind: str, input_type: str, n_points: int, seed: int, store, n_times: int = 48, progress=None):
    """Run (or find in ``store``) and load a data set of ``kind`` for ``input_type``.

    Parameters
    ----------
    kind : one of :data:`KINDS`
    input_type : one of ``INPUT_TYPES[kind]``
    n_points : int >= 1, parameter points (network: configs, each giving one run per width)
    seed : int >= 0; same seed, same points and runs
    store : path of the sweep store folder (created if needed; runs already done are reused)
    n_times : int >= 8, logged times per run
    progress : callable(str) or None, called once per point

    Returns
    -------
    items : list of Trajectory (n,)
    y : array (n,) of r, or (n, 2) of (a, b) for order_parameters
    groups : array (n,) of int, the parameter point of each run
    """
    from toptraj.sweeps import load_sweep, run_sweep

    _check(kind, n_points, seed, n_times)
    if input_type not in INPUT_TYPES[kind]:
        raise ValueError(f"input_type must be one of {list(INPUT_TYPES[kind])} for kind={kind!r}, got {input_type!r}")
    store = Path(store)
    items, y, groups = [], [], []
    for g, (cfg, meta) in enumerate(draw_configs(kind, n_points, seed, n_times)):
        if progress is not None:
            progress(f"{kind} point {g + 1}/{n_points}")
        res = run_sweep(cfg, store, progress=False)
        if res.n_failed:
            raise RuntimeError(f"{kind} point {g}: {res.summary()}")
        for t in load_sweep(cfg, store):
            t = _relabel(t, kind, meta)
            if kind == "network":
                r = float(t.labels.get("time_exponent", math.nan))
                if not (math.isfinite(r) and r > 0):
                    continue  # the measured exponent is not determinable for this width
                target = r
            else:
                target = [meta["a"], meta["b"]] if input_type == "order_parameters" else meta["r"]
            items.append(t)
            y.append(target)
            groups.append(g)
    return items, np.asarray(y, dtype=np.float64), np.asarray(groups)
