"""`toptraj demo`: predict the time exponent (a-1)/b from the first part of training.

The job, end to end:

1. Generate mode-sum loss curves on a grid of (a, b) (a in [1.2, 3], b in [1.05, 2.5]), several
   seeds per point. Each run gets a random amplitude (x 0.1..10) and time-scale factor
   (x 0.3..3) and 2% log-normal observation noise: a real run's normalisation and learning rate
   are unknown, so no predictor may read the answer off them (in the raw model L(0) = zeta(a)
   would give a away). From one loss curve only (a-1)/b is identifiable, so that is the target.
2. Keep the first ``fraction`` of each run (linear steps by default, as a user would count).
3. Grouped 5-fold cross-validation holding out whole (a, b) points: topological features,
   baselines, both combined, a time-shuffled null for topology, two direct (untrained)
   estimators and the training mean.
4. Print a table of MAE and R^2; write report.json (numbers, config, provenance), figures and
   the error against the observed fraction.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from toptraj import provenance
from toptraj.io import atomic_write_text, save_set
from toptraj.trajectory import TrajectorySet
from toptraj.validation import check_choice, check_fraction, check_seed


@dataclass(frozen=True)
class DemoConfig:
    """Size of the demo. ``quick()`` is the seconds-long version used in tests."""

    n_a: int = 7
    n_b: int = 6
    n_seeds: int = 3
    n_times: int = 160
    t_end: float = 1e4
    noise: float = 0.02
    fraction: float = 0.2
    scale: str = "linear"
    fractions_curve: tuple = (0.1, 0.2, 0.3, 0.5)
    n_splits: int = 5
    seed: int = 0

    @classmethod
    def quick(cls, **kw) -> DemoConfig:
        return cls(**{"n_a": 4, "n_b": 3, "n_seeds": 2, "n_times": 80, "fractions_curve": (), **kw})


def make_dataset(cfg: DemoConfig) -> TrajectorySet:
    """Mode-sum runs on the (a, b) grid with random amplitude and time-scale factors."""
    from toptraj.registry import get_generator

    modesum = get_generator("modesum")  # the core reaches generators only through the registry
    ModesumParams, solve = modesum.params, modesum.function("solve").function
    rng = np.random.default_rng(cfg.seed)
    times = np.geomspace(1.0, cfg.t_end, cfg.n_times)
    runs = []
    for a in np.linspace(1.2, 3.0, cfg.n_a):
        for b in np.linspace(1.05, 2.5, cfg.n_b):
            for _ in range(cfg.n_seeds):
                p = ModesumParams(
                    a=float(a), b=float(b),
                    amplitude=float(np.exp(rng.uniform(np.log(0.1), np.log(10.0)))),
                    time_scale=float(np.exp(rng.uniform(np.log(0.3), np.log(3.0)))),
                    noise=cfg.noise,
                )
                runs.append(solve(p, times, seed=int(rng.integers(2**31))))
    return TrajectorySet(runs)


def _groups_by_exponents(tset: TrajectorySet) -> np.ndarray:
    # Group by (a, b) only: amplitude and time scale differ per run but the point is the same.
    keys = [f"{t.labels['a']:.6f},{t.labels['b']:.6f}" for t in tset]
    return np.unique(keys, return_inverse=True)[1]


def _table(results: dict) -> str:
    lines = [f"{'method':<22} {'MAE':>8} {'R^2':>8}", "-" * 40]
    for name, r in results.items():
        lines.append(f"{name:<22} {r.mae:>8.4f} {r.r2:>8.3f}")
    return "\n".join(lines)


def run_demo(out: str | Path = "out/demo", quick: bool = False, seed: int = 0, fraction: float = 0.2, scale: str = "linear") -> int:
    """Run the demo; returns the exit status (0). See the module docstring."""
    fraction = check_fraction("--fraction", fraction)
    check_choice("--scale", scale, ("linear", "log"))
    seed = check_seed("--seed", seed)
    if seed is None:
        raise ValueError("--seed must be a non-negative integer, got None")
    from tqdm.auto import tqdm

    from toptraj import plotting
    from toptraj.regression import evaluate, observed

    cfg = (DemoConfig.quick if quick else DemoConfig)(seed=seed, fraction=fraction, scale=scale)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    full = make_dataset(cfg)
    groups = _groups_by_exponents(full)
    print(f"generated {len(full)} runs at {groups.max() + 1} (a, b) points in {time.perf_counter() - t0:.1f}s", file=sys.stderr)

    # The main table at the requested fraction and scale; then error against the fraction observed
    # on both time axes (a log-time fraction is much harder: 20% of 4 decades is t <= 6).
    methods_main = ("topology", "baseline", "combined", "null_topology", "direct_loglog_slope", "direct_power_law_r", "mean")
    methods_curve = ("topology", "baseline", "combined", "direct_loglog_slope")
    jobs = [(cfg.fraction, cfg.scale, methods_main)]
    jobs += [(f, sc, methods_curve) for sc in ("linear", "log") for f in cfg.fractions_curve if (f, sc) != (cfg.fraction, cfg.scale)]
    n_fits = sum(sum(m not in ("mean", "direct_loglog_slope", "direct_power_law_r") for m in ms) * cfg.n_splits for _, _, ms in jobs)
    per_fraction: dict[str, dict] = {"linear": {}, "log": {}}
    with tqdm(total=n_fits, desc="cross-validation fits", file=sys.stderr, disable=None) as bar:
        for f, sc, methods in jobs:
            res = evaluate(observed(full, f, sc), "time_exponent", methods=methods,
                           n_splits=cfg.n_splits, seed=cfg.seed, groups=groups, progress=bar)
            per_fraction[sc][f] = res
    main = per_fraction[cfg.scale][cfg.fraction]
    elapsed = time.perf_counter() - t0

    header = f"time exponent (a-1)/b from the first {cfg.fraction:.0%} of training ({cfg.scale} steps), held-out (a, b) points"
    print(header)
    print(_table(main))
    report = {
        "task": "predict time_exponent = (a-1)/b from early training",
        "config": asdict(cfg),
        "n_runs": len(full),
        "n_points": int(groups.max() + 1),
        "results": {k: v.as_dict() for k, v in main.items()},
        "error_vs_fraction": {
            sc: {str(f): {k: v.as_dict() for k, v in r.items()} for f, r in sorted(d.items())} for sc, d in per_fraction.items()
        },
        "seconds": round(elapsed, 2),
        "provenance": provenance.collect(),
    }
    atomic_write_text(out / "report.json", json.dumps(report, indent=1, default=str))
    save_set(full, out / "trajectories", prefix="modesum")
    _figures(full, main, per_fraction, cfg, out, plotting)
    print(f"wrote {out / 'report.json'} and figures in {out} ({elapsed:.1f}s)")
    return 0


def _figures(full, main, per_fraction, cfg, out, plotting) -> None:
    from toptraj.regression import topology_diagrams

    # Loss curves of a few runs with the observed window.
    fig, axes = plotting.new_axes(2)
    pick = TrajectorySet([full[i] for i in np.linspace(0, len(full) - 1, 6).astype(int)])
    plotting.plot_loss_curves(pick, ax=axes[0])
    axes[0].set_title("loss curves (random amplitude and time scale)", fontsize=9)
    cut = full[0].truncate(cfg.fraction, cfg.scale).times[-1]
    plotting.plot_loss_curves(TrajectorySet([full[0]]), ax=axes[1], cut=cut)
    axes[1].set_title(f"observed part: first {cfg.fraction:.0%}", fontsize=9)
    plotting.save_figure(fig, out / "loss_curves.png")

    # Diagrams of the two branches for a shallow and a steep run.
    seen = [full[0].truncate(cfg.fraction, cfg.scale), full[-1].truncate(cfg.fraction, cfg.scale)]
    diagrams = topology_diagrams(seen)
    rips, stars = diagrams["curve"], diagrams["slope"]
    fig, axes = plotting.new_axes(2, 2)
    for j, t in enumerate(seen):
        r = t.labels["time_exponent"]
        plotting.plot_diagram(rips[j], ax=axes[j], title=f"curve Rips, exponent {r:.2f}")
        plotting.plot_diagram(stars[j], ax=axes[2 + j], title=f"slope lower-star, exponent {r:.2f}")
    plotting.save_figure(fig, out / "diagrams.png")

    # Predicted vs true per method.
    names = [m for m in main if m != "mean"]
    fig, axes = plotting.new_axes(3, (len(names) + 2) // 3)
    for ax, m in zip(axes, names):
        r = main[m]
        plotting.plot_predicted_vs_true(r.y_true, r.y_pred, ax=ax, title=f"{m}: MAE {r.mae:.3f}, R2 {r.r2:.2f}")
    plotting.save_figure(fig, out / "predicted_vs_true.png")

    if any(len(d) > 1 for d in per_fraction.values()):
        fig, axes = plotting.new_axes(2)
        for ax, sc in zip(axes, ("linear", "log")):
            fr = sorted(per_fraction[sc])
            for m in ("topology", "baseline", "combined", "direct_loglog_slope"):
                ax.plot([100 * f for f in fr], [per_fraction[sc][f][m].mae for f in fr], marker="o", label=m)
            ax.set_xlabel(f"% of training observed ({sc} time axis)")
            ax.set_ylabel("MAE of (a-1)/b")
            ax.set_yscale("log")
            ax.legend(fontsize=7)
        plotting.save_figure(fig, out / "error_vs_fraction.png")
