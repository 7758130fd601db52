"""A sweep config, validated: the typed run specs it expands to (see :mod:`toptraj.sweeps`).

Everything generator-specific comes from the generator's :class:`toptraj.registry.GeneratorSpec`
(parameter fields and types, run functions and their seed conventions, options, axis), so this
module knows no generator by name.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from toptraj import guards
from toptraj.exceptions import InputError
from toptraj.parameters import convert, describe, instantiate
from toptraj.registry import GeneratorSpec, RunFunction, available_generators, get_generator
from toptraj.store import resolve_inside
from toptraj.trajectory import Trajectory, jsonable
from toptraj.validation import check_increasing, check_number

CONFIG_KEYS = ("name", "generator", "function", "params", "grid", "seeds", "axis", "options")
RANGE_KEYS = ("start", "stop", "num", "log", "integer")


@dataclasses.dataclass(frozen=True)
class RunSpec:
    """One run of a sweep: what is stored in the catalog, and the call that produces it.

    Parameters
    ----------
    key : str
        sha256 (64 hex digits) of the canonical JSON of (generator, version, function, params,
        seed, axis, options): the run's name in the store.
    generator, function, version : str
        Generator name, run-function name and the generator's version.
    params : dict
        Every parameter with defaults filled in, JSON form (inf as "inf").
    seed : int or None
    axis : dict
        The ``[axis]`` table expanded (e.g. ``{"times": [...]}``, maloney ``{"name": "N", "values": [...]}``).
    options : dict
        The ``[options]`` table as given, JSON form.
    spec : GeneratorSpec
        The generator (pickled by reference to its module when sent to a Dask worker).
    call_params : object
        The parameters dataclass instance passed to the function.
    call_axis : tuple
        The axis arguments passed after it.
    call_options : dict
        The options passed as keyword arguments (converted to the options dataclass's types).
    """

    key: str
    generator: str
    function: str
    version: str
    params: dict
    seed: int | None
    axis: dict
    options: dict
    spec: GeneratorSpec = dataclasses.field(repr=False, compare=False)
    call_params: Any = dataclasses.field(repr=False, compare=False)
    call_axis: tuple = dataclasses.field(repr=False, compare=False)
    call_options: dict = dataclasses.field(repr=False, compare=False)

    def catalog_fields(self) -> dict:
        """The fields the store's catalog records for this run."""
        return {k: getattr(self, k) for k in ("key", "generator", "function", "version", "params", "seed", "axis",
                                              "options")}

    def execute(self) -> list[Trajectory]:
        """Call the generator's run function; the trajectories it returns (raises what it raises)."""
        axis = [np.asarray(a) if isinstance(a, list) else a for a in self.call_axis]
        seeds = None if self.seed is None else [self.seed]
        return self.spec.function(self.function).call(self.call_params, axis, seeds, self.call_options)


@dataclasses.dataclass(frozen=True)
class SweepConfig:
    """A validated sweep: the generator call and the runs it expands to (build with :func:`load_config`).

    Parameters
    ----------
    name : str
    generator : str
    function : str
    config : dict
        The config as given (JSON form), recorded in the catalog.
    runs : tuple of RunSpec
        Grid order, seeds innermost.
    """

    name: str
    generator: str
    function: str
    config: dict
    runs: tuple[RunSpec, ...]

    @property
    def keys(self) -> list[str]:
        return [r.key for r in self.runs]

    @property
    def sweep_id(self) -> str:
        """16 hex digits identifying the ordered list of run keys."""
        return hashlib.sha256(json.dumps(self.keys).encode()).hexdigest()[:16]

    def __len__(self) -> int:
        return len(self.runs)


def _read_toml(path: Path) -> dict:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        try:
            import tomli as tomllib  # type: ignore[no-redef]
        except ModuleNotFoundError:
            raise InputError(
                "config: reading TOML needs Python >= 3.11 (tomllib) or the tomli package; "
                "or pass the config as a dict to toptraj.sweeps.run_sweep"
            ) from None
    if not path.is_file():
        raise InputError(f"config: {str(path)!r} is not a file")
    guards.check_file_size(path, guards.MAX_CONFIG_BYTES)
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"config: {path} is not valid TOML ({exc})") from None


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
            raise InputError(f"{name} is an empty list; give at least one value")
        return list(spec)
    if not isinstance(spec, Mapping):
        raise InputError(f"{name} must be a list or a range table {{start, stop, num[, log]}}, got {spec!r}")
    unknown = sorted(set(spec) - set(RANGE_KEYS))
    if unknown:
        raise InputError(f"{name}: unknown range key(s) {unknown}; allowed {list(RANGE_KEYS)}")
    missing = [k for k in ("start", "stop", "num") if k not in spec]
    if missing:
        raise InputError(f"{name}: range needs {missing} (a range is {{start, stop, num[, log][, integer]}})")
    start = check_number(f"{name}.start", spec["start"])
    stop = check_number(f"{name}.stop", spec["stop"])
    num = check_number(f"{name}.num", spec["num"], low=1, integer=True)
    log, integer = spec.get("log", False), spec.get("integer", False)
    for key, flag in (("log", log), ("integer", integer)):
        if not isinstance(flag, bool):
            raise InputError(f"{name}.{key} must be true or false, got {flag!r}")
    if num > 1 and not start < stop:
        raise InputError(f"{name}: bad range, need start < stop, got start={start}, stop={stop}")
    if log and start <= 0:
        raise InputError(f"{name}: bad range, log = true needs start > 0, got start={start}")
    if num == 1:
        values = np.array([start])
    else:
        values = np.geomspace(start, stop, num) if log else np.linspace(start, stop, num)
    if integer:
        return [int(v) for v in np.unique(np.round(values).astype(np.int64))]
    return [float(v) for v in values]


