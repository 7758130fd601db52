"""PhaseClassifier: contract, bad inputs, boundary distance, learning phases from PLRF curves."""

import numpy as np
import pytest
from sklearn.base import clone

from generators import plrf
from toptraj.exceptions import InputError
from toptraj.phase import PHASE_NAMES, PhaseClassifier, boundary_distance

STEPS = np.unique(np.geomspace(1, 2e4, 40).astype(int))


def _curve(a, b, d=48, seed=0):
    return plrf.volterra(plrf.PLRFParams(a, b, d), STEPS, seed=seed)


def test_phase_names_match_the_generator():
    assert tuple(PHASE_NAMES) == tuple(plrf.PHASES)


def test_boundary_distance_hand_values():
    assert boundary_distance(0.7, 0.7) == pytest.approx(0.0, abs=1e-12)  # on the II/III line
    assert boundary_distance(1.0, 0.25) == pytest.approx(0.25)  # Ia, nearest line beta = 1/2
    assert boundary_distance(0.8, 0.6) == pytest.approx(0.1)  # II: beta = 1/2 at 0.1, diagonal at 0.141


def test_contract_and_bad_input():
    clf = PhaseClassifier(features="baseline")
    assert clone(clf).get_params() == clf.get_params()
    with pytest.raises(ValueError, match="input"):
        PhaseClassifier(input="image").featurize([_curve(1.0, 0.25)])
    with pytest.raises(InputError, match="phases"):
        clf.fit([_curve(1.0, 0.25)], ["V"])
    with pytest.raises(InputError, match="X"):
        clf.featurize(_curve(1.0, 0.25))


def test_classifier_separates_two_distant_phases_and_states_chance():
    pts = [(1.2, 0.2, "Ia"), (1.3, 0.3, "Ia"), (1.1, 0.15, "Ia"), (1.0, 1.6, "III"), (1.1, 1.8, "III"), (1.2, 1.5, "III")]
    X = [_curve(a, b, seed=s) for s, (a, b, _) in enumerate(pts)]
    y = [p for *_, p in pts]
    for feats in ("baseline", "topology"):
        clf = PhaseClassifier(features=feats, n_estimators=50).fit(X, y)
        assert clf.chance_rate_ == 0.5 and clf.uniform_rate_ == 0.5
        test = [_curve(1.25, 0.25, seed=9), _curve(1.05, 1.7, seed=9)]
        assert list(clf.predict(test)) == ["Ia", "III"]


def test_front_input_reads_a_sweep_of_d():
    sweeps = [[_curve(a, b, d=d) for d in (16, 32, 64)] for a, b in ((1.2, 0.2), (1.0, 1.6), (1.3, 0.3), (1.1, 1.8))]
    clf = PhaseClassifier(input="front", features="baseline", n_estimators=20).fit(sweeps, ["Ia", "III", "Ia", "III"])
    assert clf.predict(sweeps[:2]).shape == (2,)
    with pytest.raises(InputError, match="d"):
        clf.predict([[_curve(1.0, 1.6, d=16)] * 3])


def _term_model(alpha, beta, r, d):
    e1, e2, e3 = 1 + (beta - 0.5) / alpha, 1 - 1 / (2 * alpha), 2 - 1 / (2 * alpha)
    q = 2 * alpha - max(0.0, 1 - 2 * beta)
    return 2.0 * r**-e1 + 0.5 * d**-q + 0.3 * r**-e3 + 1.0 * r**-e2 / d


@pytest.mark.parametrize("alpha,beta", [(1.0, 0.75), (0.7, 1.2), (1.2, 0.3)])
def test_term_fit_recovers_the_exponents_of_the_term_model(alpha, beta):
    from toptraj.phase import fit_term_exponents

    r = np.tile(np.geomspace(10, 1e6, 40), 3)
    d = np.repeat([64.0, 128.0, 256.0], 40)
    a, b, misfit = fit_term_exponents(r, d, 7.0 * _term_model(alpha, beta, r, d))  # any amplitude
    assert (a, b) == (pytest.approx(alpha, abs=0.011), pytest.approx(beta, abs=0.011))
    assert misfit < 1e-3


def test_term_fit_rejects_bad_shapes():
    from toptraj.phase import fit_term_exponents

    with pytest.raises(InputError, match="r, d, L"):
        fit_term_exponents([1.0, 2.0, 3.0], [1.0, 1.0], [1.0, 0.5, 0.2])


def test_feature_sets_are_nested_column_blocks_and_fit_features_checks_shapes():
    from toptraj.phase import feature_columns

    X = [_curve(a, b, seed=s) for s, (a, b) in enumerate([(1.2, 0.2), (1.0, 1.6), (1.3, 0.3), (1.1, 1.8)])]
    y = ["Ia", "III", "Ia", "III"]
    full = PhaseClassifier(features="topology").featurize(X)
    for feats in ("baseline", "physics"):
        sub = PhaseClassifier(features=feats).featurize(X)
        np.testing.assert_allclose(sub, full[:, feature_columns("curve", feats)])
    clf = PhaseClassifier(features="physics", n_estimators=20).fit_features(full[:, feature_columns("curve", "physics")], y)
    assert clf.predict_features(full[:2, feature_columns("curve", "physics")]).shape == (2,)
    with pytest.raises(InputError, match="F must have shape"):
        clf.predict_features(full)
    with pytest.raises(ValueError, match="features"):
        feature_columns("curve", "pixels")
    sweeps = [[_curve(a, b, d=d) for d in (16, 32, 64)] for a, b in ((1.2, 0.2), (1.0, 1.6))]
    full = PhaseClassifier(input="front", features="topology").featurize(sweeps)
    assert full.shape[1] == feature_columns("front", "topology").size
    sub = PhaseClassifier(input="front", features="baseline").featurize(sweeps[::-1])
    np.testing.assert_allclose(sub, full[::-1, feature_columns("front", "baseline")])
