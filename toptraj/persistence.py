"""Persistence diagrams: Vietoris-Rips (ripser / giotto-ph), the H0 minimum-spanning-tree fast
path, lower-star (sublevel) persistence of 1-D signals, and the loss-vector pseudometric.

Conventions (shared by every function here, and by ripser and giotto-ph):

- Bars of zero length (birth == death) are not reported.
- Essential classes are kept as ``death = inf`` (for a connected Rips complex: exactly one H0
  bar); nothing here drops or caps them — see :class:`toptraj.diagrams.Diagram`.

Cost model: Rips needs the n x n distance matrix (O(n^2 d) time, O(n^2) memory; ripser's
memory grows past ~15-20k points); H1 and above are far more expensive (roughly O(n^3) in
practice). The H0 MST path is O(n^2 d) time and, above ``max_dense`` points, O(n d) memory; for
1000 points in R^50 it is about 10x faster than ripser's H0 (benchmarks/bench_persistence.py).
Lower-star persistence of a signal of length n is O(n log n).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from toptraj.diagrams import Diagram
from toptraj.validation import check_choice, check_finite_array, check_number

BACKENDS = ("ripser", "giotto-ph")
METRICS = ("euclidean", "manhattan", "cityblock", "chebyshev", "cosine", "precomputed")
_SCIPY_METRIC = {"manhattan": "cityblock"}


def check_points(points: Any, metric: str) -> np.ndarray:
    """Point cloud (n, d) or, for metric='precomputed', a symmetric distance matrix (n, n)."""
    check_choice("metric", metric, METRICS)
    arr = check_finite_array("points", points)
    if arr.ndim == 1 and metric != "precomputed":
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(f"points must have shape (n, d) (or (n, n) with metric='precomputed'), got {arr.shape}")
    if arr.shape[0] < 1:
        raise ValueError("points must contain at least one point")
    if metric == "precomputed":
        if arr.shape[0] != arr.shape[1]:
            raise ValueError(f"a precomputed distance matrix must be square, got shape {arr.shape}")
        if np.any(arr < 0):
            raise ValueError("a precomputed distance matrix must be non-negative")
        if not np.allclose(arr, arr.T, rtol=1e-10, atol=1e-12):
            raise ValueError("a precomputed distance matrix must be symmetric")
        if np.any(np.diag(arr) != 0):
            raise ValueError("a precomputed distance matrix must have a zero diagonal")
    return arr


_check_points = check_points  # old private name, kept for older callers


def distance_matrix(points: Any, metric: str = "euclidean") -> np.ndarray:
    """Pairwise distances, shape (n, n) (a precomputed matrix is validated and returned).

    Uses :func:`scipy.spatial.distance.pdist`, which computes each distance directly: duplicate
    points get exactly 0 (the dot-product expansion of scikit-learn's euclidean distances, used
    by ripser.py and giotto-ph on point clouds, gives round-off such as 3e-8 instead). Every
    function of this module goes through this matrix, so all backends see the same numbers.
    Cost: O(n^2 d) time, O(n^2) memory.
    """
    arr = check_points(points, metric)
    if metric == "precomputed":
        return arr
    from scipy.spatial.distance import pdist, squareform

    # pdist computes each pair once: the matrix is exactly symmetric with a zero diagonal.
    return squareform(pdist(arr, metric=_SCIPY_METRIC.get(metric, metric)))


def rips_diagram(
    points: Any,
    maxdim: int = 1,
    backend: str = "ripser",
    metric: str = "euclidean",
    n_threads: int = 1,
    threshold: float = np.inf,
) -> Diagram:
    """Vietoris-Rips persistence diagram.

    Parameters
    ----------
    points : array, shape (n, d), or (n, n) distances with ``metric="precomputed"``
    maxdim : int >= 0
        Highest homology dimension; the diagram has dims ``(0, ..., maxdim)``.
    backend : {"ripser", "giotto-ph"}
        ripser.py or giotto-ph's ``ripser_parallel`` (threaded; imported only when used). Both
        run Ripser's algorithm in single precision and give the same diagrams.
    metric : str
        One of ``euclidean, manhattan, cityblock, chebyshev, cosine, precomputed``.
    n_threads : int >= 1
        giotto-ph threads (ignored by ripser).
    threshold : float > 0 or inf
        Build the complex up to this edge length; classes alive at the threshold get ``inf``.

    Returns
    -------
    Diagram with dims (0, ..., maxdim); one infinite H0 bar per connected component at the
    threshold (exactly one without threshold). Zero-length bars are not reported.
    """
    maxdim = check_number("maxdim", maxdim, low=0, integer=True)
    check_choice("backend", backend, BACKENDS)
    n_threads = check_number("n_threads", n_threads, low=1, integer=True)
    threshold = check_number("threshold", threshold, low=0, low_open=True, allow_inf=True)
    # Both backends get the same exact distance matrix (see distance_matrix for why).
    D = distance_matrix(points, metric=metric)
    if backend == "ripser":
        from ripser import ripser

        res = ripser(D, maxdim=maxdim, thresh=threshold, distance_matrix=True)
    else:
        try:
            from gph import ripser_parallel
        except ImportError as exc:  # pragma: no cover - giotto-ph is a core dependency
            raise ImportError("backend='giotto-ph' needs the giotto-ph package: pip install giotto-ph") from exc
        res = ripser_parallel(D, maxdim=maxdim, thresh=threshold, metric="precomputed", n_threads=n_threads)
    pairs = tuple(np.asarray(res["dgms"][q], dtype=np.float64).reshape(-1, 2) for q in range(maxdim + 1))
    meta = {
        "filtration": "rips",
        "backend": backend,
        "metric": metric,
        "threshold": float(threshold),
        "n_points": D.shape[0],
    }
    return Diagram(pairs, tuple(range(maxdim + 1)), meta)


def h0_mst_diagram(points: Any, metric: str = "euclidean", max_dense: int = 5000) -> Diagram:
    """H0 Vietoris-Rips diagram from the minimum spanning tree (the fast path for H0).

    The finite H0 deaths of a Rips filtration are exactly the edge lengths of a minimum spanning
    tree (Kruskal's algorithm is the H0 persistence algorithm); all births are 0 and one bar is
    infinite. Computed in float64 by Prim's algorithm on the complete graph, vectorised per step.

    Why not ``scipy.sparse.csgraph.minimum_spanning_tree``: on a dense matrix it reads every entry
    within 1e-8 of 0 (``numpy.ma.masked_values``) as "no edge", which disconnects duplicate and
    very close points, and it runs Kruskal on all n^2 / 2 edges: about 40x slower than this for
    1000 points (benchmarks/bench_persistence.py). Prim handles zero distances natively.
    Zero-length bars (duplicate points) are not reported, as ripser does not report them;
    ``meta["n_zero_bars"]`` counts them.

    Parameters
    ----------
    points : array, shape (n, d), or (n, n) distances with ``metric="precomputed"``
    metric : str
        As in :func:`rips_diagram`.
    max_dense : int
        Up to this many points the distance matrix is built once (O(n^2) memory); above it,
        distances from the newest tree vertex are computed on the fly (O(n d) memory, slower).

    Returns
    -------
    Diagram with dims ``(0,)``: ``(0, length)`` for every positive MST edge and ``(0, inf)``.

    Cost: O(n^2 d) time for the distances plus O(n^2) for Prim's n - 1 vectorised steps.
    """
    from scipy.spatial.distance import cdist

    max_dense = check_number("max_dense", max_dense, low=1, integer=True)
    arr = check_points(points, metric)
    n = arr.shape[0]
    if metric == "precomputed" or n <= max_dense:
        D = distance_matrix(arr, metric=metric)

        def row(j: int) -> np.ndarray:
            return D[j]
    else:
        sm = _SCIPY_METRIC.get(metric, metric)

        def row(j: int) -> np.ndarray:
            return cdist(arr[j : j + 1], arr, metric=sm)[0]

    w = np.empty(max(n - 1, 0))
    if n > 1:
        # Prim: keep the not-yet-attached vertices compact with their distance to the tree.
        rest = np.arange(1, n)
        key = row(0)[1:].copy()
        for k in range(n - 1):
            i = int(np.argmin(key))
            j = rest[i]
            w[k] = key[i]
            rest[i], key[i] = rest[-1], key[-1]
            rest, key = rest[:-1], key[:-1]
            if rest.size:
                np.minimum(key, row(j)[rest], out=key)
    n_zero = int(np.sum(w == 0))
    deaths = np.sort(w[w > 0])
    pairs = np.column_stack([np.zeros(deaths.size + 1), np.append(deaths, np.inf)])
    return Diagram(
        (pairs,), (0,), {"filtration": "rips", "backend": "mst", "metric": metric, "n_points": n, "n_zero_bars": n_zero}
    )


def lower_star_diagram(signal: Any, superlevel: bool = False) -> Diagram:
    """H0 persistence of the sublevel (or superlevel) filtration of a 1-D signal.

    The signal is a function on the path graph 0 - 1 - ... - (n-1); vertex i enters at
    ``signal[i]`` and edge (i, i+1) at ``max(signal[i], signal[i+1])`` (lower star). Each local
    minimum starts a component; when two components meet at a vertex, the younger one (higher
    birth value; on ties, the one whose minimum comes later in index order) dies there (elder
    rule). The component of the global minimum never dies: one bar ``(min, inf)``.

    Parameters
    ----------
    signal : array, shape (n,), n >= 1
    superlevel : bool
        If True, compute the sublevel diagram of ``-signal`` (peaks instead of valleys). Values
        stay negated: a peak of height h merging at a saddle of height s gives the bar (-h, -s),
        so lifetimes are h - s >= 0 and the infinite bar is born at -max(signal).

    Returns
    -------
    Diagram with dims ``(0,)``; zero-length bars are not reported.

    Examples
    --------
    Two valleys (1 and 0) meet at the saddle 2: the younger one, born at 1, dies there.

    >>> lower_star_diagram([3.0, 1.0, 2.0, 0.0, 4.0])[0]
    array([[ 0., inf],
           [ 1.,  2.]])

    Cost: O(n log n) (sort) + O(n alpha(n)) union-find.
    """
    f = check_finite_array("signal", signal, ndim=1)
    if f.size < 1:
        raise ValueError("signal must not be empty")
    if not isinstance(superlevel, (bool, np.bool_)):
        raise ValueError(f"superlevel must be True or False, got {superlevel!r}")
    if superlevel:
        f = -f
    n = f.size
    order = np.argsort(f, kind="stable")
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)  # total order on vertices: value, then index
    parent = np.full(n, -1, dtype=np.int64)  # -1: not yet in the filtration

    def find(i: int) -> int:
        root = i
        while parent[root] != root:
            root = parent[root]
        while parent[i] != root:  # path compression
            parent[i], i = root, parent[i]
        return root

    bars = []
    for v in order:
        parent[v] = v
        for u in (v - 1, v + 1):
            if 0 <= u < n and parent[u] != -1:
                ru, rv = find(u), find(v)
                if ru == rv:
                    continue
                # Roots are the minima of their components: the one later in the order is younger.
                young, old = (ru, rv) if rank[ru] > rank[rv] else (rv, ru)
                if f[v] > f[young]:
                    bars.append((f[young], f[v]))
                parent[young] = old
    bars.append((f[order[0]], np.inf))
    pairs = np.asarray(bars, dtype=np.float64).reshape(-1, 2)
    return Diagram(
        (pairs,), (0,), {"filtration": "superlevel" if superlevel else "sublevel", "negated": bool(superlevel)}
    )


def loss_vector_distance(L: Any) -> np.ndarray:
    """Loss-vector pseudometric of Dupuis et al. (2023) between iterates.

    ``rho(w_i, w_j) = (1 / n_samples) sum_k |L[i, k] - L[j, k]|``: the mean absolute difference of
    the per-sample losses of two iterates (an L1 distance scaled by 1/n_samples). It is a
    pseudometric: distinct iterates with the same loss vector are at distance 0.

    Parameters
    ----------
    L : array, shape (n_iter, n_samples)
        Per-sample loss of each iterate.

    Returns
    -------
    array, shape (n_iter, n_iter), symmetric, zero diagonal; use with ``metric="precomputed"``.

    Cost: O(n_iter^2 n_samples) time, O(n_iter^2) memory.
    """
    from scipy.spatial.distance import cdist

    arr = check_finite_array("L", L, ndim=2)
    if arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"L must have at least one iterate and one sample, got shape {arr.shape}")
    D = cdist(arr, arr, metric="cityblock") / arr.shape[1]
    D = 0.5 * (D + D.T)
    np.fill_diagonal(D, 0.0)
    return D


# ------------------------------------------------------------------------------------------------
# scikit-learn steps
# ------------------------------------------------------------------------------------------------


def _check_clouds(X: Any) -> list:
    if isinstance(X, np.ndarray) and X.ndim == 3:
        items = list(X)
    elif isinstance(X, np.ndarray) and X.ndim == 2 and X.dtype != object:
        raise ValueError(f"X must be a list of point clouds (or an array (n, m, d)), got a 2-D array {X.shape}")
    else:
        items = list(X)
    if not items:
        raise ValueError("X must contain at least one point cloud")
    return items


class VietorisRips(TransformerMixin, BaseEstimator, auto_wrap_output_keys=None):
    """Point clouds -> Vietoris-Rips diagrams.

    Parameters
    ----------
    maxdim, backend, metric, n_threads : see :func:`rips_diagram`
        ``backend="mst"`` is also accepted for ``maxdim=0`` (the :func:`h0_mst_diagram` fast path).
    memory : None, str or joblib.Memory
        Cache of per-cloud diagrams (keyed on the cloud and the parameters).

    ``transform(list of n arrays (m_i, d))`` -> list of n :class:`Diagram` (essential bars kept as inf).
    """

    def __init__(
        self,
        maxdim: int = 1,
        backend: str = "ripser",
        metric: str = "euclidean",
        n_threads: int = 1,
        memory: Any = None,
    ):
        self.maxdim = maxdim
        self.backend = backend
        self.metric = metric
        self.n_threads = n_threads
        self.memory = memory

    def _validate(self) -> None:
        maxdim = check_number("maxdim", self.maxdim, low=0, integer=True)
        check_choice("backend", self.backend, (*BACKENDS, "mst"))
        if self.backend == "mst" and maxdim != 0:
            raise ValueError(f"backend='mst' computes H0 only; it needs maxdim=0, got maxdim={self.maxdim}")
        check_choice("metric", self.metric, METRICS)
        check_number("n_threads", self.n_threads, low=1, integer=True)

    def fit(self, X: Any, y: Any = None) -> VietorisRips:
        """Validate parameters and input; return self."""
        self._validate()
        _check_clouds(X)
        self.dims_ = tuple(range(int(self.maxdim) + 1))  # nothing is learned; marks the step as fitted
        return self

    def transform(self, X: Any) -> list[Diagram]:
        """List of n point clouds -> list of n diagrams."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "dims_")
        self._validate()
        items = _check_clouds(X)
        if self.backend == "mst":
            fn, kw = h0_mst_diagram, {"metric": self.metric}
        else:
            fn = rips_diagram
            kw = {"maxdim": self.maxdim, "backend": self.backend, "metric": self.metric, "n_threads": self.n_threads}
        if self.memory is not None:
            from joblib import Memory

            mem = self.memory if isinstance(self.memory, Memory) else Memory(self.memory, verbose=0)
            fn = mem.cache(fn)
        return [fn(np.asarray(c, dtype=np.float64), **kw) for c in items]

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """The homology dimensions of the output diagrams, ``H0 ... H{maxdim}``."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "dims_")
        return np.asarray([f"H{q}" for q in self.dims_], dtype=object)


class LowerStar(TransformerMixin, BaseEstimator, auto_wrap_output_keys=None):
    """Curves -> lower-star (sublevel) H0 diagrams of one column.

    Parameters
    ----------
    column : int
        Column of the last axis to filter by (default -1: the last one, e.g. y or s).
    superlevel : bool
        See :func:`lower_star_diagram`.

    ``transform(array (n, n_points, f) or (n, n_points))`` -> list of n :class:`Diagram` (dims (0,)).
    """

    def __init__(self, column: int = -1, superlevel: bool = False):
        self.column = column
        self.superlevel = superlevel

    def _check_X(self, X: Any) -> np.ndarray:
        arr = check_finite_array("X", X)
        if arr.ndim == 2:
            arr = arr[:, :, None]
        if arr.ndim != 3 or arr.shape[0] < 1:
            raise ValueError(f"X must have shape (n, n_points, f) with n >= 1, got {arr.shape}")
        f = arr.shape[2]
        check_number("column", self.column, low=-f, high=f - 1, integer=True)
        if not isinstance(self.superlevel, (bool, np.bool_)):
            raise ValueError(f"superlevel must be True or False, got {self.superlevel!r}")
        return arr

    def fit(self, X: Any, y: Any = None) -> LowerStar:
        """Validate parameters and input; return self."""
        self.n_features_in_ = self._check_X(X).shape[2]
        return self

    def transform(self, X: Any) -> list[Diagram]:
        """Curves -> list of n diagrams."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "n_features_in_")
        arr = self._check_X(X)
        return [lower_star_diagram(c[:, int(self.column)], self.superlevel) for c in arr]

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """The homology dimension of the output diagrams: ``H0``."""
        return np.asarray(["H0"], dtype=object)


def rips_diagrams(clouds: Sequence[Any], **kwargs: Any) -> list[Diagram]:
    """:func:`rips_diagram` over a list of clouds (convenience)."""
    return [rips_diagram(c, **kwargs) for c in clouds]
