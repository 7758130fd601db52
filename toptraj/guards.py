"""Size guards checked before any work starts: run counts, memory estimates, file sizes.

Every guard raises :class:`SizeError` (an input error: exit status 2 on the command line) naming
what is too large, the number, the limit and the override. One override serves every guard: the
command-line flag ``--force-size`` (Python: ``force=True``). The limits are deliberately generous;
they exist so that a typo (a billion seeds, ``num = 1e7``) fails in milliseconds with a message
instead of eating the machine's memory for an hour.

Counting never expands anything: a run count is the product of the axis lengths, computed with
Python integers from the lengths of lists and the ``num``/``stop - start`` of range tables.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path

from toptraj.io import InputError

#: The one override flag of every size guard (command line).
FORCE_FLAG = "--force-size"
#: Largest number of runs a sweep may have without the override.
MAX_RUNS = 100_000
#: Largest number of points on a time/step axis (or values of one grid range) without the override.
MAX_AXIS_POINTS = 1_000_000
#: Largest user file (CSV) read without the override: 1 GiB.
MAX_FILE_BYTES = 1 << 30
#: Share of the available memory one job may plan to use.
MEMORY_FRACTION = 0.8


class SizeError(InputError):
    """A job would exceed a size limit (runs, points, memory, file size); the message names the override."""


def _human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.3g} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.3g} EiB"  # pragma: no cover


def available_memory_bytes() -> int | None:
    """Memory available to a new job: ``MemAvailable`` of /proc/meminfo (Linux), else free pages; None if unknown."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def check_memory(estimate: float, what: str, *, force: bool = False, available: int | None = None) -> None:
    """Refuse a job whose memory estimate exceeds ``MEMORY_FRACTION`` of the available memory.

    Parameters
    ----------
    estimate : float
        Estimated peak memory of the job in bytes (a generator's ``estimate_memory_bytes``).
    what : str
        The job, for the message (e.g. ``"plrf.volterra with d=1000000000"``).
    force : bool
        Skip the check (``--force-size``).
    available : int or None
        Available bytes; None reads :func:`available_memory_bytes` (no check if that is unknown).

    Raises
    ------
    SizeError
    """
    if force:
        return
    if available is None:
        available = available_memory_bytes()
    if available is None:
        return
    if not math.isfinite(estimate) or estimate > MEMORY_FRACTION * available:
        raise SizeError(
            f"{what} needs about {_human(estimate)} of memory, more than {MEMORY_FRACTION:.0%} of the "
            f"{_human(available)} available; use smaller sizes, or pass {FORCE_FLAG} to try anyway"
        )


def check_count(name: str, lengths: Mapping[str, int], limit: int, *, force: bool = False, unit: str = "runs") -> int:
    """The product of ``lengths`` (Python integers, nothing expanded); SizeError above ``limit``.

    Parameters
    ----------
    name : str
        What is counted, for the message (e.g. ``"sweep config grid.toml"``).
    lengths : mapping of str to int
        Length of each axis (grid parameter, seeds), in the order of the product.
    limit : int
    force : bool
        Skip the limit (``--force-size``).

    Returns
    -------
    int
        The product.
    """
    total = math.prod(int(n) for n in lengths.values())
    if total > limit and not force:
        parts = " x ".join(f"{k} {int(n):,}" for k, n in lengths.items())
        raise SizeError(
            f"{name}: {total:,} {unit} ({parts}) exceeds the limit of {limit:,}; "
            f"shrink the grid, or pass {FORCE_FLAG} to run them all"
        )
    return total


def spec_length(name: str, spec) -> int | None:
    """Number of values a grid/axis entry will expand to, without expanding it.

    A list has its length; a range table ``{start, stop, num, ...}`` has ``num``; a seeds range
    ``{start, stop}`` has ``stop - start``. Returns None when the entry is malformed (the full
    validation reports it).
    """
    if isinstance(spec, (list, tuple)):
        return len(spec)
    if isinstance(spec, Mapping):
        n = spec.get("num")
        if n is None and "start" in spec and "stop" in spec and set(spec) <= {"start", "stop"}:
            lo, hi = spec["start"], spec["stop"]
            if all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in (lo, hi)):
                return max(int(hi) - int(lo), 0)
            return None
        if isinstance(n, (int, float)) and not isinstance(n, bool) and math.isfinite(n) and n >= 0:
            return int(n)
    return None


