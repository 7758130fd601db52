"""Quick run of analyses/predict_exponents.py: report, figures, verdicts and sane numbers."""

import json

import pytest

pytestmark = pytest.mark.slow


def test_quick_study_writes_report_and_figures(tmp_path):
    from analyses import predict_exponents

    assert predict_exponents.main(["--quick", "--out", str(tmp_path)]) == 0
    rep = json.loads((tmp_path / "report.json").read_text())
    for name in rep["figures"]:
        assert (tmp_path / name).stat().st_size > 0
    rows = {(r["dataset"], r["input_type"]): r for r in rep["rows"]}
    assert ("dmft_time", "curve") in rows and ("dmft_sweep", "width_sweep") in rows
    curve = rows[("dmft_time", "curve")]
    assert len(curve["draws"]) == 2 and curve["verdict"]
    for d in curve["draws"]:
        m = {k: v["metrics"] for k, v in d["r"].items()}
        assert m["baseline"]["mae"] < m["mean"]["mae"]  # a fit of the curve beats the training mean
        assert 0.0 <= m["both"]["coverage"] <= 1.0
        lo, hi = d["r"]["baseline"]["bootstrap_90"]["mae"]
        assert lo <= m["baseline"]["mae"] <= hi
    assert "coverage" in rep["targets_check"] and rep["provenance"]["versions"]


def test_quick_noisy_study_writes_report_table_and_figures(tmp_path):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "analyses" / "predict_exponents_noisy.py"
    spec = importlib.util.spec_from_file_location("predict_exponents_noisy", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = tmp_path / "noisy"
    assert mod.main(["--quick", "--out", str(out), "--cache", str(tmp_path / "cache")]) == 0
    rep = json.loads((out / "report.json").read_text())
    assert not (out / "report.partial.json").exists()
    for name in rep["figures"]:
        assert (out / name).stat().st_size > 0
    rows = {(r["part"], r["dataset"], r["input_type"]): r for r in rep["rows"]}
    assert {("noisy", "plrf_sgd", "curve"), ("transfer", "maloney", "curve")} <= set(rows)
    assert all("error" not in r for r in rep["rows"])
    table = rep["verdict_table"]
    assert len(table) == len(rep["rows"]) and all(t["topology_adds"] in ("ADDS", "HURTS", "no clear effect")
                                                  for t in table)
    mal = rows[("transfer", "maloney", "curve")]
    for d in mal["draws"]:
        m = {k: v["metrics"] for k, v in d["r"].items()}
        # a clean power law along T: its own log-log slope beats guessing the training mean
        assert m["direct"]["mae"] < m["mean"]["mae"]
        assert 0.0 <= m["both"]["coverage"] <= 1.0
        lo, hi = d["r"]["both"]["bootstrap_90"]["mae"]
        assert lo <= m["both"]["mae"] <= hi
    assert len(mal["draws"]) == 2 and rep["provenance"]["versions"] and rep["seed"] == 0
