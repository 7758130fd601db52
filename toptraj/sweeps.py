"""Sweeps: a grid of generator runs into a resumable store, in-process or on a Dask cluster.

Command line::

    toptraj sweep CONFIG.toml [--out STORE] [--workers N | --scheduler ADDRESS] [--resume] [--driver-writes]

Python::

    from toptraj.sweeps import run_sweep, load_sweep
    result = run_sweep("grid.toml", "out/grid")             # in-process
    result = run_sweep("grid.toml", "out/grid", client=c)   # c: a dask.distributed.Client
    runs = load_sweep("grid.toml", "out/grid")              # TrajectorySet, grid order

Config (TOML; the same structure as a dict for :func:`run_sweep`)
-----------------------------------------------------------------
::

    name = "modesum-grid"          # optional, shown in the catalog
    generator = "modesum"          # modesum | dmft | plrf | maloney | network
    function = "solve"             # optional: dmft solve|simulate, plrf volterra|simulate_sgd
    seeds = {start = 0, stop = 10} # or a list [0, 3, 7]; omit for deterministic functions

    [params]                       # fixed parameters (names of the generator's Params dataclass)
    b = 1.5
    noise = 0.05

    [grid]                         # swept parameters: a list, or a range table
    a = [1.5, 2.0, 3.0]
    time_scale = {start = 0.5, stop = 2.0, num = 3, log = true}

    [axis]                         # modesum/dmft: times; plrf: steps; maloney: name + values
    times = {start = 1, stop = 1e4, num = 64, log = true}

    [options]                      # optional extra keyword arguments of the function
    modes = [1, 10, 100]

A range table ``{start, stop, num, log = false, integer = false}`` gives ``num`` values from
``start`` to ``stop`` inclusive (log-spaced if ``log``; rounded and de-duplicated if
``integer``). Seeds ranges ``{start, stop}`` exclude ``stop`` like Python's ``range``. Runs are the
Cartesian product of the grid (in the order written) times the seeds (innermost). Parameters typed
``float`` in the Params dataclass are stored as floats (``a = 2`` and ``a = 2.0`` are the same
run), and integral floats given for ``int`` fields as ints (``M = 1e3``).

Generators and the calls made (modules are imported only when used)::

    modesum  generators.modesum.solve(ModesumParams(**p), times, seed=s, **options)
    dmft     generators.dmft.solve|simulate(DMFTParams(**p), times[, seed=s], **options)
    plrf     generators.plrf.volterra|simulate_sgd(PLRFParams(**p), steps[, seed=s], **options)
    maloney  generators.maloney.scaling_curve(MaloneyParams(**p), name, values, seeds=[s], **options)
    network  generators.network(s).train(TrainConfig(**p)[, seed=s], **options)

Everything is checked before the first run starts (exit status 2 on the command line): unknown
generator, function, parameter, option or axis name; a parameter both fixed and swept; an empty
grid list or seed list; a bad range (``num < 1``, ``start >= stop``, ``log`` with ``start <= 0``);
parameter values the Params dataclass rejects; duplicate runs; seeds given to a deterministic
function.

Store, resume and failures
--------------------------
Each run is stored under a key: the sha256 of the canonical JSON of (generator, generator
version, function, parameters with defaults filled in, seed, axis values, options); the
generator version is the module's ``VERSION`` if it defines one, else toptraj's version. See
:mod:`toptraj.store` for the layout and the write protocol. A sweep that is killed at any moment
(SIGKILL included) and started again with ``--resume`` runs only the runs that are not recorded as
done with intact files; runs that failed are tried again, corrupt or truncated files are detected
by their sha256 and re-run. Results are bit-for-bit those of an uninterrupted sweep (arrays,
parameters, labels; provenance records the creation time and so differs). Without ``--resume`` the
command refuses a store that already holds runs of the same sweep. A run that raises is recorded
as ``failed`` with its error and traceback, and the sweep goes on; the command prints the number of
failed runs and exits with status 1 (0 when every run is done, 2 for config errors).

The catalog is a SQLite table that pandas reads directly::

    import sqlite3, pandas
    df = pandas.read_sql("SELECT * FROM runs", sqlite3.connect("out/grid/catalog.sqlite"))
    # or: toptraj.store.Store("out/grid").catalog(sweep_id)   (parameters as columns)

Parallel and multi-node runs (Dask)
-----------------------------------
In-process runs use one BLAS/OpenMP thread (``run_sweep(..., threads=1)``), as Dask workers do,
so that both modes give the same bits. ``--workers N`` starts a ``dask.distributed.LocalCluster``
of N single-threaded worker processes on this machine (N = number of cores);
``--scheduler tcp://host:8786`` connects to a running cluster and submits the same tasks
unchanged. Each task runs the generator and, by default, writes its run file into the
store folder itself; only the driver (the ``toptraj sweep`` process) writes the catalog, so no
two processes ever write the same file or table. On several machines:

1. Start a scheduler on one node (``dask scheduler``) and workers on the others
   (``dask worker tcp://host:8786 --nthreads 1 --nworkers <cores>``), or use dask-jobqueue
   (SLURM/PBS) or dask-kubernetes to start them; every worker needs the same environment
   (``pip install toptraj[dask]`` at the driver's version: the driver computes the run keys,
   the workers the results stored under them).
2. Put the store on a path that every worker and the driver see at the same location: a shared
   file system (NFS, Lustre, GPFS). Run ``toptraj sweep grid.toml --out /shared/sweeps/grid
   --scheduler tcp://host:8786``. The catalog (``STORE/catalog.sqlite``) is written by the driver
   only; SQLite's WAL mode needs every process that opens it to be on one host, so read it
   (pandas, ``Store.catalog``) on the driver's node while the sweep runs, and the file system must
   support POSIX locks (NFSv4, Lustre and GPFS do). If in doubt, use ``--driver-writes`` with the
   store on the driver's local disk.
3. Without a shared file system (object store such as S3, or workers on other clouds) add
   ``--driver-writes``: workers send the trajectories back to the driver (tens of kB per run),
   which writes the store locally; copy the finished store to the object store afterwards
   (``aws s3 sync``), or point ``--out`` at a mounted bucket (s3fs/gcsfuse; renames there are
   copies, so write locally when the sweep may be killed). Direct ``s3://`` URLs are not
   supported.
4. If the driver dies, start it again with ``--resume``; runs whose files were written but not
   yet catalogued are re-run (identical results), never read back half-written.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import dataclasses
import hashlib
import importlib
import importlib.util
import inspect
import itertools
import json
import math
import os
import socket
import sys
import time
import traceback
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from toptraj import guards
from toptraj._validation import check_choice, check_increasing, check_number
from toptraj.store import Store, resolve_inside, write_run_files
from toptraj.trajectory import Trajectory, TrajectorySet, _jsonable


@dataclasses.dataclass(frozen=True)
class _Adapter:
    modules: tuple[str, ...]  # candidate module names, first that exists wins
    params_class: str
    functions: tuple[str, ...]  # allowed function names, first is the default
    axis_keys: tuple[str, ...]  # accepted keys of [axis] holding the array (exactly one required)
    axis_name: bool = False  # maloney: [axis] also needs `name` (the swept size, e.g. "N")
    integer_axis: bool = False  # plrf steps and maloney sizes are integers


#: How each generator of :data:`generators.GENERATORS` is called (see the module docstring).
ADAPTERS: dict[str, _Adapter] = {
    "modesum": _Adapter(("generators.modesum",), "ModesumParams", ("solve",), ("times",)),
    "dmft": _Adapter(("generators.dmft",), "DMFTParams", ("solve", "simulate"), ("times",)),
    "plrf": _Adapter(("generators.plrf",), "PLRFParams", ("volterra", "simulate_sgd"), ("steps",), integer_axis=True),
    "maloney": _Adapter(
        ("generators.maloney",), "MaloneyParams", ("scaling_curve",), ("values",), axis_name=True, integer_axis=True
    ),
    "network": _Adapter(("generators.network", "generators.networks"), "TrainConfig", ("train",), ()),
}

CONFIG_KEYS = ("name", "generator", "function", "params", "grid", "seeds", "axis", "options")
RANGE_KEYS = ("start", "stop", "num", "log", "integer")


# -- config parsing ------------------------------------------------------------------------------
def _read_toml(path: Path) -> dict:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        try:
            import tomli as tomllib  # type: ignore[no-redef]
        except ModuleNotFoundError:
            raise ValueError(
                "config: reading TOML needs Python >= 3.11 (tomllib) or the tomli package; "
                "or pass the config as a dict to toptraj.sweeps.run_sweep"
            ) from None
    if not path.is_file():
        raise ValueError(f"config: {str(path)!r} is not a file")
    guards.check_file_size(path, guards.MAX_CONFIG_BYTES)
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"config: {path} is not valid TOML ({exc})") from None


def expand_range(name: str, spec: Any) -> list:
    """Values of a grid/axis entry: a list as given, or a range table expanded.

    Parameters
    ----------
    name : str
        Name used in error messages (e.g. ``"grid.a"``).
    spec : list or dict
        A non-empty list, or ``{start, stop, num, log=False, integer=False}`` giving ``num``
        values from ``start`` to ``stop`` inclusive (``num = 1`` gives ``[start]``).

    Returns
    -------
    list, length n
    """
    if isinstance(spec, (list, tuple)):
        if len(spec) == 0:
            raise ValueError(f"{name} is an empty list; give at least one value")
        return list(spec)
    if not isinstance(spec, Mapping):
        raise ValueError(f"{name} must be a list or a range table {{start, stop, num[, log]}}, got {spec!r}")
    unknown = sorted(set(spec) - set(RANGE_KEYS))
    if unknown:
        raise ValueError(f"{name}: unknown range key(s) {unknown}; allowed {list(RANGE_KEYS)}")
    missing = [k for k in ("start", "stop", "num") if k not in spec]
    if missing:
        raise ValueError(f"{name}: range needs {missing} (a range is {{start, stop, num[, log][, integer]}})")
    start = check_number(f"{name}.start", spec["start"])
    stop = check_number(f"{name}.stop", spec["stop"])
    num = check_number(f"{name}.num", spec["num"], low=1, integer=True)
    log, integer = spec.get("log", False), spec.get("integer", False)
    for key, flag in (("log", log), ("integer", integer)):
        if not isinstance(flag, bool):
            raise ValueError(f"{name}.{key} must be true or false, got {flag!r}")
    if num > 1 and not start < stop:
        raise ValueError(f"{name}: bad range, need start < stop, got start={start}, stop={stop}")
    if log and start <= 0:
        raise ValueError(f"{name}: bad range, log = true needs start > 0, got start={start}")
    if num == 1:
        values = np.array([start])
    else:
        values = np.geomspace(start, stop, num) if log else np.linspace(start, stop, num)
    if integer:
        return [int(v) for v in np.unique(np.round(values).astype(np.int64))]
    return [float(v) for v in values]


def _expand_seeds(spec: Any) -> list[int | None]:
    if spec is None:
        return [None]
    if isinstance(spec, Mapping):
        unknown = sorted(set(spec) - {"start", "stop"})
        if unknown or "start" not in spec or "stop" not in spec:
            raise ValueError(f"seeds range must be {{start, stop}} (stop excluded), got {dict(spec)!r}")
        lo = check_number("seeds.start", spec["start"], low=0, integer=True)
        hi = check_number("seeds.stop", spec["stop"], low=0, integer=True)
        if hi <= lo:
            raise ValueError(f"seeds: bad range, need start < stop, got start={lo}, stop={hi}")
        return list(range(lo, hi))
    if isinstance(spec, (list, tuple)):
        if not spec:
            raise ValueError("seeds is an empty list; give at least one seed or omit seeds")
        out = []
        for i, s in enumerate(spec):
            if isinstance(s, bool) or not isinstance(s, int) or s < 0:
                raise ValueError(f"seeds[{i}] must be a non-negative integer, got {s!r}")
            out.append(int(s))
        if len(set(out)) != len(out):
            raise ValueError(f"seeds has duplicates: {out}")
        return out
    raise ValueError(f"seeds must be a list of integers or a range {{start, stop}}, got {spec!r}")


def _find_module(generator: str) -> str:
    adapter = ADAPTERS[generator]
    for name in adapter.modules:
        if importlib.util.find_spec(name) is not None:
            return name
    raise ValueError(
        f"generator {generator!r} is not available in this installation (none of {list(adapter.modules)} exists)"
    )


def _coerce(value: Any, annotation: Any) -> Any:
    """Match a TOML value to a dataclass field's declared type where that is unambiguous."""
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", str(annotation))
    parts = {p.strip() for p in str(text).split("|")}
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and "float" in parts:
        return float(value)
    if isinstance(value, float) and "int" in parts and "float" not in parts and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return tuple(value)  # frozen dataclasses want hashable fields
    return value


