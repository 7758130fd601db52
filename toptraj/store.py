"""A keyed, resumable run store with a SQLite catalog (used by :mod:`toptraj.sweeps`).

Layout of a store folder::

    STORE/catalog.sqlite          the catalog (SQLite in WAL mode; pandas.read_sql reads it)
    STORE/runs/ab/abcdef....npz   one trajectory file per run, named by the run's key

A run's *key* is the sha256 of the canonical JSON of its full config (generator, generator
version, function, parameters, seed, axis, call options), so the same run always lands in the same
file and a changed config never reuses a stale one. A run that returns k > 1 trajectories is
written as ``{key}_{i:03d}.npz``, i < k.

Writing protocol (what makes a killed sweep safe to resume), with group commit per batch:

1. A worker runs a batch of runs and writes each run's files with
   :func:`toptraj.io.save_trajectory` without a per-file fsync (temporary file, then ``os.replace``:
   a file is complete or absent, never half-written; each file embeds a content checksum that
   :func:`toptraj.io.load_trajectory` verifies) and hashes each file's bytes (sha256).
2. At the end of the batch the worker makes all its files durable at once (:func:`sync_files`:
   one ``syncfs`` of the store's file system on Linux, else an fsync per file and directory), then
   returns paths and hashes to the driver.
3. Only the driver writes the catalog: one transaction per batch, recording for each run its
   status (``done``/``failed``), parameters, seed, durations, file list and file hashes, or the
   error. So the durability cost (sync and commit) is paid once per batch, not once per run.
4. A run counts as done only if its catalog row says ``done`` *and* every file is present with
   the recorded sha256. Anything else (no row, ``failed``, missing, truncated or altered file) is
   run again. A kill (SIGKILL included) between steps 1 and 3 leaves complete files without rows:
   they are re-run and overwritten atomically, never read back. Leftover temporary files (hidden
   ``.*.tmp`` names) are never read and are removed by :meth:`Store.clean_temporary`.

Cost model: per run, one compressed ``.npz`` write, one re-read for the hash (from the page
cache); per batch, one sync and one SQLite commit (WAL, ``synchronous=NORMAL``: no fsync per
commit). A per-file fsync cost 3-12 ms on the 2-core development VM (busy); the batch sync
spreads that over the batch (benchmarks/bench_sweeps.py). Verifying a store on resume re-hashes
every done file: O(total bytes), about 0.5-1 ms per small run.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import os
import socket
import sqlite3
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from toptraj.io import StoreError, load_trajectory, save_trajectory
from toptraj.trajectory import Trajectory, TrajectorySet

CATALOG = "catalog.sqlite"
RUNS_DIR = "runs"
STATUSES = ("done", "failed")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    key TEXT PRIMARY KEY,
    generator TEXT NOT NULL,
    function TEXT NOT NULL,
    version TEXT NOT NULL,
    params TEXT NOT NULL,
    seed INTEGER,
    axis TEXT NOT NULL,
    options TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('done', 'failed')),
    files TEXT NOT NULL,
    checksums TEXT NOT NULL,
    duration REAL,
    write_time REAL,
    error TEXT,
    traceback TEXT,
    host TEXT,
    finished TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sweeps (
    sweep_id TEXT PRIMARY KEY,
    name TEXT,
    config TEXT NOT NULL,
    n_runs INTEGER NOT NULL,
    created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sweep_runs (
    sweep_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    key TEXT NOT NULL,
    PRIMARY KEY (sweep_id, idx)
);
"""


def file_sha256(path: str | os.PathLike) -> str:
    """sha256 (hex) of a file's bytes, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def run_relpaths(key: str, n_files: int) -> list[str]:
    """Relative paths (POSIX) of a run's files inside the store folder."""
    if n_files == 1:
        return [f"{RUNS_DIR}/{key[:2]}/{key}.npz"]
    return [f"{RUNS_DIR}/{key[:2]}/{key}_{i:03d}.npz" for i in range(n_files)]


def write_run_files(
    root: str | os.PathLike, key: str, trajectories: Sequence[Trajectory], durable: bool = True
) -> tuple[list[str], list[str]]:
    """Write a run's trajectories into the store folder ``root``; safe to call from any worker.

    ``durable=False`` skips the per-file fsync (the files are still written atomically); the
    caller must call :func:`sync_files` on them before they are recorded in the catalog.

    Returns
    -------
    files : list of str, length k
        Paths relative to ``root``.
    checksums : list of str, length k
        sha256 of each file's bytes, for the driver to record in the catalog.
    """
    if not trajectories:
        raise ValueError("trajectories must not be empty: a run must produce at least one trajectory")
    root = Path(root)
    files = run_relpaths(key, len(trajectories))
    sums = []
    for rel, traj in zip(files, trajectories, strict=True):
        path = save_trajectory(traj, root / rel, fsync=durable)
        sums.append(file_sha256(path))
    return files, sums


