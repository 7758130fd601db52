"""Defects found by trying toptraj as a new user (fresh clone, README only); one regression test each."""

import json

import numpy as np
import pytest

from toptraj.cli import main
from toptraj.exceptions import InputError
from toptraj.trajectory import Trajectory

T = np.geomspace(1, 1e5, 60)
R, M = 0.6, 0.9


def _csv(path, width, header="step,train_loss,val_loss"):
    """A run at one width in the column names `toptraj analyze` reads (not advise's old step,loss)."""
    loss = T ** -R + 2.0 * width ** -M + 0.3 / width * np.exp(-T / 50.0)
    lines = [header] + [f"{s:.10g},{v:.10g},{1.05 * v:.10g}" for s, v in zip(T, loss)]
    path.write_text("\n".join(lines) + "\n")
    return path


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


@pytest.mark.slow
def test_advise_reads_the_same_logs_as_analyze(tmp_path, capsys):
    # Was: advise required the columns step,loss and refused train_loss/val_loss logs that analyze reads.
    files = [str(_csv(tmp_path / f"w{w}.csv", w)) for w in (64, 128, 256)]
    assert main(["advise", *files, "--widths", "64,128,256", "--out", str(tmp_path / "o")]) == 0
    res = json.loads((tmp_path / "o" / "advice.json").read_text())
    assert res["exponents"]["r"]["estimate"] == pytest.approx(R, rel=0.1)
    capsys.readouterr()
    assert main(["advise", str(tmp_path), *files[:2], "--widths", "64,128,256", "--out", str(tmp_path / "o2")]) == 2
    line = _one_line(capsys.readouterr().err)
    assert str(tmp_path) in line and "folder" in line


@pytest.mark.parametrize("cmd", ["analyze", "predict"])
def test_analyze_and_predict_do_not_overwrite_earlier_outputs(tmp_path, capsys, cmd):
    f = _csv(tmp_path / "run.csv", 64)
    out = tmp_path / "o"
    assert main([cmd, str(f), "--out", str(out), "--no-plots"]) == 0
    before = (out / "summary.json").read_bytes()
    capsys.readouterr()
    assert main([cmd, str(f), "--window", "10:1000", "--out", str(out), "--no-plots"]) == 2
    line = _one_line(capsys.readouterr().err)
    assert "summary.json" in line and "--overwrite" in line and str(out) in line
    assert (out / "summary.json").read_bytes() == before  # nothing lost
    assert main([cmd, str(f), "--window", "10:1000", "--out", str(out), "--no-plots", "--overwrite"]) == 0
    assert (out / "summary.json").read_bytes() != before


def test_advise_does_not_overwrite_earlier_outputs(tmp_path, capsys):
    files = [str(_csv(tmp_path / f"w{w}.csv", w)) for w in (64, 128, 256)]
    out = tmp_path / "o"
    assert main(["advise", *files, "--widths", "64,128,256", "--out", str(out)]) == 0
    before = (out / "advice.json").read_bytes()
    capsys.readouterr()
    assert main(["advise", *files, "--widths", "64,128,256", "--out", str(out)]) == 2
    assert "--overwrite" in _one_line(capsys.readouterr().err)
    assert (out / "advice.json").read_bytes() == before
    assert main(["advise", *files, "--widths", "64,128,256", "--out", str(out), "--overwrite"]) == 0


def test_predict_refuses_an_infinite_horizon(tmp_path, capsys):
    # Was: --horizon 1e400 (inf) was accepted and printed a forecast of the plateau.
    f = _csv(tmp_path / "run.csv", 64)
    assert main(["predict", str(f), "--horizon", "1e400", "--out", str(tmp_path / "o"), "--no-plots"]) == 2
    line = _one_line(capsys.readouterr().err)
    assert "--horizon" in line and "finite" in line


def test_cli_oserror_line_separates_the_path_from_the_reason(tmp_path, capsys):
    f = _csv(tmp_path / "run.csv", 64)
    assert main(["generate", "modesum", "--a", "1.5", "--b", "1.25", "--out", str(f / "sub")]) == 2
    assert f"{f / 'sub'}: " in _one_line(capsys.readouterr().err)