def _key_of(payload: Mapping[str, Any]) -> str:
    blob = json.dumps(_jsonable(payload), sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(blob.encode()).hexdigest()


@dataclasses.dataclass(frozen=True)
class SweepConfig:
    """A validated sweep: the generator call and the list of runs it expands to.

    Build with :func:`load_config`. ``runs`` holds one plain dict per run (picklable, sent to
    workers) with keys ``key, generator, module, function, params_class, version, params, seed,
    axis, axis_call, seed_mode, options``.
    """

    name: str
    generator: str
    function: str
    config: dict  # the config as given (JSON-able), recorded in the catalog
    runs: tuple

    @property
    def keys(self) -> list[str]:
        return [r["key"] for r in self.runs]

    @property
    def sweep_id(self) -> str:
        """16 hex digits identifying the ordered list of run keys."""
        return hashlib.sha256(json.dumps(self.keys).encode()).hexdigest()[:16]

    def __len__(self) -> int:
        return len(self.runs)


def load_config(source: str | os.PathLike | Mapping[str, Any] | SweepConfig, force_size: bool = False) -> SweepConfig:
    """Read and validate a sweep config; nothing is run.

    Parameters
    ----------
    source : path to a TOML file, dict, or SweepConfig
        See the module docstring for the format.
    force_size : bool
        Skip the size guards (``--force-size``): the run count (at most ``guards.MAX_RUNS``,
        counted before anything is expanded), the length of each range, and the memory estimate
        of the largest run against the machine's available memory.

    Raises
    ------
    ValueError
        Naming the offending key and value: unknown generator/function/parameter/option/axis key,
        empty grid or seeds, bad range, values the Params dataclass rejects, duplicate runs.
    """
    if isinstance(source, SweepConfig):
        return source
    if isinstance(source, (str, os.PathLike)):
        raw = _read_toml(Path(source))
    elif isinstance(source, Mapping):
        raw = dict(source)
    else:
        raise ValueError(f"config must be a path to a TOML file or a dict, got {type(source).__name__}")

    unknown = sorted(set(raw) - set(CONFIG_KEYS))
    if unknown:
        raise ValueError(f"config: unknown key(s) {unknown}; allowed {list(CONFIG_KEYS)}")
    config_name = str(source) if isinstance(source, (str, os.PathLike)) else "config"
    guards.check_sweep_config(raw, config_name, force=force_size)  # before anything is expanded
    if "generator" not in raw:
        raise ValueError(f"config: missing 'generator' (one of {list(ADAPTERS)})")
    generator = check_choice("generator", raw["generator"], ADAPTERS)
    adapter = ADAPTERS[generator]
    function = check_choice("function", raw.get("function", adapter.functions[0]), adapter.functions)
    name = raw.get("name", "")
    if not isinstance(name, str):
        raise ValueError(f"name must be a string, got {name!r}")
    tables = {}
    for key in ("params", "grid", "axis", "options"):
        value = raw.get(key, {})
        if not isinstance(value, Mapping):
            raise ValueError(f"config: {key} must be a table, got {value!r}")
        tables[key] = dict(value)
    fixed, grid_spec, axis_spec, options = tables["params"], tables["grid"], tables["axis"], tables["options"]

    # Import the generator only now (it may need torch) and check names against its API.
    module_name = _find_module(generator)
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:  # e.g. an optional dependency of that generator is not installed
        raise ValueError(f"generator {generator!r}: importing {module_name} failed ({exc})") from None
    params_cls = getattr(module, adapter.params_class, None)
    if params_cls is None or not dataclasses.is_dataclass(params_cls):
        raise ValueError(f"generator {generator!r}: {module_name}.{adapter.params_class} is missing")
    fn = getattr(module, function, None)
    if fn is None:
        raise ValueError(f"generator {generator!r}: {module_name}.{function} is missing")
    fields = {f.name: f for f in dataclasses.fields(params_cls)}
    for table, names in (("params", fixed), ("grid", grid_spec)):
        bad = sorted(set(names) - set(fields))
        if bad:
            raise ValueError(
                f"{table}: unknown parameter(s) {bad} for generator {generator!r}; "
                f"{adapter.params_class} has {sorted(fields)}"
            )
    both = sorted(set(fixed) & set(grid_spec))
    if both:
        raise ValueError(f"parameter(s) {both} are both fixed (params) and swept (grid); keep one")
    grid = {k: expand_range(f"grid.{k}", v) for k, v in grid_spec.items()}
    seeds = _expand_seeds(raw.get("seeds"))

    # Axis: the array passed after the Params object.
    allowed_axis = set(adapter.axis_keys) | ({"name"} if adapter.axis_name else set())
    bad = sorted(set(axis_spec) - allowed_axis)
    if bad:
        raise ValueError(f"axis: unknown key(s) {bad} for generator {generator!r}; allowed {sorted(allowed_axis)}")
    axis: dict[str, Any] = {}
    axis_call: list[Any] = []
    if adapter.axis_name:
        if not isinstance(axis_spec.get("name"), str) or not axis_spec.get("name"):
            raise ValueError(f"axis.name must name the swept size for generator {generator!r} (e.g. \"N\")")
        axis["name"] = axis_spec["name"]
        axis_call.append(axis_spec["name"])
    if adapter.axis_keys:
        given = [k for k in adapter.axis_keys if k in axis_spec]
        if len(given) != 1:
            raise ValueError(f"axis: generator {generator!r} needs exactly one of {list(adapter.axis_keys)}")
        key = given[0]
        values = expand_range(f"axis.{key}", axis_spec[key])
        arr = check_increasing(f"axis.{key}", values)
        if adapter.integer_axis:
            if np.any(arr != np.round(arr)) or arr[0] < 0:
                raise ValueError(f"axis.{key} must be non-negative integers (use integer = true in a range)")
            values = [int(v) for v in arr]
        else:
            values = [float(v) for v in arr]
        axis[key] = values
        axis_call.append(values)

    # How the seed is passed, and which options the function accepts.
    sig = inspect.signature(fn)
    accepts_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in sig.parameters.values())
    seed_mode = "seed" if "seed" in sig.parameters else ("seeds" if "seeds" in sig.parameters else None)
    if seed_mode is None and seeds != [None]:
        raise ValueError(f"seeds: {module_name}.{function} takes no seed (it is deterministic); remove seeds")
    positional = list(sig.parameters)[: 1 + len(axis_call)]
    for opt, value in options.items():
        if _is_path_option(opt):  # resolved inside the store at run time; here only its form
            resolve_inside(Path("/store"), value, f"{config_name}: options.{opt}")
    for opt in options:
        if opt in positional or opt in ("seed", "seeds") or (opt not in sig.parameters and not accepts_any):
            allowed = [p for p in sig.parameters if p not in positional and p not in ("seed", "seeds")]
            raise ValueError(f"options: {opt!r} is not an option of {module_name}.{function}; allowed {allowed}")

    version = str(getattr(module, "VERSION", None) or _toptraj_version())
    names = list(grid)
    runs = []
    largest = (0, None)
    for point in itertools.product(*(grid[k] for k in names)):
        values = {**fixed, **dict(zip(names, point, strict=True))}
        kwargs = {k: _coerce(v, fields[k].type) for k, v in values.items()}
        try:
            params = params_cls(**kwargs)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"grid point {dict(zip(names, point, strict=True))}: {exc}") from None
        est = guards.params_memory_estimate(params, axis_call[-1] if axis_call else None, function, axis.get("name"))
        if est is not None and est > largest[0]:
            largest = (est, values)
        full = _jsonable(dataclasses.asdict(params))
        for seed in seeds:
            payload = {
                "generator": generator, "function": function, "version": version, "params": full,
                "seed": seed, "axis": axis, "options": _jsonable(options),
            }
            runs.append(
                {
                    **payload,
                    "key": _key_of(payload),
                    "module": module_name,
                    "params_class": adapter.params_class,
                    "kwargs": kwargs,
                    "axis_call": axis_call,
                    "seed_mode": seed_mode,
                    "options_call": dict(options),
                }
            )
    if largest[1] is not None:
        guards.check_memory(largest[0], f"{config_name}: a {generator}.{function} run with {largest[1]}", force=force_size)
    keys = [r["key"] for r in runs]
    if len(set(keys)) != len(keys):
        dup = next(r for i, r in enumerate(runs) if r["key"] in keys[:i])
        raise ValueError(f"grid: duplicate runs (same parameters and seed), e.g. {dup['params']} seed {dup['seed']}")
    config = _jsonable({k: raw[k] for k in CONFIG_KEYS if k in raw})
    return SweepConfig(name=name, generator=generator, function=function, config=config, runs=tuple(runs))


