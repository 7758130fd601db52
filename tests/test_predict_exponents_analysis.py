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
