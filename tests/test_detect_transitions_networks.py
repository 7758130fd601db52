"""The network and finite-DMFT sections of analyses/detect_transitions.py at --quick size."""

import json

import pytest


@pytest.mark.slow
@pytest.mark.torch
def test_networks_and_simulate_sections_quick(tmp_path):
    pytest.importorskip("torch")
    from analyses import detect_transitions

    out = tmp_path / "res"
    detect_transitions.main(["--quick", "--parts", "networks,simulate", "--out", str(out), "--runs", str(tmp_path / "runs")])
    net = json.loads((out / "networks.json").read_text())
    assert net["n_runs"] == 3 and net["n_with_onset_inside_grid"] >= 2
    full = net["detection"]["1"]
    assert set(detect_transitions.NET_METHODS) <= set(full)
    # the truth is the gap-ratio label of the full run: the gap method on the full run reproduces it
    assert full["gap"]["all"]["within_x1.5"] == 1.0 and full["gap"]["all"]["median_factor"] == pytest.approx(1.0)
    for m in detect_transitions.NET_METHODS:
        assert 0.0 <= full[m]["all"]["within_x1.5"] <= 1.0
    assert "git" in net["provenance"] and net["sizes"]["P"] == [125, 500, 2000]
    assert (out / "networks.png").stat().st_size > 10_000
    sim = json.loads((out / "dmft_simulate.json").read_text())
    assert sim["n_with_onset_inside_grid"] >= 1 and "weight_path" in sim["detection"]["1"]
    assert not (out / "report.json").exists()  # the DMFT theory part was not asked for


def test_bad_parts_is_rejected(tmp_path):
    from analyses import detect_transitions

    with pytest.raises(SystemExit) as e:
        detect_transitions.main(["--parts", "weights", "--out", str(tmp_path)])
    assert e.value.code == 2
