"""Persistence benchmark: H0 backends and Rips H1, as ratios against ripser in the same run.

    .venv/bin/python benchmarks/bench_persistence.py [--quick]

Writes benchmarks/results/persistence.json. Figures:
(1) H0 of 1000 points in R^50 (a Brownian path, the PH-dimension workload): ripser (the
    reference), giotto-ph with 1 and 2 threads, and the MST fast path; all through
    toptraj.persistence, so each includes the shared O(n^2 d) distance matrix (timed on its own too);
    raw ripser.ripser on the point cloud is timed as a second reference. The diagrams are checked
    to agree (max relative difference of the finite deaths).
(2) Rips H0+H1 of 300 points in R^3 (noisy circle): ripser vs giotto-ph with 1 and 2 threads.
Each timing is the best of ``repeats`` runs. The machine is shared, so the 1-minute load
average is recorded.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

from toptraj.persistence import distance_matrix, h0_mst_diagram, rips_diagram

RESULTS = Path(__file__).resolve().parent / "results" / "persistence.json"


def best_of(fn, repeats: int) -> float:
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def h0_benchmark(n: int, d: int, repeats: int) -> dict:
    from ripser import ripser

    X = np.cumsum(np.random.default_rng(0).standard_normal((n, d)), axis=0)
    runs = {
        "ripser": lambda: rips_diagram(X, maxdim=0, backend="ripser"),
        "giotto_ph_1_thread": lambda: rips_diagram(X, maxdim=0, backend="giotto-ph", n_threads=1),
        "giotto_ph_2_threads": lambda: rips_diagram(X, maxdim=0, backend="giotto-ph", n_threads=2),
        "mst": lambda: h0_mst_diagram(X),
        "distance_matrix_only": lambda: distance_matrix(X),
        "raw_ripser_on_points": lambda: ripser(X, maxdim=0),
    }
    for fn in runs.values():  # warm-up: imports, thread pools
        fn()
    secs = {k: best_of(fn, repeats) for k, fn in runs.items()}
    ref = secs["ripser"]
    a = runs["ripser"]()[0]
    agree = {}
    for k in ("giotto_ph_1_thread", "mst"):
        b = runs[k]()[0]
        fa, fb = a[np.isfinite(a[:, 1]), 1], b[np.isfinite(b[:, 1]), 1]
        agree[k] = float(np.max(np.abs(fa - fb) / fa)) if fa.shape == fb.shape else "different bar counts"
    return {
        "n_points": n,
        "ambient_dim": d,
        "seconds": secs,
        "ratio_vs_ripser": {k: v / ref for k, v in secs.items()},
        "speedup_vs_ripser": {k: ref / v for k, v in secs.items()},
        "max_rel_diff_of_h0_deaths_vs_ripser": agree,
    }


def h1_benchmark(n: int, repeats: int) -> dict:
    rng = np.random.default_rng(1)
    t = rng.uniform(0, 2 * np.pi, n)
    X = np.column_stack([np.cos(t), np.sin(t), 0.1 * rng.standard_normal(n)]) + 0.05 * rng.standard_normal((n, 3))
    runs = {
        "ripser": lambda: rips_diagram(X, maxdim=1, backend="ripser"),
        "giotto_ph_1_thread": lambda: rips_diagram(X, maxdim=1, backend="giotto-ph", n_threads=1),
        "giotto_ph_2_threads": lambda: rips_diagram(X, maxdim=1, backend="giotto-ph", n_threads=2),
    }
    for fn in runs.values():
        fn()
    secs = {k: best_of(fn, repeats) for k, fn in runs.items()}
    ref = secs["ripser"]
    d = runs["ripser"]()
    return {
        "n_points": n,
        "ambient_dim": 3,
        "n_h1_bars": int(len(d[1])),
        "longest_h1_lifetime": float(np.max(d[1][:, 1] - d[1][:, 0])),
        "seconds": secs,
        "ratio_vs_ripser": {k: v / ref for k, v in secs.items()},
        "speedup_vs_ripser": {k: ref / v for k, v in secs.items()},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes (smoke test)")
    args = ap.parse_args()
    n0, n1, rep = (300, 100, 2) if args.quick else (1000, 300, 5)
    out = {
        "quick": args.quick,
        "load_average_1min_before": os.getloadavg()[0],
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "h0": h0_benchmark(n0, 50, rep),
        "h1": h1_benchmark(n1, rep),
        "load_average_1min_after": os.getloadavg()[0],
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2))
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
