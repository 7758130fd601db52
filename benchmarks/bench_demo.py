"""Benchmark: cost of the demo pipeline per trajectory, as ratios within one run.

Measures, on the demo's default data set: generating a run (mode-sum), the topological feature
map, the baseline features, and one grouped-CV fit of each method, per trajectory. The reference
is the generator's own time per run. Writes benchmarks/results/demo.json.

    python benchmarks/bench_demo.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from toptraj import provenance
from toptraj.baselines import BaselineFeatures
from toptraj.demo import DemoConfig, _groups_by_exponents, make_dataset
from toptraj.io import atomic_write_text
from toptraj.regression import evaluate, observed, topology_features


def best_of(fn, repeats=3):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "demo.json"))
    args = ap.parse_args()
    cfg = DemoConfig.quick() if args.quick else DemoConfig()
    t_gen, full = best_of(lambda: make_dataset(cfg), 1)
    n = len(full)
    seen = list(observed(full, cfg.fraction, cfg.scale))
    t_topo, _ = best_of(lambda: topology_features().fit_transform(seen))
    t_base, _ = best_of(lambda: BaselineFeatures().fit(seen).transform(seen))
    groups = _groups_by_exponents(full)
    t_eval, _ = best_of(lambda: evaluate(observed(full, cfg.fraction, cfg.scale), "time_exponent",
                                         methods=("topology", "baseline", "combined"), groups=groups), 1)
    per = {
        "generate_modesum": t_gen / n,
        "topology_features": t_topo / n,
        "baseline_features": t_base / n,
        "grouped_cv_3_methods": t_eval / n,
    }
    result = {
        "n_trajectories": n,
        "seconds_per_trajectory": {k: round(v, 5) for k, v in per.items()},
        "ratio_to_generation": {k: round(v / per["generate_modesum"], 2) for k, v in per.items()},
        "config": {"quick": args.quick, "n_times": cfg.n_times, "fraction": cfg.fraction, "scale": cfg.scale},
        "provenance": provenance.collect(),
    }
    atomic_write_text(args.out, json.dumps(result, indent=1))
    print(json.dumps(result["seconds_per_trajectory"], indent=1))
    print("ratio to generation:", result["ratio_to_generation"])


if __name__ == "__main__":
    main()
