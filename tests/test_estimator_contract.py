"""The scikit-learn estimator contract, for every estimator in toptraj, in one place.

- Estimators that take plain arrays run scikit-learn's own shared suite
  (``parametrize_with_checks``): 52 checks on scikit-learn 1.9, 41 on 1.3.2.
- Estimators that take trajectories, curves, point clouds or diagrams cannot be fed the suite's
  random arrays, so one parametrised test checks what the contract promises for them: ``__init__``
  stores its parameters only, ``get_params``/``set_params``/``clone`` round-trip, an unfitted
  step refuses to transform, ``fit`` returns self and leaves attributes ending in ``_``, and two
  clones fitted on the same data give the same output.
"""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.estimator_checks import (
    check_get_params_invariance,
    check_no_attributes_set_in_init,
    parametrize_with_checks,
)
from sklearn.utils.validation import check_is_fitted

from toptraj.baselines import BaselineFeatures
from toptraj.embeddings import DelayEmbedder, LogTimeResampler
from toptraj.features import DiagramFeatures
from toptraj.gtda import GtdaDiagramFeatures, GtdaVietorisRips
from toptraj.persistence import LowerStar, VietorisRips, rips_diagram
from toptraj.regression import GroupedRidgeCV
from toptraj.trajectory import Trajectory

pytestmark = pytest.mark.core


@parametrize_with_checks([GroupedRidgeCV()])
def test_array_estimators_pass_scikit_learns_checks(estimator, check):
    check(estimator)


def _trajectories():
    t = np.geomspace(1, 1e3, 30)
    proj = np.column_stack([np.linspace(0, 1, 30), np.linspace(0, 2, 30)])
    return [
        Trajectory(times=t, values=np.column_stack([a * (0.01 + t**-r), proj]), channels=("test_loss", "proj_0", "proj_1"))
        for a, r in [(1.0, 0.5), (20.0, 0.5), (1.0, 0.9)]
    ]


def _clouds():
    rng = np.random.default_rng(0)
    return [rng.standard_normal((15 + i, 2)) for i in range(3)]


def _curves():
    return np.random.default_rng(1).standard_normal((3, 12, 2)).cumsum(axis=1)


def _diagrams():
    return [rips_diagram(c, maxdim=1) for c in _clouds()]


# (estimator, input builder, output kind) for every estimator whose input is not a plain array.
# The giotto-tda adapters need giotto-tda to fit: they run in the giotto-tda environment.
STRUCTURED = [
    (LogTimeResampler(n_points=8), _trajectories),
    (BaselineFeatures(features=("loglog_slope", "power_law_r", "weight_norm")), _trajectories),
    (DelayEmbedder(dim=2), _curves),
    (LowerStar(), _curves),
    (VietorisRips(maxdim=1), _clouds),
    (DiagramFeatures(), _diagrams),
    pytest.param(GtdaVietorisRips(maxdim=1), _clouds, marks=pytest.mark.gtda),
    pytest.param(GtdaDiagramFeatures(kind="betti", n_bins=6), _diagrams, marks=pytest.mark.gtda),
]


def _same(a, b):
    if isinstance(a, np.ndarray) and a.dtype != object:
        np.testing.assert_array_equal(a, b)
        return
    assert len(a) == len(b)
    for x, y in zip(a, b):
        if hasattr(x, "dims"):  # Diagram
            assert x.dims == y.dims
            for q in x.dims:
                np.testing.assert_array_equal(x[q], y[q])
        else:
            np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize(("est", "make_X"), STRUCTURED, ids=lambda p: type(p).__name__ if not callable(p) else "")
def test_structured_estimators_follow_the_contract(est, make_X):
    if isinstance(est, (GtdaVietorisRips, GtdaDiagramFeatures)):
        pytest.importorskip("gtda")
    name = type(est).__name__
    check_no_attributes_set_in_init(name, est)
    check_get_params_invariance(name, est)
    params = est.get_params()
    c = clone(est)
    assert c is not est and c.get_params() == params
    assert clone(est).set_params(**params).get_params() == params
    X = make_X()
    with pytest.raises(NotFittedError):
        clone(est).transform(X)
    assert not [k for k in vars(c) if k.endswith("_")]
    assert c.fit(X) is c
    check_is_fitted(c)
    out = c.transform(X)
    assert len(out) == len(X)
    _same(out, clone(est).fit(X).transform(X))
    assert est.get_params() == params  # fitting a clone left the original untouched
