"""Sweep runner benchmark: store overhead per run, and throughput with 1 vs 2 Dask workers.

    .venv/bin/python benchmarks/bench_sweeps.py [--quick]

Writes benchmarks/results/sweeps.json. Figures are ratios against references measured in the
same run: (1) a cheap generator (mode sum with 200 modes, 64 times) called in a plain loop vs the
same runs through the in-process sweep runner with the store (file encoded in memory and hashed,
atomic write; one sync and one SQLite commit per batch); (2) a throughput table, runs/s in-process
and on a Dask LocalCluster with 1 and 2 single-threaded worker processes (the CLI's
``--workers``: :func:`toptraj.sweeps.cluster.local_cluster`, started and warmed before the clock),
for a cheap (~1 ms: 1000 modes, 64 times) and an expensive (~60 ms: infinite mode sum, 768 times)
generator. Next to them, in the same repeat, the machine's ceiling: the bare generator in 2 plain
processes vs 1 (what two processes get from this shared 2-core machine at that moment). Each
repeat forms its ratios (2 workers / 1 worker, 2 workers / in-process) and their fraction of the
ceiling; the 1-minute load average is recorded at the start and end of each repeat, and CPU
seconds per run of the driver and of the workers.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

import toptraj
from generators.modesum import ModesumParams, solve
from toptraj.io import save_trajectory
from toptraj.store import Store
from toptraj.sweeps import load_config, load_sweep, run_sweep

RESULTS = Path(__file__).resolve().parent / "results" / "sweeps.json"


def _config(M, n_times: int, n_a: int, n_seeds: int) -> dict:
    return {
        "generator": "modesum",
        "seeds": {"start": 0, "stop": n_seeds},
        "params": {"b": 1.5, "noise": 0.05, **({} if M is None else {"M": M})},
        "grid": {"a": {"start": 1.2, "stop": 4.0, "num": n_a}},
        "axis": {"times": {"start": 1.0, "stop": 1e5, "num": n_times, "log": True}},
    }


def store_overhead(n_a: int, n_seeds: int) -> dict:
    cfg = _config(200, 64, n_a, n_seeds)
    runs = load_config(cfg).runs
    times = np.geomspace(1.0, 1e5, 64)
    # reference: the generator alone in a plain loop (after one warm-up call: imports, git revision)
    solve(runs[0].call_params, times, seed=0)
    t0 = time.perf_counter()
    for r in runs:
        solve(r.call_params, times, seed=r.seed)
    plain = (time.perf_counter() - t0) / len(runs)
    with tempfile.TemporaryDirectory() as tmp:
        c0 = time.process_time()
        res = run_sweep(cfg, Path(tmp) / "s", progress=False)
        sweep_cpu = (time.process_time() - c0) / len(runs)
        with Store(Path(tmp) / "s") as st:
            rows = list(st.rows().values())
        t1 = time.perf_counter()
        again = run_sweep(cfg, Path(tmp) / "s", progress=False)  # resume check of a complete store
        verify = (time.perf_counter() - t1) / len(runs)
        assert again.n_skipped == len(runs)
    # breakdown of the write (CPU s): numpy's savez_compressed (level 6, every member) vs the store's
    # encoder (numeric members stored, text deflated at level 1), both to memory, and their sizes
    traj = solve(runs[0].call_params, times, seed=0)
    arrays = {"times": traj.times, "values": traj.values, "channels": np.array(traj.channels, dtype=str),
              "meta": np.array(json.dumps(traj.to_dict()))}
    c2 = time.process_time()
    for _ in range(200):
        buf = io.BytesIO()
        np.savez_compressed(buf, **arrays)
    compress = (time.process_time() - c2) / 200
    try:  # the store's own encoder (absent before the batched-store rework: --out for old revisions)
        from toptraj.store import encode_run_file
    except ImportError:
        encode, data = None, b""
    else:
        c2 = time.process_time()
        for _ in range(200):
            data = encode_run_file(traj)
        encode = (time.process_time() - c2) / 200
    with tempfile.TemporaryDirectory() as tmp:
        t3 = time.perf_counter()
        for i in range(20):
            save_trajectory(traj, Path(tmp) / f"{i}.npz")
        save = (time.perf_counter() - t3) / 20
    per_run = res.elapsed / len(runs)
    gen = float(np.mean([r["duration"] for r in rows]))
    write = float(np.mean([r["write_time"] for r in rows]))
    return {
        "generator": "modesum M=200, 64 times, noise 0.05",
        "n_runs": len(runs),
        "generator_plain_loop_s_per_run": plain,
        "generator_in_sweep_s_per_run": gen,
        "sweep_total_s_per_run": per_run,
        "store_write_s_per_run": write,
        "savez_compressed_to_memory_cpu_s_per_run": compress,
        "savez_compressed_bytes": len(buf.getvalue()),
        "store_encode_to_memory_cpu_s_per_run": encode,
        "store_encode_bytes": len(data) or None,
        "sweep_cpu_s_per_run": sweep_cpu,
        "save_trajectory_s_per_run": save,
        "overhead_s_per_run": per_run - gen,
        "overhead_over_generator_time": (per_run - gen) / gen,
        "resume_verify_s_per_run": verify,
        "loadavg_1min": os.getloadavg()[0],
    }


#: (label, modesum M or None for the infinite sum, number of times): ~1 ms and ~60 ms per run here
GENERATORS = (("cheap", 1000, 64), ("expensive", None, 768))


def _plain_loop(args) -> float:
    """Wall time of n bare generator runs in this process (no store, one BLAS thread)."""
    from threadpoolctl import threadpool_limits

    n, M, n_times = args
    times = np.geomspace(1.0, 1e5, n_times)
    params = ModesumParams(a=2.0, b=1.5, noise=0.05, **({} if M is None else {"M": M}))
    with threadpool_limits(limits=1):
        solve(params, times, seed=0)
        t0 = time.perf_counter()
        for s in range(n):
            solve(params, times, seed=s)
        return time.perf_counter() - t0


def _plain_rate(pool, workers: int, n: int, M, n_times: int) -> float:
    """Runs/s of the bare generator in ``workers`` plain processes of ``pool`` (no Dask, no store)."""
    t0 = time.perf_counter()
    list(pool.map(_plain_loop, [(n, M, n_times)] * workers))
    return n * workers / (time.perf_counter() - t0)


def _cpu(processes) -> float:
    return sum(sum(p.cpu_times()[:2]) for p in processes)


def throughput(label: str, M, n_times: int, n_a: int, n_seeds: int, repeats: int) -> dict:
    """Runs/s in-process and with 1 and 2 Dask workers, next to the machine's ceiling, in one window.

    Each repeat measures, back to back: the in-process runner, 1 and 2 Dask workers (clusters
    started and warmed before the clock, as :func:`toptraj.sweeps.cluster.local_cluster` makes them
    for ``--workers``), and the bare generator in 1 and 2 plain processes (the ceiling: what two
    processes get from this machine at that moment). Ratios are formed within a repeat (the
    same load), and the repeat with the best 2-worker rate is reported with all of them.
    """
    from concurrent.futures import ProcessPoolExecutor

    import psutil
    from distributed import Client

    try:
        from toptraj.sweeps.cluster import local_cluster
    except ImportError:  # an older revision (measured for comparison): the CLI's former cluster
        import logging

        from distributed import LocalCluster

        def local_cluster(workers):
            return LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0",
                                silence_logs=logging.ERROR)

    cfg = _config(M, n_times, n_a, n_seeds)
    n = len(load_config(cfg))
    out = {"generator": f"modesum M={'inf' if M is None else M}, {n_times} times, noise 0.05", "n_runs": n,
           "repeats": []}
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        run_sweep({**cfg, "seeds": [10_000]}, Path(tmp) / "warm", progress=False)  # warm-up: imports, git
        clients, worker_procs = {}, {}
        for workers in (1, 2):
            cluster = stack.enter_context(local_cluster(workers))
            client = clients[workers] = stack.enter_context(Client(cluster))
            # warm the workers (imports, the provenance's first git call), as a long-lived cluster is
            run_sweep({**cfg, "seeds": list(range(10_001, 10_001 + 2 * workers))}, Path(tmp) / f"warm{workers}",
                      client=client, progress=False)
            worker_procs[workers] = [psutil.Process(p) for p in client.run(os.getpid).values()]
        pools = {w: stack.enter_context(ProcessPoolExecutor(w)) for w in (1, 2)}
        for w, pool in pools.items():
            list(pool.map(_plain_loop, [(1, M, n_times)] * w))
        reference = None
        for rep in range(repeats):
            row = {"loadavg_1min_start": os.getloadavg()[0]}
            t0, c0 = time.perf_counter(), time.process_time()
            run_sweep(cfg, Path(tmp) / f"inproc_{rep}", progress=False)
            row["in_process_runs_per_s"] = n / (time.perf_counter() - t0)
            row["in_process_cpu_ms_per_run"] = (time.process_time() - c0) / n * 1e3
            if reference is None:
                reference = load_sweep(cfg, Path(tmp) / f"inproc_{rep}")
                with Store(Path(tmp) / f"inproc_{rep}") as st:
                    durations = [r["duration"] for r in st.rows().values()]
                out["generator_s_per_run"] = float(np.mean(durations))
            for workers in (1, 2):
                folder = Path(tmp) / f"dask{workers}_{rep}"
                w0, t0, c0 = _cpu(worker_procs[workers]), time.perf_counter(), time.process_time()
                res = run_sweep(cfg, folder, client=clients[workers], progress=False)
                row[f"dask_{workers}_runs_per_s"] = n / (time.perf_counter() - t0)
                row[f"dask_{workers}_driver_cpu_ms_per_run"] = (time.process_time() - c0) / n * 1e3
                row[f"dask_{workers}_workers_cpu_ms_per_run"] = (_cpu(worker_procs[workers]) - w0) / n * 1e3
                assert res.n_done == n
                got = load_sweep(cfg, folder)
                row[f"dask_{workers}_bitwise_equal_in_process"] = all(
                    a.values.tobytes() == b.values.tobytes() and a.params == b.params
                    for a, b in zip(got, reference, strict=True)
                )
            # the ceiling, in the same window: as many bare runs as take about as long as a sweep above
            n_plain = max(4, min(n, int(n / row["in_process_runs_per_s"] / max(out["generator_s_per_run"], 1e-4))))
            for workers in (1, 2):
                row[f"plain_{workers}_processes_runs_per_s"] = _plain_rate(pools[workers], workers, n_plain, M, n_times)
            row["loadavg_1min_end"] = os.getloadavg()[0]
            ceiling = row["plain_2_processes_runs_per_s"] / row["plain_1_processes_runs_per_s"]
            r21 = row["dask_2_runs_per_s"] / row["dask_1_runs_per_s"]
            r2i = row["dask_2_runs_per_s"] / row["in_process_runs_per_s"]
            row.update({
                "ceiling_plain_2_over_1": ceiling,
                "ratio_2_workers_over_1_worker": r21,
                "ratio_2_workers_over_in_process": r2i,
                "fraction_of_ceiling_2_over_1": r21 / ceiling,
                "fraction_of_ceiling_2_over_in_process": r2i / ceiling,
            })
            out["repeats"].append(row)
            print(f"  {label} repeat {rep}: runs/s in-process {row['in_process_runs_per_s']:.1f}, 1 worker "
                  f"{row['dask_1_runs_per_s']:.1f}, 2 workers {row['dask_2_runs_per_s']:.1f}; 2/1 = {r21:.2f}x, "
                  f"2/in-process = {r2i:.2f}x; ceiling (bare generator, 2 vs 1 plain processes) {ceiling:.2f}x; "
                  f"load {row['loadavg_1min_start']:.1f}-{row['loadavg_1min_end']:.1f}", flush=True)
    best = max(out["repeats"], key=lambda r: r["dask_2_runs_per_s"])
    out["best_repeat"] = best
    for key in ("ratio_2_workers_over_1_worker", "ratio_2_workers_over_in_process", "ceiling_plain_2_over_1"):
        values = [r[key] for r in out["repeats"]]
        out[f"median_{key}"] = float(np.median(values))
    print(f"{label}: {out['generator']}, {out['generator_s_per_run'] * 1e3:.1f} ms per run, {n} runs; median over "
          f"{repeats} repeats: 2/1 = {out['median_ratio_2_workers_over_1_worker']:.2f}x, 2/in-process = "
          f"{out['median_ratio_2_workers_over_in_process']:.2f}x, ceiling {out['median_ceiling_plain_2_over_1']:.2f}x",
          flush=True)
    return out


def _git_revision(folder: Path) -> str | None:
    import subprocess

    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs (seconds)")
    parser.add_argument("--repeats", type=int, default=None, help="repeats of each configuration (default 3, quick 1)")
    parser.add_argument("--out", default=str(RESULTS), help="result file (default benchmarks/results/sweeps.json)")
    args = parser.parse_args()
    repeats = args.repeats or (1 if args.quick else 3)
    sizes = {"cheap": (10, 30) if args.quick else (20, 100), "expensive": (4, 5) if args.quick else (8, 10)}
    result = {
        "toptraj_path": str(Path(toptraj.__file__).parent),
        "git_revision": _git_revision(Path(toptraj.__file__).parent),
        "args": vars(args),
        "cpu_count": os.cpu_count(),
        "load_avg_at_start": os.getloadavg(),
        "threads": "one BLAS/OpenMP thread per process (threadpoolctl in the runner and in each task; Dask's "
                   "nanny also sets OMP/MKL/OPENBLAS_NUM_THREADS=1); one single-threaded worker process per core",
        "store_overhead": store_overhead(4, 5) if args.quick else store_overhead(10, 20),
        "throughput": {
            label: throughput(label, M, n_times, *sizes[label], repeats) for label, M, n_times in GENERATORS
        },
    }
    result["load_avg_at_end"] = os.getloadavg()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