@pytest.mark.parametrize("params, match", [
    ({"n_estimators": 10**12}, "n_estimators must be >= 1 and <= 10000"),
    ({"seed": -1}, "seed must be a non-negative integer"),
    ({"seed": "a"}, "seed must be a non-negative integer"),
    ({"seed": 2**40}, "seed must be"),
])
def test_phase_classifier_refuses_bad_sizes_and_seeds_at_once(params, match):
    # Was: n_estimators=1e12 started building the forest (no bound); a bad seed failed inside
    # scikit-learn with a message about random_state or int().
    from toptraj.phase import PhaseClassifier

    run = Trajectory(times=T, values=T ** -R, channels=("loss",))
    with pytest.raises(InputError, match=match):
        PhaseClassifier(**params).fit([run] * 3, ["Ia"] * 3)


def test_exponent_predictor_bounds_n_points():
    # Was: n_points=1e9 was accepted and the features took > 10 GB before failing.
    from toptraj.predictor import ExponentPredictor

    run = Trajectory(times=T, values=T ** -R, channels=("test_loss",))
    with pytest.raises(InputError, match="n_points must be >= 8 and <= 10000"):
        ExponentPredictor(n_points=10**9).fit([run] * 6, [0.6] * 6)


def test_missing_channel_message_says_how_to_choose_the_channel():
    # README: est = load_shipped("curve"); est.predict([run]) -- a run read from a user's log has
    # channel "loss", the shipped predictor reads "test_loss"; the message now says what to do.
    from toptraj.predictor import load_shipped

    run = Trajectory(times=T, values=T ** -R, channels=("loss",))
    est = load_shipped("curve")
    with pytest.raises(InputError, match=r"channel='loss'"):
        est.predict([run])
    r = est.set_params(channel="loss").predict([run])
    assert r.shape == (1,) and np.isfinite(r[0])


def test_a_finished_sweep_leaves_no_stale_lock_message(tmp_path, capsys):
    # Was: the lock file kept the finished driver's pid, so every later --resume printed
    # "taking over the stale lock ... left by pid N" as if that driver had been killed.
    cfg = tmp_path / "grid.toml"
    cfg.write_text('generator = "modesum"\nseeds = {start = 0, stop = 2}\n[params]\nb = 1.5\n[grid]\na = [1.5, 2.0]\n'
                   '[axis]\ntimes = {start = 1, stop = 1e3, num = 16, log = true}\n')
    assert main(["sweep", str(cfg), "--out", str(tmp_path / "s")]) == 0
    capsys.readouterr()
    assert main(["sweep", str(cfg), "--out", str(tmp_path / "s"), "--resume"]) == 0
    assert "stale lock" not in capsys.readouterr().err


def test_version_flag(capsys):
    import toptraj

    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"toptraj {toptraj.__version__}"


def test_columns_refuses_a_role_given_twice(tmp_path, capsys):
    # Was: --columns train=a,train=b silently used the last one.
    f = _csv(tmp_path / "run.csv", 64)
    assert main(["analyze", str(f), "--columns", "train=train_loss,train=val_loss", "--out", str(tmp_path / "o")]) == 2
    line = _one_line(capsys.readouterr().err)
    assert "--columns" in line and "twice" in line


@pytest.mark.parametrize("seed", ["x", -1, 1.5, None, True])
def test_transition_detector_rejects_a_bad_seed(seed):
    import numpy as np

    from toptraj.detectors import TransitionDetector
    from toptraj.exceptions import InputError

    t = np.geomspace(1.0, 1e4, 64)
    with pytest.raises(InputError, match="seed"):
        TransitionDetector(seed=seed).fit([]).predict([(t, t**-0.5, t**-0.5)])


def test_plain_train_and_test_column_names_are_recognised(tmp_path):
    from toptraj.readers import read_csv

    f = tmp_path / "run.csv"
    f.write_text("step,train,test\n" + "".join(f"{s},{1.0 / s},{1.2 / s}\n" for s in range(1, 20)))
    (log,) = read_csv(f)
    assert log.paired() is not None
    assert "train" in log.mapping and "test" in log.mapping
