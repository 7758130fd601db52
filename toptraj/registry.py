"""The generator protocol and registry: how toptraj finds a model of training trajectories.

A generator declares itself with one :class:`GeneratorSpec` (its module exports it as ``SPEC``):
its name, its frozen parameters dataclass, the run functions it offers (:class:`RunFunction`:
e.g. the theory and a simulation, with their seed convention and a dataclass of extra options),
the axis argument of those functions (:class:`Axis`), the labels it computes and a version. The
core never imports a generator: ``toptraj generate NAME``, the sweep runner and the demo ask
:func:`get_generator`, which accepts a spec object directly or resolves a name

1. among specs passed to :func:`register` in this process,
2. among the built-in generators of this repository (``generators.modesum``, ``generators.dmft``,
   ``generators.plrf``, ``generators.maloney``, ``generators.networks``), imported only then,
3. among the entry points of the group ``toptraj.generators`` of installed distributions (a
   third-party package declares ``[project.entry-points."toptraj.generators"] mymodel =
   "mypkg.mymodel:SPEC"``; the value may be a spec or a module exporting ``SPEC``).

This is the pattern of xarray's backend plug-ins and scipy's ``solve_ivp`` method table. A run
function is called as::

    trajectories = function(params, *axis_arguments, [seed=s | seeds=[...]], **options)

where ``params`` is an instance of the spec's parameters dataclass, the axis arguments are the
axis values (preceded by the name of the swept field when :attr:`Axis.select` is set), and the
options are fields of :attr:`RunFunction.options`. It returns a :class:`toptraj.Trajectory` or a
sequence of them. The command line and the sweep config are derived from these declarations
(see :mod:`toptraj.parameters` for the field types understood): the fields' help text comes from
the numpydoc Parameters section of each dataclass's docstring.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import ModuleType
from typing import Any

from toptraj.exceptions import InputError
from toptraj.parameters import describe

__all__ = [
    "ENTRY_POINT_GROUP", "Axis", "GeneratorSpec", "RunFunction", "available_generators", "get_generator",
    "register", "unregister",
]

#: Entry-point group through which installed distributions provide generators.
ENTRY_POINT_GROUP = "toptraj.generators"

#: Built-in generators: name -> module exporting ``SPEC`` (imported on first use only).
BUILTIN_GENERATORS: dict[str, str] = {
    "modesum": "generators.modesum",
    "dmft": "generators.dmft",
    "plrf": "generators.plrf",
    "maloney": "generators.maloney",
    "network": "generators.networks",
}

SEED_CONVENTIONS = ("none", "seed", "seeds")
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")
_RESERVED = ("out", "seeds", "axis", "help")  # command-line options of `toptraj generate` itself


@dataclasses.dataclass(frozen=True)
class Axis:
    """The array argument of a generator's run functions (e.g. the times of a loss curve).

    Parameters
    ----------
    name : str
        Name of the argument: the command-line option ``--NAME`` and the key of the sweep
        config's ``[axis]`` table (e.g. ``"times"``, ``"steps"``, ``"values"``).
    default : str or None
        Command-line default as ``START:STOP:N`` (N log-spaced values); None: required.
    integer : bool
        The values are non-negative integers (rounded and de-duplicated when log-spaced).
    select : tuple of str
        Names of parameter fields the axis can sweep; when given, the chosen name is passed
        before the values (command line ``--axis NAME``, config ``axis.name``) and that field of
        the parameters is replaced by each value.
    help : str
        What the values are.
    """

    name: str
    default: str | None = None
    integer: bool = False
    select: tuple[str, ...] = ()
    help: str = ""


@dataclasses.dataclass(frozen=True)
class RunFunction:
    """One way a generator produces trajectories.

    Parameters
    ----------
    name : str
        Name used by the sweep config's ``function`` key (e.g. ``"solve"``, ``"simulate"``).
    function : callable
        ``function(params, *axis_arguments, [seed=s | seeds=[...]], **options)`` returning a
        Trajectory or a sequence of Trajectory.
    seed : {"none", "seed", "seeds"}
        Seed convention: deterministic (no seed argument), ``seed=`` one seed per call (one run
        per seed), or ``seeds=`` a list of seeds aggregated by one call.
    options : dataclass type or None
        Extra keyword arguments the function accepts (its fields, defaults equal to the
        function's); they become command-line options and the config's ``[options]`` table.
    flag : str or None
        Command-line flag selecting this function (``"simulate"`` gives ``--simulate``); None
        for the generator's default function.
    cli_seeds : tuple of int
        Seeds ``toptraj generate`` uses when ``--seeds`` is not given; empty: none (seed None).
    defaults : mapping
        Defaults of parameter fields that this function needs and the dataclass does not give
        (e.g. the number of modes of a simulation).
    work_dir : str or None
        Name of an option that holds a folder for resumable state; ``toptraj generate`` fills it
        with ``OUT/_runs`` when it is not given.
    progress : str or None
        Name of a keyword argument taking a callable ``progress(n, total=None)``, called with
        ``n`` units of work done (and once with ``total=`` when the total is known);
        ``toptraj generate`` shows a progress bar with it.
    help : str
        One line shown by ``toptraj generate NAME --help``.
    """

    name: str
    function: Callable[..., Any]
    seed: str = "seed"
    options: type | None = None
    flag: str | None = None
    cli_seeds: tuple[int, ...] = ()
    defaults: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    work_dir: str | None = None
    progress: str | None = None
    help: str = ""

    def call(self, params: Any, axis: Sequence = (), seeds: Sequence | None = None,
             options: Mapping[str, Any] | None = None) -> list:
        """Run the function with its seed convention; the trajectories it returns, as a list.

        ``seeds`` None means no seed: ``seed=None`` for the "seed" convention, no ``seeds``
        argument for "seeds". "seed" makes one call per seed, the others one call.
        """
        from toptraj.trajectory import Trajectory

        kwargs = dict(options or {})
        if self.seed == "seed":
            outs = [self.function(params, *axis, seed=s, **kwargs) for s in (seeds or [None])]
        elif self.seed == "seeds" and seeds is not None:
            outs = [self.function(params, *axis, seeds=list(seeds), **kwargs)]
        else:
            outs = [self.function(params, *axis, **kwargs)]
        runs = []
        for out in outs:
            items = [out] if isinstance(out, Trajectory) else list(out) if isinstance(out, Iterable) else [out]
            if not items or not all(isinstance(t, Trajectory) for t in items):
                raise TypeError(f"{self.qualname} returned {type(out).__name__}, expected Trajectory(s)")
            runs.extend(items)
        return runs

    @property
    def qualname(self) -> str:
        """``module.function``, used in messages."""
        fn = self.function
        return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__name__', self.name)}"


@dataclasses.dataclass(frozen=True)
class GeneratorSpec:
    """The declaration of one generator (see the module docstring).

    Parameters
    ----------
    name : str
        Registry and command-line name (``toptraj generate NAME``); letters, digits, ``-``, ``_``.
    params : dataclass type
        Frozen parameters dataclass; validates itself in ``__post_init__``.
    functions : tuple of RunFunction
        The run functions; the first is the default.
    axis : Axis or None
        The functions' array argument; None when they take none.
    labels : tuple of str
        Names of the labels the generator computes (``Trajectory.labels`` keys).
    version : str
        Version of the generator's numbers; part of every sweep run's key, so that results of
        another version are never mixed up with these.
    description : str
        One line for ``toptraj generate --help``.
    defaults : mapping
        Defaults of parameter fields for the command line and sweeps where the dataclass gives
        none (e.g. an infinite data-set size).
    theory : mapping of str to callable
        The model's closed forms and study helpers that core analyses call by name (predicted
        exponents, phase maps, the study's data sets), so that the core reaches them through
        the registry and never imports a generator module.
    """

    name: str
    params: type
    functions: tuple[RunFunction, ...]
    axis: Axis | None = None
    labels: tuple[str, ...] = ()
    version: str = ""
    description: str = ""
    defaults: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    theory: Mapping[str, Callable] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        where = f"generator spec {self.name!r}"
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise InputError(f"generator spec: name must be letters, digits, '-' or '_', got {self.name!r}")
        fields = describe(self.params)  # raises when params is not a dataclass
        if not isinstance(self.functions, tuple) or not self.functions:
            raise InputError(f"{where}: functions must be a non-empty tuple of RunFunction")
        names, flags = set(), set()
        option_kinds: dict[str, Any] = {}
        for fn in self.functions:
            if not isinstance(fn, RunFunction) or not callable(fn.function):
                raise InputError(f"{where}: functions must be RunFunction objects with a callable, got {fn!r}")
            if fn.name in names:
                raise InputError(f"{where}: two run functions named {fn.name!r}")
            names.add(fn.name)
            if fn.seed not in SEED_CONVENTIONS:
                raise InputError(f"{where}: {fn.name}.seed must be one of {list(SEED_CONVENTIONS)}, got {fn.seed!r}")
            if fn.flag in flags:
                raise InputError(f"{where}: two run functions selected by flag {fn.flag!r}")
            flags.add(fn.flag)
            opts = describe(fn.options) if fn.options is not None else {}
            if fn.work_dir is not None and fn.work_dir not in opts:
                raise InputError(f"{where}: {fn.name}.work_dir {fn.work_dir!r} is not one of its options")
            for key in fn.defaults:
                if key not in fields:
                    raise InputError(f"{where}: {fn.name}.defaults names {key!r}, not a field of {self.params.__name__}")
            if fn.options is not None:
                for oname, info in describe(fn.options).items():
                    clash = oname in fields or oname in _RESERVED or (self.axis is not None and oname == self.axis.name)
                    kind = (info.kind, info.item, info.optional, info.choices)
                    if clash or option_kinds.get(oname, kind) != kind:
                        raise InputError(f"{where}: option {oname!r} of {fn.name} clashes with another name")
                    option_kinds[oname] = kind
        for key, fn in self.theory.items():
            if not isinstance(key, str) or not callable(fn):
                raise InputError(f"{where}: theory must map names to callables, got {key!r}: {fn!r}")
        if None not in flags:
            raise InputError(f"{where}: one run function must have flag=None (the default)")
        for key in self.defaults:
            if key not in fields:
                raise InputError(f"{where}: defaults names {key!r}, not a field of {self.params.__name__}")
        reserved = set(_RESERVED) | ({self.axis.name} if self.axis is not None else set())
        if reserved & set(fields):
            raise InputError(f"{where}: parameter name(s) {sorted(reserved & set(fields))} are reserved")
        if self.axis is not None:
            bad = [s for s in self.axis.select if s not in fields]
            if bad:
                raise InputError(f"{where}: axis.select names {bad}, not fields of {self.params.__name__}")
        if not isinstance(self.version, str) or not self.version:
            raise InputError(f"{where}: version must be a non-empty string")

    def function(self, name: str | None = None) -> RunFunction:
        """The run function called ``name`` (the default one for None); InputError if unknown."""
        if name is None:
            return self.functions[0]
        for fn in self.functions:
            if fn.name == name:
                return fn
        raise InputError(f"function must be one of {[f.name for f in self.functions]}, got {name!r}")

    def param_defaults(self, function: RunFunction | None = None) -> dict[str, Any]:
        """Defaults of the parameters beyond the dataclass's: the spec's, then the function's."""
        return {**self.defaults, **(dict(function.defaults) if function is not None else {})}


_registered: dict[str, GeneratorSpec] = {}


def register(spec: GeneratorSpec, *, replace: bool = False) -> GeneratorSpec:
    """Make ``spec`` available under its name in this process (``replace`` to shadow a name).

    Returns the spec, so that a module can write ``SPEC = register(GeneratorSpec(...))``.
    """
    if not isinstance(spec, GeneratorSpec):
        raise InputError(f"register: expected a GeneratorSpec, got {type(spec).__name__}")
    old = _registered.get(spec.name)
    if old is not None and old is not spec and not replace:
        raise InputError(f"register: a generator named {spec.name!r} is already registered; pass replace=True")
    _registered[spec.name] = spec
    return spec


def unregister(name: str) -> None:
    """Forget a generator registered with :func:`register` (built-ins are found again on demand)."""
    _registered.pop(name, None)


def _entry_points() -> dict[str, Any]:
    from importlib.metadata import entry_points

    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def _builtin_present(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # the parent package is missing
        return False


def available_generators() -> tuple[str, ...]:
    """Names :func:`get_generator` resolves: built-ins, then registered, then entry points.

    Imports no generator module (entry points are listed from installed metadata).
    """
    names = [n for n, m in BUILTIN_GENERATORS.items() if _builtin_present(m)]
    names += [n for n in _registered if n not in names]
    names += [n for n in sorted(_entry_points()) if n not in names]
    return tuple(names)


def _spec_of(obj: Any, origin: str) -> GeneratorSpec:
    if isinstance(obj, ModuleType):
        obj = getattr(obj, "SPEC", None)
    if not isinstance(obj, GeneratorSpec):
        raise InputError(f"{origin} does not provide a GeneratorSpec (a module must export SPEC)")
    return obj


def get_generator(name_or_spec: str | GeneratorSpec) -> GeneratorSpec:
    """The generator spec for a name, or the spec object itself.

    Parameters
    ----------
    name_or_spec : str or GeneratorSpec

    Returns
    -------
    GeneratorSpec

    Raises
    ------
    InputError
        Unknown name (the message lists the available ones), or a module or entry point that
        fails to import or provides no spec.
    """
    if isinstance(name_or_spec, GeneratorSpec):
        return name_or_spec
    name = name_or_spec
    if not isinstance(name, str):
        raise InputError(f"generator must be a name or a GeneratorSpec, got {type(name).__name__}")
    if name in _registered:
        return _registered[name]
    if name in BUILTIN_GENERATORS and _builtin_present(BUILTIN_GENERATORS[name]):
        module = BUILTIN_GENERATORS[name]
        try:
            spec = _spec_of(importlib.import_module(module), module)
        except ImportError as exc:  # e.g. an optional dependency of that generator is missing
            raise InputError(f"generator {name!r}: importing {module} failed ({exc})") from None
    else:
        ep = _entry_points().get(name)
        if ep is None:
            raise InputError(f"generator must be one of {list(available_generators())}, got {name!r}")
        try:
            obj = ep.load()
        except Exception as exc:  # a broken plug-in must not take the command line down
            raise InputError(f"generator {name!r}: loading entry point {ep.value!r} failed ({exc})") from None
        spec = _spec_of(obj, f"entry point {name} = {ep.value}")
    if spec.name != name:
        raise InputError(f"generator {name!r}: its spec is named {spec.name!r}")
    _registered.setdefault(name, spec)
    return spec