def expand_seeds(spec: Any) -> list[int | None]:
    """Seeds of a config: None -> [None]; ``{start, stop}`` (stop excluded) or a list of ints."""
    if spec is None:
        return [None]
    if isinstance(spec, Mapping):
        unknown = sorted(set(spec) - {"start", "stop"})
        if unknown or "start" not in spec or "stop" not in spec:
            raise InputError(f"seeds range must be {{start, stop}} (stop excluded), got {dict(spec)!r}")
        lo = check_number("seeds.start", spec["start"], low=0, integer=True)
        hi = check_number("seeds.stop", spec["stop"], low=0, integer=True)
        if hi <= lo:
            raise InputError(f"seeds: bad range, need start < stop, got start={lo}, stop={hi}")
        return list(range(lo, hi))
    if isinstance(spec, (list, tuple)):
        if not spec:
            raise InputError("seeds is an empty list; give at least one seed or omit seeds")
        out = []
        for i, s in enumerate(spec):
            if isinstance(s, bool) or not isinstance(s, int) or s < 0:
                raise InputError(f"seeds[{i}] must be a non-negative integer, got {s!r}")
            out.append(int(s))
        if len(set(out)) != len(out):
            raise InputError(f"seeds has duplicates: {out}")
        return out
    raise InputError(f"seeds must be a list of integers or a range {{start, stop}}, got {spec!r}")


def run_key(payload: Mapping[str, Any]) -> str:
    """sha256 hex digest of the canonical JSON of a run's payload (sorted keys, no spaces)."""
    return _key_of_json(jsonable(payload))


