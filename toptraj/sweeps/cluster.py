"""Sweeps on Dask (a LocalCluster or a running scheduler) or a concurrent.futures executor.

Each task is :func:`toptraj.sweeps.runner.execute_batch` of a chunk of
:class:`~toptraj.sweeps.config.RunSpec` sized from the measured time per run; only the driver writes the
catalog, one transaction per chunk. See :mod:`toptraj.sweeps` for running on several machines.
"""

from __future__ import annotations

import concurrent.futures
import math
import uuid
from typing import Any

from toptraj.exceptions import InputError
from toptraj.store import Store
from toptraj.sweeps.config import RunSpec, SweepConfig
from toptraj.sweeps.runner import execute_batch, run_sweep

#: Wall time a task (one batch of runs) should take: Dask's per-task cost (scheduling, transfer,
#: ~1-3 ms) and the batch's sync and commit are then a few percent of the work at most.
TASK_SECONDS = 0.25


def _n_workers(client: Any) -> int:
    if isinstance(client, concurrent.futures.Executor):
        return max(1, int(getattr(client, "_max_workers", 1) or 1))
    try:
        return max(1, len(client.scheduler_info()["workers"]))
    except Exception:  # an unusual client: assume one
        return 1


def chunk_size(seconds_per_run: float | None, remaining: int, n_workers: int) -> int:
    """Runs per task: about TASK_SECONDS of work, but at least two tasks left per worker.

    ``seconds_per_run`` None (nothing measured yet) gives 1: the first tasks measure the cost.
    """
    if seconds_per_run is None:
        return 1
    size = int(TASK_SECONDS / max(seconds_per_run, 1e-6))
    return max(1, min(size, math.ceil(remaining / (2 * n_workers))))


def run_on_client(client: Any, todo: list[RunSpec], root: str | None, finish) -> None:
    """Run ``todo`` on ``client`` as batched tasks; call ``finish(results)`` as each batch arrives.

    The first task per worker holds one run (a probe); from then on the chunk size follows the measured time
    per run (mean of the finished runs' generator and write time) so that a task takes about
    ``TASK_SECONDS`` (:func:`chunk_size`), and two tasks per worker are kept in flight. Each task is
    :func:`toptraj.sweeps.runner.execute_batch`: the worker runs the batch with one BLAS thread,
    writes its files into the store (``root``; None: the trajectories come back to the driver),
    syncs them once and returns the catalog fields; ``finish`` commits them in one transaction.
    """
    n_workers = _n_workers(client)
    queue = list(reversed(todo))  # pop() takes runs in grid order
    spent, measured = 0.0, 0
    token = uuid.uuid4().hex[:8]
    is_executor = isinstance(client, concurrent.futures.Executor)
    if not is_executor:
        from distributed import as_completed

        completed = as_completed()
    in_flight: dict = {}
    n_tasks = 0

    def submit():
        nonlocal n_tasks
        size = chunk_size(spent / measured if measured else None, len(queue), n_workers)
        runs = [queue.pop() for _ in range(min(size, len(queue)))]
        if is_executor:
            fut = client.submit(execute_batch, runs, root)
        else:
            # a fresh key per submission: a key reused from an earlier sweep on the same client
            # could be answered from the scheduler's memory with that sweep's result
            fut = client.submit(execute_batch, runs, root, key=f"toptraj-batch-{runs[0].key[:16]}-{token}-{n_tasks}")
            completed.add(fut)
        n_tasks += 1
        in_flight[fut] = runs

    while queue or in_flight:
        # one probe task per worker until a run has been timed, then two tasks per worker in flight
        while queue and len(in_flight) < (2 if measured else 1) * n_workers:
            submit()
        if is_executor:
            done, _ = concurrent.futures.wait(list(in_flight), return_when=concurrent.futures.FIRST_COMPLETED)
            fut = next(iter(done))
        else:
            fut = next(completed)
        runs = in_flight.pop(fut)
        try:
            results = fut.result()
        except Exception as exc:  # the worker died or the task was lost: failed runs, not a failed sweep
            results = []
            for run in runs:
                result = run.catalog_fields()
                result.update(status="failed", error=f"task failed on the cluster: {type(exc).__name__}: {exc}")
                results.append(result)
        for r in results:
            if r.get("duration") is not None:
                spent += r["duration"] + (r.get("write_time") or 0.0)
                measured += 1
        finish(results)


def run_with_dask(cfg: SweepConfig, st: Store, workers: int | None, scheduler: str | None, worker_writes: bool):
    """Run the sweep on a new LocalCluster of ``workers`` processes, or on the cluster at ``scheduler``."""
    try:
        from distributed import Client
    except ModuleNotFoundError:
        raise InputError("--workers/--scheduler need dask: pip install 'toptraj[dask]'") from None
    if scheduler is not None:
        with Client(scheduler) as client:
            return run_sweep(cfg, st, client=client, worker_writes=worker_writes)
    with local_cluster(workers) as cluster, Client(cluster) as client:
        return run_sweep(cfg, st, client=client, worker_writes=worker_writes)


#: Dask settings of :func:`local_cluster`. Workers keep glibc's own malloc tuning: Dask's nanny sets
#: MALLOC_TRIM_THRESHOLD_=65536 in each worker's environment, which also switches off glibc's
#: dynamic mmap threshold, so every temporary array above 128 kB is mapped and unmapped afresh
#: and page-faulted on each use (measured here on the cheap 1 ms modesum run: 0.9 ms of system
#: time per run in the worker against 0.2-0.4 ms without it, and 62-84 against 133-147 runs/s with
#: one worker). No statistical profiler (a thread sampling each worker's stack every 10 ms),
#: event-loop tick 500 ms (20 ms), system monitor every 2 s (0.5 s), memory monitor every 1 s
#: (0.1 s), no work stealing (tasks are batches queued on the scheduler until a worker is free).
CLUSTER_CONFIG = {
    "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "500ms",
    "distributed.admin.system-monitor.interval": "2s",
    "distributed.admin.system-monitor.gil.enabled": False,
    "distributed.worker.memory.monitor-interval": "1s",
    "distributed.scheduler.work-stealing": False,
}


def local_cluster(workers: int | None):
    """A Dask LocalCluster for sweeps: ``workers`` single-threaded worker processes (None: one per core).

    Each worker process runs one task at a time with one BLAS/OpenMP thread (the nanny sets
    OMP/MKL/OPENBLAS_NUM_THREADS=1; :func:`~toptraj.sweeps.runner.execute_batch` also limits the
    pools with threadpoolctl), so n workers use n cores without oversubscription. Dask's periodic
    housekeeping is thinned out (:data:`CLUSTER_CONFIG`): it only feeds the dashboard and logs, and
    it costs CPU the runs need; measured idle here: 1.8% of a core per worker and 3.7% for the
    driver with Dask's defaults, 0.3% and 0.8% with these settings, which matters on a busy shared
    machine where the sweep's processes together get a fraction of a core.
    """
    import logging

    import dask
    from distributed import LocalCluster

    with dask.config.set(CLUSTER_CONFIG):
        return LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0",
            silence_logs=logging.ERROR,
        )
