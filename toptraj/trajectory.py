"""Core types: a training trajectory with its ground truth, and sets of them.

A :class:`Trajectory` is one run: a strictly increasing axis (``times``, shape ``(n_steps,)``),
values on named channels (``values``, shape ``(n_steps, n_channels)``), the generating parameters,
the seed, known labels (exponents, transition times, phase) and provenance. Generated and user
trajectories look the same from here on.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from toptraj.validation import check_choice, check_finite_array, check_fraction, check_increasing

#: Label names a trajectory may carry, with their meaning. Unknown names are rejected so that a
#: typo ("time_exponant") cannot silently produce a target full of NaN.
KNOWN_LABELS: dict[str, str] = {
    "a": "task-power exponent (DMFT): lambda_k w_k^2 ~ k^-a",
    "b": "spectral-decay exponent (DMFT): lambda_k ~ k^-b",
    "alpha": "PLRF data exponent, or the latent-space model's spectral exponent",
    "beta": "PLRF target exponent",
    "time_exponent": "exponent r of L(t) ~ t^-r, (a-1)/b for the DMFT model",
    "model_exponent": "exponent of L ~ N^-m at t -> infinity",
    "data_exponent": "exponent of L ~ P^-m at t -> infinity",
    "width_exponent_early": "exponent of L(t,N) - L(t,inf) ~ N^-k at early times",
    "width_exponent_late": "exponent of L(t,N) - L(t,inf) ~ N^-k at late times",
    "t_x": "width-correction crossover time (docs/theory/dmft.rst, Labels)",
    "t_of": "overfitting onset time (docs/theory/dmft.rst, Labels)",
    "phase": "phase name (PLRF: Ia, Ib, Ic, II, III, IVa, IVb)",
    "eta": "compute-optimal loss exponent, L* ~ f^-eta",
    "xi": "compute-optimal size exponent, d* ~ f^xi",
    "compute_exponent": "compute-optimal loss exponent (DMFT, C = N t)",
    "N": "model size (width) of the run",
    "P": "data-set size of the run",
}

TIME_SCALES = ("log", "linear")


def jsonable(value: Any) -> Any:
    """Convert numpy scalars/arrays, tuples and inf/nan so that metadata round-trips through JSON."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and not math.isfinite(value):
        # JSON has no inf/nan: keep them as strings that load() turns back into floats.
        return repr(value)
    return value


_jsonable = jsonable  # old private name, kept for older callers