def _syncfs():
    """libc ``syncfs`` (Linux: flush one file system) or None where it does not exist."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        fn = libc.syncfs
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int]
    return fn


def sync_files(root: str | os.PathLike, files: Iterable[str]) -> None:
    """Make files written with ``durable=False`` (and their directory entries) durable.

    On Linux one ``syncfs`` call flushes the store's whole file system (one journal commit for the
    batch); elsewhere, or if it fails, each file and each of their directories is fsynced. Raises
    OSError if the data cannot be made durable.
    """
    root = Path(root)
    files = list(files)
    if not files:
        return
    fn = _syncfs()
    if fn is not None:
        fd = os.open(root, os.O_RDONLY)
        try:
            if fn(fd) == 0:
                return
        finally:
            os.close(fd)
    dirs = set()
    for rel in files:
        path = root / rel
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        dirs.add(path.parent)
    for folder in dirs:
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds")


class Store:
    """A store folder: run files keyed by config hash plus the catalog.

    Parameters
    ----------
    root : path
        Store folder; created (with an empty catalog) if it does not exist.

    Notes
    -----
    Open one ``Store`` per driver process. Workers never open the catalog; they call
    :func:`write_run_files` and hand the result to the driver, which calls :meth:`record`.
    """

    def __init__(self, root: str | os.PathLike):
        if not isinstance(root, (str, os.PathLike)):
            raise ValueError(f"root must be a path, got {type(root).__name__}")
        self.root = Path(root)
        if self.root.exists() and not self.root.is_dir():
            raise ValueError(f"root must be a folder, got the file {str(self.root)!r}")
        self.root.mkdir(parents=True, exist_ok=True)
        self.catalog_path = self.root / CATALOG
        # isolation_level=None: we issue BEGIN/COMMIT ourselves, one transaction per batch.
        self._db = sqlite3.connect(self.catalog_path, timeout=60.0, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode: a commit survives a killed process (it is in the OS cache); only a
        # power cut can lose the last commits, which then simply run again.
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    # -- lifecycle -------------------------------------------------------------------------------
    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({str(self.root)!r})"

    # -- writing (driver only) -------------------------------------------------------------------
    def register_sweep(self, sweep_id: str, config: Mapping[str, Any], keys: Sequence[str], name: str = "") -> None:
        """Record a sweep's config and the ordered list of its run keys (idempotent)."""
        with self._transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO sweeps (sweep_id, name, config, n_runs, created) VALUES (?, ?, ?, ?, ?)",
                (sweep_id, name, json.dumps(config, sort_keys=True), len(keys), _now()),
            )
            db.executemany(
                "INSERT OR IGNORE INTO sweep_runs (sweep_id, idx, key) VALUES (?, ?, ?)",
                [(sweep_id, i, k) for i, k in enumerate(keys)],
            )

    def record(self, results: Iterable[Mapping[str, Any]]) -> None:
        """Write finished runs to the catalog in one transaction (replacing earlier rows of a key).

        Each result is a mapping with keys ``key, generator, function, version, params, seed, axis,
        options, status, files, checksums, duration, write_time, error, traceback, host``.
        """
        rows = []
        for r in results:
            if r["status"] not in STATUSES:
                raise ValueError(f"status must be one of {list(STATUSES)}, got {r['status']!r}")
            rows.append(
                (
                    r["key"], r["generator"], r["function"], str(r["version"]),
                    json.dumps(r["params"], sort_keys=True), r["seed"],
                    json.dumps(r["axis"], sort_keys=True), json.dumps(r.get("options", {}), sort_keys=True),
                    r["status"], json.dumps(list(r.get("files", []))), json.dumps(list(r.get("checksums", []))),
                    r.get("duration"), r.get("write_time"), r.get("error"), r.get("traceback"),
                    r.get("host") or socket.gethostname(), _now(),
                )
            )
        with self._transaction() as db:
            db.executemany("INSERT OR REPLACE INTO runs VALUES (" + ",".join("?" * 17) + ")", rows)

    def _transaction(self):
        db = self._db

        class _Tx:
            def __enter__(self_inner):
                db.execute("BEGIN IMMEDIATE")
                return db

            def __exit__(self_inner, exc_type, exc, tb):
                db.execute("ROLLBACK" if exc_type else "COMMIT")
                return False

        return _Tx()

    # -- reading ---------------------------------------------------------------------------------
    def rows(self, keys: Iterable[str] | None = None) -> dict[str, dict]:
        """Catalog rows as dicts (JSON columns decoded), by key; all rows if ``keys`` is None."""
        cur = self._db.execute("SELECT * FROM runs")
        names = [d[0] for d in cur.description]
        wanted = None if keys is None else set(keys)
        out = {}
        for values in cur:
            row = dict(zip(names, values, strict=True))
            if wanted is not None and row["key"] not in wanted:
                continue
            for col in ("params", "axis", "options", "files", "checksums"):
                row[col] = json.loads(row[col])
            out[row["key"]] = row
        return out

    def verify_row(self, row: Mapping[str, Any]) -> str | None:
        """Why a ``done`` row's files cannot be trusted (missing or hash mismatch), or None if intact."""
        if not row["files"]:
            return "no files recorded"
        for rel, expected in zip(row["files"], row["checksums"], strict=True):
            path = self.root / rel
            if not path.is_file():
                return f"{rel}: missing"
            if file_sha256(path) != expected:
                return f"{rel}: sha256 differs from the catalog (corrupt or truncated)"
        return None

    def sweep_keys(self, sweep_id: str) -> list[str]:
        """Ordered run keys of a registered sweep."""
        cur = self._db.execute("SELECT key FROM sweep_runs WHERE sweep_id = ? ORDER BY idx", (sweep_id,))
        keys = [k for (k,) in cur]
        if not keys:
            known = [s for (s,) in self._db.execute("SELECT sweep_id FROM sweeps")]
            raise ValueError(f"sweep_id {sweep_id!r} is not in {self.root}; known sweeps: {known}")
        return keys

    def sweeps(self) -> list[dict]:
        """Registered sweeps: sweep_id, name, n_runs, created, config (decoded)."""
        cur = self._db.execute("SELECT sweep_id, name, n_runs, created, config FROM sweeps ORDER BY created")
        return [
            {"sweep_id": s, "name": n, "n_runs": k, "created": c, "config": json.loads(cfg)} for s, n, k, c, cfg in cur
        ]

    def load(self, keys: Sequence[str], missing: str = "raise") -> TrajectorySet:
        """Trajectories of the given runs, in order, as a TrajectorySet.

        Parameters
        ----------
        keys : sequence of str
            Run keys.
        missing : {"raise", "skip"}
            What to do with runs that are failed or not run: raise a ``StoreError`` listing them,
            or leave them out.

        Raises
        ------
        StoreError
            A file is missing or differs from its catalog hash (run the sweep again with resume
            to re-run it), or fails its embedded checksum; or runs are missing and
            ``missing="raise"``.
        """
        if missing not in ("raise", "skip"):
            raise ValueError(f"missing must be one of ['raise', 'skip'], got {missing!r}")
        rows = self.rows(keys)
        absent = [k for k in keys if k not in rows or rows[k]["status"] != "done"]
        if absent and missing == "raise":
            n_failed = sum(1 for k in absent if k in rows)
            raise StoreError(
                f"{len(absent)} of {len(keys)} runs are not done ({n_failed} failed, {len(absent) - n_failed} not run)"
                f" in {self.root}; resume the sweep or pass missing='skip'"
            )
        out = []
        for k in keys:
            row = rows.get(k)
            if row is None or row["status"] != "done":
                continue
            problem = self.verify_row(row)
            if problem is not None:
                raise StoreError(f"{self.root}: run {k[:12]}: {problem}; resume the sweep to re-run it")
            out.extend(load_trajectory(self.root / rel) for rel in row["files"])
        return TrajectorySet(out)

    def load_sweep(self, sweep_id: str, missing: str = "raise") -> TrajectorySet:
        """All trajectories of a registered sweep, in grid order (see :meth:`load`)."""
        return self.load(self.sweep_keys(sweep_id), missing=missing)

    def catalog(self, sweep_id: str | None = None, expand_params: bool = True):
        """The catalog as a pandas DataFrame (pandas imported here), one row per run.

        With ``expand_params`` every parameter becomes a column ``param.<name>``. With a
        ``sweep_id`` only that sweep's runs, in grid order, and runs not yet attempted appear with
        status ``pending``.
        """
        import pandas as pd

        with contextlib.closing(sqlite3.connect(self.catalog_path)) as con:
            if sweep_id is None:
                df = pd.read_sql("SELECT * FROM runs ORDER BY finished", con)
            else:
                self.sweep_keys(sweep_id)
                df = pd.read_sql(
                    "SELECT s.idx, s.key AS key, r.* FROM sweep_runs s LEFT JOIN runs r ON r.key = s.key"
                    " WHERE s.sweep_id = ? ORDER BY s.idx",
                    con,
                    params=(sweep_id,),
                )
                df = df.loc[:, ~df.columns.duplicated()]
                df["status"] = df["status"].fillna("pending")
        if expand_params and len(df):
            params = pd.DataFrame([json.loads(p) if isinstance(p, str) else {} for p in df["params"]], index=df.index)
            df = pd.concat([df, params.add_prefix("param.")], axis=1)
        return df

    def clean_temporary(self, older_than: float = 3600.0) -> int:
        """Remove temporary files left by killed writers, if older than ``older_than`` seconds.

        The age limit protects another process that is writing into the same store right now.
        Returns the number of files removed.
        """
        cutoff = time.time() - older_than
        n = 0
        runs = self.root / RUNS_DIR
        if not runs.is_dir():
            return 0
        for p in runs.glob("*/.*.tmp"):
            try:
                if p.stat().st_mtime < cutoff:
                    p.unlink()
                    n += 1
            except FileNotFoundError:  # removed by a concurrent cleaner
                continue
        return n
