"""How close are the compute-optimal exponents that `toptraj advise` gives to the theory's?

DMFT: width sweeps (3 widths) of theory curves at parameter points with known exponents
(docs/theory/study.rst section 6: t* ~ C^x, N* ~ C^y, L* ~ C^-z), each sweep with one random
amplitude and time scale (shared by its widths). PLRF: Volterra curves at 4 values of d (one sweep: shared
amplitude and time scale); advise fits the loss-term model to all runs ((alpha, beta), then the phase
table's eta and xi, Paquette et al. 2024) and also measures eta and xi on the loss-vs-flops fronts
(IsoFLOP profiles); both are compared with the table.
Both from whole runs and from the first 20% of training (linear steps). Error: |x_hat / x - 1|.

    python analyses/compute_optimal.py [--quick] [--out DIR] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np

from generators import dmft, plrf
from toptraj import provenance
from toptraj.advise import estimate, plot_frontier, plrf_estimate
from toptraj.trajectory import Trajectory

DMFT_POINTS = [(1.5, 1.25), (2.0, 1.0), (2.0, 1.5), (1.8, 1.25), (2.5, 1.5), (1.4, 0.8), (3.0, 1.2), (2.2, 2.0)]
PLRF_POINTS = [(1.0, 0.3), (0.7, 0.6), (1.0, 0.75), (0.7, 1.2), (1.0, 2.0), (0.4, 0.8), (0.6, 0.4), (1.5, 1.0),
               (0.8, 1.0), (0.3, 1.0)]


def theory_dmft(a, b) -> dict:
    m = min(a - 1.0, b)
    den = a - 1.0 + b * m
    return {"t_star": b * m / den, "N_star": (a - 1.0) / den, "L_star": (a - 1.0) * m / den}


def dmft_sweep(a, b, widths, times, rng):
    A = float(np.exp(rng.uniform(math.log(0.1), math.log(10.0))))
    tau = float(np.exp(rng.uniform(math.log(0.3), math.log(3.0))))
    M = int(64 * max(widths))
    runs = []
    for N in widths:
        tr = dmft.solve(dmft.DMFTParams(a, b, M, float(N), math.inf), tau * times, with_labels=False)
        runs.append(Trajectory(times=times, values=A * tr.channel("test_loss")[:, None], channels=("loss",),
                               params={"N": float(N)}))
    return runs


def plrf_sweep(a, b, d_list, steps, rng, seed):
    A = float(np.exp(rng.uniform(math.log(0.1), math.log(10.0))))
    tau = float(np.exp(rng.uniform(math.log(0.3), math.log(3.0))))
    r = np.unique(np.maximum(np.rint(tau * steps), 1)).astype(int)
    runs = []
    for d in d_list:
        tr = plrf.volterra(plrf.PLRFParams(a, b, int(d)), r, seed=seed)
        runs.append(Trajectory(times=r / tau, values=A * tr.channel("loss")[:, None], channels=("loss",), axis="step",
                               source="plrf", params={"alpha": a, "beta": b, "d": int(d), "batch": 1}))
    return runs


def rel(x, y):
    return abs(x / y - 1.0)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "compute_optimal"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    dpts = DMFT_POINTS[:2] if args.quick else DMFT_POINTS
    ppts = PLRF_POINTS[:2] if args.quick else PLRF_POINTS
    widths = (64, 128, 256) if args.quick else (128, 256, 512)
    times = np.geomspace(1.0, 1e5 if args.quick else 1e6, 64)
    d_list = (32, 64, 128) if args.quick else (100, 200, 400, 800)
    steps = np.unique(np.geomspace(1, 1e5 if args.quick else 1e6, 80).astype(int))
    c0 = time.process_time()
    rows = []
    for k, (a, b) in enumerate(dpts):
        runs = dmft_sweep(a, b, widths, times, rng)
        th = theory_dmft(a, b)
        row = {"model": "dmft", "a": a, "b": b, "theory": th, "r_theory": (a - 1) / b, "m_theory": min(a - 1, b)}
        for frac in (1.0, 0.2):
            obs = runs if frac == 1.0 else [r.truncate(frac, "linear") for r in runs]
            try:
                res = estimate(obs, None, n_boot=200, seed=args.seed)
            except (ValueError, RuntimeError) as exc:
                row[f"fraction_{frac:g}"] = {"error": str(exc)}
                continue
            ex = res["exponents"]
            row[f"fraction_{frac:g}"] = {
                "advised": {k2: ex[k2] for k2 in ("r", "m", "t_star", "N_star", "L_star")},
                "rel_error": {k2: rel(ex[k2]["estimate"], th[k2]) for k2 in th},
                "covered": {k2: ex[k2]["low"] <= th[k2] <= ex[k2]["high"] for k2 in th},
            }
            if k == 0 and frac == 0.2:
                plot_frontier(res, out / "dmft_frontier_first20pct.png")
        rows.append(row)
    c1 = time.process_time()
    prow = []
    for k, (a, b) in enumerate(ppts):
        runs = plrf_sweep(a, b, d_list, steps, rng, args.seed + k)
        eta, xi = plrf.compute_optimal_exponents(a, b)
        row = {"model": "plrf", "alpha": a, "beta": b, "phase": plrf.phase(a, b), "theory": {"eta": eta, "xi": xi}}
        for frac in (1.0, 0.2):
            obs = runs if frac == 1.0 else [r.truncate(frac, "linear") for r in runs]
            est = plrf_estimate(obs)
            ms = est["measured"]
            row[f"fraction_{frac:g}"] = {"eta": est["eta"], "xi": est["xi"], "alpha": est["alpha"], "beta": est["beta"],
                                         "phase": est["phase"], "term_misfit": est["term_misfit"],
                                         "rel_error": {"eta": rel(est["eta"], eta), "xi": rel(est["xi"], xi)},
                                         "measured": {"eta": ms["eta"], "xi": ms["xi"], "method": ms["method"],
                                                      "rel_error": {"eta": rel(ms["eta"], eta), "xi": rel(ms["xi"], xi)}}}
        prow.append(row)
    c2 = time.process_time()

    def summary(rs, keys, frac, sub=None):
        cells = [r[f"fraction_{frac:g}"] for r in rs]
        cells = [c if sub is None else c[sub] for c in cells if "rel_error" in c]
        errs = {k2: [c["rel_error"][k2] for c in cells] for k2 in keys}
        return {k2: {"median_rel_error": float(np.median(v)) if v else None,
                     "quartiles": [float(q) for q in np.quantile(v, [0.25, 0.75])] if v else None,
                     "max_rel_error": float(np.max(v)) if v else None,
                     "share_within_10pct": float(np.mean(np.array(v) <= 0.1)) if v else None, "n": len(v)}
                for k2, v in errs.items()}

    report = {"question": "advised compute-optimal exponents vs theory (target: within 10%)",
              "dmft": rows, "plrf": prow,
              "summary": {f"dmft_fraction_{f:g}": summary(rows, ("t_star", "N_star", "L_star"), f) for f in (1.0, 0.2)}
              | {f"plrf_fraction_{f:g}": summary(prow, ("eta", "xi"), f) for f in (1.0, 0.2)}
              | {f"plrf_measured_front_fraction_{f:g}": summary(prow, ("eta", "xi"), f, "measured") for f in (1.0, 0.2)},
              "sizes": {"dmft_widths": list(widths), "dmft_times": [1.0, float(times[-1])], "plrf_d": list(d_list),
                        "plrf_steps_max": int(steps[-1])},
              "cpu_seconds": {"dmft": c1 - c0, "plrf": c2 - c1}, "quick": bool(args.quick), "seed": args.seed,
              "provenance": provenance.collect()}
    (out / "report.json").write_text(json.dumps(report, indent=1, default=float))
    print(json.dumps(report["summary"], indent=1))
    return report


if __name__ == "__main__":
    main()
