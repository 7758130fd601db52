"""Command line: generate, analyze (good and bad input), demo --quick."""

import json
import subprocess
import sys

import numpy as np
import pytest

from toptraj.cli import main
from toptraj.io import load_set


def test_generate_modesum_writes_store(tmp_path):
    assert main(["generate", "modesum", "--a", "1.5", "--b", "1.25", "--times", "1:100:5", "--noise", "0.1",
                 "--seeds", "0:3", "--out", str(tmp_path)]) == 0
    runs = load_set(tmp_path)
    assert len(runs) == 3 and [r.seed for r in runs] == [0, 1, 2]
    assert runs[0].n_steps == 5 and runs[0].labels["time_exponent"] == pytest.approx(0.4)


def write_csv(path, rows, header="step,loss,test_loss"):
    path.write_text(header + "\n" + "\n".join(",".join(str(x) for x in r) for r in rows) + "\n")
    return path


def power_law_rows(r=0.6, n=60):
    steps = np.unique(np.geomspace(1, 5000, n).astype(int))
    train = 0.1 + 3.0 * steps**-r
    test = train * (1 + 0.3 * (steps > 1000))  # gap opens after step 1000
    return [(s, a, b) for s, a, b in zip(steps, train, test)]


def test_analyze_recovers_exponent_and_onset(tmp_path, capsys):
    f = write_csv(tmp_path / "run.csv", power_law_rows())
    assert main(["analyze", str(f), "--out", str(tmp_path / "o")]) == 0
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    run = summary["runs"][0]
    assert run["time_exponent"] == pytest.approx(0.6, abs=0.02)
    assert run["offset_L0"] == pytest.approx(0.1, rel=0.05)
    steps = [r[0] for r in power_law_rows()]
    before = max(s for s in steps if s <= 1000)
    after = min(s for s in steps if s > 1000)
    # The gap ratio jumps from 0 to 0.23 between these steps; the onset is interpolated in log step.
    assert before < run["overfitting_onset_step"] < after
    assert (tmp_path / "o" / "overview.png").stat().st_size > 1000
    assert "95% interval" in capsys.readouterr().out


def test_analyze_folder(tmp_path):
    write_csv(tmp_path / "a.csv", power_law_rows(0.5))
    write_csv(tmp_path / "b.csv", power_law_rows(0.8))
    assert main(["analyze", str(tmp_path), "--out", str(tmp_path / "o")]) == 0
    assert (tmp_path / "o" / "overview.png").exists()


def test_analyze_stored_trajectories(tmp_path):
    assert main(["generate", "modesum", "--a", "2.0", "--b", "1.25", "--times", "1:1e5:60", "--out", str(tmp_path / "s")]) == 0
    assert main(["analyze", str(tmp_path / "s"), "--out", str(tmp_path / "o")]) == 0
    run = json.loads((tmp_path / "o" / "summary.json").read_text())["runs"][0]
    assert run["loss_curve"] == "test" and "overfitting_onset_step" not in run
    assert run["time_exponent"] == pytest.approx(0.8, abs=0.01)  # (a-1)/b
    assert run["run"].startswith("modesum_00000 (a=2, b=1.25")


