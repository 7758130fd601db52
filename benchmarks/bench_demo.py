"""Benchmark: CPU cost of `toptraj demo` (DMFT), as ratios within one run.

Measures the CPU seconds (time.process_time) of the demo's phases against the cost of generating
its data alone (the DMFT theory curves and width sweeps), and of the whole ``toptraj demo`` process
(imports and figures included), for --quick and the default size, with the machine load recorded.
Writes benchmarks/results/demo.json.

    python benchmarks/bench_demo.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from toptraj import provenance
from toptraj.exponent_eval import demo_dmft
from toptraj.io import atomic_write_text
from toptraj.registry import get_generator


def cpu(fn):
    t = time.process_time()
    fn()
    return time.process_time() - t


def cli_cpu(quick: bool) -> float:
    """CPU seconds of the whole ``toptraj demo`` process (imports, demo, figures), in a fresh interpreter."""
    import resource
    import subprocess
    import sys
    import tempfile

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "toptraj.cli", "demo", "--out", tmp] + (["--quick"] if quick else [])
        subprocess.run(cmd, check=True, capture_output=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="only the --quick size")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "demo.json"))
    args = ap.parse_args()
    theory = get_generator("dmft").theory
    result = {"load_before": os.getloadavg(), "sizes": {}}
    for quick in (True,) if args.quick else (True, False):
        n_train, n_test, n_sweeps = (16, 10, 2) if quick else (60, 40, 6)
        gen = cpu(lambda: (theory["study_single"]("curve", n_train, seed=1), theory["study_single"]("curve", n_test, seed=2),  # noqa: B023
                           theory["study_sweeps"]("width_sweep", n_sweeps, seed=3, n_sizes=4,  # noqa: B023
                                                  times=np.geomspace(1.0, 1e4, 48))))
        total = cpu(lambda: demo_dmft(quick=quick, seed=0))  # noqa: B023
        process = cli_cpu(quick)
        result["sizes"]["quick" if quick else "default"] = {
            "cpu_seconds_demo": round(total, 2), "cpu_seconds_data_generation": round(gen, 2),
            "ratio_demo_to_generation": round(total / gen, 2), "cpu_seconds_cli_process": round(process, 2),
            "ratio_cli_process_to_demo": round(process / total, 2)}
    result["load_after"] = os.getloadavg()
    result["provenance"] = provenance.collect()
    if not args.quick:
        atomic_write_text(args.out, json.dumps(result, indent=1))
    print(json.dumps(result["sizes"], indent=1), "load", result["load_before"], result["load_after"])


if __name__ == "__main__":
    main()
