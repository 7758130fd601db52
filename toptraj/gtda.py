"""Optional giotto-tda backend: conversions and scikit-learn steps wrapping giotto-tda.

giotto-tda 0.6.2 pins scikit-learn 1.3.2 (so numpy < 2): it lives in its own environment
(``.venv-gtda``, or ``pip install toptraj[gtda]`` into a matching one). It is imported only inside
the functions below, so importing this module never needs it.

Conventions that differ from toptraj's own (mapped here, tested in tests/test_gtda_adapter.py):

- giotto-tda's Vietoris-Rips drops the essential H0 bar by default (``reduced_homology=True``)
  and replaces other infinite deaths by ``infinity_values``. :class:`GtdaVietorisRips` runs it
  with ``reduced_homology=False`` and ``infinity_values=inf`` so the essential bars come back as
  ``inf`` and the diagrams equal :func:`toptraj.persistence.rips_diagram`'s.
- giotto-tda's transformers need finite diagrams in padded triples: :class:`GtdaDiagramFeatures`
  caps infinite deaths at the largest finite death seen in ``fit`` (per dimension), as
  :class:`toptraj.features.DiagramFeatures` does for its grid features.
- ``PersistenceEntropy`` uses log base 2 (ours: natural log; ``base=2`` maps it) and gives NaN
  (filled with -1) for an empty diagram (ours: 0).
- Betti curves and landscapes are sampled on giotto-tda's own grid (``linspace`` over the fitted
  min/max of all triples, padding included); the formulas are the same as ours.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from toptraj.diagrams import Diagram, from_padded, to_padded
from toptraj.features import check_diagram_list
from toptraj.validation import check_choice, check_number

KINDS = ("entropy", "amplitude", "betti", "landscape", "image")
_INSTALL_HINT = (
    "giotto-tda is not installed in this environment. It pins scikit-learn 1.3.2 / numpy < 2: use "
    "the project's .venv-gtda environment, or `pip install toptraj[gtda]` into an environment with "
    "those versions."
)


def _import(module: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(_INSTALL_HINT) from exc


def to_gtda(
    diagrams: Sequence[Diagram], dims: Sequence[int] | None = None, inf_value: float | None = None
) -> np.ndarray:
    """Diagrams -> giotto-tda's padded triples, shape (n, n_points, 3) (see :func:`toptraj.diagrams.to_padded`).

    Infinite deaths are replaced by ``inf_value``; if it is None and a diagram has infinite bars,
    ValueError (giotto-tda's transformers cannot take them, and the choice must be explicit).
    """
    diagrams = list(diagrams)
    for i, d in enumerate(diagrams):
        if not isinstance(d, Diagram):
            raise ValueError(f"diagrams[{i}] must be a toptraj Diagram, got {type(d).__name__}")
    if inf_value is not None:
        inf_value = check_number("inf_value", inf_value)
    return to_padded(diagrams, dims=dims, inf_value=inf_value)


def from_gtda(triples: Any, meta: dict | None = None) -> list[Diagram]:
    """giotto-tda triples (n, n_points, 3) -> list of n Diagram; padding (birth == death) is dropped.

    A death equal to ``inf`` stays an infinite bar; a capped value cannot be told apart from a
    finite death, so use ``infinity_values=np.inf`` upstream when essential bars matter.
    """
    return from_padded(triples, meta=meta)


class GtdaVietorisRips(TransformerMixin, BaseEstimator):
    """Point clouds -> diagrams with ``gtda.homology.VietorisRipsPersistence``.

    Parameters
    ----------
    maxdim : int >= 0
        Homology dimensions ``0..maxdim``.
    metric : str
        Passed to giotto-tda (``"precomputed"`` for distance matrices).
    reduced_homology : bool
        False (default): keep the essential H0 bar, as ripser and toptraj do. True: giotto-tda's
        default, the essential H0 bar is dropped (recorded in ``meta["reduced_homology"]``).
    n_jobs : int or None

    ``transform(list of n arrays (m_i, d))`` -> list of n :class:`Diagram`; infinite deaths are
    kept as ``inf`` (``infinity_values=np.inf``).
    """

    def __init__(
        self, maxdim: int = 1, metric: str = "euclidean", reduced_homology: bool = False, n_jobs: int | None = None
    ):
        self.maxdim = maxdim
        self.metric = metric
        self.reduced_homology = reduced_homology
        self.n_jobs = n_jobs

    def _make(self) -> Any:
        check_number("maxdim", self.maxdim, low=0, integer=True)
        if not isinstance(self.reduced_homology, (bool, np.bool_)):
            raise ValueError(f"reduced_homology must be True or False, got {self.reduced_homology!r}")
        homology = _import("gtda.homology")
        return homology.VietorisRipsPersistence(
            metric=self.metric,
            homology_dimensions=tuple(range(int(self.maxdim) + 1)),
            infinity_values=np.inf,
            reduced_homology=bool(self.reduced_homology),
            n_jobs=self.n_jobs,
        )

    def fit(self, X: Any, y: Any = None) -> GtdaVietorisRips:
        """Validate parameters (and that giotto-tda is importable); return self."""
        self._make()
        if len(list(X)) < 1:
            raise ValueError("X must contain at least one point cloud")
        self.dims_ = tuple(range(int(self.maxdim) + 1))  # nothing is learned; marks the step as fitted
        return self

    def transform(self, X: Any) -> list[Diagram]:
        """List of n point clouds -> list of n diagrams with dims (0..maxdim)."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "dims_")
        vr = self._make()
        clouds = [np.asarray(c, dtype=np.float64) for c in X]
        if not clouds:
            raise ValueError("X must contain at least one point cloud")
        triples = vr.fit_transform(clouds)
        meta = {
            "filtration": "rips",
            "backend": "giotto-tda",
            "metric": self.metric,
            "reduced_homology": bool(self.reduced_homology),
        }
        out = []
        dims = tuple(range(int(self.maxdim) + 1))
        for d in from_gtda(triples, meta=meta):
            # from_padded only sees dimensions present in the array; make every diagram carry all.
            out.append(Diagram(tuple(d[q] if q in d.dims else np.zeros((0, 2)) for q in dims), dims, d.meta))
        return out


class GtdaDiagramFeatures(TransformerMixin, BaseEstimator):
    """Diagrams -> features computed by giotto-tda (``gtda.diagrams``).

    Parameters
    ----------
    kind : {"entropy", "amplitude", "betti", "landscape", "image"}
        ``PersistenceEntropy``, ``Amplitude``, ``BettiCurve``, ``PersistenceLandscape`` or
        ``PersistenceImage``.
    dims : sequence of int
        Homology dimensions passed to giotto-tda.
    n_bins : int >= 2
        Sampling size for curves and images.
    params : dict or None
        Extra keyword arguments for the giotto-tda class (e.g. ``{"metric": "wasserstein"}`` for
        ``Amplitude``, ``{"n_layers": 3}`` for ``PersistenceLandscape``, ``{"normalize": True}``).
    n_jobs : int or None

    Notes
    -----
    Infinite deaths are capped at the largest finite death of the training diagrams in each
    dimension (learned in ``fit``). Output: array (n, n_features), giotto-tda's multi-dimensional
    outputs flattened in C order (dimension, layer, bin).
    """

    def __init__(
        self,
        kind: str = "entropy",
        dims: Sequence[int] = (0, 1),
        n_bins: int = 16,
        params: dict | None = None,
        n_jobs: int | None = None,
    ):
        self.kind = kind
        self.dims = dims
        self.n_bins = n_bins
        self.params = params
        self.n_jobs = n_jobs

    def _make(self) -> Any:
        check_choice("kind", self.kind, KINDS)
        n_bins = check_number("n_bins", self.n_bins, low=2, integer=True)
        if self.params is not None and not isinstance(self.params, dict):
            raise ValueError(f"params must be a dict or None, got {self.params!r}")
        gd = _import("gtda.diagrams")
        extra = dict(self.params or {})
        if self.kind == "entropy":
            return gd.PersistenceEntropy(n_jobs=self.n_jobs, **extra)
        if self.kind == "amplitude":
            return gd.Amplitude(n_jobs=self.n_jobs, **extra)
        cls = {"betti": gd.BettiCurve, "landscape": gd.PersistenceLandscape, "image": gd.PersistenceImage}[self.kind]
        return cls(n_bins=n_bins, n_jobs=self.n_jobs, **extra)

    def _dims(self) -> tuple[int, ...]:
        dims = (self.dims,) if isinstance(self.dims, (int, np.integer)) else tuple(self.dims)
        if not dims:
            raise ValueError("dims must contain at least one homology dimension")
        return tuple(check_number("dims", q, low=0, integer=True) for q in dims)

    def _triples(self, X: Any) -> np.ndarray:
        dims = self._dims()
        capped = []
        for d in check_diagram_list(X, dims):
            pairs = []
            for q in dims:
                a = d[q].copy()
                a[~np.isfinite(a[:, 1]), 1] = self.caps_[q]
                pairs.append(a[a[:, 1] > a[:, 0]])
            capped.append(Diagram(tuple(pairs), dims))
        return to_gtda(capped, dims=dims)

    def fit(self, X: Any, y: Any = None) -> GtdaDiagramFeatures:
        """Learn the caps for infinite deaths, then fit the giotto-tda transformer."""
        dims = self._dims()
        items = check_diagram_list(X, dims)
        self.caps_ = {}
        for q in dims:
            allp = np.concatenate([d[q] for d in items])
            fin = allp[np.isfinite(allp[:, 1])]
            self.caps_[q] = (
                float(fin[:, 1].max()) if fin.size else (float(allp[:, 0].max()) + 1.0 if allp.size else 1.0)
            )
        self.transformer_ = self._make().fit(self._triples(items))
        return self

    def transform(self, X: Any) -> np.ndarray:
        """List of n diagrams -> array, shape (n, n_features)."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "transformer_")
        out = np.asarray(self.transformer_.transform(self._triples(X)), dtype=np.float64)
        return out.reshape(out.shape[0], -1)
