"""A keyed, resumable run store with a SQLite catalog (used by :mod:`toptraj.sweeps`).

Layout of a store folder::

    STORE/catalog.sqlite          the catalog (SQLite in WAL mode; pandas.read_sql reads it)
    STORE/runs/ab/abcdef....npz   one trajectory file per run, named by the run's key

A run's *key* is the sha256 of the canonical JSON of its full config (generator, generator
version, function, parameters, seed, axis, call options), so the same run always lands in the same
file and a changed config never reuses a stale one. A run that returns k > 1 trajectories is
written as ``{key}_{i:03d}.npz``, i < k.

Writing protocol (what makes a killed sweep safe to resume), with group commit per batch:

1. A worker runs a batch of runs and writes each run's files with :func:`write_run_files`
   without a per-file fsync (encoded in memory, written to a temporary file, then ``os.replace``:
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

One driver at a time: the first call that writes the catalog takes an exclusive lock on
``STORE/.lock`` (``fcntl.flock``; the file holds the holder's pid, host and start time). A second
process that tries to write the same store gets :class:`StoreLockedError` naming the store and the
holder. The kernel drops the lock when its holder dies (even by SIGKILL), so a lock file left by a
dead driver is stale: the next driver takes it over and says so on stderr. Readers (``load``,
``catalog``) take no lock.

Paths never escape the store: every file name read from the catalog must be the one the writing
protocol gives the run (``runs/ab/KEY[_iii].npz``) and must resolve (symlinks followed) inside
the store folder; anything else is refused with a :class:`~toptraj.io.StoreError` naming the
catalog, the run and the rule, before the file is opened or hashed. A damaged or foreign
``catalog.sqlite`` gives a one-line ``StoreError`` too.

Cost model: per run, one ``.npz`` encoded in memory (numeric arrays stored, metadata deflated:
:func:`encode_run_file`), hashed from memory and written; per batch, one sync and one SQLite commit
(WAL, ``synchronous=NORMAL``: no fsync per commit). A per-file fsync cost 3-12 ms on the 2-core
development VM (busy); the batch sync spreads that over the batch (benchmarks/bench_sweeps.py).
Verifying a store on resume re-hashes every done file: O(total bytes), about 0.2-1 ms per small run.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import functools
import hashlib
import io
import json
import os
import re
import secrets
import socket
import sqlite3
import sys
import time
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from toptraj.io import StoreError, dumps_strict, load_trajectory, trajectory_arrays
from toptraj.trajectory import Trajectory, TrajectorySet

CATALOG = "catalog.sqlite"
RUNS_DIR = "runs"
LOCK = ".lock"
STATUSES = ("done", "failed")
_KEY_RE = re.compile(r"^[0-9a-f]{64}$")


class StoreLockedError(StoreError):
    """Another live process is driving (writing) the same store; the message names it."""

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


def encode_run_file(traj: Trajectory) -> bytes:
    """The bytes of a run file: a ``.npz`` that :func:`toptraj.io.load_trajectory` (and ``numpy.load``) reads.

    Numeric arrays are stored uncompressed and the text members (metadata, channel names) deflated
    at level 1, in memory: measured on a 64-point curve, 0.10 ms instead of 0.39 ms for
    ``numpy.savez_compressed`` (level 6 on every member) for a file 4% larger (2.5 vs 2.4 kB; a
    768-point curve 13.8 vs 13.1 kB): noisy floats barely compress, the metadata does.
    """
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for name, array in trajectory_arrays(traj).items():
            member = io.BytesIO()
            np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)
            info = zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            if array.dtype.kind == "U":
                zf.writestr(info, member.getvalue(), compress_type=zipfile.ZIP_DEFLATED, compresslevel=1)
            else:
                zf.writestr(info, member.getvalue())
    return buf.getvalue()


def _write_atomic(path: Path, data: bytes, durable: bool) -> None:
    """Write ``data`` to a hidden temporary file next to ``path`` and rename it into place."""
    tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # umask applies
    except FileNotFoundError:  # first file of this sub-folder
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_run_files(
    root: str | os.PathLike, key: str, trajectories: Sequence[Trajectory], durable: bool = True
) -> tuple[list[str], list[str]]:
    """Write a run's trajectories into the store folder ``root``; safe to call from any worker.

    Each file is encoded in memory (:func:`encode_run_file`), hashed from those bytes (no re-read)
    and written atomically (hidden temporary file, then rename). ``durable=False`` skips the
    per-file fsync; the caller must call :func:`sync_files` on the files before they are recorded
    in the catalog.

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
        data = encode_run_file(traj)
        _write_atomic(root / rel, data, durable)
        sums.append(hashlib.sha256(data).hexdigest())
    return files, sums


