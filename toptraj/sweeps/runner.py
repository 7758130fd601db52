"""Running a sweep: one run (what a worker executes), the driver loop, and reading results back.

See :mod:`toptraj.sweeps` for the config format, the store and the resume guarantees.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import math
import os
import socket
import sys
import time
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from toptraj.exceptions import InputError
from toptraj.store import Store, resolve_inside, sync_files, write_run_files
from toptraj.sweeps.config import RunSpec, SweepConfig, is_path_option, load_config
from toptraj.trajectory import Trajectory, TrajectorySet
from toptraj.validation import check_number

#: A batch is closed (files synced, catalog committed) after this many seconds of runs: the
#: durability cost is paid once per batch, and a kill loses at most one batch of finished work.
BATCH_SECONDS = 0.5
#: Upper bound on runs per batch (bounds the catalog transaction and the results held in memory).
BATCH_MAX_RUNS = 512


def execute_run(run: RunSpec, root: str | None, durable: bool = True) -> dict:
    """Run one generator call and (if ``root`` is given) write its files into the store ``root``.

    Never raises for a failing generator: the result has ``status="failed"`` with the error.
    It never touches the catalog. ``durable=False`` leaves the files unsynced (atomic, but a power
    cut may lose them): :func:`execute_batch` syncs a whole batch at once.

    Returns
    -------
    dict
        The catalog fields of the run (see :meth:`toptraj.store.Store.record`), plus
        ``trajectories`` (list of Trajectory) when ``root`` is None (the driver writes them).
    """
    result = run.catalog_fields()
    result.update(files=[], checksums=[], duration=None, write_time=None, error=None, traceback=None)
    result["host"] = _host()
    t0 = time.perf_counter()
    try:
        trajectories = _confine_paths(run, root).execute()
    except Exception as exc:  # failure isolation: record and go on
        result.update(status="failed", duration=time.perf_counter() - t0, error=f"{type(exc).__name__}: {exc}")
        result["traceback"] = traceback.format_exc()
        return result
    result["duration"] = time.perf_counter() - t0
    if root is None:
        result.update(status="done", trajectories=trajectories)
        return result
    return _write(result, root, trajectories, durable)


def execute_batch(runs: list[RunSpec], root: str | None, threads: int | None = 1) -> list[dict]:
    """What a worker executes: several runs in order, then one sync of all their files.

    BLAS/OpenMP pools are limited to ``threads`` per process (threadpoolctl), so one worker
    process per core does not oversubscribe the cores and every mode computes the same bits.
    Returns the list of :func:`execute_run` results, in order.
    """
    if _is_child_process():
        _limit_process_threads(threads)
        results = [execute_run(run, root, durable=False) for run in runs]
    else:  # e.g. a thread pool in the user's process: restore the user's limits afterwards
        with _thread_limit(threads):
            results = [execute_run(run, root, durable=False) for run in runs]
    if root is not None:
        _sync_batch(root, results)
    return results


def _is_child_process() -> bool:
    """Whether this is a worker process started by multiprocessing (Dask's nanny, a process pool)."""
    import multiprocessing

    return multiprocessing.parent_process() is not None


_PROCESS_THREADS: list = []  # the limit this (worker) process has set, once


def _limit_process_threads(threads: int | None) -> None:
    """Limit this process's BLAS/OpenMP pools to ``threads``, once per process and value.

    A worker process runs batch after batch: threadpoolctl inspects every loaded library (a few
    ms), so the limit is set on the first batch and kept (not restored) for the worker process's life.
    Libraries loaded later inherit Dask's OMP/MKL/OPENBLAS_NUM_THREADS=1.
    """
    if threads is None or _PROCESS_THREADS == [threads]:
        return
    try:
        from threadpoolctl import threadpool_limits
    except ModuleNotFoundError:  # installed with scikit-learn; without it keep the default
        return
    threadpool_limits(limits=int(threads))
    _PROCESS_THREADS[:] = [threads]


@functools.lru_cache(maxsize=1)
def _host() -> str:
    return socket.gethostname()


def _sync_batch(root: str | os.PathLike, results: list[dict]) -> None:
    """Make a batch's files durable (store protocol step 2); on failure its runs become failed."""
    files = [f for r in results if r["status"] == "done" for f in r["files"]]
    t0 = time.perf_counter()
    try:
        sync_files(root, files)
    except OSError as exc:
        for r in results:
            if r["status"] == "done":
                r.update(status="failed", files=[], checksums=[],
                         error=f"making the run files durable failed: {type(exc).__name__}: {exc}")
        return
    share = (time.perf_counter() - t0) / max(1, len(results))
    for r in results:
        if r["status"] == "done" and r["write_time"] is not None:
            r["write_time"] += share  # each run carries its share of the batch's sync


def _confine_paths(run: RunSpec, root: str | None) -> RunSpec:
    """The run with its path options (e.g. the network's ``run_dir``) resolved inside the store ``root``."""
    fn = run.spec.function(run.function)
    paths = [k for k, v in run.call_options.items() if v is not None and is_path_option(fn, k)]
    if not paths:
        return run
    if root is None:
        raise InputError(f"options {paths} need the store folder on the worker; drop --driver-writes")
    opts = dict(run.call_options)
    for k in paths:
        opts[k] = str(resolve_inside(root, opts[k], f"options.{k}"))
    return dataclasses.replace(run, call_options=opts)


def _write(result: dict, root: str | os.PathLike, trajectories: list[Trajectory], durable: bool = True) -> dict:
    t1 = time.perf_counter()
    try:
        files, sums = write_run_files(root, result["key"], trajectories, durable=durable)
    except Exception as exc:  # e.g. disk full: the run is failed, not the sweep
        result.update(status="failed", error=f"writing the run failed: {type(exc).__name__}: {exc}")
        result["traceback"] = traceback.format_exc()
        return result
    result.update(status="done", files=files, checksums=sums, write_time=time.perf_counter() - t1)
    return result


# -- the driver ----------------------------------------------------------------------------------
@dataclasses.dataclass
class SweepResult:
    """What a call of :func:`run_sweep` did.

    n_runs : runs in the sweep; n_skipped : already done with intact files (not run again);
    n_done / n_failed : runs finished / failed in this call; n_corrupt : runs recorded as done
    whose files were missing or altered (re-run); elapsed : wall time (s) of the runs;
    failures : (key, params, seed, error) of each failed run.
    """

    sweep_id: str
    store: Path
    n_runs: int
    n_skipped: int
    n_done: int
    n_failed: int
    n_corrupt: int
    elapsed: float
    failures: list

    @property
    def throughput(self) -> float:
        """Runs finished (done or failed) per second of wall time in this call."""
        n = self.n_done + self.n_failed
        return n / self.elapsed if self.elapsed > 0 else math.nan

    def summary(self) -> str:
        return (
            f"sweep {self.sweep_id}: {self.n_runs} runs; {self.n_skipped} already done, {self.n_done} done now, "
            f"{self.n_failed} failed ({self.n_corrupt} re-run for missing/corrupt files) in {self.elapsed:.1f} s "
            f"({self.throughput:.1f} runs/s); store {self.store}"
        )


def _pending(store: Store, cfg: SweepConfig) -> tuple[list[RunSpec], int, int]:
    rows = store.rows(cfg.keys)
    todo, corrupt = [], 0
    for run in cfg.runs:
        row = rows.get(run.key)
        if row is not None and row["status"] == "done":
            if store.verify_row(row) is None:
                continue
            corrupt += 1
        todo.append(run)
    return todo, len(cfg.runs) - len(todo), corrupt


def run_sweep(
    config: str | os.PathLike | Mapping[str, Any] | SweepConfig,
    store: str | os.PathLike | Store,
    client: Any = None,
    *,
    progress: bool | None = None,
    worker_writes: bool = True,
    threads: int | None = 1,
    generator: Any = None,
) -> SweepResult:
    """Run every run of a sweep that is not already done (with intact files) in ``store``.

    Parameters
    ----------
    config : path to a TOML file, dict or SweepConfig
        See the module docstring; validated completely before any run starts.
    store : path or Store
        Store folder (created if needed).
    client : dask.distributed.Client, concurrent.futures.Executor or None
        None runs in this process, in grid order. Otherwise each run is submitted as a task.
    progress : bool or None
        Progress bar on stderr (done, failed, remaining, runs/s); None shows it on a terminal only.
    worker_writes : bool
        Workers write run files into the store folder (needs a path all workers share). False:
        workers return the trajectories and this process writes them.
    threads : int or None
        BLAS/OpenMP threads for in-process runs (via threadpoolctl). The default 1 is what Dask
        gives its workers (OMP/MKL/OPENBLAS_NUM_THREADS=1), so both modes do the same
        floating-point operations in the same order; it is also faster when the cores are busy
        (measured here: 2x at load 10 on 2 cores). None keeps the libraries' own default.
    generator : GeneratorSpec or None
        Use this spec instead of resolving the config's generator name (see :func:`load_config`).

    Returns
    -------
    SweepResult

    Notes
    -----
    Runs are grouped into batches: in this process, a batch closes after ``BATCH_SECONDS`` (0.5 s)
    of runs; with a client, each task is a batch sized from the measured time per run (see
    :func:`toptraj.sweeps.cluster.run_on_client`). A batch's files are synced once, then only this
    process records the batch in the catalog in one transaction (group commit), so a kill
    (SIGKILL included) loses at most the batches in flight, which run again on resume. Cost: the
    generator's own time plus the store's write (~1 ms per small run) and one sync and one commit
    per batch; with a client, Dask's task overhead (~1-3 ms) once per batch.
    """
    cfg = load_config(config, generator)
    if threads is not None:
        check_number("threads", threads, low=1, integer=True)
    own = not isinstance(store, Store)
    st = Store(store) if own else store
    try:
        st.clean_temporary()
        st.register_sweep(cfg.sweep_id, cfg.config, cfg.keys, name=cfg.name)
        todo, n_skipped, n_corrupt = _pending(st, cfg)
        root = str(st.root.resolve())  # absolute: workers may run in another directory or on another node
        counts = {"done": 0, "failed": 0}
        failures = []
        bar = _progress_bar(len(todo), progress, cfg.name or cfg.generator)

        def finish(results: list[dict]) -> None:
            """Group commit of one batch: write (driver-writes mode) and sync its files, then one transaction."""
            written = []
            for result in results:
                if result["status"] == "done" and "trajectories" in result:
                    _write(result, root, result.pop("trajectories"), durable=False)
                    written.append(result)
            if written:
                _sync_batch(root, written)
            st.record(results)
            for result in results:
                counts[result["status"]] += 1
                if result["status"] == "failed":
                    failures.append((result["key"], result["params"], result["seed"], result["error"]))
            bar.update(len(results))
            bar.set_postfix(done=counts["done"], failed=counts["failed"], remaining=len(todo) - sum(counts.values()))

        t0 = time.perf_counter()
        try:
            if client is None:
                with _thread_limit(threads):
                    batch, t_batch = [], time.perf_counter()
                    for run in todo:
                        batch.append(execute_run(run, root, durable=False))
                        if time.perf_counter() - t_batch >= BATCH_SECONDS or len(batch) >= BATCH_MAX_RUNS:
                            _sync_batch(root, batch)
                            finish(batch)
                            batch, t_batch = [], time.perf_counter()
                    if batch:
                        _sync_batch(root, batch)
                        finish(batch)
            else:
                from toptraj.sweeps.cluster import run_on_client

                run_on_client(client, todo, root if worker_writes else None, finish)
        finally:
            bar.close()
        elapsed = time.perf_counter() - t0
        return SweepResult(
            sweep_id=cfg.sweep_id, store=st.root, n_runs=len(cfg), n_skipped=n_skipped, n_done=counts["done"],
            n_failed=counts["failed"], n_corrupt=n_corrupt, elapsed=elapsed, failures=failures,
        )
    finally:
        if own:
            st.close()


def _thread_limit(threads: int | None):
    if threads is None:
        return contextlib.nullcontext()
    try:
        from threadpoolctl import threadpool_limits
    except ModuleNotFoundError:  # installed with scikit-learn; without it keep the default
        return contextlib.nullcontext()
    return threadpool_limits(limits=int(threads))


def _progress_bar(total: int, progress: bool | None, desc: str):
    from tqdm import tqdm

    return tqdm(total=total, file=sys.stderr, disable=None if progress is None else not progress, unit="run", desc=desc)


def load_sweep(
    config: str | os.PathLike | Mapping[str, Any] | SweepConfig, store: str | os.PathLike | Store, missing: str = "raise",
    generator: Any = None,
) -> TrajectorySet:
    """The sweep's trajectories in grid order, with their metadata and labels.

    ``missing="skip"`` leaves out failed and not-yet-run runs instead of raising. Files are
    verified against the catalog's sha256 and their embedded checksum (StoreError if corrupt).
    ``generator``: a GeneratorSpec to use instead of the config's generator name.
    """
    cfg = load_config(config, generator)
    if isinstance(store, Store):
        return store.load(cfg.keys, missing=missing)
    root = Path(store)
    if not (root / "catalog.sqlite").is_file():
        raise InputError(f"store {str(root)!r} has no catalog (not a sweep store, or nothing run yet)")
    with Store(root) as st:
        return st.load(cfg.keys, missing=missing)