def params_key(params: Mapping[str, Any], exclude: Iterable[str] = ("seed",)) -> str:
    """A short stable hash of a parameter dict (used to group runs of one parameter point)."""
    skip = set(exclude)
    clean = {k: jsonable(v) for k, v in sorted(params.items()) if k not in skip}
    blob = json.dumps(clean, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


@dataclass(frozen=True, eq=False)
class Trajectory:
    """One training run (or one scaling curve) with its ground truth.

    Parameters
    ----------
    times : array, shape (n_steps,)
        Strictly increasing axis values (float64). Usually training time or step; for scaling
        curves it is a size, named by ``axis``.
    values : array, shape (n_steps, n_channels)
        Channel values; a 1-D array is taken as one channel.
    channels : sequence of str, length n_channels
        Unique channel names, e.g. ``("test_loss", "train_loss")``.
    axis : str
        Name of the independent variable (``"time"``, ``"step"``, ``"N"``, ``"T"``...).
    source : str
        Generator or file the trajectory came from (``"modesum"``, ``"csv:run.csv"``).
    params : dict
        Generating parameters (JSON-serialisable).
    seed : int or None
        Seed of the realisation (None for deterministic theory curves).
    labels : dict
        Ground truth, names from :data:`KNOWN_LABELS`; floats (NaN where undefined) or strings.
    provenance : dict
        Package versions, device, git revision, creation time (see :func:`toptraj.provenance.collect`).

    Examples
    --------
    >>> import numpy as np
    >>> t = np.geomspace(1, 1e4, 9)
    >>> run = Trajectory(times=t, values=t**-0.5, channels=("test_loss",), labels={"time_exponent": 0.5})
    >>> run.values.shape
    (9, 1)
    >>> run.truncate(0.5).times.round(2)  # the first half of log-time
    array([  1.  ,   3.16,  10.  ,  31.62, 100.  ])
    >>> run.truncate(0.5, scale="linear").times.size  # the first half of the steps
    8
    """

    times: np.ndarray
    values: np.ndarray
    channels: tuple[str, ...]
    axis: str = "time"
    source: str = ""
    params: dict = field(default_factory=dict)
    seed: int | None = None
    labels: dict = field(default_factory=dict)
    provenance: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        times = check_increasing("times", self.times)
        values = check_finite_array("values", self.values)
        if values.ndim == 1:
            values = values[:, None]
        if values.ndim != 2:
            raise ValueError(f"values must be 1-D or 2-D (n_steps, n_channels), got shape {values.shape}")
        if values.shape[0] != times.shape[0]:
            raise ValueError(
                f"values has {values.shape[0]} rows but times has {times.shape[0]} entries; they must match"
            )
        channels = (self.channels,) if isinstance(self.channels, str) else tuple(self.channels)
        if len(channels) != values.shape[1]:
            raise ValueError(f"channels has {len(channels)} names but values has {values.shape[1]} columns")
        if any(not isinstance(c, str) or not c for c in channels):
            raise ValueError(f"channels must be non-empty strings, got {channels}")
        if len(set(channels)) != len(channels):
            raise ValueError(f"channels must be unique, got {channels}")
        if not isinstance(self.axis, str) or not self.axis:
            raise ValueError(f"axis must be a non-empty string, got {self.axis!r}")
        labels = dict(self.labels)
        for name, val in labels.items():
            if name not in KNOWN_LABELS:
                raise ValueError(f"unknown label {name!r}; known labels are {sorted(KNOWN_LABELS)}")
            if not isinstance(val, str):
                labels[name] = float(val)
        if self.seed is not None and (isinstance(self.seed, bool) or int(self.seed) != self.seed or self.seed < 0):
            raise ValueError(f"seed must be a non-negative integer or None, got {self.seed!r}")
        times.setflags(write=False)
        values = np.ascontiguousarray(values)
        values.setflags(write=False)
        object.__setattr__(self, "times", times)
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "channels", channels)
        object.__setattr__(self, "labels", labels)
        object.__setattr__(self, "params", dict(self.params))
        object.__setattr__(self, "provenance", dict(self.provenance))
        object.__setattr__(self, "seed", None if self.seed is None else int(self.seed))

    # -- access -------------------------------------------------------------------------------
    @property
    def n_steps(self) -> int:
        return int(self.times.shape[0])

    def __len__(self) -> int:
        return self.n_steps

    def channel(self, name: str) -> np.ndarray:
        """Values of one channel, shape (n_steps,)."""
        check_choice("channel", name, self.channels)
        return self.values[:, self.channels.index(name)]

    def has_channel(self, name: str) -> bool:
        return name in self.channels

    def select(self, channels: str | Sequence[str]) -> Trajectory:
        """A trajectory restricted to some channels (in the given order)."""
        names = [channels] if isinstance(channels, str) else list(channels)
        for c in names:
            check_choice("channels", c, self.channels)
        idx = [self.channels.index(c) for c in names]
        return replace(self, values=self.values[:, idx], channels=tuple(names))

    def channels_with_prefix(self, prefix: str) -> list[str]:
        """Channel names starting with ``prefix`` (e.g. ``"proj_"`` for a weight-path sketch)."""
        return [c for c in self.channels if c.startswith(prefix)]

    def label(self, name: str) -> float | str:
        """One ground-truth label (NaN if the trajectory does not carry it)."""
        check_choice("label", name, KNOWN_LABELS)
        return self.labels.get(name, math.nan)

    @property
    def group_key(self) -> str:
        """Hash of (source, params without seed): runs of one parameter point share it."""
        return params_key({"__source__": self.source, **self.params})

    # -- transforms ---------------------------------------------------------------------------
    def truncate(self, fraction: float, scale: str = "log") -> Trajectory:
        """The first ``fraction`` of training.

        On ``scale="linear"`` keep times ``t <= t0 + fraction (t_end - t0)``; on ``scale="log"`` keep
        ``log t <= log t0 + fraction (log t_end - log t0)`` (requires positive times). At least two
        points are always kept so that slopes remain defined.
        """
        fraction = check_fraction("fraction", fraction)
        check_choice("scale", scale, TIME_SCALES)
        t = self.times
        if scale == "log":
            if t[0] <= 0:
                raise ValueError("scale='log' needs positive times; use scale='linear'")
            cut = math.exp(math.log(t[0]) + fraction * (math.log(t[-1]) - math.log(t[0])))
        else:
            cut = t[0] + fraction * (t[-1] - t[0])
        n = max(2, int(np.searchsorted(t, cut * (1 + 1e-12), side="right")))
        n = min(n, self.n_steps)
        return replace(self, times=t[:n], values=self.values[:n])

    def window(self, start: float, stop: float) -> Trajectory:
        """Points with ``start <= t <= stop``."""
        keep = (self.times >= start) & (self.times <= stop)
        if keep.sum() < 1:
            raise ValueError(f"window [{start}, {stop}] contains no points of times [{self.times[0]}, {self.times[-1]}]")
        return replace(self, times=self.times[keep], values=self.values[keep])

    def with_values(self, values: np.ndarray, channels: Sequence[str] | None = None, **changes: Any) -> Trajectory:
        """A copy with new values (and optionally channels or other fields)."""
        return replace(self, values=values, channels=tuple(channels or self.channels), **changes)

    def to_dict(self) -> dict:
        """Metadata as plain JSON-serialisable data (arrays excluded)."""
        return {
            "channels": list(self.channels),
            "axis": self.axis,
            "source": self.source,
            "params": jsonable(self.params),
            "seed": self.seed,
            "labels": jsonable(self.labels),
            "provenance": jsonable(self.provenance),
        }

    def __repr__(self) -> str:
        return (
            f"Trajectory(source={self.source!r}, n_steps={self.n_steps}, channels={list(self.channels)}, "
            f"axis={self.axis!r}, seed={self.seed}, labels={self.labels})"
        )