def check_file_size(path: str | os.PathLike, limit: int | None = MAX_FILE_BYTES, *, force: bool = False) -> int:
    """Size of ``path`` in bytes; SizeError when it exceeds ``limit`` (None: no limit).

    Call before reading a user's file, so a 10 GB log is refused with a message instead of being
    read into memory. Missing files are reported by the reader, not here (returns 0).
    """
    try:
        size = Path(path).stat().st_size
    except OSError:
        return 0
    if limit is not None and size > limit and not force:
        raise SizeError(
            f"{path}: {_human(size)} exceeds the {_human(limit)} limit for one input file; "
            f"pass {FORCE_FLAG} to read it anyway"
        )
    return size


#: Largest sweep config file read (TOML), 16 MiB: a real config is a few kB.
MAX_CONFIG_BYTES = 16 << 20


def check_sweep_config(raw: Mapping, name: str = "config", *, force: bool = False) -> int:
    """Run count and axis sizes of a raw sweep config, checked before anything is expanded.

    Parameters
    ----------
    raw : mapping
        The config as read from TOML (``grid``, ``seeds``, ``axis`` tables as written).
    name : str
        The config's name for messages (its file name).
    force : bool
        Skip the limits (``--force-size``).

    Returns
    -------
    int
        The number of runs (an upper bound when ``integer = true`` ranges drop duplicates).

    Raises
    ------
    SizeError
        More than :data:`MAX_RUNS` runs, or a range/axis of more than :data:`MAX_AXIS_POINTS`
        values. Malformed entries are left to the full validation.
    """
    lengths: dict[str, int] = {}
    grid = raw.get("grid")
    if isinstance(grid, Mapping):
        for key, spec in grid.items():
            n = spec_length(f"grid.{key}", spec)
            if n is not None:
                lengths[f"grid.{key}"] = n
                _check_points(name, f"grid.{key}", n, force)
    seeds = raw.get("seeds")
    if seeds is not None:
        n = spec_length("seeds", seeds)
        if n is not None:
            lengths["seeds"] = n
    axis = raw.get("axis")
    if isinstance(axis, Mapping):
        for key, spec in axis.items():
            n = spec_length(f"axis.{key}", spec)
            if n is not None:
                _check_points(name, f"axis.{key}", n, force)
    return check_count(name, lengths, MAX_RUNS, force=force) if lengths else 1


def _check_points(name: str, key: str, n: int, force: bool) -> None:
    if n > MAX_AXIS_POINTS and not force:
        raise SizeError(
            f"{name}: {key} has {n:,} values, more than the limit of {MAX_AXIS_POINTS:,}; "
            f"use fewer, or pass {FORCE_FLAG}"
        )


def run_memory_estimate(module, params, axis_values, function: str | None = None, axis_name: str | None = None):
    """A generator module's ``estimate_memory_bytes`` for one run, or None if it declares none.

    ``axis_values`` is the run's time/step/size axis (list or array) or None.
    """
    import inspect

    estimate = getattr(module, "estimate_memory_bytes", None)
    if estimate is None:
        return None
    n_times = 0 if axis_values is None else list(axis_values)
    kwargs = {"function": function}
    if axis_name is not None and "axis" in inspect.signature(estimate).parameters:
        kwargs["axis"] = axis_name
    return int(estimate(params, n_times if n_times else 0, **kwargs))


def params_memory_estimate(params, axis_values=None, function: str | None = None, axis_name: str | None = None):
    """Memory estimate (bytes) of one run from its parameters object, or None if its generator has none.

    The generator's ``estimate_memory_bytes`` is looked up in the module that defines the
    parameters dataclass (e.g. ``generators.plrf.params`` for ``PLRFParams``).
    """
    import sys

    module = sys.modules.get(type(params).__module__)
    return None if module is None else run_memory_estimate(module, params, axis_values, function, axis_name)
