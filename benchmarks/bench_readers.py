"""Readers and `toptraj analyze` at scale: a 1M-row CSV, 100 files in one call, interval coverage.

    python benchmarks/bench_readers.py [--rows 1000000] [--files 100] [--quick]

Each analyze call runs in a child process (``python -m toptraj.cli analyze ...``), so its CPU time
(user + sys of the child, from os.wait4) and its peak resident memory (ru_maxrss) are its own. The
machine load (os.getloadavg) is recorded before and after, because the development machine is
shared. Writes benchmarks/results/readers.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def child(argv: list[str]) -> dict:
    """Run ``toptraj`` in a child; its CPU seconds, peak RSS (MB), exit code and wall seconds."""
    t0 = time.perf_counter()
    p = subprocess.Popen([sys.executable, "-m", "toptraj.cli", *argv], stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE)
    _, status, ru = os.wait4(p.pid, 0)
    err = p.stderr.read().decode(errors="replace") if p.stderr else ""
    return {"cpu_s": round(ru.ru_utime + ru.ru_stime, 2), "peak_rss_mb": round(ru.ru_maxrss / 1024, 1),
            "exit": os.waitstatus_to_exitcode(status), "wall_s": round(time.perf_counter() - t0, 2),
            "stderr_tail": err.strip().splitlines()[-2:]}


def write_big_csv(path: Path, rows: int, seed: int = 0) -> None:
    """step, train_loss, val_loss (val every 100 steps, empty otherwise), 3% noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(1, rows + 1, dtype=np.float64)
    train = (0.05 + 3 * t**-0.55) * np.exp(0.03 * rng.standard_normal(rows))
    val = np.where(t % 100 == 0, train * 1.1, np.nan)
    with open(path, "w") as fh:
        fh.write("step,train_loss,val_loss\n")
        chunk = 200_000
        for i in range(0, rows, chunk):
            s = slice(i, i + chunk)
            lines = [f"{int(a)},{b:.6g}," + ("" if np.isnan(c) else f"{c:.6g}")
                     for a, b, c in zip(t[s], train[s], val[s])]
            fh.write("\n".join(lines) + "\n")


def _noise(rng, n: int, rho: float) -> np.ndarray:
    """Unit-variance AR(1) noise (rho = 0: independent)."""
    z = rng.standard_normal(n)
    if rho == 0:
        return z
    e = np.empty(n)
    e[0] = z[0]
    for k in range(1, n):
        e[k] = rho * e[k - 1] + math.sqrt(1 - rho**2) * z[k]
    return e


def coverage(n_curves: int, rho: float = 0.0, T=None, seed: int = 2026) -> dict:
    """Interval coverage on L0 + A t^-r with multiplicative noise (AR(1) with ``rho``)."""
    from toptraj.fitting import fit_exponent

    rng = np.random.default_rng(seed)
    T = np.geomspace(1, 1e4, 100) if T is None else T
    covered = refused = 0
    widths = []
    c0 = time.process_time()
    for i in range(n_curves):
        r = rng.uniform(0.2, 1.2)
        A = 10 ** rng.uniform(-1, 2)
        L0 = A * 10 ** rng.uniform(-4, -1)
        y = (L0 + A * T**-r) * np.exp(rng.uniform(0.005, 0.05) * _noise(rng, T.size, rho))
        fit = fit_exponent(T, y, seed=i)
        if not fit.ok:
            refused += 1
            continue
        covered += fit.r_low <= r <= fit.r_high
        widths.append(fit.r_high - fit.r_low)
    return {"curves": n_curves, "points": int(T.size), "ar1_rho": rho, "covered": covered, "refused_counted_as_missed": refused,
            "coverage": covered / n_curves, "median_interval_width": float(np.median(widths)),
            "cpu_s_per_fit": round((time.process_time() - c0) / n_curves, 4)}


def coverage_block(n_curves: int) -> dict:
    """Independent noise (the acceptance figure) and correlated noise (how far the block bootstrap goes)."""
    return {"coverage": coverage(n_curves),
            "coverage_ar1": [coverage(max(n_curves // 2, 10), 0.7, seed=11),
                             coverage(max(n_curves // 2, 10), 0.99, T=np.arange(1, 5001.0), seed=12)],
            "coverage_load": os.getloadavg()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--files", type=int, default=100)
    ap.add_argument("--curves", type=int, default=200)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only-coverage", action="store_true",
                    help="recompute the coverage entries only, updating results/readers.json")
    args = ap.parse_args()
    if args.quick:
        args.rows, args.files, args.curves = 20_000, 10, 20
    if args.only_coverage:
        out = HERE / "results" / "readers.json"
        res = json.loads(out.read_text()) if out.exists() else {}
        res.update(coverage_block(args.curves))
        out.write_text(json.dumps(res, indent=1))
        print(json.dumps(res, indent=1))
        return
    res = {"load_before": os.getloadavg(), "cpu_count": os.cpu_count()}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        big = tmp / "big.csv"
        write_big_csv(big, args.rows)
        res["big_csv"] = {"rows": args.rows, "bytes": big.stat().st_size,
                          **child(["analyze", str(big), "--out", str(tmp / "o1")])}
        res["baseline_import_only"] = child(["analyze", "--help"])
        folder = tmp / "many"
        folder.mkdir()
        rng = np.random.default_rng(1)
        t = np.arange(1, 5001.0)
        for i in range(args.files):
            y = (0.05 + 2 * t ** -rng.uniform(0.3, 0.9)) * np.exp(0.02 * rng.standard_normal(t.size))
            np.savetxt(folder / f"run{i:03d}.csv", np.column_stack([t, y, y * 1.05]), delimiter=",",
                       header="step,loss,test_loss", comments="", fmt="%.6g")
        res["many_files"] = {"files": args.files, "rows_each": int(t.size),
                             **child(["analyze", str(folder), "--out", str(tmp / "o2")])}
        summary = json.loads((tmp / "o2" / "summary.json").read_text())
        res["many_files"]["runs_reported"] = len(summary["runs"])
    res.update(coverage_block(args.curves))
    res["load_after"] = os.getloadavg()
    print(json.dumps(res, indent=1))
    if not args.quick:  # --quick checks the script; only the full run is a result
        out = HERE / "results" / "readers.json"
        out.parent.mkdir(exist_ok=True)
        out.write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
