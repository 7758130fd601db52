"""Store round trips, plain-data readability, corruption detection, CSV rules."""

import json
import math

import numpy as np
import pytest

from toptraj import Diagram, Trajectory
from toptraj.io import (
    InputError,
    StoreError,
    load_diagrams,
    load_set,
    load_trajectory,
    read_loss_csv,
    read_loss_logs,
    save_diagrams,
    save_set,
    save_trajectory,
)

pytestmark = pytest.mark.core


def traj(seed=3):
    t = np.geomspace(1, 100, 7)
    return Trajectory(times=t, values=np.column_stack([t**-0.5, t**-0.4]), channels=("test_loss", "H_1"),
                      source="unit", params={"a": 1.5, "N": math.inf, "name": "x"}, seed=seed,
                      labels={"a": 1.5, "t_x": math.nan, "phase": "II"}, provenance={"git": "abc"})


def test_roundtrip_exact(tmp_path):
    tr = traj()
    p = save_trajectory(tr, tmp_path / "r.npz")
    back = load_trajectory(p)
    assert np.array_equal(back.times, tr.times) and np.array_equal(back.values, tr.values)
    assert back.channels == tr.channels and back.seed == 3
    assert back.params["N"] == math.inf and back.labels["phase"] == "II" and math.isnan(back.labels["t_x"])


def test_readable_without_toptraj(tmp_path):
    pd = pytest.importorskip("pandas")
    save_trajectory(traj(), tmp_path / "r.npz")
    z = np.load(tmp_path / "r.npz")  # allow_pickle defaults to False: no code can run
    df = pd.DataFrame(z["values"], index=z["times"], columns=z["channels"])
    meta = json.loads(str(z["meta"]))
    assert list(df.columns) == ["test_loss", "H_1"] and meta["labels"]["a"] == 1.5


def test_corrupt_and_truncated_files_are_detected(tmp_path):
    p = save_trajectory(traj(), tmp_path / "r.npz")
    raw = p.read_bytes()
    (tmp_path / "t.npz").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(StoreError, match="unreadable or truncated"):
        load_trajectory(tmp_path / "t.npz")
    with pytest.raises(StoreError, match="no such file"):
        load_trajectory(tmp_path / "missing.npz")


def test_checksum_catches_edited_values(tmp_path):
    p = save_trajectory(traj(), tmp_path / "r.npz")
    with np.load(p) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["values"] = arrays["values"] * 1.0001
    np.savez(tmp_path / "edited.npz", **arrays)
    with pytest.raises(StoreError, match="checksum"):
        load_trajectory(tmp_path / "edited.npz")


def test_failed_write_keeps_existing_file(tmp_path):
    p = save_trajectory(traj(seed=1), tmp_path / "r.npz")
    with pytest.raises(ValueError):
        save_trajectory("not a trajectory", p)  # type: ignore[arg-type]
    assert load_trajectory(p).seed == 1
    assert [f.name for f in tmp_path.iterdir()] == ["r.npz"]  # no temporary left behind


def test_set_and_diagrams_roundtrip(tmp_path):
    save_set([traj(0), traj(1)], tmp_path / "set")
    assert [t.seed for t in load_set(tmp_path / "set")] == [0, 1]
    d = Diagram((np.array([[0, 1.0], [0, np.inf]]), np.array([[0.5, 0.7]])), (0, 1), {"metric": "l2"})
    save_diagrams([d, d], tmp_path / "d.npz")
    back = load_diagrams(tmp_path / "d.npz")
    assert len(back) == 2 and np.array_equal(back[0][0], d[0]) and back[1].meta["metric"] == "l2"
    assert len(back[0].essential(0)) == 1


def write(tmp_path, text, name="log.csv"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_csv_runs_and_channels(tmp_path):
    p = write(tmp_path, "step,loss,test_loss,run\n1,1.0,1.1,a\n2,0.5,0.6,a\n1,2.0,2.1,b\n5,1.0,1.2,b\n")
    runs = read_loss_csv(p)
    assert len(runs) == 2 and runs[0].channels == ("loss", "test_loss")
    assert np.array_equal(runs[1].times, [1.0, 5.0])


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "empty"),
        ("step,loss\n", "header only"),
        ("step,value\n1,2\n2,3\n", r"missing column\(s\) \['loss'\]"),
        ("step,loss\n1,0.5\n2,abc\n", "row 3, column 'loss': 'abc' is not a number"),
        ("step,loss\n1,0.5\n2,nan\n", "row 3, column 'loss'.*not finite"),
        ("step,loss\n1,0.5\n2,inf\n", "not finite"),
        ("step,loss\n2,0.5\n1,0.4\n", "row 3, column 'step'.*strictly increasing"),
        ("step,loss\n-1,0.5\n1,0.4\n", "row 2.*negative"),
        ("step,loss\n1,0.5\n", "single data row"),
        ("step,loss\n1,0.5,7\n2,0.4\n", "row 2 has 3 fields"),
    ],
)
def test_csv_bad_input(tmp_path, text, message):
    with pytest.raises(InputError, match=message):
        read_loss_csv(write(tmp_path, text))


def test_csv_missing_file_and_empty_folder(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        read_loss_logs(tmp_path / "nope.csv")
    with pytest.raises(InputError, match="no .csv files"):
        read_loss_logs(tmp_path)


def test_csv_reader_never_crashes_on_arbitrary_text(tmp_path):
    # Whatever the bytes, the reader either returns runs or raises InputError naming the file.
    hyp = pytest.importorskip("hypothesis")
    st = pytest.importorskip("hypothesis.strategies")
    cell = st.one_of(st.floats(allow_nan=True, allow_infinity=True).map(repr), st.text("0123456789.-e,nai", max_size=6))
    row = st.lists(cell, min_size=1, max_size=4).map(",".join)
    header = st.sampled_from(["step,loss", "step,loss,test_loss", "loss,step,run", "step", "x,y"])

    @hyp.settings(max_examples=150, deadline=None)
    @hyp.given(header, st.lists(row, max_size=6))
    def check(head, rows):
        p = tmp_path / "fuzz.csv"
        p.write_text("\n".join([head, *rows]))
        try:
            runs = read_loss_csv(p)
        except InputError as exc:
            assert "fuzz.csv" in str(exc)
            return
        for r in runs:
            assert r.n_steps >= 2 and np.all(np.diff(r.times) > 0) and np.all(np.isfinite(r.values))

    check()
