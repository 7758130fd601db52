"""Tests for toptraj.features: hand-computed features, PH dimension vs known dimensions, DiagramFeatures."""

import math

import numpy as np
import pytest

from toptraj.diagrams import Diagram
from toptraj.features import (
    DiagramFeatures,
    alpha_weighted_sum,
    betti_curve,
    landscape,
    lifetime_stats,
    persistence_entropy,
    persistence_image,
    ph_dimension,
)
from toptraj.persistence import distance_matrix, h0_mst_diagram, lower_star_diagram, rips_diagram

pytestmark = pytest.mark.core

INF = np.inf


def _d(h0, h1=()):
    return Diagram((np.asarray(h0, float).reshape(-1, 2), np.asarray(h1, float).reshape(-1, 2)), (0, 1))


# -- scalar features ---------------------------------------------------------------------------


def test_entropy_by_hand():
    d = _d([[0, 1], [0, 1], [0, INF]], [[1, 3], [2, 3], [0, 1]])
    assert persistence_entropy(d, 0) == pytest.approx(math.log(2))  # inf bar excluded
    assert persistence_entropy(d, 0, base=2) == pytest.approx(1.0)
    # Capped at 3: lifetimes 1, 1, 3 -> p = (1/5, 1/5, 3/5).
    p = np.array([0.2, 0.2, 0.6])
    assert persistence_entropy(d, 0, inf_value=3.0) == pytest.approx(-np.sum(p * np.log(p)))
    # H1 lifetimes 2, 1, 1 -> p = (1/2, 1/4, 1/4): 1.5 bits.
    assert persistence_entropy(d, 1, base=2) == pytest.approx(1.5)
    assert persistence_entropy(_d([[0, INF]]), 0) == 0.0
    with pytest.raises(ValueError, match="q=2"):
        persistence_entropy(d, 2)


def test_lifetime_stats_and_alpha_sum_by_hand():
    d = _d([[0, 1], [0, 3], [0, INF]], [])
    s = lifetime_stats(d, 0)
    assert s == {"count": 2, "total": 4.0, "mean": 2.0, "std": 1.0, "max": 3.0, "n_essential": 1}
    assert lifetime_stats(d, 1) == {"count": 0, "total": 0.0, "mean": 0.0, "std": 0.0, "max": 0.0, "n_essential": 0}
    assert alpha_weighted_sum(d, 0, 2.0) == pytest.approx(10.0)
    assert alpha_weighted_sum(d, 0, 0.5) == pytest.approx(1 + math.sqrt(3))
    with pytest.raises(ValueError, match="alpha"):
        alpha_weighted_sum(d, 0, 0.0)


def test_alpha_sum_of_rips_h0_is_the_mst_length():
    # Points on a line at 0, 1, 3, 7: MST edges 1, 2, 4.
    d = rips_diagram(np.array([[0.0], [1.0], [3.0], [7.0]]), maxdim=0)
    assert alpha_weighted_sum(d, 0, 1.0) == pytest.approx(7.0, rel=1e-6)
    assert alpha_weighted_sum(d, 0, 2.0) == pytest.approx(21.0, rel=1e-6)


# -- curves and images -------------------------------------------------------------------------


def test_betti_curve_by_hand():
    d = _d([[0, 1], [0.5, INF]])
    grid = [0.0, 0.5, 0.99, 1.0, 2.0, 100.0]
    np.testing.assert_array_equal(betti_curve(d, 0, grid), [1, 2, 2, 1, 1, 1])
    np.testing.assert_array_equal(betti_curve(d, 0, grid, inf_value=2.0), [1, 2, 2, 1, 0, 0])
    np.testing.assert_array_equal(betti_curve(d, 1, grid), np.zeros(6))


def test_landscape_by_hand():
    d = _d([[0, 2], [1, 3]])
    grid = [0.0, 1.0, 1.5, 2.0, 3.0]
    lam = landscape(d, 0, grid, k=3)
    np.testing.assert_allclose(lam[0], [0, 1, 0.5, 1, 0])
    np.testing.assert_allclose(lam[1], [0, 0, 0.5, 0, 0])
    np.testing.assert_allclose(lam[2], 0)
    # An infinite bar is a ramp unless capped.
    r = landscape(_d([[1, INF]]), 0, [0.0, 2.0, 5.0], k=1)
    np.testing.assert_allclose(r, [[0, 1, 4]])
    np.testing.assert_allclose(landscape(_d([[1, INF]]), 0, [0.0, 2.0, 5.0], k=1, inf_value=3.0), [[0, 1, 0]])