@functools.lru_cache(maxsize=1)
def _syncfs():
    """libc ``syncfs`` (Linux: flush one file system) or None where it does not exist.

    Looked up once per process (``find_library`` starts subprocesses).
    """
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


def _catalog_json(value: Any) -> str:
    """Strict JSON of a catalog field: the C encoder when the value is plain JSON data, else
    :func:`toptraj.io.dumps_strict` (numpy values, NaN/inf -> null); the fast path is what makes
    recording a long axis (a list of floats per run) cheap for the driver."""
    try:
        return json.dumps(value, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError):
        return dumps_strict(value, sort_keys=True)


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds")


def resolve_inside(root: str | os.PathLike, rel: Any, what: str) -> Path:
    """``root / rel`` if that path stays inside ``root`` (symlinks followed), else ``StoreError``.

    Parameters
    ----------
    root : path
        The store folder.
    rel : str
        A relative POSIX path read from the catalog or a config.
    what : str
        Where ``rel`` came from, for the message (e.g. ``"catalog.sqlite: run ab12...: files[0]"``).

    Raises
    ------
    StoreError
        ``rel`` is not a string, is absolute, has a ``..`` component, or resolves outside ``root``.
    """
    if not isinstance(rel, str) or not rel or "\x00" in rel:
        raise StoreError(f"{what}: {rel!r} is not a relative path; paths must stay inside the store {root}")
    parts = rel.replace("\\", "/").split("/")
    if os.path.isabs(rel) or rel.startswith(("/", "\\")) or ".." in parts or re.match(r"^[A-Za-z]:", rel):
        raise StoreError(
            f"{what}: {rel!r} leaves the store (absolute path or '..'); paths must stay inside the store {root}"
        )
    base = Path(root).resolve()
    target = (base / rel).resolve()
    if target != base and base not in target.parents:
        raise StoreError(f"{what}: {rel!r} resolves to {target}, outside the store {base} (symlink?); refused")
    return target


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


