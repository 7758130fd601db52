"""Tests for toptraj.persistence: hand-computed diagrams, backend agreement, the MST fast path."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toptraj.diagrams import Diagram
from toptraj.persistence import (
    LowerStar,
    VietorisRips,
    distance_matrix,
    h0_mst_diagram,
    loss_vector_distance,
    lower_star_diagram,
    rips_diagram,
)

pytestmark = pytest.mark.core


def _same(a: np.ndarray, b: np.ndarray, rtol: float = 0.0) -> None:
    assert a.shape == b.shape
    fin = np.isfinite(a[:, 1])
    np.testing.assert_array_equal(fin, np.isfinite(b[:, 1]))
    np.testing.assert_allclose(a[fin], b[fin], rtol=rtol, atol=0)
    np.testing.assert_allclose(a[~fin, 0], b[~fin, 0], rtol=rtol, atol=0)


# -- Vietoris-Rips -----------------------------------------------------------------------------


def test_unit_square_by_hand():
    sq = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    for backend in ("ripser", "giotto-ph"):
        d = rips_diagram(sq, maxdim=1, backend=backend)
        assert d.dims == (0, 1)
        np.testing.assert_allclose(d[0], [[0, 1], [0, 1], [0, 1], [0, np.inf]], rtol=1e-6)
        # The 4-cycle is born when the sides enter (1) and dies when the diagonals enter (sqrt 2).
        np.testing.assert_allclose(d[1], [[1.0, math.sqrt(2)]], rtol=1e-6)


def test_threshold_leaves_components_essential():
    pts = np.array([[0.0], [1.0], [5.0], [5.5]])
    d = rips_diagram(pts, maxdim=0, threshold=2.0)
    np.testing.assert_allclose(d[0], [[0, 0.5], [0, 1], [0, np.inf], [0, np.inf]], rtol=1e-6)


@pytest.mark.parametrize("metric", ["euclidean", "manhattan", "chebyshev"])
def test_ripser_and_giotto_ph_give_identical_diagrams(metric):
    rng = np.random.default_rng(7)
    X = rng.standard_normal((80, 4))
    a = rips_diagram(X, maxdim=2, backend="ripser", metric=metric)
    b = rips_diagram(X, maxdim=2, backend="giotto-ph", metric=metric, n_threads=2)
    assert len(a[1]) > 5  # the test has teeth only if there is H1
    for q in (0, 1, 2):
        _same(a[q], b[q])


def test_precomputed_equals_points():
    X = np.random.default_rng(2).standard_normal((40, 3))
    a = rips_diagram(X, maxdim=1)
    b = rips_diagram(distance_matrix(X), maxdim=1, metric="precomputed", backend="giotto-ph")
    for q in (0, 1):
        _same(a[q], b[q])


def test_rips_validation():
    X = np.zeros((3, 2))
    with pytest.raises(ValueError, match="backend"):
        rips_diagram(X, backend="gudhi")
    with pytest.raises(ValueError, match="metric"):
        rips_diagram(X, metric="hamming")
    with pytest.raises(ValueError, match="maxdim"):
        rips_diagram(X, maxdim=-1)
    with pytest.raises(ValueError, match="square"):
        rips_diagram(np.zeros((3, 2)), metric="precomputed")
    with pytest.raises(ValueError, match="symmetric"):
        rips_diagram(np.array([[0.0, 1.0], [2.0, 0.0]]), metric="precomputed")
    with pytest.raises(ValueError, match="finite"):
        rips_diagram(np.array([[0.0, np.nan]]))


# -- MST fast path -----------------------------------------------------------------------------


@pytest.mark.parametrize("n,d", [(2, 1), (60, 2), (300, 50)])
def test_mst_equals_ripser_h0(n, d):
    X = np.random.default_rng(n).standard_normal((n, d))
    _same(h0_mst_diagram(X)[0], rips_diagram(X, maxdim=0)[0], rtol=1e-6)  # ripser is float32


def test_mst_with_duplicates_and_near_duplicates():
    X = np.random.default_rng(0).standard_normal((50, 3))
    X2 = np.vstack([X, X[:5]])  # 5 exact duplicates
    m = h0_mst_diagram(X2)
    assert m.meta["n_zero_bars"] == 5
    _same(m[0], rips_diagram(X2, maxdim=0)[0], rtol=1e-6)
    _same(m[0], h0_mst_diagram(X)[0], rtol=1e-12)
    # Distances below 1e-8 would be "no edge" for scipy on a dense matrix: must survive here.
    line = np.array([[0.0], [1e-10], [1.0]])
    np.testing.assert_allclose(h0_mst_diagram(line)[0], [[0, 1e-10], [0, 1 - 1e-10], [0, np.inf]], rtol=1e-5)


def test_mst_single_point_and_precomputed():
    d = h0_mst_diagram(np.zeros((1, 3)))
    np.testing.assert_array_equal(d[0], [[0, np.inf]])
    D = np.array([[0, 2, 5], [2, 0, 3], [5, 3, 0]], dtype=float)
    np.testing.assert_allclose(h0_mst_diagram(D, metric="precomputed")[0], [[0, 2], [0, 3], [0, np.inf]])


# -- lower star --------------------------------------------------------------------------------


def test_lower_star_hand_examples():
    # Minima 1 (index 1), 1 (index 3), 2 (index 6); 4 joins the two 1s, 9 joins the 2-valley.
    d = lower_star_diagram([3, 1, 4, 1, 5, 9, 2, 6])
    np.testing.assert_array_equal(d[0], [[1, 4], [1, np.inf], [2, 9]])
    # Superlevel: peaks 9 (essential), 6 (dies at saddle 2), 4 and 3 (die at 1); values negated.
    s = lower_star_diagram([3, 1, 4, 1, 5, 9, 2, 6], superlevel=True)
    np.testing.assert_array_equal(s[0], [[-9, np.inf], [-6, -2], [-4, -1], [-3, -1]])
    np.testing.assert_array_equal(lower_star_diagram([2.0, 2.0, 2.0])[0], [[2, np.inf]])
    np.testing.assert_array_equal(lower_star_diagram([5.0, 4.0, 3.0])[0], [[3, np.inf]])
    np.testing.assert_array_equal(lower_star_diagram([7.0])[0], [[7, np.inf]])


def _components_below(f, t):
    """Number of runs of consecutive indices with f <= t (brute force)."""
    mask = np.asarray(f) <= t
    return int(np.sum(mask[1:] & ~mask[:-1]) + mask[0])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(-5, 5), min_size=1, max_size=25))
def test_lower_star_betti0_matches_brute_force(values):
    f = np.asarray(values, dtype=float)
    d = lower_star_diagram(f)[0]
    assert np.sum(~np.isfinite(d[:, 1])) == 1 and d[~np.isfinite(d[:, 1]), 0][0] == f.min()
    for t in np.unique(f):
        alive = int(np.sum((d[:, 0] <= t) & (t < d[:, 1])))
        assert alive == _components_below(f, t)


def test_lower_star_validation():
    with pytest.raises(ValueError, match="signal must have 1"):
        lower_star_diagram(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="empty"):
        lower_star_diagram([])
    with pytest.raises(ValueError, match="superlevel"):
        lower_star_diagram([1.0, 2.0], superlevel="yes")


# -- loss-vector pseudometric ------------------------------------------------------------------


def test_loss_vector_distance_hand_example():
    L = np.array([[0.0, 0.0], [1.0, 3.0], [2.0, 2.0], [1.0, 3.0]])
    D = loss_vector_distance(L)
    expected = np.array([[0, 2, 2, 2], [2, 0, 1, 0], [2, 1, 0, 1], [2, 0, 1, 0]], dtype=float)
    np.testing.assert_allclose(D, expected)
    # Usable as a precomputed metric: iterates 1 and 3 coincide (pseudometric), a zero-length bar.
    d = h0_mst_diagram(D, metric="precomputed")
    np.testing.assert_allclose(d[0], [[0, 1], [0, 2], [0, np.inf]])
    with pytest.raises(ValueError, match="L must have 2"):
        loss_vector_distance(np.ones(3))


# -- transformers ------------------------------------------------------------------------------


def test_vietoris_rips_transformer_and_cache(tmp_path):
    rng = np.random.default_rng(0)
    clouds = [rng.standard_normal((20 + i, 2)) for i in range(3)]
    vr = VietorisRips(maxdim=1, memory=str(tmp_path))
    out = vr.fit_transform(clouds)
    assert len(out) == 3 and all(isinstance(d, Diagram) for d in out)
    again = vr.transform(clouds)  # from the cache
    for a, b in zip(out, again, strict=True):
        _same(a[1], b[1])
    mst = VietorisRips(maxdim=0, backend="mst").fit_transform(clouds)
    _same(mst[2][0], out[2][0], rtol=1e-6)
    with pytest.raises(ValueError, match="maxdim=0"):
        VietorisRips(maxdim=1, backend="mst").fit(clouds)


def test_lower_star_transformer():
    X = np.zeros((2, 8, 2))
    X[0, :, 1] = [3, 1, 4, 1, 5, 9, 2, 6]
    out = LowerStar().fit_transform(X)
    assert len(out) == 2
    np.testing.assert_array_equal(out[0][0], [[1, 4], [1, np.inf], [2, 9]])
    np.testing.assert_array_equal(out[1][0], [[0, np.inf]])
    with pytest.raises(ValueError, match="column"):
        LowerStar(column=2).fit(X)


def test_mst_on_the_fly_rows_equal_dense():
    X = np.random.default_rng(3).standard_normal((120, 4))
    X[7] = X[3]  # a duplicate
    a, b = h0_mst_diagram(X), h0_mst_diagram(X, max_dense=10)
    _same(a[0], b[0], rtol=1e-12)
    assert a.meta["n_zero_bars"] == b.meta["n_zero_bars"] == 1