def test_persistence_image_mass_and_location():
    # One bar (birth 0, persistence 5), weight = persistence, Gaussian far from the image edges:
    # the image integrates the weighted Gaussian, so its total is 5.
    d = _d([[0, 5], [0, INF]])
    img = persistence_image(d, 0, birth_range=(-5, 5), pers_range=(0, 10), pixel_size=0.5, sigma=0.5)
    assert img.shape == (20, 20)
    assert img.sum() == pytest.approx(5.0, rel=1e-4)
    i, j = np.unravel_index(np.argmax(img), img.shape)
    assert (-5 + 0.5 * i, 0.5 * j) in {(b, p) for b in (-0.5, 0.0) for p in (4.5, 5.0)}
    # The infinite bar only enters when capped.
    capped = persistence_image(d, 0, birth_range=(-5, 5), pers_range=(0, 10), pixel_size=0.5, sigma=0.5, inf_value=2.0)
    assert capped.sum() == pytest.approx(7.0, rel=1e-3)


# -- PH dimension ------------------------------------------------------------------------------


def test_ph_dimension_of_a_brownian_path_is_2():
    # Brownian paths have Hausdorff/box dimension 2 (in d >= 2).
    rng = np.random.default_rng(0)
    X = np.cumsum(rng.standard_normal((1000, 50)), axis=0)
    dim = ph_dimension(X, alpha=1.0, seed=0)
    assert abs(dim - 2.0) < 0.3, dim


def test_ph_dimension_of_uniform_segment_and_square():
    rng = np.random.default_rng(1)
    assert abs(ph_dimension(rng.uniform(size=(1000, 1)), n_max=1000, seed=1) - 1.0) < 0.1
    assert abs(ph_dimension(rng.uniform(size=(1000, 2)), seed=1) - 2.0) < 0.2


def test_ph_dimension_is_seeded_and_accepts_distances():
    X = np.random.default_rng(2).uniform(size=(300, 2))
    a = ph_dimension(X, n_min=50, n_max=300, seed=5)
    assert a == ph_dimension(X, n_min=50, n_max=300, seed=5)
    assert a != ph_dimension(X, n_min=50, n_max=250, seed=6)
    b = ph_dimension(distance_matrix(X), n_min=50, n_max=300, seed=5, metric="precomputed")
    assert b == pytest.approx(a, rel=1e-10)
    # n_max is clipped to the number of points; n_min must stay below it.
    assert ph_dimension(X, n_min=50, n_max=10_000, seed=5) == a
    with pytest.raises(ValueError, match="n_min"):
        ph_dimension(X, n_min=400)


# -- DiagramFeatures ---------------------------------------------------------------------------


def _train_diagrams():
    rng = np.random.default_rng(0)
    return [rips_diagram(rng.standard_normal((30, 2)) * (1 + i), maxdim=1) for i in range(4)]


def test_diagram_features_columns_match_the_functions():
    train = _train_diagrams()
    f = DiagramFeatures(n_bins=5, alpha=2.0).fit(train)
    X = f.transform(train)
    names = list(f.get_feature_names_out())
    assert X.shape == (4, len(names)) and len(set(names)) == len(names)
    lo0, hi0 = f.ranges_[0]
    assert lo0 == 0.0 and hi0 == max(d.finite(0)[:, 1].max() for d in train)
    d = train[2]
    assert X[2, names.index("H1_entropy")] == pytest.approx(persistence_entropy(d, 1))
    assert X[2, names.index("H0_n_essential")] == 1
    assert X[2, names.index("H0_alpha_sum")] == pytest.approx(alpha_weighted_sum(d, 0, 2.0))
    grid = np.linspace(*f.ranges_[1], 5)
    cols = [names.index(f"H1_landscape_1_{i}") for i in range(5)]
    np.testing.assert_allclose(X[2, cols], landscape(d, 1, grid, k=3)[1])
    # Infinite H0 bar capped at hi0: alive on the whole grid except at hi0 itself.
    betti0 = X[0, [names.index(f"H0_betti_{i}") for i in range(5)]]
    np.testing.assert_allclose(betti0, betti_curve(train[0], 0, np.linspace(lo0, hi0, 5), inf_value=hi0))
    assert betti0[-1] == 0
    # Image block of H0 (all births 0: one pixel column) against persistence_image on the same layout.
    pixel = (hi0 - lo0) / f.image_bins
    img = persistence_image(d, 0, (lo0, lo0), (0.0, hi0 - lo0), pixel_size=pixel, sigma=pixel, inf_value=hi0)
    cols = [i for i, nm in enumerate(names) if nm.startswith("H0_image_")]
    assert len(cols) == img.size
    np.testing.assert_allclose(X[2, cols], img.ravel(), rtol=1e-12)


