"""Quick runs of the transition, phase and compute-optimal analyses: reports exist and are sane."""

import json

import numpy as np
import pytest


@pytest.mark.slow
def test_detect_transitions_quick(tmp_path):
    from analyses import detect_transitions

    detect_transitions.main(["--quick", "--out", str(tmp_path), "--runs", str(tmp_path / "runs")])
    rep = json.loads((tmp_path / "report.json").read_text())
    of = rep["detection"]["overfitting_onset"]
    assert set(of) == {"gap", "breakpoint", "prechelt_gl", "prechelt_pq", "topology"}
    assert of["gap"]["within_x1.5"] == 1.0  # the definition on noise-free theory curves
    fc = rep["forecast"]["overfitting_onset"]["0.2"]
    assert {"learned", "theory", "training_median"} <= set(fc)
    assert (tmp_path / "detection_examples.png").stat().st_size > 10_000


@pytest.mark.slow
def test_classify_phase_quick(tmp_path):
    from analyses import classify_phase

    classify_phase.main(["--quick", "--out", str(tmp_path)])
    rep = json.loads((tmp_path / "report.json").read_text())
    for kind in ("curve", "front"):
        draws = rep[kind]["draws"]
        assert len(draws) == 2  # two independent training draws
        for r in draws:
            assert 0.0 < r["chance_uniform"] <= r["chance_majority"] < 1.0
            assert set(r) >= {"topology", "physics", "baseline", "majority_class_on_test"}
        # learned something beyond the majority class (mean over the two draws)
        assert np.mean(rep[kind]["summary"]["physics"]["overall"]) > max(r["chance_majority"] for r in draws)
    assert (tmp_path / "phase_diagram_classified.png").stat().st_size > 10_000


@pytest.mark.slow
def test_compute_optimal_quick(tmp_path):
    from analyses import compute_optimal

    compute_optimal.main(["--quick", "--out", str(tmp_path)])
    rep = json.loads((tmp_path / "report.json").read_text())
    s = rep["summary"]["dmft_fraction_1"]["L_star"]
    assert s["n"] == 2 and s["median_rel_error"] < 0.3
