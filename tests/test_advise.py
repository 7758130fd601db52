"""`toptraj advise`: exit codes, bad inputs, exponents on an exact two-power-law sweep."""

import json

import numpy as np
import pytest

from toptraj.advise import exponents_from_rm, run_advise
from toptraj.cli import main
from toptraj.io import save_trajectory
from toptraj.trajectory import Trajectory

T = np.geomspace(1, 1e5, 60)
R, M = 0.6, 0.9


def _csv(path, width, steps=T, offset=1.0):
    loss = steps ** -R + offset * 2.0 * width ** -M + 0.3 / width * np.exp(-steps / 50.0)
    lines = ["step,loss"] + [f"{s:.10g},{v:.10g}" for s, v in zip(steps, loss)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_exponent_formulas_match_the_study():
    # DMFT (a, b) = (1.5, 1.25): r = 0.4, m = 0.5 -> L* ~ C^-2/9
    e = exponents_from_rm(0.4, 0.5)
    assert e["L_star"] == pytest.approx(2 / 9) and e["t_star"] + e["N_star"] == pytest.approx(1.0)


def test_advise_recovers_exponents_and_writes_outputs(tmp_path, capsys):
    files = [str(_csv(tmp_path / f"w{w}.csv", w)) for w in (64, 128, 256)]
    assert run_advise(files, widths=[64, 128, 256], out=tmp_path / "out") == 0
    res = json.loads((tmp_path / "out" / "advice.json").read_text())
    ex = res["exponents"]
    assert ex["r"]["estimate"] == pytest.approx(R, rel=0.1)
    assert ex["m"]["estimate"] == pytest.approx(M, rel=0.1)
    assert ex["L_star"]["low"] <= ex["L_star"]["estimate"] <= ex["L_star"]["high"]
    assert (tmp_path / "out" / "frontier.png").stat().st_size > 1000
    assert "train" in capsys.readouterr().out


def test_cli_advise_exit_codes(tmp_path, capsys):
    files = [str(_csv(tmp_path / f"w{w}.csv", w)) for w in (64, 128, 256)]
    assert main(["advise", *files, "--widths", "64,128,256", "--out", str(tmp_path / "o")]) == 0
    capsys.readouterr()
    assert main(["advise", *files[:2], "--widths", "64,128"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "3 widths" in err[0]
    assert main(["advise", *files, "--widths", "64,64,256", "--out", str(tmp_path / "o2")]) == 2
    assert "twice" in capsys.readouterr().err
    assert main(["advise", *files, "--widths", "64,128"]) == 2
    assert "one width per file" in capsys.readouterr().err
    assert main(["advise", *files, "--out", str(tmp_path / "o3")]) == 2  # CSVs carry no width
    assert "width" in capsys.readouterr().err


def test_advise_rejects_curves_on_different_axes(tmp_path, capsys):
    files = [str(_csv(tmp_path / f"w{w}.csv", w)) for w in (64, 128)]
    t = Trajectory(times=T, values=(T ** -R)[:, None], channels=("loss",), axis="time", params={"N": 256.0})
    files.append(str(save_trajectory(t, tmp_path / "w256.npz")))
    assert run_advise(files, widths=[64, 128, 256], out=None) == 2
    assert "different axes" in capsys.readouterr().err


def test_advise_reads_stored_plrf_runs_as_fronts(tmp_path, capsys):
    from generators import plrf

    steps = np.unique(np.geomspace(1, 2e4, 40).astype(int))
    files = [str(save_trajectory(plrf.volterra(plrf.PLRFParams(1.0, 0.75, d), steps, seed=0), tmp_path / f"d{d}.npz"))
             for d in (16, 32, 64)]
    assert run_advise(files, out=tmp_path / "out") == 0  # widths from the stored params d
    out = capsys.readouterr().out
    assert "PLRF runs" in out and "phase" in out
    res = json.loads((tmp_path / "out" / "advice.json").read_text())
    assert 0.2 < res["plrf"]["eta"] < 1.5


def test_plrf_exponents_from_the_term_model_match_the_phase_table():
    """Known answer: runs that follow the PLRF loss-term model exactly give the table's eta and xi."""
    from generators import plrf
    from toptraj.advise import plrf_estimate

    alpha, beta = 1.0, 0.75  # phase II: eta = 5/7, xi = 3/7
    e1, e2, e3, q = 1 + (beta - 0.5) / alpha, 1 - 1 / (2 * alpha), 2 - 1 / (2 * alpha), 2 * alpha
    r = np.geomspace(1, 1e6, 60)
    runs = [Trajectory(times=r, values=(3.0 * (r**-e1 + 0.2 * d**-q + 0.1 * r**-e3 + r**-e2 / d))[:, None],
                       channels=("loss",), axis="step", source="plrf", params={"d": d}) for d in (64, 128, 256)]
    est = plrf_estimate(runs)
    eta, xi = plrf.compute_optimal_exponents(alpha, beta)
    assert est["phase"] == "II"
    assert est["eta"] == pytest.approx(eta, rel=0.03) and est["xi"] == pytest.approx(xi, rel=0.03)
    assert set(est["measured"]) == {"eta", "xi", "method"}