def _is_path_option(name: str) -> bool:
    """Options naming a file or folder (e.g. ``run_dir``): confined to the store."""
    return name.endswith(("_dir", "_path", "_file")) or name in ("dir", "path", "file")


def _toptraj_version() -> str:
    import toptraj

    return toptraj.__version__


# -- one run (executes in a worker) ------------------------------------------------------------
def _call(spec: Mapping[str, Any]) -> list[Trajectory]:
    module = importlib.import_module(spec["module"])
    params = getattr(module, spec["params_class"])(**spec["kwargs"])
    args = [params] + [np.asarray(a) if isinstance(a, list) else a for a in spec["axis_call"]]
    kwargs = dict(spec["options_call"])
    if spec["seed_mode"] == "seed":
        kwargs["seed"] = spec["seed"]
    elif spec["seed_mode"] == "seeds" and spec["seed"] is not None:
        kwargs["seeds"] = [spec["seed"]]
    out = getattr(module, spec["function"])(*args, **kwargs)
    if isinstance(out, Trajectory):
        return [out]
    if isinstance(out, (TrajectorySet, list, tuple)) and out and all(isinstance(t, Trajectory) for t in out):
        return list(out)
    raise TypeError(f"{spec['module']}.{spec['function']} returned {type(out).__name__}, expected Trajectory(s)")