def _key_of_json(payload: Mapping[str, Any]) -> str:
    """:func:`run_key` of a payload that is JSON data already (``jsonable`` is idempotent)."""
    blob = json.dumps(payload, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(blob.encode()).hexdigest()


def _axis(spec: GeneratorSpec, axis_spec: dict) -> tuple[dict, list]:
    """The expanded ``[axis]`` table (stored) and the axis arguments of the call."""
    name = spec.name
    ax = spec.axis
    allowed = set() if ax is None else ({ax.name} | ({"name"} if ax.select else set()))
    bad = sorted(set(axis_spec) - allowed)
    if bad:
        raise InputError(f"axis: unknown key(s) {bad} for generator {name!r}; allowed {sorted(allowed)}")
    if ax is None:
        return {}, []
    axis: dict[str, Any] = {}
    call: list[Any] = []
    if ax.select:
        chosen = axis_spec.get("name")
        if not isinstance(chosen, str) or chosen not in ax.select:
            raise InputError(f"axis.name must name the swept size for generator {name!r}: one of {list(ax.select)}")
        axis["name"] = chosen
        call.append(chosen)
    if ax.name not in axis_spec:
        raise InputError(f"axis: generator {name!r} needs exactly one of {[ax.name]}")
    values = expand_range(f"axis.{ax.name}", axis_spec[ax.name])
    arr = check_increasing(f"axis.{ax.name}", values)
    if ax.integer:
        if np.any(arr != np.round(arr)) or arr[0] < 0:
            raise InputError(f"axis.{ax.name} must be non-negative integers (use integer = true in a range)")
        values = [int(v) for v in arr]
    else:
        values = [float(v) for v in arr]
    axis[ax.name] = values
    call.append(values)
    return axis, call


def _options(fn: RunFunction, options: dict) -> dict:
    fields = describe(fn.options) if fn.options is not None else {}
    for opt in options:
        if opt not in fields:
            raise InputError(f"options: {opt!r} is not an option of {fn.qualname}; allowed {list(fields)}")
    converted = {k: convert(fields[k], v) for k, v in options.items()}
    if fn.options is not None:
        instantiate(fn.options, converted, where="options")  # the options dataclass's own checks
    return converted


def is_path_option(fn: RunFunction, name: str) -> bool:
    """Options naming a file or folder (the function's ``work_dir``, ``*_dir``, ``*_path``): confined to the store."""
    return name == fn.work_dir or name.endswith(("_dir", "_path", "_file")) or name in ("dir", "path", "file")


def load_config(source: str | os.PathLike | Mapping[str, Any] | SweepConfig,
                generator: GeneratorSpec | None = None, force_size: bool = False) -> SweepConfig:
    """Read and validate a sweep config; nothing is run.

    Parameters
    ----------
    source : path to a TOML file, dict, or SweepConfig
        See :mod:`toptraj.sweeps` for the format.
    generator : GeneratorSpec or None
        A spec object to use instead of resolving the config's ``generator`` name through the
        registry (a generator that is not installed; its name must match the config's if given).
    force_size : bool
        Skip the size guards (``--force-size``): the run count (at most ``guards.MAX_RUNS``,
        counted from the lengths before anything is expanded), the length of each range, and the
        memory estimate of the largest run against the machine's available memory.

    Raises
    ------
    InputError
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
        raise InputError(f"config must be a path to a TOML file or a dict, got {type(source).__name__}")

    unknown = sorted(set(raw) - set(CONFIG_KEYS))
    if unknown:
        raise InputError(f"config: unknown key(s) {unknown}; allowed {list(CONFIG_KEYS)}")
    config_name = str(source) if isinstance(source, (str, os.PathLike)) else "config"
    guards.check_sweep_config(raw, config_name, force=force_size)  # before anything is expanded
    if isinstance(raw.get("generator"), GeneratorSpec):
        generator, raw["generator"] = raw["generator"], raw["generator"].name
    if generator is not None:
        spec = get_generator(generator)
        if raw.setdefault("generator", spec.name) != spec.name:
            raise InputError(f"generator: the config names {raw['generator']!r} but the spec given is {spec.name!r}")
    elif "generator" not in raw:
        raise InputError(f"config: missing 'generator' (one of {list(available_generators())})")
    else:
        spec = get_generator(raw["generator"])  # imports that generator only now
    gname = spec.name
    fn = spec.function(raw.get("function"))
    name = raw.get("name", "")
    if not isinstance(name, str):
        raise InputError(f"name must be a string, got {name!r}")
    tables = {}
    for key in ("params", "grid", "axis", "options"):
        value = raw.get(key, {})
        if not isinstance(value, Mapping):
            raise InputError(f"config: {key} must be a table, got {value!r}")
        tables[key] = dict(value)
    fixed, grid_spec, axis_spec, options = tables["params"], tables["grid"], tables["axis"], tables["options"]

    fields = describe(spec.params)
    for table, names in (("params", fixed), ("grid", grid_spec)):
        bad = sorted(set(names) - set(fields))
        if bad:
            raise InputError(
                f"{table}: unknown parameter(s) {bad} for generator {gname!r}; "
                f"{spec.params.__name__} has {sorted(fields)}"
            )
    both = sorted(set(fixed) & set(grid_spec))
    if both:
        raise InputError(f"parameter(s) {both} are both fixed (params) and swept (grid); keep one")
    grid = {k: expand_range(f"grid.{k}", v) for k, v in grid_spec.items()}
    seeds = expand_seeds(raw.get("seeds"))
    axis, axis_call = _axis(spec, axis_spec)
    if fn.seed == "none" and seeds != [None]:
        raise InputError(f"seeds: {fn.qualname} takes no seed (it is deterministic); remove seeds")
    for opt, value in options.items():
        if is_path_option(fn, opt):  # resolved inside the store at run time; here only its form
            resolve_inside(Path("/store"), value, f"{config_name}: options.{opt}")
    call_options = _options(fn, options)
    defaults = spec.param_defaults(fn)
    if spec.axis is not None and spec.axis.select:  # the swept field is replaced along the axis
        defaults.setdefault(axis["name"], axis[spec.axis.name][0])

    names = list(grid)
    runs = []
    axis_json, options_json = jsonable(axis), jsonable(options)
    largest = (0, None)
    for point in itertools.product(*(grid[k] for k in names)):
        values = {**defaults, **fixed, **dict(zip(names, point, strict=True))}
        kwargs = {k: convert(fields[k], v) for k, v in values.items()}
        try:
            params = instantiate(spec.params, kwargs)
        except (TypeError, ValueError) as exc:
            raise InputError(f"grid point {dict(zip(names, point, strict=True))}: {exc}") from None
        est = guards.params_memory_estimate(params, axis_call[-1] if axis_call else None, fn.name, axis.get("name"))
        if est is not None and est > largest[0]:
            largest = (est, values)
        full = jsonable(dataclasses.asdict(params))
        for seed in seeds:
            payload = {
                "generator": gname, "function": fn.name, "version": spec.version, "params": full,
                "seed": seed, "axis": axis_json, "options": options_json,
            }
            # the payload is JSON data already (axis and options converted once per sweep)
            key = _key_of_json(payload)
            payload["axis"] = axis
            runs.append(RunSpec(key=key, **payload, spec=spec, call_params=params,
                                call_axis=tuple(axis_call), call_options=call_options))
    if largest[1] is not None:
        guards.check_memory(largest[0], f"{config_name}: a {gname}.{fn.name} run with {largest[1]}", force=force_size)
    keys = [r.key for r in runs]
    if len(set(keys)) != len(keys):
        dup = next(r for i, r in enumerate(runs) if r.key in keys[:i])
        raise InputError(f"grid: duplicate runs (same parameters and seed), e.g. {dup.params} seed {dup.seed}")
    config = jsonable({k: raw[k] for k in CONFIG_KEYS if k in raw})
    return SweepConfig(name=name, generator=gname, function=fn.name, config=config, runs=tuple(runs))
