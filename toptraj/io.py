"""The store: trajectories and diagrams on disk as plain data, and users' CSV loss logs.

Files are ``.npz`` archives of plain arrays (no pickles: opening a file someone sent you never runs
code) plus one JSON string with the metadata and provenance. They are readable without toptraj::

    z = numpy.load("run.npz")                  # allow_pickle is False by default
    df = pandas.DataFrame(z["values"], index=z["times"], columns=z["channels"])
    meta = json.loads(str(z["meta"]))

Every write goes to a temporary file in the target folder and is renamed into place, so a reader
never sees a half-written file and a crash never destroys an existing one.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import os
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from toptraj.diagrams import Diagram
from toptraj.exceptions import InputError, StoreError  # noqa: F401 (re-exported: their historical home)
from toptraj.trajectory import Trajectory, TrajectorySet

FORMAT_VERSION = 1


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _current_umask()


def strict_json_value(value: Any) -> Any:
    """A JSON-ready copy: NaN/inf -> None, numpy -> Python, tuples -> lists, other objects -> str."""
    if isinstance(value, dict):
        return {str(k): strict_json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict_json_value(v) for v in value]
    if isinstance(value, np.ndarray):
        return strict_json_value(value.tolist())
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return v if math.isfinite(v) else None
    if value is None or isinstance(value, str):
        return value
    return str(value)


def dumps_strict(value: Any, **kwargs: Any) -> str:
    """JSON text that every parser accepts: NaN/inf become null (``allow_nan=False`` enforces it).

    Other keyword arguments go to :func:`json.dumps` (e.g. ``indent``, ``default``).
    """
    return json.dumps(strict_json_value(value), allow_nan=False, **kwargs)


def check_file_size(path: str | os.PathLike, limit: int | None = None, *, force: bool = False) -> int:
    """Size of ``path`` in bytes; :class:`toptraj.guards.SizeError` (an InputError) above ``limit``.

    ``limit`` None means :data:`toptraj.guards.MAX_FILE_BYTES` (1 GiB); ``force=True`` (the
    command line's ``--force-size``) skips the check. Call before reading a user's file.
    """
    from toptraj import guards

    return guards.check_file_size(path, guards.MAX_FILE_BYTES if limit is None else limit, force=force)


def _restore_floats(value: Any, depth: int = 0) -> Any:
    if depth > 64:
        raise ValueError("metadata nested more than 64 levels deep")
    if isinstance(value, dict):
        return {k: _restore_floats(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_restore_floats(v, depth + 1) for v in value]
    if value in ("inf", "-inf", "nan"):
        return float(value)
    return value


def _checksum(*arrays: np.ndarray, text: str = "") -> str:
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(a).tobytes())
    h.update(text.encode())
    return h.hexdigest()


def atomic_write(path: str | os.PathLike, write, fsync: bool = True) -> Path:
    """Call ``write(fileobj)`` on a temporary file next to ``path``, then rename it into place.

    ``fsync=False`` skips the per-file fsync: the rename still makes the file appear complete or
    not at all to any process (a killed writer leaves only a hidden temporary file), but a power
    cut may lose it; the caller then makes it durable itself (see :func:`toptraj.store.sync_files`).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600 files; give the usual permissions
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            if fsync:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write a text file atomically (JSON reports, catalogs)."""
    return atomic_write(path, lambda fh: fh.write(text.encode()))


def save_trajectory(traj: Trajectory, path: str | os.PathLike, *, fsync: bool = True) -> Path:
    """Write one trajectory to ``path`` (``.npz``) atomically; returns the path.

    ``fsync=False``: atomic but not yet durable (see :func:`atomic_write`).
    """
    path = Path(path)
    if path.suffix != ".npz":
        raise ValueError(f"path must end in .npz, got {str(path)!r}")
    arrays = trajectory_arrays(traj)
    return atomic_write(path, lambda fh: np.savez_compressed(fh, **arrays), fsync=fsync)


def trajectory_arrays(traj: Trajectory) -> dict[str, np.ndarray]:
    """The members of a trajectory file (``times, values, channels, meta``), the metadata with its checksum.

    Any ``.npz`` of these members is read by :func:`load_trajectory` (the sweep store writes them
    with its own, faster zip layout: :func:`toptraj.store.encode_run_file`).
    """
    if not isinstance(traj, Trajectory):
        raise ValueError(f"traj must be a Trajectory, got {type(traj).__name__}")
    meta = {"format": "toptraj.trajectory", "format_version": FORMAT_VERSION, **traj.to_dict()}
    meta_text = json.dumps(meta, sort_keys=True)
    meta["checksum"] = _checksum(traj.times, traj.values, text=meta_text)
    return {
        "times": traj.times,
        "values": traj.values,
        "channels": np.array(traj.channels, dtype=str),
        "meta": np.array(json.dumps(meta, sort_keys=True)),
    }


_META_TYPES = (
    ("channels", list, "a list of strings"),
    ("axis", str, "a string"),
    ("source", str, "a string"),
    ("params", dict, "an object"),
    ("labels", dict, "an object"),
    ("provenance", dict, "an object"),
    ("seed", (int, type(None)), "an integer or null"),
)


def load_trajectory(path: str | os.PathLike, verify: bool = True) -> Trajectory:
    """Read a trajectory written by :func:`save_trajectory`; verify its checksum.

    Raises
    ------
    StoreError
        If the file is missing, not a toptraj trajectory, truncated or fails its checksum.
    """
    path = Path(path)
    if not path.is_file():
        raise StoreError(f"{path}: no such file")
    try:
        with np.load(path, allow_pickle=False) as z:
            times, values, meta_text = z["times"], z["values"], str(z["meta"])
    except Exception as exc:  # zip/CRC/format errors all mean the same thing to the caller
        raise StoreError(f"{path}: unreadable or truncated trajectory file ({type(exc).__name__}: {exc})") from exc
    try:
        meta = json.loads(meta_text)
    except (ValueError, RecursionError):
        raise StoreError(f"{path}: metadata is not valid JSON; not a toptraj trajectory file") from None
    if not isinstance(meta, dict) or meta.get("format") != "toptraj.trajectory":
        raise StoreError(f"{path}: not a toptraj trajectory file")
    checksum = meta.pop("checksum", None)
    if verify and checksum != _checksum(times, values, text=json.dumps(meta, sort_keys=True)):
        raise StoreError(f"{path}: checksum mismatch (file corrupt)")
    for field, types, rule in _META_TYPES:
        if field in meta and not isinstance(meta[field], types):
            raise StoreError(f"{path}: metadata field {field!r} must be {rule}, got {type(meta[field]).__name__}")
    if "channels" in meta and not all(isinstance(c, str) for c in meta["channels"]):
        raise StoreError(f"{path}: metadata field 'channels' must be a list of strings")
    try:
        return Trajectory(
            times=times,
            values=values,
            channels=tuple(meta["channels"]),
            axis=meta["axis"],
            source=meta["source"],
            params=_restore_floats(meta["params"]),
            seed=meta["seed"],
            labels=_restore_floats(meta["labels"]),
            provenance=meta["provenance"],
        )
    except KeyError as exc:
        raise StoreError(f"{path}: metadata lacks the field {exc}; not a complete toptraj trajectory file") from None
    except (TypeError, ValueError, AttributeError, RecursionError) as exc:
        raise StoreError(f"{path}: invalid trajectory ({type(exc).__name__}: {exc})") from None


SAVE_MODES = ("refuse", "append", "overwrite")


def _stored_runs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.npz") if not p.name.startswith(".")) if folder.is_dir() else []


def check_set_target(folder: str | os.PathLike, mode: str = "refuse") -> list[Path]:
    """The stored runs already in ``folder``; InputError if there are any and ``mode`` is "refuse".

    Call it before generating, so that a refused write costs nothing (see :func:`save_set`).
    """
    if mode not in SAVE_MODES:
        raise ValueError(f"mode must be one of {list(SAVE_MODES)}, got {mode!r}")
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise InputError(f"{folder}: exists and is not a folder")
    existing = _stored_runs(folder)
    if existing and mode == "refuse":
        raise InputError(
            f"{folder}: already holds {len(existing)} stored run(s) (e.g. {existing[0].name}); "
            "pass --append to add new files beside them or --overwrite to replace them"
        )
    return existing


def save_set(
    trajectories: Iterable[Trajectory], folder: str | os.PathLike, prefix: str = "run", mode: str = "refuse"
) -> list[Path]:
    """Write trajectories as ``folder/{prefix}_{i:05d}.npz`` plus an ``index.json`` listing them.

    Parameters
    ----------
    trajectories : iterable of Trajectory
    folder : path
        Created if needed.
    prefix : str
        File name prefix.
    mode : {"refuse", "append", "overwrite"}
        What to do when ``folder`` already holds stored runs (``*.npz``): "refuse" (default) raises
        InputError and writes nothing; "append" writes new files under numbers after the highest
        existing ``{prefix}_NNNNN`` and never replaces a file; "overwrite" writes the new set and then
        removes the runs that were there before, so the folder holds exactly the new set.
        Files other than ``*.npz`` and ``index.json`` are never touched.

    Returns
    -------
    list of Path, one per trajectory
    """
    folder = Path(folder)
    existing = check_set_target(folder, mode)
    trajectories = list(trajectories)
    start = 0
    if mode == "append":
        pattern = re.compile(rf"^{re.escape(prefix)}_(\d+)\.npz$")
        numbers = [int(m.group(1)) for p in existing if (m := pattern.match(p.name))]
        start = max(numbers) + 1 if numbers else 0
    paths = []
    i = start
    for t in trajectories:
        path = folder / f"{prefix}_{i:05d}.npz"
        while mode == "append" and path.exists():  # a file appeared meanwhile: never replace it
            i += 1
            path = folder / f"{prefix}_{i:05d}.npz"
        paths.append(save_trajectory(t, path))
        i += 1
    if mode == "overwrite":
        new = {p.resolve() for p in paths}
        for old in existing:
            if old.resolve() not in new:
                old.unlink(missing_ok=True)
    index = {"format": "toptraj.set", "files": sorted(p.name for p in _stored_runs(folder))}
    atomic_write_text(folder / "index.json", dumps_strict(index, indent=1))
    return paths


def load_set(folder: str | os.PathLike) -> TrajectorySet:
    """All trajectory files in ``folder`` (sorted by name) as a TrajectorySet."""
    folder = Path(folder)
    if not folder.is_dir():
        raise StoreError(f"{folder}: no such folder")
    files = sorted(p for p in folder.glob("*.npz") if not p.name.startswith("."))
    return TrajectorySet(load_trajectory(p) for p in files)


def to_frame(traj: Trajectory):
    """The trajectory as a pandas DataFrame indexed by its axis (pandas imported lazily)."""
    import pandas as pd

    df = pd.DataFrame(np.asarray(traj.values), index=pd.Index(np.asarray(traj.times), name=traj.axis), columns=list(traj.channels))
    df.attrs.update(traj.to_dict())
    return df


# -- diagrams ------------------------------------------------------------------------------------
def save_diagrams(diagrams: Iterable[Diagram], path: str | os.PathLike, meta: dict | None = None) -> Path:
    """Write a list of diagrams to one ``.npz``: arrays ``d{i}_h{q}`` of shape (n, 2) with inf kept."""
    diagrams = list(diagrams)
    arrays: dict[str, np.ndarray] = {}
    for i, d in enumerate(diagrams):
        for q, a in zip(d.dims, d.pairs):
            arrays[f"d{i}_h{q}"] = np.asarray(a)
    info = {
        "format": "toptraj.diagrams",
        "format_version": FORMAT_VERSION,
        "n": len(diagrams),
        "dims": [list(d.dims) for d in diagrams],
        "diagram_meta": [d.meta for d in diagrams],
        "meta": meta or {},
    }
    arrays["meta"] = np.array(json.dumps(info, default=str))
    return atomic_write(Path(path), lambda fh: np.savez_compressed(fh, **arrays))


def load_diagrams(path: str | os.PathLike) -> list[Diagram]:
    """Read diagrams written by :func:`save_diagrams`."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            info = json.loads(str(z["meta"]))
            if info.get("format") != "toptraj.diagrams":
                raise StoreError(f"{path}: not a toptraj diagrams file")
            return [
                Diagram(tuple(z[f"d{i}_h{q}"] for q in dims), tuple(dims), info["diagram_meta"][i])
                for i, dims in enumerate(info["dims"])
            ]
    except StoreError:
        raise
    except Exception as exc:
        raise StoreError(f"{path}: unreadable diagrams file ({exc})") from exc


# -- users' CSV logs -----------------------------------------------------------------------------
CSV_REQUIRED = ("step", "loss")
CSV_OPTIONAL = ("test_loss", "run")


def read_loss_csv(path: str | os.PathLike) -> TrajectorySet:
    """Read a user's loss log: columns ``step``, ``loss``, optional ``test_loss`` and ``run``.

    Rows of one ``run`` (or the whole file when there is no ``run`` column) form one trajectory
    with channels ``loss`` (and ``test_loss``). Steps must be non-negative and strictly increasing
    within a run; at least two rows per run. Losses must be finite.

    Raises
    ------
    InputError
        Naming the file, the row (1-based, header = row 1) or column, and the rule broken.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: file not found")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, expected a CSV file")
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot be read as text ({exc})") from exc
    rows = list(csv.reader(text.splitlines()))
    rows = [r for r in rows if any(c.strip() for c in r)]
    if not rows:
        raise InputError(f"{path}: file is empty; expected a header with columns {list(CSV_REQUIRED)}")
    header = [c.strip() for c in rows[0]]
    missing = [c for c in CSV_REQUIRED if c not in header]
    if missing:
        raise InputError(f"{path}: missing column(s) {missing} in header {header}; required {list(CSV_REQUIRED)}")
    if len(rows) == 1:
        raise InputError(f"{path}: header only, no data rows")
    col = {name: header.index(name) for name in header}
    numeric = [c for c in ("step", "loss", "test_loss") if c in col]
    runs: dict[str, dict[str, list[float]]] = {}
    last_step: dict[str, tuple[float, int]] = {}
    for line_no, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise InputError(f"{path}: row {line_no} has {len(row)} fields, header has {len(header)}")
        run = row[col["run"]].strip() if "run" in col else ""
        rec = runs.setdefault(run, {c: [] for c in numeric})
        for c in numeric:
            cell = row[col[c]].strip()
            try:
                x = float(cell)
            except ValueError:
                raise InputError(f"{path}: row {line_no}, column '{c}': {cell!r} is not a number") from None
            if not math.isfinite(x):
                raise InputError(f"{path}: row {line_no}, column '{c}': {cell!r} is not finite (NaN/inf not allowed)")
            rec[c].append(x)
        step = rec["step"][-1]
        if step < 0:
            raise InputError(f"{path}: row {line_no}, column 'step': {step:g} is negative; steps must be >= 0")
        if run in last_step and step <= last_step[run][0]:
            prev, prev_line = last_step[run]
            raise InputError(
                f"{path}: row {line_no}, column 'step': {step:g} is not greater than {prev:g} (row {prev_line})"
                + (f" of run {run!r}" if run else "")
                + "; steps must be strictly increasing"
            )
        last_step[run] = (step, line_no)
    out = []
    for run, rec in runs.items():
        if len(rec["step"]) < 2:
            where = f"run {run!r}" if run else "the file"
            raise InputError(f"{path}: {where} has a single data row; at least 2 rows are needed")
        chans = [c for c in ("loss", "test_loss") if c in rec]
        out.append(
            Trajectory(
                times=np.array(rec["step"]),
                values=np.column_stack([rec[c] for c in chans]),
                channels=tuple(chans),
                axis="step",
                source=f"csv:{path.name}" + (f":{run}" if run else ""),
                params={"file": str(path), "run": run},
            )
        )
    return TrajectorySet(out)


def read_loss_logs(path: str | os.PathLike) -> TrajectorySet:
    """A CSV file or a folder of ``*.csv`` files (each read by :func:`read_loss_csv`)."""
    path = Path(path)
    if path.is_dir():
        files = sorted(path.glob("*.csv"))
        if not files:
            raise InputError(f"{path}: folder contains no .csv files")
        out = TrajectorySet()
        for f in files:
            out = out + read_loss_csv(f)
        return out
    return read_loss_csv(path)