def execute_run(spec: Mapping[str, Any], root: str | None) -> dict:
    """Run one generator call and (if ``root`` is given) write its files into the store ``root``.

    Never raises for a failing generator: the result has ``status="failed"`` with the error.
    This function is what Dask workers execute; it never touches the catalog.

    Returns
    -------
    dict
        The catalog fields of the run (see :meth:`toptraj.store.Store.record`), plus
        ``trajectories`` (list of Trajectory) when ``root`` is None (the driver writes them).
    """
    result = {k: spec[k] for k in ("key", "generator", "function", "version", "params", "seed", "axis", "options")}
    result.update(files=[], checksums=[], duration=None, write_time=None, error=None, traceback=None)
    result["host"] = socket.gethostname()
    t0 = time.perf_counter()
    try:
        spec = _confine_paths(spec, root)
        trajectories = _call(spec)
    except Exception as exc:  # failure isolation: record and go on
        result.update(status="failed", duration=time.perf_counter() - t0, error=f"{type(exc).__name__}: {exc}")
        result["traceback"] = traceback.format_exc()
        return result
    result["duration"] = time.perf_counter() - t0
    if root is None:
        result.update(status="done", trajectories=trajectories)
        return result
    return _write(result, root, trajectories)


def _confine_paths(spec: Mapping[str, Any], root: str | None) -> Mapping[str, Any]:
    """The run with path options (``run_dir`` ...) resolved inside the store folder ``root``."""
    paths = [k for k in spec["options_call"] if _is_path_option(k)]
    if not paths:
        return spec
    if root is None:
        raise ValueError(f"options {paths} need the store folder on the worker; drop --driver-writes")
    opts = dict(spec["options_call"])
    for k in paths:
        opts[k] = str(resolve_inside(root, opts[k], f"options.{k}"))
    return {**spec, "options_call": opts}