@pytest.mark.parametrize("content, message", [
    (None, "file not found"),
    ("", "empty"),
    ("step,loss\n", "header only"),
    ("step,los\n1,2\n", "missing column"),
    ("step,loss\n1,x\n2,1\n", "row 2, column 'loss'"),
    ("step,loss\n1,inf\n2,1\n", "not finite"),
    ("step,loss\n3,1\n2,1\n", "strictly increasing"),
    ("step,loss\n-3,1\n2,1\n", "negative"),
    ("step,loss\n1,1\n", "single data row"),
])
def test_analyze_bad_input_exit_2_one_line(tmp_path, capsys, content, message):
    f = tmp_path / "bad.csv"
    if content is not None:
        f.write_text(content)
    assert main(["analyze", str(f)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err and "bad.csv" in err


@pytest.mark.slow
def test_bad_arguments_exit_2_without_traceback(tmp_path):
    afile = tmp_path / "a_file"
    afile.write_text("keep me")
    cases = [
        ["generate", "modesum", "--a", "0.5", "--b", "1", "--out", str(tmp_path)],
        ["generate", "modesum", "--a", "2", "--b", "1", "--times", "1:abc", "--out", str(tmp_path)],
        ["generate", "nosuchmodel", "--out", str(tmp_path)],
        ["demo", "--fraction", "1.5"],
        ["demo", "--quick", "--seed", "-1", "--out", str(tmp_path / "d")],
        ["demo", "--quick", "--out", str(afile)],
        ["generate", "modesum", "--a", "2", "--b", "1", "--out", str(afile)],
    ]
    for argv in cases:
        out = subprocess.run([sys.executable, "-m", "toptraj.cli", *argv], capture_output=True, text=True, timeout=120)
        assert out.returncode == 2, (argv, out.stderr)
        assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert afile.read_text() == "keep me"  # nothing already written is lost


@pytest.mark.slow
def test_demo_quick(tmp_path, capsys):
    assert main(["demo", "--quick", "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "report.json").read_text())
    for scale in ("linear", "log"):
        assert {"topology", "baseline", "both", "null", "direct", "mean"} <= set(report["curve"][scale])
        # the baseline must beat the training mean by a wide margin on DMFT curves
        assert report["curve"][scale]["baseline"]["mae"] < 0.5 * report["curve"][scale]["mean"]["mae"]
    assert {"a", "b"} <= set(report["width_sweep"]["shipped"])
    assert report["provenance"]["versions"]["numpy"]
    for name in ("loss_curves.png", "predicted_vs_true.png", "width_sweep.png"):
        assert (tmp_path / name).stat().st_size > 1000
    out = capsys.readouterr()
    assert "MAE" in out.out and "width sweep" in out.out and "[demo]" in out.err
    # Same seed, same numbers; a second demo into the same folder keeps the first (writes next to it).
    first = (tmp_path / "report.json").read_bytes()
    assert main(["demo", "--quick", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "report.json").read_bytes() == first
    again = json.loads((tmp_path.with_name(tmp_path.name + "-2") / "report.json").read_text())
    assert again["curve"] == report["curve"] and again["width_sweep"] == report["width_sweep"]


def test_demo_output_folder_keeps_earlier_outputs(tmp_path):
    from toptraj.demo import free_output_folder
    from toptraj.exceptions import InputError

    out = tmp_path / "demo"
    assert free_output_folder(out) == out  # new folder
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert free_output_folder(out) == out  # a folder without demo outputs is used as is
    (out / "report.json").write_text("{}")
    assert free_output_folder(out) == tmp_path / "demo-2"
    (tmp_path / "demo-2").mkdir()
    (tmp_path / "demo-2" / "width_sweep.png").write_bytes(b"x")
    assert free_output_folder(out) == tmp_path / "demo-3"
    assert free_output_folder(out, overwrite=True) == out
    (tmp_path / "afile").write_text("keep")
    with pytest.raises(InputError, match="--out .*afile.*not a folder"):
        free_output_folder(tmp_path / "afile")


# -- exit status: every path ends in 0, 1, 2, 3 (or 130) with at most one stderr line ------------------
def _one_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


def test_exit_status_1_when_some_sweep_runs_fail(tmp_path, capsys):
    cfg = tmp_path / "f.toml"
    cfg.write_text('generator = "modesum"\n[params]\nb = 1.5\n[grid]\na = [1.5, 2.0]\nnoise = [0.0, 0.1]\n'
                   '[axis]\ntimes = [1.0, 10.0]\n')  # noise > 0 without a seed: those runs raise
    assert main(["sweep", str(cfg), "--out", str(tmp_path / "s")]) == 1
    assert "2 of 4 run(s) failed" in _one_line(capsys)  # the one stderr line of exit status 1


def test_exit_status_2_for_bad_input_and_damaged_store(tmp_path, capsys):
    assert main(["generate", "modesum", "--a", "2", "--b", "1", "--M", "2.5", "--out", str(tmp_path / "g")]) == 2
    assert "--M: '2.5' is not a whole number" in _one_line(capsys)
    assert main(["generate", "dmft", "--a", "2", "--b", "1", "--N", "64", "--seeds", "0:2", "--out", str(tmp_path)]) == 2
    assert "is deterministic and takes no seed; seeds go with --simulate" in _one_line(capsys)
    assert main(["generate", "plrf", "--alpha", "0.7", "--beta", "1", "--d", "8", "--n-runs", "2",
                 "--out", str(tmp_path)]) == 2
    assert "--n-runs applies only with --sgd" in _one_line(capsys)
    assert main(["generate", "modesum", "--a", "2", "--b", "1", "--noise", "0.1", "--out", str(tmp_path)]) == 2
    assert "seed must be given when noise > 0 (same seed, same numbers); give --seeds" in _one_line(capsys)
    assert main(["generate"]) == 2
    assert "give a generator NAME: one of ['modesum'" in _one_line(capsys)
    bad = tmp_path / "store" / "run.npz"
    bad.parent.mkdir()
    bad.write_bytes(b"not an npz file")
    assert main(["analyze", str(bad), "--out", str(tmp_path / "o")]) == 2
    assert "run.npz" in _one_line(capsys)  # a store problem names the file


def test_exit_status_3_for_a_numerical_failure_naming_cause_and_parameters(tmp_path, capsys):
    # lr = 2 is unstable for the draw of W at d = 40 (lr (batch+1) lambda_max >= 2): found at run time
    argv = ["generate", "plrf", "--alpha", "0.7", "--beta", "0.7", "--d", "40", "--lr", "2", "--steps", "1:100:4",
            "--out", str(tmp_path / "p")]
    assert main(argv) == 3
    err = _one_line(capsys)
    assert "numerical failure (UnstableStepError): lr=2 is unstable" in err
    assert "plrf volterra with alpha=0.7, beta=0.7, d=40" in err and "seed 0" in err
    assert not (tmp_path / "p").exists()  # nothing written


def test_exit_status_3_for_an_internal_error_and_130_when_interrupted(tmp_path, capsys, monkeypatch):
    import toptraj.io

    def broken(*args, **kwargs):
        raise TypeError("unexpected\nmulti-line message")

    monkeypatch.setattr(toptraj.io, "save_set", broken)
    argv = ["generate", "modesum", "--a", "2", "--b", "1", "--times", "1:10:3", "--out", str(tmp_path / "g")]
    assert main(argv) == 3
    assert "internal error (TypeError): unexpected multi-line message" in _one_line(capsys)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(toptraj.io, "save_set", interrupted)
    assert main(argv) == 130
    assert "interrupted" in _one_line(capsys)


def test_generate_help_is_derived_from_the_spec(capsys):
    with pytest.raises(SystemExit) as info:
        from toptraj.generate import build_parser

        build_parser("dmft").parse_args(["--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    for needle in ("--simulate", "Task-power exponent", "--modes", "--times", "default 1:1e4:64", "10000 (solve)"):
        assert needle in text, needle
    assert main(["generate", "dmft", "--help"]) == 0
