"""Persistence diagrams: ragged per-dimension arrays with explicit infinite bars.

A :class:`Diagram` holds, for each homology dimension q in ``dims``, an array of shape
``(n_q, 2)`` of (birth, death) pairs. Essential classes have ``death = inf`` and are kept: every
consumer decides explicitly what to do with them (``finite()``, ``cap(value)``), because silently
dropping them (as persim's distances do) changes answers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True, eq=False)
class Diagram:
    """Persistence diagram of one point cloud or signal.

    Parameters
    ----------
    pairs : tuple of arrays, one per dimension in ``dims``, each shape (n_q, 2)
        Birth and death values; death may be ``inf``.
    dims : tuple of int
        Homology dimensions, e.g. ``(0, 1)``.
    meta : dict
        How it was computed (filtration, metric, backend...).

    Examples
    --------
    >>> import numpy as np
    >>> d = Diagram((np.array([[0.0, 1.0], [0.0, np.inf]]), np.zeros((0, 2))), dims=(0, 1))
    >>> d[0]
    array([[ 0.,  1.],
           [ 0., inf]])
    >>> d[1].shape
    (0, 2)
    """

    pairs: tuple
    dims: tuple = (0, 1)
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        dims = tuple(int(d) for d in self.dims)
        if len(self.pairs) != len(dims):
            raise ValueError(f"pairs has {len(self.pairs)} arrays but dims has {len(dims)} entries")
        clean = []
        for q, arr in zip(dims, self.pairs):
            a = np.asarray(arr, dtype=np.float64).reshape(-1, 2) if np.size(arr) else np.zeros((0, 2))
            if np.any(np.isnan(a)):
                raise ValueError(f"diagram H{q} contains NaN")
            if np.any(a[:, 1] < a[:, 0]):
                raise ValueError(f"diagram H{q} has a death before its birth")
            a = a[np.lexsort((a[:, 1], a[:, 0]))]
            a.setflags(write=False)
            clean.append(a)
        object.__setattr__(self, "pairs", tuple(clean))
        object.__setattr__(self, "dims", dims)
        object.__setattr__(self, "meta", dict(self.meta))

    def __getitem__(self, q: int) -> np.ndarray:
        """Pairs of dimension q, shape (n_q, 2)."""
        if q not in self.dims:
            raise ValueError(f"homology dimension {q} not in this diagram's dims {self.dims}")
        return self.pairs[self.dims.index(q)]

    def finite(self, q: int) -> np.ndarray:
        """Finite pairs of dimension q, shape (m, 2)."""
        a = self[q]
        return a[np.isfinite(a[:, 1])]

    def essential(self, q: int) -> np.ndarray:
        """Births of the infinite bars of dimension q, shape (k,)."""
        a = self[q]
        return a[~np.isfinite(a[:, 1]), 0]

    def cap(self, value: float) -> Diagram:
        """A copy with infinite deaths replaced by ``value`` (e.g. the filtration's maximum)."""
        capped = []
        for a in self.pairs:
            b = a.copy()
            b[~np.isfinite(b[:, 1]), 1] = value
            capped.append(b)
        return Diagram(tuple(capped), self.dims, {**self.meta, "capped_at": float(value)})

    def lifetimes(self, q: int) -> np.ndarray:
        """Finite lifetimes (death - birth) of dimension q, shape (m,)."""
        a = self.finite(q)
        return a[:, 1] - a[:, 0]

    def __repr__(self) -> str:
        counts = ", ".join(
            f"H{q}: {len(a)} ({int(np.sum(~np.isfinite(a[:, 1])))} inf)" for q, a in zip(self.dims, self.pairs)
        )
        return f"Diagram({counts})"


def to_padded(diagrams: Sequence[Diagram], dims: Iterable[int] | None = None, inf_value: float | None = None) -> np.ndarray:
    """Stack diagrams into giotto-tda's padded triples, shape (n_diagrams, n_points, 3).

    Each row is (birth, death, q). Shorter diagrams are padded with (0, 0, q) triples of the
    dimensions present (giotto-tda's convention: zero-length bars contribute nothing). Infinite
    deaths are replaced by ``inf_value`` if given, otherwise they raise: giotto-tda's own
    transformers drop essential bars, so the choice must be explicit.
    """
    diagrams = list(diagrams)
    if not diagrams:
        raise ValueError("diagrams must not be empty")
    dims = tuple(dims) if dims is not None else diagrams[0].dims
    rows_per = []
    for d in diagrams:
        rows = []
        for q in dims:
            a = d[q]
            if np.any(~np.isfinite(a[:, 1])):
                if inf_value is None:
                    raise ValueError(f"diagram has infinite H{q} bars; pass inf_value to cap them")
                a = d.cap(inf_value)[q]
            rows.append(np.column_stack([a, np.full(len(a), q, dtype=float)]))
        rows_per.append(rows)
    # giotto-tda requires every dimension to appear in every diagram: pad per dimension.
    n_per_dim = {q: max(max(len(r[i]) for r in rows_per), 1) for i, q in enumerate(dims)}
    out = np.zeros((len(diagrams), sum(n_per_dim.values()), 3))
    for k, rows in enumerate(rows_per):
        pos = 0
        for i, q in enumerate(dims):
            block = np.zeros((n_per_dim[q], 3))
            block[:, 2] = q
            block[: len(rows[i])] = rows[i]
            out[k, pos : pos + n_per_dim[q]] = block
            pos += n_per_dim[q]
    return out


def from_padded(triples: np.ndarray, meta: dict | None = None) -> list[Diagram]:
    """Inverse of :func:`to_padded`: shape (n, n_points, 3) -> list of n Diagram.

    Zero-length padding rows (birth == death) are dropped.
    """
    arr = np.asarray(triples, dtype=np.float64)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(f"triples must have shape (n, n_points, 3), got {arr.shape}")
    dims = tuple(sorted(int(q) for q in np.unique(arr[:, :, 2])))
    out = []
    for d in arr:
        pairs = tuple(d[(d[:, 2] == q) & (d[:, 1] > d[:, 0])][:, :2] for q in dims)
        out.append(Diagram(pairs, dims, dict(meta or {})))
    return out