def _write(result: dict, root: str | os.PathLike, trajectories: list[Trajectory]) -> dict:
    t1 = time.perf_counter()
    try:
        files, sums = write_run_files(root, result["key"], trajectories)
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


def _pending(store: Store, cfg: SweepConfig) -> tuple[list[dict], int, int]:
    rows = store.rows(cfg.keys)
    todo, corrupt = [], 0
    for run in cfg.runs:
        row = rows.get(run["key"])
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

    Returns
    -------
    SweepResult

    Notes
    -----
    Only this process writes the catalog, one transaction per finished run, so a kill loses at
    most the runs in flight. Cost: the generator's own time plus the store's 6-12 ms per run
    (mostly the fsync of each file; see :mod:`toptraj.store`), and with a client Dask's task
    overhead (about 1 ms per task on the scheduler).
    """
    cfg = load_config(config)
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

        def finish(result: dict) -> None:
            if result["status"] == "done" and "trajectories" in result:
                _write(result, root, result.pop("trajectories"))
            st.record([result])
            counts[result["status"]] += 1
            if result["status"] == "failed":
                failures.append((result["key"], result["params"], result["seed"], result["error"]))
            bar.update(1)
            bar.set_postfix(done=counts["done"], failed=counts["failed"], remaining=len(todo) - sum(counts.values()))

        t0 = time.perf_counter()
        try:
            if client is None:
                with _thread_limit(threads):
                    for run in todo:
                        finish(execute_run(run, root))
            else:
                _run_on_client(client, todo, root if worker_writes else None, finish)
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


def _run_on_client(client: Any, todo: list[dict], root: str | None, finish) -> None:
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
            client.submit(execute_run, run, root, key=f"toptraj-run-{run['key'][:16]}-{token}"): run for run in todo
        }
        completed = as_completed(list(futures))
    for fut in completed:
        run = futures.pop(fut)
        try:
            result = fut.result()
        except Exception as exc:  # the worker died or the task was lost: a failed run, not a failed sweep
            result = {k: run[k] for k in ("key", "generator", "function", "version", "params", "seed", "axis", "options")}
            result.update(status="failed", error=f"task failed on the cluster: {type(exc).__name__}: {exc}")
        finish(result)


def load_sweep(
    config: str | os.PathLike | Mapping[str, Any] | SweepConfig, store: str | os.PathLike | Store, missing: str = "raise"
) -> TrajectorySet:
    """The sweep's trajectories in grid order, with their metadata and labels.

    ``missing="skip"`` leaves out failed and not-yet-run runs instead of raising. Files are
    verified against the catalog's sha256 and their embedded checksum (StoreError if corrupt).
    """
    cfg = load_config(config)
    if isinstance(store, Store):
        return store.load(cfg.keys, missing=missing)
    root = Path(store)
    if not (root / "catalog.sqlite").is_file():
        raise ValueError(f"store {str(root)!r} has no catalog (not a sweep store, or nothing run yet)")
    with Store(root) as st:
        return st.load(cfg.keys, missing=missing)


# -- command line: `toptraj sweep ...` -----------------------------------------------------------
def add_cli_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `toptraj sweep`."""
    parser.add_argument("config", metavar="CONFIG", help="sweep config (TOML; format: pydoc toptraj.sweeps)")
    parser.add_argument("--out", metavar="STORE", default=None, help="store folder (default out/<CONFIG name>)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--workers", metavar="N", type=int, default=None, help="start a Dask LocalCluster with N worker processes"
    )
    where.add_argument(
        "--scheduler", metavar="ADDRESS", default=None, help="address of a running Dask scheduler, e.g. tcp://host:8786"
    )
    parser.add_argument("--resume", action="store_true", help="complete a store that already holds runs of this sweep")
    parser.add_argument(
        "--driver-writes", action="store_true", help="workers return results and this process writes the store (no shared disk)"
    )
    parser.add_argument("--force-size", action="store_true",
                        help="skip the size guards (run count, range lengths, memory estimate)")


