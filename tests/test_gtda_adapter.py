"""giotto-tda adapter: gtda's diagrams and features against ours on the same inputs.

Run in the giotto-tda environment: .venv-gtda/bin/python -m pytest tests/test_gtda_adapter.py

Convention mapping tested here (see toptraj/gtda.py):
- gtda's Vietoris-Rips with reduced_homology=False, infinity_values=inf == our ripser diagrams.
- gtda's transformers get diagrams with infinite deaths capped at the fitted maximum finite death,
  so we compare against ours with the same ``inf_value``.
- PersistenceEntropy is in bits (log base 2): ours with ``base=2``.
- BettiCurve / PersistenceLandscape sample on gtda's fitted grid ``samplings_``: ours on that grid.
"""

import numpy as np
import pytest

pytestmark = pytest.mark.gtda
pytest.importorskip("gtda")

from toptraj.diagrams import Diagram  # noqa: E402
from toptraj.features import betti_curve, landscape, persistence_entropy  # noqa: E402
from toptraj.gtda import GtdaDiagramFeatures, GtdaVietorisRips, from_gtda, to_gtda  # noqa: E402
from toptraj.persistence import rips_diagram  # noqa: E402


@pytest.fixture(scope="module")
def clouds():
    rng = np.random.default_rng(11)
    out = [rng.standard_normal((40, 3)) for _ in range(3)]
    t = np.linspace(0, 2 * np.pi, 30, endpoint=False)  # a noisy circle: one long H1 bar
    out.append(np.column_stack([np.cos(t), np.sin(t)]) + 0.05 * rng.standard_normal((30, 2)))
    return out


@pytest.fixture(scope="module")
def ours(clouds):
    return [rips_diagram(c, maxdim=1) for c in clouds]


def _same(a, b, rtol=1e-6):
    assert a.shape == b.shape
    fa, fb = np.isfinite(a[:, 1]), np.isfinite(b[:, 1])
    np.testing.assert_array_equal(fa, fb)
    np.testing.assert_allclose(a[fa], b[fb], rtol=rtol, atol=1e-7)
    np.testing.assert_allclose(a[~fa, 0], b[~fb, 0], rtol=rtol, atol=1e-7)


def test_gtda_vietoris_rips_equals_ripser(clouds, ours):
    theirs = GtdaVietorisRips(maxdim=1).fit(clouds).transform(clouds)
    assert len(theirs) == len(clouds)
    for a, b in zip(theirs, ours, strict=True):
        assert a.dims == (0, 1)
        for q in (0, 1):
            _same(a[q], b[q])
    # gtda's default drops the essential H0 bar; recorded in meta.
    reduced = GtdaVietorisRips(maxdim=1, reduced_homology=True).fit_transform(clouds)
    assert reduced[0].meta["reduced_homology"] is True
    assert len(reduced[0][0]) == len(ours[0][0]) - 1 and np.all(np.isfinite(reduced[0][0][:, 1]))


def test_round_trip_through_triples(ours):
    cap = 10.0
    back = from_gtda(to_gtda(ours, dims=(0, 1), inf_value=cap))
    for a, b in zip(back, ours, strict=True):
        _same(a[1], b[1], rtol=0)
        _same(a[0], b.cap(cap)[0], rtol=0)
    with pytest.raises(ValueError, match="inf_value"):
        to_gtda(ours)


def test_entropy_matches_in_bits_with_the_same_cap(ours):
    f = GtdaDiagramFeatures(kind="entropy", dims=(0, 1)).fit(ours)
    got = f.transform(ours)
    assert got.shape == (len(ours), 2)
    for i, d in enumerate(ours):
        for j, q in enumerate((0, 1)):
            want = persistence_entropy(d, q, inf_value=f.caps_[q], base=2)
            assert got[i, j] == pytest.approx(want, rel=1e-6)


def test_betti_and_landscape_match_on_gtdas_grid(ours):
    n_bins = 12
    b = GtdaDiagramFeatures(kind="betti", dims=(0, 1), n_bins=n_bins).fit(ours)
    ls = GtdaDiagramFeatures(kind="landscape", dims=(0, 1), n_bins=n_bins, params={"n_layers": 2}).fit(ours)
    gb, gl = b.transform(ours), ls.transform(ours)
    assert gb.shape == (len(ours), 2 * n_bins) and gl.shape == (len(ours), 2 * 2 * n_bins)
    for i, d in enumerate(ours):
        for j, q in enumerate((0, 1)):
            grid_b = np.ravel(b.transformer_.samplings_[q])
            want_b = betti_curve(d, q, grid_b, inf_value=b.caps_[q])
            np.testing.assert_allclose(gb[i, j * n_bins : (j + 1) * n_bins], want_b)
            grid_l = np.ravel(ls.transformer_.samplings_[q])
            want_l = landscape(d, q, grid_l, k=2, inf_value=ls.caps_[q])
            got_l = gl[i].reshape(2, 2, n_bins)[j]
            np.testing.assert_allclose(got_l, want_l, rtol=1e-6, atol=1e-9)


@pytest.mark.filterwarnings("ignore:`product` is deprecated:DeprecationWarning")  # inside gtda's PersistenceImage
def test_other_kinds_run_and_map_n_to_n(ours):
    for kind, extra in (("amplitude", {"metric": "wasserstein"}), ("image", None)):
        out = GtdaDiagramFeatures(kind=kind, dims=(0, 1), n_bins=6, params=extra).fit(ours).transform(ours[:2])
        assert out.shape[0] == 2 and np.all(np.isfinite(out))
    with pytest.raises(ValueError, match="kind"):
        GtdaDiagramFeatures(kind="silhouette").fit(ours)
    h0_only = [Diagram((d[0],), (0,)) for d in ours]
    with pytest.raises(ValueError, match="H1"):
        GtdaDiagramFeatures(dims=(0, 1)).fit(h0_only).transform(h0_only)
