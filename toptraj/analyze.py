"""`toptraj analyze`: a user's own loss curves (CSV: step, loss[, test_loss][, run]), or stored
trajectories (`.npz` from `toptraj generate`/`sweep`, or a folder of them).

For each run: the fitted time exponent r of L ~ L0 + A t^-r with its standard error, the late
log-log slope with its standard error, a topological summary of the curve (persistence of the
log-log path and of its local slope), and, when a test loss is present, the overfitting onset
(first step where (test - train) / test reaches 0.1, the definition of docs/theory/dmft.rst,
Labels). Prints a table and writes summary.json and a plot into ``out``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from toptraj import provenance
from toptraj.baselines import fit_offset_power_law, loglog_slope
from toptraj.io import atomic_write_text, load_set, load_trajectory, read_loss_logs
from toptraj.trajectory import Trajectory, TrajectorySet
from toptraj.transitions import overfitting_onset


def topological_summary(traj: Trajectory, channel: str = "loss") -> dict:
    """Counts and entropies of the curve's Rips and slope lower-star diagrams."""
    from toptraj.features import lifetime_stats, persistence_entropy
    from toptraj.regression import topology_diagrams

    pos = traj.times > 0
    t = traj.window(traj.times[pos][0], traj.times[-1]) if pos.sum() < len(pos) else traj
    n_points = int(min(64, max(8, t.n_steps)))
    diagrams = topology_diagrams([t], channel, n_points)
    rips, star = diagrams["curve"][0], diagrams["slope"][0]
    out = {}
    for name, d in (("curve_rips", rips), ("slope_lower_star", star)):
        for q in d.dims:
            stats = lifetime_stats(d, q)
            out[f"{name}_H{q}_bars"] = int(stats["count"])
            out[f"{name}_H{q}_total_persistence"] = float(stats["total"])
            out[f"{name}_H{q}_entropy"] = float(persistence_entropy(d, q))
    out["steepest_slope"] = float(star.essential(0)[0]) if len(star.essential(0)) else math.nan
    return out


#: Channels read as the (training) loss, in order of preference; CSV logs use "loss", generated
#: trajectories "train_loss", "loss" (PLRF) or only "test_loss" (mode-sum, DMFT at infinite data).
LOSS_CHANNELS = ("loss", "train_loss", "test_loss")


def loss_channels(traj: Trajectory) -> tuple[str, str | None]:
    """(loss channel, test-loss channel or None) of a trajectory; ValueError if it has no loss."""
    for name in LOSS_CHANNELS:
        if traj.has_channel(name):
            test = "test_loss" if name != "test_loss" and traj.has_channel("test_loss") else None
            return name, test
    raise ValueError(f"{traj.source or 'trajectory'}: no loss channel; expected one of {list(LOSS_CHANNELS)}")


def read_runs(path: str | Path) -> TrajectorySet:
    """CSV logs (a file or a folder of .csv) or stored trajectories (a .npz or a folder of them)."""
    path = Path(path)
    if path.suffix == ".npz" or (path.is_dir() and any(path.glob("*.npz")) and not any(path.glob("*.csv"))):
        return TrajectorySet([load_trajectory(path)]) if path.suffix == ".npz" else load_set(path)
    return read_loss_logs(path)


def analyze_run(traj: Trajectory) -> dict:
    """Summary dict of one run (see module docstring)."""
    loss, test = loss_channels(traj)
    t, y = traj.times, traj.channel(loss)
    fit = fit_offset_power_law(t, y)
    late = loglog_slope(t, y, last=1 / 3)
    res = {
        "run": traj.source,
        "n_points": traj.n_steps,
        "steps": [float(t[0]), float(t[-1])],
        "time_exponent": fit.r,
        "time_exponent_stderr": fit.r_stderr,
        "offset_L0": fit.L0,
        "fit_rmse_log": fit.rmse_log,
        "late_loglog_slope": late.slope,
        "late_loglog_slope_stderr": late.stderr,
        "loss_channel": loss,
        "topology": topological_summary(traj, loss),
    }
    if test is not None:
        res["overfitting_onset_step"] = overfitting_onset(t, y, traj.channel(test))
    return res


def run_analyze(path: str | Path, out: str | Path | None = None) -> int:
    """Analyse a CSV file or folder; print a table; write summary.json and loss.png into ``out``."""
    runs = read_runs(path)
    results = [analyze_run(t) for t in runs]
    print(f"{'run':<32} {'r = time exponent':>20} {'late slope':>16} {'overfit onset':>14}")
    for r in results:
        onset = r.get("overfitting_onset_step", math.nan)
        print(
            f"{r['run'][-32:]:<32} {r['time_exponent']:>10.4f} +- {r['time_exponent_stderr']:<7.4f}"
            f" {r['late_loglog_slope']:>8.4f} +- {r['late_loglog_slope_stderr']:<6.3f}"
            f" {onset:>12.4g}"
        )
        topo = r["topology"]
        print(
            f"{'':<32} topology: slope lower-star H0 bars {topo['slope_lower_star_H0_bars']},"
            f" curve Rips H1 bars {topo['curve_rips_H1_bars']}, steepest slope {topo['steepest_slope']:.3f}"
        )
    if out is not None:
        from toptraj import plotting

        out = Path(out)
        summary = {"input": str(path), "runs": results, "provenance": provenance.collect()}
        atomic_write_text(out / "summary.json", json.dumps(summary, indent=1, default=str))
        fig, (ax,) = plotting.new_axes()
        for t in runs:
            for ch in loss_channels(t):
                if ch is not None:
                    keep = t.times > 0
                    ax.loglog(t.times[keep], t.channel(ch)[keep], label=f"{t.source} {ch}")
        ax.set_xlabel("step")
        ax.set_ylabel("loss")
        ax.legend(fontsize=7)
        plotting.save_figure(fig, out / "loss.png")
        print(f"wrote {out / 'summary.json'} and {out / 'loss.png'}")
    return 0