class _StoreLock:
    """An exclusive ``flock`` on ``STORE/.lock``, shared by every Store of this process on that folder."""

    _held: dict[str, list] = {}  # resolved root -> [fd, refcount]

    @classmethod
    def acquire(cls, root: Path) -> str:
        import fcntl

        key = str(root.resolve())
        if key in cls._held:
            cls._held[key][1] += 1
            return key
        path = root / LOCK
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = cls._describe(path)
            os.close(fd)
            raise StoreLockedError(
                f"store {root} is being written by another sweep driver ({holder}); "
                f"wait for it to finish, or stop it and run again with --resume (lock file {path})"
            ) from None
        old = cls._read(path)
        if old and (old.get("pid") != os.getpid() or old.get("host") != socket.gethostname()):
            # The kernel released the lock, so its holder is gone: say whose lock is taken over.
            alive = old.get("host") == socket.gethostname() and isinstance(old.get("pid"), int) and _pid_alive(old["pid"])
            note = "" if not alive else " (that pid is alive but holds no lock)"
            print(
                f"toptraj: taking over the stale lock of {root} left by pid {old.get('pid')} on host "
                f"{old.get('host')} since {old.get('since')}{note}",
                file=sys.stderr,
            )
        info = json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": _now()})
        os.ftruncate(fd, 0)
        os.pwrite(fd, info.encode(), 0)
        os.fsync(fd)
        cls._held[key] = [fd, 1]
        return key

    @classmethod
    def release(cls, key: str) -> None:
        entry = cls._held.get(key)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] == 0:
            del cls._held[key]
            # The file is left in place (unlinking it would race with a waiting driver), but emptied
            # while still locked, so that the next driver does not report a clean exit as a stale
            # lock; closing the descriptor releases the flock.
            try:
                os.ftruncate(entry[0], 0)
            finally:
                os.close(entry[0])

    @staticmethod
    def _read(path: Path) -> dict:
        try:
            data = json.loads(path.read_text() or "{}")
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    @classmethod
    def _describe(cls, path: Path) -> str:
        info = cls._read(path)
        if not info:
            return "holder unknown"
        return f"pid {info.get('pid')} on host {info.get('host')} since {info.get('since')}"


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
        self._lock_key: str | None = None
        self._db = None
        try:
            # isolation_level=None: we issue BEGIN/COMMIT ourselves, one transaction per batch.
            self._db = sqlite3.connect(self.catalog_path, timeout=60.0, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode: a commit survives a killed process (it is in the OS cache); only a
            # power cut can lose the last commits, which then simply run again.
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            if self._db is not None:
                self._db.close()
            raise self._damaged(exc) from None

    def _damaged(self, exc: Exception) -> StoreError:
        return StoreError(
            f"{self.catalog_path}: damaged or not a toptraj catalog ({type(exc).__name__}: {exc}); "
            "move it away to start a new store"
        )

    # -- lifecycle -------------------------------------------------------------------------------
    def lock(self) -> None:
        """Take the store's driver lock (done by the first write); StoreLockedError if another process holds it."""
        if self._lock_key is None:
            self._lock_key = _StoreLock.acquire(self.root)

    @property
    def locked(self) -> bool:
        """Whether this Store holds the driver lock."""
        return self._lock_key is not None

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
        if self._lock_key is not None:
            _StoreLock.release(self._lock_key)
            self._lock_key = None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({str(self.root)!r})"

    # -- writing (driver only) -------------------------------------------------------------------
    def register_sweep(self, sweep_id: str, config: Mapping[str, Any], keys: Sequence[str], name: str = "") -> None:
        """Record a sweep's config and the ordered list of its run keys (idempotent)."""
        self.lock()
        with self._transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO sweeps (sweep_id, name, config, n_runs, created) VALUES (?, ?, ?, ?, ?)",
                (sweep_id, name, dumps_strict(config, sort_keys=True), len(keys), _now()),
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
        self.lock()
        rows = []
        for r in results:
            if r["status"] not in STATUSES:
                raise ValueError(f"status must be one of {list(STATUSES)}, got {r['status']!r}")
            rows.append(
                (
                    r["key"], r["generator"], r["function"], str(r["version"]),
                    _catalog_json(r["params"]), r["seed"], _catalog_json(r["axis"]),
                    _catalog_json(r.get("options", {})), r["status"], _catalog_json(list(r.get("files", []))),
                    _catalog_json(list(r.get("checksums", []))),
                    r.get("duration"), r.get("write_time"), r.get("error"), r.get("traceback"),
                    r.get("host") or socket.gethostname(), _now(),
                )
            )
        with self._transaction() as db:
            db.executemany("INSERT OR REPLACE INTO runs VALUES (" + ",".join("?" * 17) + ")", rows)

    def _transaction(self):
        db = self._db
        store = self

        class _Tx:
            def __enter__(self_inner):
                try:
                    db.execute("BEGIN IMMEDIATE")
                except sqlite3.DatabaseError as exc:
                    raise store._damaged(exc) from None
                return db

            def __exit__(self_inner, exc_type, exc, tb):
                try:
                    db.execute("ROLLBACK" if exc_type else "COMMIT")
                except sqlite3.DatabaseError as err:
                    if exc_type is None:
                        raise store._damaged(err) from None
                if isinstance(exc, sqlite3.DatabaseError):
                    raise store._damaged(exc) from None
                return False

        return _Tx()

    def _query(self, sql: str, args: tuple = ()) -> list[tuple]:
        """Rows of a read query; a damaged catalog becomes a one-line StoreError."""
        try:
            cur = self._db.execute(sql, args)
            names = [d[0] for d in cur.description] if cur.description else []
            return [names, *cur.fetchall()]
        except sqlite3.DatabaseError as exc:
            raise self._damaged(exc) from None

    def _decode_row(self, row: dict) -> dict:
        """Decode a row's JSON columns and check the file list against the writing protocol."""
        key = row.get("key")
        where = f"{self.catalog_path}: run {str(key)[:16]!r}"
        if not isinstance(key, str) or not _KEY_RE.match(key):
            raise StoreError(f"{where}: key must be 64 hex digits (a sha256); the catalog is damaged or crafted")
        for col in ("params", "axis", "options", "files", "checksums"):
            try:
                row[col] = json.loads(row[col])
            except (TypeError, ValueError, RecursionError):
                raise StoreError(f"{where}: column {col!r} is not valid JSON; the catalog is damaged") from None
        files, sums = row["files"], row["checksums"]
        if not (isinstance(files, list) and isinstance(sums, list) and len(files) == len(sums)):
            raise StoreError(f"{where}: files and checksums must be lists of equal length; the catalog is damaged")
        if files:
            expected = run_relpaths(key, len(files))
            for i, rel in enumerate(files):
                resolve_inside(self.root, rel, f"{where}: files[{i}]")
                if rel != expected[i]:
                    raise StoreError(
                        f"{where}: files[{i}] = {rel!r} is not the run's own file {expected[i]!r}; "
                        "a catalog may only name files of its runs"
                    )
        if not all(isinstance(c, str) for c in sums):
            raise StoreError(f"{where}: checksums must be hex strings; the catalog is damaged")
        if row.get("status") not in STATUSES:
            raise StoreError(f"{where}: status {row.get('status')!r} is not one of {list(STATUSES)}")
        return row

    # -- reading ---------------------------------------------------------------------------------
    def rows(self, keys: Iterable[str] | None = None) -> dict[str, dict]:
        """Catalog rows as dicts (JSON columns decoded), by key; all rows if ``keys`` is None."""
        names, *values_list = self._query("SELECT * FROM runs")
        wanted = None if keys is None else set(keys)
        out = {}
        for values in values_list:
            row = dict(zip(names, values, strict=True))
            if wanted is not None and row["key"] not in wanted:
                continue
            out[row["key"]] = self._decode_row(row)
        return out

    def verify_row(self, row: Mapping[str, Any]) -> str | None:
        """Why a ``done`` row's files cannot be trusted (missing or hash mismatch), or None if intact."""
        if not row["files"]:
            return "no files recorded"
        for i, (rel, expected) in enumerate(zip(row["files"], row["checksums"], strict=True)):
            path = resolve_inside(self.root, rel, f"{self.catalog_path}: run {str(row.get('key'))[:16]!r}: files[{i}]")
            if not path.is_file():
                return f"{rel}: missing"
            if file_sha256(path) != expected:
                return f"{rel}: sha256 differs from the catalog (corrupt or truncated)"
        return None

    def sweep_keys(self, sweep_id: str) -> list[str]:
        """Ordered run keys of a registered sweep."""
        _, *rows = self._query("SELECT key FROM sweep_runs WHERE sweep_id = ? ORDER BY idx", (sweep_id,))
        keys = [k for (k,) in rows]
        if not keys:
            known = [s for (s,) in self._query("SELECT sweep_id FROM sweeps")[1:]]
            raise ValueError(f"sweep_id {sweep_id!r} is not in {self.root}; known sweeps: {known}")
        return keys

    def sweeps(self) -> list[dict]:
        """Registered sweeps: sweep_id, name, n_runs, created, config (decoded)."""
        _, *rows = self._query("SELECT sweep_id, name, n_runs, created, config FROM sweeps ORDER BY created")
        out = []
        for s, n, k, c, cfg in rows:
            try:
                config = json.loads(cfg)
            except (TypeError, ValueError, RecursionError):
                raise StoreError(f"{self.catalog_path}: sweep {s!r}: config is not valid JSON; the catalog is damaged") from None
            out.append({"sweep_id": s, "name": n, "n_runs": k, "created": c, "config": config})
        return out

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
            out.extend(load_trajectory(self.root / rel) for rel in row["files"])  # names checked in rows()
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

        try:
            df = self._catalog_frame(pd, sweep_id)
        except (sqlite3.DatabaseError, getattr(pd.errors, "DatabaseError", sqlite3.DatabaseError)) as exc:
            raise self._damaged(exc) from None
        if expand_params and len(df):
            try:
                decoded = [json.loads(p) if isinstance(p, str) else {} for p in df["params"]]
            except (ValueError, RecursionError):
                raise StoreError(f"{self.catalog_path}: a params column is not valid JSON; the catalog is damaged") from None
            params = pd.DataFrame([p if isinstance(p, dict) else {} for p in decoded], index=df.index)
            df = pd.concat([df, params.add_prefix("param.")], axis=1)
        return df

    def _catalog_frame(self, pd, sweep_id):
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
        return df

    def clean_temporary(self, older_than: float = 3600.0) -> int:
        """Remove temporary files left by killed writers, if older than ``older_than`` seconds.

        The age limit protects another process that is writing into the same store right now.
        Returns the number of files removed.
        """
        self.lock()
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