class TrajectorySet(Sequence[Trajectory]):
    """An ordered collection of trajectories with helpers for learning tasks.

    ``targets(names)`` gives the regression targets, ``groups()`` the run/parameter-point ids used
    for grouped splits, ``select(**params)`` filters, ``truncate`` and ``windows`` map over runs.
    """

    def __init__(self, trajectories: Iterable[Trajectory] = ()):
        items = list(trajectories)
        for i, t in enumerate(items):
            if not isinstance(t, Trajectory):
                raise ValueError(f"trajectories[{i}] must be a Trajectory, got {type(t).__name__}")
        self._items = items

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return TrajectorySet(self._items[i])
        if isinstance(i, (list, np.ndarray)):
            return TrajectorySet([self._items[int(j)] for j in i])
        return self._items[i]

    def __iter__(self) -> Iterator[Trajectory]:
        return iter(self._items)

    def __add__(self, other: TrajectorySet) -> TrajectorySet:
        return TrajectorySet([*self._items, *other])

    def __repr__(self) -> str:
        sources = sorted({t.source for t in self._items})
        return f"TrajectorySet(n={len(self)}, sources={sources})"

    def targets(self, names: str | Sequence[str]) -> np.ndarray:
        """Label values, shape (n,) for one name or (n, k) for a list of k names."""
        single = isinstance(names, str)
        names_list = [names] if single else list(names)
        for n in names_list:
            check_choice("names", n, KNOWN_LABELS)
        out = np.array([[float(t.labels.get(n, math.nan)) for n in names_list] for t in self._items])
        out = out.reshape(len(self._items), len(names_list))
        return out[:, 0] if single else out

    def groups(self, key: str | None = None) -> np.ndarray:
        """Group id per trajectory, shape (n,), integers.

        ``key=None`` groups by parameter point (all params except the seed), so that runs of one
        point never straddle a train/test split; ``key="seed"`` or any param name groups by it.
        """
        if key is None:
            keys = [t.group_key for t in self._items]
        elif key == "seed":
            keys = [str(t.seed) for t in self._items]
        else:
            keys = [json.dumps(jsonable(t.params.get(key))) for t in self._items]
        _, ids = np.unique(np.array(keys, dtype=object).astype(str), return_inverse=True)
        return ids.astype(int)

    def select(self, predicate: Callable[[Trajectory], bool] | None = None, **params: Any) -> TrajectorySet:
        """Trajectories whose params equal every given value (and that pass ``predicate``)."""
        out = []
        for t in self._items:
            if predicate is not None and not predicate(t):
                continue
            if all(k in t.params and t.params[k] == v for k, v in params.items()):
                out.append(t)
        return TrajectorySet(out)

    def truncate(self, fraction: float, scale: str = "log") -> TrajectorySet:
        """Each trajectory cut to its first ``fraction`` of training (see Trajectory.truncate)."""
        return TrajectorySet([t.truncate(fraction, scale) for t in self._items])

    def windows(self, n_windows: int, scale: str = "log") -> list[TrajectorySet]:
        """Split every run into ``n_windows`` consecutive windows of equal (log-)time length.

        Returns a list of length ``n_windows``; element j holds window j of every run.
        """
        if int(n_windows) != n_windows or n_windows < 1:
            raise ValueError(f"n_windows must be a positive integer, got {n_windows!r}")
        check_choice("scale", scale, TIME_SCALES)
        out: list[list[Trajectory]] = [[] for _ in range(n_windows)]
        for t in self._items:
            axis = np.log(t.times) if scale == "log" else t.times
            edges = np.linspace(axis[0], axis[-1], n_windows + 1)
            for j in range(n_windows):
                lo, hi = edges[j], edges[j + 1]
                keep = (axis >= lo) & ((axis < hi) if j < n_windows - 1 else (axis <= hi))
                if keep.sum() < 1:
                    raise ValueError(f"window {j} of a run with {t.n_steps} points is empty; use fewer windows")
                out[j].append(replace(t, times=t.times[keep], values=t.values[keep]))
        return [TrajectorySet(w) for w in out]
