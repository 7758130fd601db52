"""`toptraj analyze` on users' runs: refusals, strict JSON, names, plots/HTML, hostile input, fuzz."""

import contextlib
import io
import json
import math

import numpy as np
import pytest

from toptraj.cli import main
from toptraj.io import save_trajectory
from toptraj.trajectory import Trajectory


def strict_load(path):
    def bad(x):
        raise AssertionError(f"non-strict JSON constant {x}")

    return json.loads(path.read_text(), parse_constant=bad)


def run_cli(argv):
    """(exit code, stdout, stderr) of an in-process call."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def csv_text(steps, *cols, header="step,loss"):
    return header + "\n" + "\n".join(",".join(repr(float(c[i])) for c in (steps, *cols)) for i in range(len(steps))) + "\n"


@pytest.mark.slow
def test_issue_case_loss_beside_train_loss_gives_every_onset(tmp_path):
    # step, loss, train_loss with the test loss in `loss`: 20 curves whose gap reaches 0.95
    rng = np.random.default_rng(0)
    steps = np.arange(1, 2001.0)
    for i in range(20):
        train = 0.02 + 3 * steps ** -rng.uniform(0.4, 0.9)
        gap = 0.95 * np.clip((np.log(steps) - 5) / 2, 0, 1)  # gap ratio rises from 0 to 0.95
        test = train / (1 - gap)
        (tmp_path / f"run{i:02d}.csv").write_text(csv_text(steps, test, train, header="step,loss,train_loss"))
    code, out, err = run_cli(["analyze", str(tmp_path), "--out", str(tmp_path / "o"), "--no-plots"])
    assert code == 0, err
    assert "test <- 'loss'" in out
    runs = strict_load(tmp_path / "o" / "summary.json")["runs"]
    assert len(runs) == 20
    onsets = [r["overfitting_onset_step"] for r in runs]
    expected = math.exp(5 + 2 * 0.1 / 0.95)
    assert all(o is not None and o == pytest.approx(expected, rel=0.01) for o in onsets)


@pytest.mark.parametrize("rows, reason", [
    ("1,2\n2,1.5\n", "too few points"),
    ("".join(f"{s},{1 + 0.01 * s}\n" for s in range(1, 200)), "does not decrease"),
    ("".join(f"{s},0.391\n" for s in range(1, 200)), "constant"),
])
def test_refusals_exit_0_with_reason_not_a_number(tmp_path, rows, reason):
    f = tmp_path / "r.csv"
    f.write_text("step,loss\n" + rows)
    code, out, err = run_cli(["analyze", str(f), "--out", str(tmp_path / "o")])
    assert code == 0 and reason in out and "refused" in out
    run = strict_load(tmp_path / "o" / "summary.json")["runs"][0]
    assert run["status"] == "refused" and reason in run["reason"]
    assert run["time_exponent"] is None and run["time_exponent_interval"] == [None, None]


@pytest.mark.slow
def test_stored_runs_keep_their_names_in_table_json_and_html(tmp_path):
    t = np.geomspace(1, 1e4, 60)
    for i, (width, seed) in enumerate([(16, 0), (64, 0), (16, 1)]):
        traj = Trajectory(times=t, values=np.column_stack([2 * t**-0.5 + 1 / width, 2.2 * t**-0.5 + 2 / width]),
                          channels=("train_loss", "test_loss"), source="network",
                          params={"width": width, "dataset": "digits"}, seed=seed)
        save_trajectory(traj, tmp_path / "s" / f"network_{i:05d}.npz")
    code, out, err = run_cli(["analyze", str(tmp_path / "s"), "--out", str(tmp_path / "o")])
    assert code == 0, err
    names = ["network_00000 (width=16, dataset=digits, seed=0)", "network_00001 (width=64, dataset=digits, seed=0)",
             "network_00002 (width=16, dataset=digits, seed=1)"]
    summary = strict_load(tmp_path / "o" / "summary.json")
    assert [r["run"] for r in summary["runs"]] == names
    assert [r["params"]["width"] for r in summary["runs"]] == [16, 64, 16]
    html = (tmp_path / "o" / "report.html").read_text()
    for n in names:
        assert n in out and n in html
    # self-contained: figures embedded, nothing fetched
    assert html.count("data:image/png;base64,") == 2 and html.count("<img") == 2
    assert "src='http" not in html and "<link" not in html and "<script" not in html


@pytest.mark.slow
def test_many_runs_progress_and_colour_map(tmp_path):
    t = np.arange(1, 400.0)
    for i in range(25):
        (tmp_path / f"r{i:02d}.csv").write_text(csv_text(t, 0.1 + t ** -(0.3 + 0.02 * i)))
    code, out, err = run_cli(["analyze", str(tmp_path), "--out", str(tmp_path / "o")])
    assert code == 0 and "100%" in err  # progress on stderr (tqdm) for many runs
    summary = strict_load(tmp_path / "o" / "summary.json")
    rs = [r["time_exponent"] for r in summary["runs"]]
    assert rs == pytest.approx([0.3 + 0.02 * i for i in range(25)], abs=0.01)
    assert (tmp_path / "o" / "overview.png").stat().st_size > 5000
    assert "first 12 of 25 runs" in (tmp_path / "o" / "report.html").read_text()


def test_mixed_folder_one_bad_file(tmp_path):
    t = np.arange(1, 300.0)
    (tmp_path / "good.csv").write_text(csv_text(t, 0.1 + t**-0.5))
    (tmp_path / "bad.csv").write_text("step,loss\n3,1\n2,1\n")
    code, out, err = run_cli(["analyze", str(tmp_path), "--out", str(tmp_path / "o"), "--no-plots"])
    assert code == 0 and "good" in out
    assert len(err.strip().splitlines()) == 1 and "bad.csv" in err and "strictly increasing" in err
    summary = strict_load(tmp_path / "o" / "summary.json")
    assert summary["skipped_files"][0]["file"].endswith("bad.csv")
    (tmp_path / "good.csv").unlink()
    code, _, err = run_cli(["analyze", str(tmp_path), "--no-plots", "--out", str(tmp_path / "o")])
    assert code == 2 and "no file could be read" in err and len(err.strip().splitlines()) == 1


def test_window_option(tmp_path):
    t = np.geomspace(1, 1e4, 200)
    y = np.where(t < 100, 2 * t**-0.2, 2 * 100**0.3 * t**-0.5)
    (tmp_path / "b.csv").write_text(csv_text(t, y))
    code, out, _ = run_cli(["analyze", str(tmp_path / "b.csv"), "--window", "1:90", "--no-plots", "--out", str(tmp_path)])
    assert code == 0
    run = strict_load(tmp_path / "summary.json")["runs"][0]
    assert run["time_exponent"] == pytest.approx(0.2, rel=0.02)
    assert run_cli(["analyze", str(tmp_path / "b.csv"), "--window", "9:1"])[0] == 2


# -- hostile input ---------------------------------------------------------------------------------
@pytest.mark.parametrize("scale", [1.7e308 / 3, 1e-320])
def test_extreme_magnitudes_never_traceback(tmp_path, scale):
    t = np.arange(1, 300.0)
    f = tmp_path / "x.csv"
    f.write_text(csv_text(t, scale * (0.1 + 2 * t**-0.6), scale * (0.1 + 2.5 * t**-0.6),
                          header="step,loss,test_loss"))
    code, out, err = run_cli(["analyze", str(f), "--out", str(tmp_path / "o")])
    assert code in (0, 3) and "Traceback" not in err and len(err.strip().splitlines()) <= 1
    if code == 0:
        run = strict_load(tmp_path / "o" / "summary.json")["runs"][0]
        if scale > 1:
            assert run["time_exponent"] == pytest.approx(0.6, abs=0.01)


def test_value_beyond_float_range_is_bad_input(tmp_path):
    f = tmp_path / "x.csv"
    f.write_text("step,loss\n1,1e309\n2,1\n3,0.5\n")
    code, _, err = run_cli(["analyze", str(f)])
    assert code == 2 and "not finite" in err and len(err.strip().splitlines()) == 1


def test_crafted_npz_and_damaged_catalog(tmp_path):
    np.savez(tmp_path / "evil.npz", times=np.arange(3.0), values=np.ones((3, 1)), channels=np.array(["loss"]),
             meta=np.array("[" * 50000 + "]" * 50000))
    code, _, err = run_cli(["analyze", str(tmp_path / "evil.npz")])
    assert code == 2 and "evil.npz" in err and len(err.strip().splitlines()) == 1
    store = tmp_path / "store"
    store.mkdir()
    (store / "catalog.sqlite").write_bytes(b"SQLite format 3\x00" + b"\xff" * 3000)
    code, _, err = run_cli(["analyze", str(store)])
    assert code == 2 and "store" in err and len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_fuzz_csv_bytes_and_npz_fields(tmp_path):
    hyp = pytest.importorskip("hypothesis")
    st = pytest.importorskip("hypothesis.strategies")
    cell = st.one_of(st.floats(allow_nan=True, allow_infinity=True, width=64).map(repr),
                     st.sampled_from(["1.7e308", "-0", "", "1e-320", "nan", "x", "1e309", "5"]),
                     st.integers(-3, 10**6).map(str))
    header = st.sampled_from(["step,loss", "step,loss,test_loss", "step;val_loss", "epoch\ttrain_loss\teval_loss",
                              "\ufeffiteration,loss,run", "key,value,step", "Step,a - loss,a - loss__MIN", "x"])
    row = st.lists(cell, min_size=1, max_size=4)

    def check(argv):
        code, out, err = run_cli(argv)
        assert code in (0, 2, 3), (code, err)
        assert "Traceback" not in err
        if code in (2, 3):
            assert len(err.strip().splitlines()) == 1, err
        return code

    @hyp.settings(max_examples=60, deadline=None, database=None)
    @hyp.given(header, st.lists(row, max_size=8), st.sampled_from([",", ";", "\t"]),
               st.binary(max_size=40))
    def fuzz_csv(head, rows, sep, junk):
        p = tmp_path / "fuzz.csv"
        p.write_bytes((head + "\n" + "\n".join(sep.join(r) for r in rows)).encode("utf-8", "replace") + junk)
        check(["analyze", str(p), "--no-plots", "--overwrite", "--out", str(tmp_path / "o")])

    arrays = st.one_of(st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=5).map(np.array),
                       st.just(np.zeros((2, 2, 2))), st.just(np.array(["a", "b"])), st.just(np.array(3.0)))
    meta = st.one_of(st.just("{}"), st.just("[]"), st.just('{"format": "toptraj.trajectory"}'),
                     st.dictionaries(st.sampled_from(["format", "channels", "axis", "params", "labels", "seed",
                                                      "source", "provenance", "checksum"]),
                                     st.one_of(st.none(), st.integers(), st.text(max_size=5),
                                               st.lists(st.integers(), max_size=3)), max_size=9).map(json.dumps),
                     st.text(max_size=20))

    @hyp.settings(max_examples=40, deadline=None, database=None)
    @hyp.given(arrays, arrays, arrays, meta)
    def fuzz_npz(times, values, channels, meta_text):
        p = tmp_path / "fuzz.npz"
        np.savez(p, times=times, values=values, channels=channels, meta=np.array(meta_text))
        check(["analyze", str(p), "--no-plots", "--overwrite", "--out", str(tmp_path / "o")])

    fuzz_csv()
    fuzz_npz()
