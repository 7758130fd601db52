"""Regression: folds never split a group, estimators' contract, direct estimators, null model."""

import numpy as np
import pytest

from generators.modesum import ModesumParams, solve
from toptraj import TrajectorySet
from toptraj.regression import (
    GroupedRidgeCV,
    direct_estimate,
    evaluate,
    grouped_folds,
    make_pipeline,
    observed,
    time_shuffled,
)

pytestmark = pytest.mark.core


@pytest.fixture(scope="module")
def runs():
    rng = np.random.default_rng(0)
    times = np.geomspace(1, 1e4, 60)
    out = []
    for a in (1.3, 1.9, 2.5, 3.0):
        for b in (1.1, 1.7, 2.4):
            for _ in range(2):
                p = ModesumParams(a, b, amplitude=float(np.exp(rng.uniform(-2, 2))),
                                  time_scale=float(np.exp(rng.uniform(-1, 1))), noise=0.01)
                out.append(solve(p, times, seed=int(rng.integers(1000))))
    return observed(TrajectorySet(out), 0.3)


def test_grouped_folds_keep_groups_whole():
    groups = np.repeat(np.arange(7), 3)
    folds = grouped_folds(groups, n_splits=3, seed=1)
    seen = np.concatenate([te for _, te in folds])
    assert sorted(seen) == list(range(21))  # every run tested exactly once
    for train, test in folds:
        assert not set(groups[train]) & set(groups[test])
    with pytest.raises(ValueError, match="at least as many groups"):
        grouped_folds(groups, n_splits=8)


def test_pipelines_contract(runs):
    X, y = list(runs), runs.targets("time_exponent")
    for method in ("topology", "baseline", "combined"):
        est = make_pipeline(method)
        assert est.fit(X, y, regress__groups=runs.groups()) is est
        pred = est.predict(X[:5])
        assert pred.shape == (5,) and np.all(np.isfinite(pred))
    forest = make_pipeline("baseline", regressor="forest").fit(X, y)
    assert forest.predict(X[:2]).shape == (2,)
    with pytest.raises(ValueError, match="method must be one of"):
        make_pipeline("magic")


def test_grouped_ridge_shrinks_more_than_leave_one_out_on_noise():
    # Near-duplicate runs per group: leave-one-out leaks across them and under-penalises.
    for seed in range(5):
        rng = np.random.default_rng(seed)
        groups = np.repeat(np.arange(10), 3)
        y = np.repeat(rng.normal(size=10), 3)
        noise = np.repeat(rng.normal(size=(10, 6)), 3, axis=0) + 0.01 * rng.normal(size=(30, 6))
        grouped = GroupedRidgeCV().fit(noise, y, groups=groups).alpha_
        loo = GroupedRidgeCV().fit(noise, y).alpha_
        assert grouped >= 10 and grouped > loo
    signal = np.column_stack([y + 0.01 * rng.normal(size=30), noise])
    assert GroupedRidgeCV().fit(signal, y, groups=groups).alpha_ <= 1
    with pytest.raises(ValueError, match="alphas"):
        GroupedRidgeCV(alphas=(-1.0,)).fit(noise, y)


def test_direct_estimators_on_clean_power_laws():
    t = np.geomspace(1e3, 1e7, 40)
    runs = TrajectorySet([solve(ModesumParams(a, 1.5), t) for a in (1.5, 2.0)])
    np.testing.assert_allclose(direct_estimate(runs, "direct_loglog_slope"), [1 / 3, 2 / 3], rtol=0.02)
    np.testing.assert_allclose(direct_estimate(runs, "direct_power_law_r"), [1 / 3, 2 / 3], rtol=0.05)


def test_time_shuffled_keeps_values_destroys_order(runs):
    null = time_shuffled(runs, seed=0)
    a, b = runs[0].channel("test_loss"), null[0].channel("test_loss")
    assert np.array_equal(np.sort(a), np.sort(b)) and not np.array_equal(a, b)
    assert np.array_equal(null[0].times, runs[0].times)


def test_evaluate_baseline_beats_mean_and_is_reproducible(runs):
    res = evaluate(runs, "time_exponent", methods=("baseline", "mean", "direct_loglog_slope"), n_splits=3)
    assert res["baseline"].mae < 0.5 * res["mean"].mae
    again = evaluate(runs, "time_exponent", methods=("baseline",), n_splits=3)
    assert np.array_equal(again["baseline"].y_pred, res["baseline"].y_pred)


def test_evaluate_bad_input(runs):
    with pytest.raises(ValueError, match="methods must be one of"):
        evaluate(runs, "time_exponent", methods=("oracle",))
    with pytest.raises(ValueError, match="missing"):
        evaluate(runs, "t_x")
    with pytest.raises(ValueError, match="one entry per trajectory"):
        evaluate(runs, "time_exponent", groups=np.zeros(3))


@pytest.mark.core
def test_ridge_path_matches_scikit_learn_ridge_for_every_penalty():
    from sklearn.linear_model import Ridge

    from toptraj.regression import _ridge_path_predict

    rng = np.random.default_rng(3)
    X, X_test, y = rng.normal(size=(20, 30)), rng.normal(size=(6, 30)), rng.normal(size=20)
    X[:, 1] = X[:, 0]  # rank-deficient, more features than runs: the demo's case
    alphas = np.logspace(-3, 3, 13)
    ref = np.stack([Ridge(alpha=a).fit(X, y).predict(X_test) for a in alphas])
    np.testing.assert_allclose(_ridge_path_predict(X, y, X_test, alphas), ref, rtol=1e-9, atol=1e-10)
