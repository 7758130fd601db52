"""Benchmark of the PLRF Volterra solver (generators/plrf/); writes benchmarks/results/plrf.json.

    python benchmarks/bench_plrf.py [--d 1600] [--steps 1e6] [--sgd-steps 1e5] [--big-d 12800]

Measures, in one process: one expected-loss curve at d (v = 4d) to ``--steps`` SGD steps (128
log-spaced outputs), split into the spectrum (W^T D W + eigh) and the solve; one SGD run of the
same problem to ``--sgd-steps`` (the cost is linear in steps, extrapolated to ``--steps`` when
shorter: stated in the output); the Volterra/SGD cost ratio; and, with --big-d > 0, the same
Volterra curve at d = big-d (feasibility and time). The reference timings of the authors' JAX
notebook (94 s at d = 1600) are quoted, not measured.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

from generators import plrf


def _curve(d: int, steps: np.ndarray, seed: int) -> dict:
    p = plrf.PLRFParams(0.7, 0.7, d)
    plrf._SPECTRUM_CACHE.clear()
    t0 = time.perf_counter()
    plrf.spectrum(p, seed)
    t_spec = time.perf_counter() - t0
    t0 = time.perf_counter()
    traj = plrf.volterra(p, steps, seed=seed)
    t_solve = time.perf_counter() - t0
    return {
        "d": d, "v": p.v, "R": int(steps[-1]), "seconds_spectrum": t_spec, "seconds_solve": t_solve,
        "seconds_total": t_spec + t_solve, "final_loss": float(traj.channel("loss")[-1]),
        "picard_iterations": traj.provenance["solver"]["picard_iterations"],
        "kernel_norm": traj.provenance["solver"]["kernel_norm"],
    }


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--d", type=int, default=1600)
    ap.add_argument("--steps", type=float, default=1e6)
    ap.add_argument("--sgd-steps", type=float, default=1e5)
    ap.add_argument("--big-d", type=int, default=12800, help="0 to skip")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "plrf.json"))
    args = ap.parse_args(argv)
    steps = np.unique(np.round(np.geomspace(1, args.steps, 128)))
    res = {"machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                       "load_avg_at_start": os.getloadavg()}, "alpha": 0.7, "beta": 0.7}
    res["volterra"] = _curve(args.d, steps, 0)
    print("volterra", res["volterra"], flush=True)
    p = plrf.PLRFParams(0.7, 0.7, args.d)  # spectrum cached from _curve: SGD cost only
    sgd_steps = np.unique(np.round(np.geomspace(1, min(args.sgd_steps, args.steps), 128)))
    t0 = time.perf_counter()
    plrf.simulate_sgd(p, sgd_steps, seed=0, backend="numpy")
    t_sgd = time.perf_counter() - t0
    per_step = t_sgd / sgd_steps[-1]
    res["sgd_one_run"] = {
        "steps_run": int(sgd_steps[-1]), "seconds": t_sgd, "us_per_step": per_step * 1e6,
        "seconds_to_R_extrapolated": per_step * args.steps, "extrapolated": bool(sgd_steps[-1] < args.steps),
    }
    v = res["volterra"]
    res["ratio_volterra_solve_to_one_sgd_run"] = v["seconds_solve"] / (per_step * args.steps)
    res["ratio_volterra_total_to_one_sgd_run"] = v["seconds_total"] / (per_step * args.steps + v["seconds_spectrum"])
    res["reference_jax_notebook_seconds_d1600"] = 94.0
    print("sgd", res["sgd_one_run"], flush=True)
    if args.big_d > 0:
        res["volterra_big"] = _curve(args.big_d, steps, 0)
        print("big", res["volterra_big"], flush=True)
    res["load_avg_at_end"] = os.getloadavg()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(res, indent=2))
    return res


if __name__ == "__main__":
    main()
