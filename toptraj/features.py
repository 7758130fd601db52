"""Diagram features: entropy, lifetime statistics, alpha-weighted sums, Betti curves, landscapes,
persistence images, and the persistent-homology dimension.

Infinite (essential) bars are never dropped silently. Each function states what it does with
them; the rule of thumb is: sums and statistics of lifetimes use the finite bars only and the
essential bars are counted separately (``lifetime_stats(...)["n_essential"]``); curve features
(Betti curves, landscapes) treat an infinite bar as alive forever unless ``inf_value`` caps it;
images need a cap (``inf_value``) or use the finite bars only.

Cost model: every feature of one diagram with m bars costs O(m) (entropy, sums, statistics) or
O(m * len(grid)) (curves), O(m * pixels) (images). :func:`ph_dimension` costs n_sizes MSTs of
at most n_max points, O(n_sizes * n_max^2 * d).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from toptraj.diagrams import Diagram
from toptraj.validation import check_finite_array, check_number, check_seed

FEATURES = ("entropy", "lifetimes", "alpha_sum", "betti", "landscape", "image")
LIFETIME_KEYS = ("count", "total", "mean", "std", "max", "n_essential")


def _check_diagram(d: Any, q: Any) -> np.ndarray:
    if not isinstance(d, Diagram):
        raise ValueError(f"d must be a toptraj Diagram, got {type(d).__name__}")
    q = check_number("q", q, low=0, integer=True)
    if q not in d.dims:
        raise ValueError(f"q={q} is not a homology dimension of this diagram; its dims are {d.dims}")
    return d[q]


def _pairs(d: Any, q: Any, inf_value: float | None) -> np.ndarray:
    """Pairs of dimension q, shape (m, 2): finite only (inf_value None) or with inf deaths capped."""
    a = _check_diagram(d, q)
    if inf_value is None:
        return a[np.isfinite(a[:, 1])]
    cap = check_number("inf_value", inf_value)
    b = a.copy()
    b[~np.isfinite(b[:, 1]), 1] = cap
    # A bar born at or after the cap has nothing left to contribute.
    return b[b[:, 1] > b[:, 0]]


def persistence_entropy(d: Diagram, q: int, inf_value: float | None = None, base: float | None = None) -> float:
    """Persistent entropy ``-sum_i p_i log p_i`` with ``p_i = l_i / sum_j l_j`` (l = lifetimes).

    Parameters
    ----------
    d : Diagram
    q : int
        Homology dimension.
    inf_value : float or None
        None: finite bars only (count the infinite ones with :func:`lifetime_stats`). A number:
        infinite deaths are capped there first.
    base : float or None
        Logarithm base; None = natural log (nats). giotto-tda's ``PersistenceEntropy`` uses
        base 2 (``base=2`` reproduces it).

    Returns
    -------
    float >= 0; 0.0 for a diagram with no bar of positive length (giotto-tda gives NaN there,
    filled with -1 by default).

    Examples
    --------
    Two bars of equal length: p = (1/2, 1/2), entropy log 2 nats or 1 bit.

    >>> import numpy as np
    >>> d = Diagram((np.array([[0.0, 1.0], [0.5, 1.5]]),), dims=(0,))
    >>> round(persistence_entropy(d, 0), 6), persistence_entropy(d, 0, base=2)
    (0.693147, 1.0)
    """
    lt = np.diff(_pairs(d, q, inf_value), axis=1)[:, 0]
    lt = lt[lt > 0]
    if lt.size == 0:
        return 0.0
    p = lt / lt.sum()
    h = float(-np.sum(p * np.log(p)))
    if base is not None:
        base = check_number("base", base, low=1, low_open=True)
        h /= math.log(base)
    return h


def lifetime_stats(d: Diagram, q: int) -> dict:
    """Statistics of the finite lifetimes of dimension q, and the number of infinite bars.

    Returns
    -------
    dict with ``count`` (finite bars), ``total``, ``mean``, ``std`` (population, ddof=0),
    ``max`` of the finite lifetimes (all 0.0 when there are none) and ``n_essential`` (number of
    infinite bars, which the other entries exclude).
    """
    a = _check_diagram(d, q)
    fin = np.isfinite(a[:, 1])
    lt = a[fin, 1] - a[fin, 0]
    if lt.size == 0:
        out = dict.fromkeys(("total", "mean", "std", "max"), 0.0)
    else:
        out = {"total": float(lt.sum()), "mean": float(lt.mean()), "std": float(lt.std()), "max": float(lt.max())}
    return {"count": int(lt.size), **out, "n_essential": int(np.sum(~fin))}


def alpha_weighted_sum(d: Diagram, q: int, alpha: float = 1.0) -> float:
    """``E_alpha = sum_i l_i^alpha`` over the finite lifetimes of dimension q (Andreeva et al.).

    For Rips H0 this is the alpha-weighted length of the minimum spanning tree. Infinite bars
    are excluded (they would make it infinite); ``lifetime_stats(d, q)["n_essential"]`` counts them.
    """
    alpha = check_number("alpha", alpha, low=0, low_open=True)
    lt = np.diff(_pairs(d, q, None), axis=1)[:, 0]
    return float(np.sum(lt**alpha))


def _check_grid(grid: Any) -> np.ndarray:
    g = check_finite_array("grid", grid, ndim=1)
    if g.size < 1:
        raise ValueError("grid must not be empty")
    return g


def betti_curve(d: Diagram, q: int, grid: Any, inf_value: float | None = None) -> np.ndarray:
    """Betti number beta_q(t) = #{bars with birth <= t < death} at each grid value.

    Infinite bars are alive for every t >= birth (they are counted, not dropped) unless
    ``inf_value`` caps them. Same convention as giotto-tda's ``BettiCurve``.

    Returns
    -------
    array, shape (len(grid),), float
    """
    g = _check_grid(grid)
    a = _check_diagram(d, q) if inf_value is None else _pairs(d, q, inf_value)
    alive = (g[:, None] >= a[None, :, 0]) & (g[:, None] < a[None, :, 1])
    return alive.sum(axis=1).astype(np.float64)


def landscape(d: Diagram, q: int, grid: Any, k: int = 3, inf_value: float | None = None) -> np.ndarray:
    """First k persistence landscape functions on a grid.

    ``lambda_j(t)`` is the j-th largest of the tents ``max(0, min(t - b, d - t))``. An infinite
    bar's tent is the ramp ``max(0, t - b)`` (it is kept) unless ``inf_value`` caps it. Same
    formula as giotto-tda's ``PersistenceLandscape`` (no sqrt(2) rescaling).

    Returns
    -------
    array, shape (k, len(grid)); rows beyond the number of bars are 0.
    """
    g = _check_grid(grid)
    k = check_number("k", k, low=1, integer=True)
    a = _check_diagram(d, q) if inf_value is None else _pairs(d, q, inf_value)
    out = np.zeros((k, g.size))
    if a.shape[0] == 0:
        return out
    with np.errstate(invalid="ignore"):
        tents = np.maximum(0.0, np.minimum(g[None, :] - a[:, :1], a[:, 1:] - g[None, :]))
    tents = -np.sort(-tents, axis=0)  # descending per grid point
    m = min(k, tents.shape[0])
    out[:m] = tents[:m]
    return out


def persistence_image(
    d: Diagram,
    q: int,
    birth_range: tuple[float, float] | None = None,
    pers_range: tuple[float, float] | None = None,
    pixel_size: float | None = None,
    sigma: float | None = None,
    weight_power: float = 1.0,
    inf_value: float | None = None,
) -> np.ndarray:
    """Persistence image (Adams et al.) via ``persim.PersistenceImager``.

    Bars are mapped to (birth, persistence), weighted by ``persistence ** weight_power``, smoothed
    with an isotropic Gaussian of standard deviation ``sigma`` and integrated over square pixels.

    Parameters
    ----------
    d, q : diagram and homology dimension
    birth_range, pers_range : (low, high) or None
        Image extent; None = from this diagram's bars. persim widens each range to a whole number
        of pixels.
    pixel_size : float > 0 or None
        None = the larger span / 8.
    sigma : float > 0 or None
        Kernel standard deviation; None = pixel_size.
    weight_power : float >= 0
    inf_value : float or None
        None: finite bars only (an image cannot hold an infinite bar; count them with
        :func:`lifetime_stats`). A number: infinite deaths are capped there.

    Returns
    -------
    array, shape (n_birth_pixels, n_pers_pixels)
    """
    from persim import PersistenceImager

    a = _pairs(d, q, inf_value)
    weight_power = check_number("weight_power", weight_power, low=0)
    pers = a[:, 1] - a[:, 0]
    if birth_range is None:
        birth_range = (float(a[:, 0].min()), float(a[:, 0].max())) if a.size else (0.0, 1.0)
    if pers_range is None:
        pers_range = (0.0, float(pers.max())) if a.size else (0.0, 1.0)
    birth_range = tuple(check_number("birth_range", v) for v in birth_range)
    pers_range = tuple(check_number("pers_range", v) for v in pers_range)
    if len(birth_range) != 2 or birth_range[1] < birth_range[0]:
        raise ValueError(f"birth_range must be (low, high) with low <= high, got {birth_range}")
    if len(pers_range) != 2 or pers_range[1] < pers_range[0]:
        raise ValueError(f"pers_range must be (low, high) with low <= high, got {pers_range}")
    span = max(birth_range[1] - birth_range[0], pers_range[1] - pers_range[0])
    if pixel_size is None:
        pixel_size = span / 8 if span > 0 else 1.0
    pixel_size = check_number("pixel_size", pixel_size, low=0, low_open=True)
    # A degenerate range (e.g. all H0 births are 0) still gets one pixel.
    if birth_range[1] - birth_range[0] < pixel_size:
        birth_range = (birth_range[0], birth_range[0] + pixel_size)
    if pers_range[1] - pers_range[0] < pixel_size:
        pers_range = (pers_range[0], pers_range[0] + pixel_size)
    sigma = pixel_size if sigma is None else check_number("sigma", sigma, low=0, low_open=True)
    imager = PersistenceImager(
        birth_range=birth_range,
        pers_range=pers_range,
        pixel_size=pixel_size,
        weight_params={"n": weight_power},
        kernel_params={"sigma": [[sigma**2, 0.0], [0.0, sigma**2]]},
    )
    return _image(imager, a)


def _image(imager: Any, pairs: np.ndarray) -> np.ndarray:
    if pairs.shape[0] == 0:
        return np.zeros(imager.resolution)
    return np.asarray(imager.transform(pairs, skew=True), dtype=np.float64)


def ph_dimension(
    points: Any,
    alpha: float = 1.0,
    n_min: int = 200,
    n_max: int = 1000,
    n_sizes: int = 8,
    seed: int | None = 0,
    metric: str = "euclidean",
) -> float:
    """Persistent-homology dimension of a point cloud (Birdal et al. 2021).

    For subsample sizes n in ``linspace(n_min, n_max, n_sizes)`` (rounded), draw n points without
    replacement, compute ``E_alpha(n)`` = sum of H0 lifetimes^alpha (the alpha-weighted MST
    length), fit ``log E_alpha = m log n + c`` by least squares and return ``alpha / (1 - m)``.
    For a set of (upper box) dimension D and alpha < D, ``E_alpha ~ n^((D - alpha) / D)``.

    Parameters
    ----------
    points : array, shape (n, d), or (n, n) distances with ``metric="precomputed"`` (e.g.
        :func:`toptraj.persistence.loss_vector_distance` for the Dupuis et al. dimension)
    alpha : float > 0
    n_min, n_max : int
        Subsample sizes; ``n_max`` is clipped to the number of points; ``n_min`` must be >= 2 and
        below the clipped ``n_max``.
    n_sizes : int >= 2
    seed : int or None
        Subsampling seed (same seed, same answer).
    metric : str
        As in :func:`toptraj.persistence.rips_diagram`.

    Returns
    -------
    float (inf if the fitted slope is >= 1, i.e. E_alpha does not grow sublinearly).

    Cost: n_sizes minimum spanning trees, O(n_sizes n_max^2 d).
    """
    from toptraj.persistence import check_points, h0_mst_diagram

    alpha = check_number("alpha", alpha, low=0, low_open=True)
    arr = check_points(points, metric)
    n_pts = arr.shape[0]
    n_max = check_number("n_max", n_max, low=3, integer=True)
    n_min = check_number("n_min", n_min, low=2, integer=True)
    n_sizes = check_number("n_sizes", n_sizes, low=2, integer=True)
    seed = check_seed("seed", seed)
    n_max = min(n_max, n_pts)
    if n_min >= n_max:
        raise ValueError(f"n_min must be below n_max clipped to the number of points ({n_max}), got n_min={n_min}")
    sizes = np.unique(np.round(np.linspace(n_min, n_max, n_sizes)).astype(int))
    rng = np.random.default_rng(seed)
    E = np.empty(sizes.size)
    for i, n in enumerate(sizes):
        idx = rng.choice(n_pts, size=n, replace=False)
        sub = arr[np.ix_(idx, idx)] if metric == "precomputed" else arr[idx]
        E[i] = alpha_weighted_sum(h0_mst_diagram(sub, metric=metric), 0, alpha)
    if np.any(E <= 0):
        raise ValueError("E_alpha is 0 for some subsample (all points identical?); the dimension is undefined")
    m = float(np.polyfit(np.log(sizes), np.log(E), 1)[0])
    return alpha / (1.0 - m) if m < 1 else math.inf


# ------------------------------------------------------------------------------------------------
# scikit-learn step
# ------------------------------------------------------------------------------------------------


def check_diagram_list(X: Any, dims: Sequence[int]) -> list[Diagram]:
    items = list(X)
    if not items:
        raise ValueError("X must contain at least one Diagram")
    for i, d in enumerate(items):
        if not isinstance(d, Diagram):
            raise ValueError(f"X[{i}] must be a toptraj Diagram, got {type(d).__name__}")
        for q in dims:
            if q not in d.dims:
                raise ValueError(f"X[{i}] has dims {d.dims} but dims={tuple(dims)} asks for H{q}; set dims accordingly")
    return items


_check_diagram_list = check_diagram_list  # old private name, kept for older callers


class DiagramFeatures(TransformerMixin, BaseEstimator):
    """Diagrams -> fixed-length feature vectors.

    Parameters
    ----------
    features : sequence of str
        Any of ``entropy, lifetimes, alpha_sum, betti, landscape, image``.
    dims : sequence of int
        Homology dimensions to use (every diagram must have them).
    n_bins : int >= 2
        Grid points of Betti curves and landscapes.
    alpha : float > 0
        Exponent of ``alpha_sum``.
    landscape_k : int >= 1
        Landscape functions kept.
    image_bins : int >= 1
        Pixels along the longer image axis.

    Notes
    -----
    ``fit`` learns, per dimension q, the filtration range ``[lo_q, hi_q]`` from the training
    diagrams: lo = smallest birth, hi = largest finite death (or largest birth when a dimension
    has no finite bar; a zero-width range is widened by 1). Grids are ``linspace(lo, hi, n_bins)``
    and images span births [lo, max birth] and persistence [0, hi - lo].

    Infinite bars: always counted, in the ``H{q}_n_essential`` column (part of ``lifetimes``, or
    added on its own when ``lifetimes`` is not requested). ``entropy``, ``lifetimes`` and
    ``alpha_sum`` use finite bars only; ``betti``, ``landscape`` and ``image`` cap infinite
    deaths at the fitted ``hi_q``.

    ``transform(list of n Diagram)`` -> array, shape (n, n_features_out); names from
    :meth:`get_feature_names_out`.
    """

    def __init__(
        self,
        features: Sequence[str] = FEATURES,
        dims: Sequence[int] = (0, 1),
        n_bins: int = 16,
        alpha: float = 1.0,
        landscape_k: int = 3,
        image_bins: int = 8,
    ):
        self.features = features
        self.dims = dims
        self.n_bins = n_bins
        self.alpha = alpha
        self.landscape_k = landscape_k
        self.image_bins = image_bins

    def _validate(self) -> tuple[tuple[str, ...], tuple[int, ...]]:
        feats = (self.features,) if isinstance(self.features, str) else tuple(self.features)
        if not feats:
            raise ValueError(f"features must name at least one of {list(FEATURES)}")
        for f in feats:
            if f not in FEATURES:
                raise ValueError(f"features must be a subset of {list(FEATURES)}, got {f!r}")
        dims = (self.dims,) if isinstance(self.dims, (int, np.integer)) else tuple(self.dims)
        if not dims:
            raise ValueError("dims must contain at least one homology dimension")
        dims = tuple(check_number("dims", q, low=0, integer=True) for q in dims)
        check_number("n_bins", self.n_bins, low=2, integer=True)
        check_number("alpha", self.alpha, low=0, low_open=True)
        check_number("landscape_k", self.landscape_k, low=1, integer=True)
        check_number("image_bins", self.image_bins, low=1, integer=True)
        return feats, dims

    def fit(self, X: Any, y: Any = None) -> DiagramFeatures:
        """Learn per-dimension filtration ranges (and image layouts) from training diagrams."""
        from persim import PersistenceImager

        feats, dims = self._validate()
        items = check_diagram_list(X, dims)
        self.ranges_ = {}
        self.imagers_ = {}
        for q in dims:
            allp = np.concatenate([d[q] for d in items])
            if allp.shape[0] == 0:
                lo, hi, bmax = 0.0, 1.0, 0.0
            else:
                lo = float(allp[:, 0].min())
                bmax = float(allp[:, 0].max())
                fin = np.isfinite(allp[:, 1])
                hi = float(allp[fin, 1].max()) if fin.any() else bmax
                if hi <= lo:
                    hi = lo + 1.0
            self.ranges_[q] = (lo, hi)
            if "image" in feats:
                pixel = max(bmax - lo, hi - lo) / int(self.image_bins)
                self.imagers_[q] = PersistenceImager(
                    birth_range=(lo, max(bmax, lo + pixel)),
                    pers_range=(0.0, hi - lo),
                    pixel_size=pixel,
                    weight_params={"n": 1.0},
                    kernel_params={"sigma": [[pixel**2, 0.0], [0.0, pixel**2]]},
                )
        self.feature_names_ = self._names(feats, dims)
        self.n_features_out_ = len(self.feature_names_)
        return self

    def _names(self, feats: tuple[str, ...], dims: tuple[int, ...]) -> list[str]:
        names = []
        for q in dims:
            p = f"H{q}_"
            for f in FEATURES:  # fixed order, independent of the order given
                if f not in feats:
                    continue
                if f == "entropy":
                    names.append(p + "entropy")
                elif f == "lifetimes":
                    names += [p + k for k in LIFETIME_KEYS]
                elif f == "alpha_sum":
                    names.append(p + "alpha_sum")
                elif f == "betti":
                    names += [f"{p}betti_{i}" for i in range(int(self.n_bins))]
                elif f == "landscape":
                    names += [
                        f"{p}landscape_{j}_{i}" for j in range(int(self.landscape_k)) for i in range(int(self.n_bins))
                    ]
                elif f == "image":
                    nb, npx = self.imagers_[q].resolution
                    names += [f"{p}image_{i}_{j}" for i in range(nb) for j in range(npx)]
            if "lifetimes" not in feats:
                names.append(p + "n_essential")
        return names

    def _row(self, d: Diagram, feats: tuple[str, ...], dims: tuple[int, ...]) -> np.ndarray:
        parts: list[Any] = []
        for q in dims:
            lo, hi = self.ranges_[q]
            grid = np.linspace(lo, hi, int(self.n_bins))
            stats = lifetime_stats(d, q)
            for f in FEATURES:
                if f not in feats:
                    continue
                if f == "entropy":
                    parts.append([persistence_entropy(d, q)])
                elif f == "lifetimes":
                    parts.append([float(stats[k]) for k in LIFETIME_KEYS])
                elif f == "alpha_sum":
                    parts.append([alpha_weighted_sum(d, q, self.alpha)])
                elif f == "betti":
                    parts.append(betti_curve(d, q, grid, inf_value=hi))
                elif f == "landscape":
                    parts.append(landscape(d, q, grid, k=self.landscape_k, inf_value=hi).ravel())
                elif f == "image":
                    parts.append(_image(self.imagers_[q], _pairs(d, q, hi)).ravel())
            if "lifetimes" not in feats:
                parts.append([float(stats["n_essential"])])
        return np.concatenate([np.asarray(p, dtype=np.float64).ravel() for p in parts])

    def transform(self, X: Any) -> np.ndarray:
        """List of n diagrams -> array, shape (n, n_features_out)."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "ranges_")
        feats, dims = self._validate()
        items = check_diagram_list(X, dims)
        out = np.stack([self._row(d, feats, dims) for d in items])
        if out.shape[1] != self.n_features_out_:  # e.g. parameters changed after fit
            raise ValueError(f"produced {out.shape[1]} features but fit produced {self.n_features_out_}; refit")
        return out

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Names of the output columns, e.g. ``H1_betti_3``."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "feature_names_")
        return np.asarray(self.feature_names_, dtype=object)