def test_diagram_features_always_count_infinite_bars():
    ls = [lower_star_diagram(s) for s in ([3, 1, 4, 1, 5], [2, 0, 2, 0, 2, 0, 2])]
    f = DiagramFeatures(features=("entropy",), dims=(0,))
    X = f.fit_transform(ls)
    assert list(f.get_feature_names_out()) == ["H0_entropy", "H0_n_essential"]
    np.testing.assert_array_equal(X[:, 1], [1, 1])
    with pytest.raises(ValueError, match="dims"):
        DiagramFeatures().fit(ls)  # lower-star diagrams have no H1


def test_diagram_features_validation_and_unfitted():
    from sklearn.exceptions import NotFittedError

    train = _train_diagrams()
    with pytest.raises(ValueError, match="features"):
        DiagramFeatures(features=("wasserstein",)).fit(train)
    with pytest.raises(ValueError, match="n_bins"):
        DiagramFeatures(n_bins=1).fit(train)
    with pytest.raises(NotFittedError):
        DiagramFeatures().transform(train)
    with pytest.raises(ValueError, match="Diagram"):
        DiagramFeatures().fit([np.zeros((3, 2))])


def test_diagram_features_finite_and_mst_diagrams_map_like_ripsers():
    # The estimator contract itself (clone, get_params, not fitted) is in test_estimator_contract.py.
    train = _train_diagrams()
    c = DiagramFeatures().fit(train)
    out = c.transform(train[:3])
    assert out.shape[0] == 3 and np.all(np.isfinite(out))
    mst = Diagram((h0_mst_diagram(np.zeros((2, 1)) + [[0], [1]])[0], np.zeros((0, 2))), (0, 1))
    assert c.transform([mst]).shape == (1, out.shape[1])


def test_gtda_adapter_without_gtda_says_what_to_do():
    import importlib.util

    if importlib.util.find_spec("gtda") is not None:
        pytest.skip("giotto-tda is installed here; the adapter itself is tested in test_gtda_adapter.py")
    from toptraj.gtda import GtdaDiagramFeatures, to_gtda

    d = _d([[0, 1], [0, INF]], [[0.5, 1.0]])
    np.testing.assert_array_equal(to_gtda([d], inf_value=2.0)[0], [[0, 1, 0], [0, 2, 0], [0.5, 1, 1]])
    with pytest.raises(ImportError, match=r"\.venv-gtda"):
        GtdaDiagramFeatures().fit([d])


def test_full_topological_pipeline_in_sklearn(tmp_path):
    from sklearn.linear_model import Ridge
    from sklearn.model_selection import cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from toptraj.embeddings import DelayEmbedder, LogTimeResampler
    from toptraj.persistence import VietorisRips
    from toptraj.trajectory import Trajectory

    t = np.geomspace(1, 1e3, 80)
    rng = np.random.default_rng(0)
    r = rng.uniform(0.2, 1.0, 8)
    trajs = [Trajectory(t, 3.0 * t**-ri * np.exp(0.01 * rng.standard_normal(t.size)), ("test_loss",)) for ri in r]
    pipe = make_pipeline(
        LogTimeResampler(n_points=24, representation="both"),
        DelayEmbedder(dim=1),
        VietorisRips(maxdim=1, memory=str(tmp_path)),
        DiagramFeatures(features=("entropy", "lifetimes", "betti"), n_bins=4),
        StandardScaler(),
        Ridge(alpha=1.0),
        memory=str(tmp_path / "pipe"),
    )
    pred = cross_val_predict(pipe, trajs, r, cv=2)
    assert pred.shape == (8,) and np.all(np.isfinite(pred))


def test_feature_union_of_topological_pipelines_names_its_columns():
    from sklearn.pipeline import FeatureUnion, make_pipeline

    from toptraj.embeddings import DelayEmbedder, LogTimeResampler
    from toptraj.persistence import LowerStar, VietorisRips
    from toptraj.trajectory import Trajectory

    t = np.geomspace(1, 1e3, 40)
    trajs = [Trajectory(t, (1 + k) * t ** -(0.3 + 0.1 * k) + 0.01, ("test_loss",)) for k in range(3)]
    union = FeatureUnion(
        [
            (
                "curve",
                make_pipeline(
                    LogTimeResampler(n_points=16, representation="both"),
                    DelayEmbedder(dim=1),
                    VietorisRips(maxdim=1),
                    DiagramFeatures(features=("entropy",)),
                ),
            ),
            (
                "slope",
                make_pipeline(
                    LogTimeResampler(n_points=16, representation="slope"),
                    LowerStar(),
                    DiagramFeatures(features=("lifetimes",), dims=(0,)),
                ),
            ),
        ]
    )
    X = union.fit_transform(trajs)
    names = list(union.get_feature_names_out())
    assert X.shape == (3, len(names))
    assert names[:2] == ["curve__H0_entropy", "curve__H0_n_essential"] and names[-1] == "slope__H0_n_essential"
