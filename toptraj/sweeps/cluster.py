"""Sweeps on Dask (a LocalCluster or a running scheduler) or a concurrent.futures executor.

Each task is :func:`toptraj.sweeps.runner.execute_run` of one :class:`~toptraj.sweeps.config.RunSpec`;
only the driver writes the catalog. See :mod:`toptraj.sweeps` for running on several machines.
"""

from __future__ import annotations

import concurrent.futures
import uuid
from typing import Any

from toptraj.exceptions import InputError
from toptraj.store import Store
from toptraj.sweeps.config import RunSpec, SweepConfig
from toptraj.sweeps.runner import execute_run, run_sweep


def run_on_client(client: Any, todo: list[RunSpec], root: str | None, finish) -> None:
    """Submit every run to ``client`` and call ``finish`` on each result as it arrives."""
    if isinstance(client, concurrent.futures.Executor):
        futures = {client.submit(execute_run, run, root): run for run in todo}
        completed = concurrent.futures.as_completed(futures)
    else:
        from distributed import as_completed

        # A fresh task key per submission: a key reused from an earlier sweep on the same client
        # could be answered from the scheduler's memory with that sweep's result.
        token = uuid.uuid4().hex[:8]
        futures = {
            client.submit(execute_run, run, root, key=f"toptraj-run-{run.key[:16]}-{token}"): run for run in todo
        }
        completed = as_completed(list(futures))
    for fut in completed:
        run = futures.pop(fut)
        try:
            result = fut.result()
        except Exception as exc:  # the worker died or the task was lost: a failed run, not a failed sweep
            result = run.catalog_fields()
            result.update(status="failed", error=f"task failed on the cluster: {type(exc).__name__}: {exc}")
        finish(result)


def run_with_dask(cfg: SweepConfig, st: Store, workers: int | None, scheduler: str | None, worker_writes: bool):
    """Run the sweep on a new LocalCluster of ``workers`` processes, or on the cluster at ``scheduler``."""
    try:
        import logging

        from distributed import Client, LocalCluster
    except ModuleNotFoundError:
        raise InputError("--workers/--scheduler need dask: pip install 'toptraj[dask]'") from None
    if scheduler is not None:
        with Client(scheduler) as client:
            return run_sweep(cfg, st, client=client, worker_writes=worker_writes)
    with LocalCluster(
        n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0", silence_logs=logging.ERROR
    ) as cluster, Client(cluster) as client:
        return run_sweep(cfg, st, client=client, worker_writes=worker_writes)
