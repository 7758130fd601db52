"""Memory estimates vs measured peaks: each generator's ``estimate_memory_bytes`` against tracemalloc.

    .venv/bin/python benchmarks/bench_memory_estimates.py

numpy reports its array allocations to tracemalloc, so the traced peak of a run is the memory the
guard must foresee (Python objects included; the interpreter, libraries imported on first use and
caches are excluded by a warm-up call; torch tensors are not traced). The figure
is the ratio estimate / measured peak per case: above 1 the guard is conservative, below 1 it
under-estimates. Writes benchmarks/results/memory_estimates.json.
"""

from __future__ import annotations

import gc
import json
import math
import time
import tracemalloc
from pathlib import Path

import numpy as np


def measure(fn):
    gc.collect()
    tracemalloc.start()
    t0 = time.process_time()
    fn()
    cpu = time.process_time() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak, cpu


def main() -> None:
    from generators import dmft, maloney, modesum, plrf

    times = np.geomspace(1, 1e4, 64)
    steps = np.unique(np.round(np.geomspace(1, 2000, 40))).astype(int)
    cases = [
        ("modesum M=None, 64 times", modesum.ModesumParams(a=1.5, b=1.25), 64,
         lambda p: modesum.solve(p, times), modesum.estimate_memory_bytes, {}),
        ("modesum M=1e6, 256 times", modesum.ModesumParams(a=1.5, b=1.25, M=10**6), 256,
         lambda p: modesum.solve(p, np.geomspace(1, 1e4, 256)), modesum.estimate_memory_bytes, {}),
        ("dmft solve M=2000 N=64", dmft.DMFTParams(a=1.5, b=1.25, M=2000, N=64, P=math.inf), 16,
         lambda p: dmft.solve(p, times[::4], with_labels=False), dmft.estimate_memory_bytes, {"function": "solve"}),
        ("dmft simulate M=2000 N=256 P=512", dmft.DMFTParams(a=1.5, b=1.25, M=2000, N=256, P=512), 64,
         lambda p: dmft.simulate(p, times, seed=0), dmft.estimate_memory_bytes, {"function": "simulate"}),
        ("dmft simulate M=4000 N=1024 P=2048", dmft.DMFTParams(a=1.5, b=1.25, M=4000, N=1024, P=2048), 64,
         lambda p: dmft.simulate(p, times, seed=0), dmft.estimate_memory_bytes, {"function": "simulate"}),
        ("plrf volterra d=1500", plrf.PLRFParams(alpha=1.0, beta=0.6, d=1500), steps,
         lambda p: plrf.volterra(p, steps, seed=0), plrf.estimate_memory_bytes, {"function": "volterra"}),
        ("plrf volterra d=400", plrf.PLRFParams(alpha=1.0, beta=0.6, d=400), steps,
         lambda p: plrf.volterra(p, steps, seed=0), plrf.estimate_memory_bytes, {"function": "volterra"}),
        ("maloney N sweep M=2000 T=500, 2 seeds", maloney.MaloneyParams(alpha=1.0, M=2000, N=1, T=500),
         [16, 64, 256, 1024], lambda p: maloney.scaling_curve(p, "N", [16, 64, 256, 1024], seeds=[0, 1]),
         maloney.estimate_memory_bytes, {"axis": "N"}),
    ]
    rows = []
    # Warm-up on other parameters: lazy imports (torch) are not part of a run's working set, and
    # the measured runs must not hit the generators' caches (spectra, labels).
    modesum.solve(modesum.ModesumParams(a=2.0, b=1.0), times[:8])
    dmft.simulate(dmft.DMFTParams(a=2.0, b=1.0, M=50, N=8, P=16), times[:8], seed=1)
    plrf.volterra(plrf.PLRFParams(alpha=1.2, beta=0.6, d=20), steps[:5], seed=1)
    maloney.scaling_curve(maloney.MaloneyParams(alpha=2.0, M=50, N=1, T=20), "N", [4, 8], seeds=[1])
    for name, params, n_times, run, estimate, kw in cases:
        peak, cpu = measure(lambda run=run, params=params: run(params))
        est = estimate(params, n_times, **kw)
        rows.append({"case": name, "estimate_bytes": est, "measured_peak_bytes": peak, "ratio": est / peak,
                     "cpu_seconds": round(cpu, 3)})
        print(f"{name:<40} estimate {est / 2**20:9.1f} MiB  measured {peak / 2**20:9.1f} MiB  "
              f"ratio {est / peak:6.2f}  ({cpu:.2f} CPU s)", flush=True)
    out = Path(__file__).parent / "results" / "memory_estimates.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"cases": rows}, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