def run_cli(args: argparse.Namespace) -> int:
    """Run `toptraj sweep`; exit status 0 if every run is done, 1 if some failed (ValueError: bad config)."""
    cfg = load_config(args.config, force_size=args.force_size)
    if args.workers is not None:
        check_number("--workers", args.workers, low=1, integer=True)
    out = Path(args.out) if args.out else Path("out") / Path(args.config).stem
    with Store(out) as st:
        if not args.resume:
            n_known = len(st.rows(cfg.keys))
            if n_known:
                raise ValueError(
                    f"{out} already holds {n_known} of {len(cfg)} runs of this sweep; "
                    "pass --resume to run only the missing and failed ones"
                )
        print(f"sweep {cfg.sweep_id}: {len(cfg)} runs of {cfg.generator}.{cfg.function} into {out}", flush=True)
        if args.workers is None and args.scheduler is None:
            result = run_sweep(cfg, st)
        else:
            result = _run_with_dask(cfg, st, args.workers, args.scheduler, not args.driver_writes)
    print(result.summary())
    if result.n_failed:
        for key, params, seed, error in result.failures[:5]:
            print(f"  {key[:12]} params={params} seed={seed}: {error}")
        # the one stderr line of exit status 1 (details above and in the catalog)
        print(f"toptraj sweep: {result.n_failed} of {result.n_runs} run(s) failed; errors are in the catalog "
              f"({out / 'catalog.sqlite'}, table runs)", file=sys.stderr)
        return 1
    return 0


def _run_with_dask(cfg: SweepConfig, st: Store, workers: int | None, scheduler: str | None, worker_writes: bool):
    try:
        import logging

        from distributed import Client, LocalCluster
    except ModuleNotFoundError:
        raise ValueError("--workers/--scheduler need dask: pip install 'toptraj[dask]'") from None
    if scheduler is not None:
        with Client(scheduler) as client:
            return run_sweep(cfg, st, client=client, worker_writes=worker_writes)
    with LocalCluster(
        n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0", silence_logs=logging.ERROR
    ) as cluster, Client(cluster) as client:
        return run_sweep(cfg, st, client=client, worker_writes=worker_writes)
