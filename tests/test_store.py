"""The keyed run store: atomic files, sha256 verification, SQLite catalog readable by pandas."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import time

import numpy as np
import pytest

from toptraj.io import StoreError
from toptraj.store import Store, file_sha256, run_relpaths, write_run_files
from toptraj.trajectory import Trajectory

KEY = "ab" + "0" * 62


def _traj(seed: int = 0, n: int = 8) -> Trajectory:
    rng = np.random.default_rng(seed)
    return Trajectory(
        times=np.arange(1.0, n + 1), values=rng.random((n, 2)), channels=("loss", "test_loss"),
        source="test", params={"a": 1.5, "N": float("inf")}, seed=seed, labels={"a": 1.5},
    )


def _result(key: str, files, sums, status: str = "done", error=None) -> dict:
    return {
        "key": key, "generator": "modesum", "function": "solve", "version": "0", "params": {"a": 1.5},
        "seed": 0, "axis": {"times": [1.0, 2.0]}, "options": {}, "status": status, "files": files,
        "checksums": sums, "duration": 0.01, "write_time": 0.001, "error": error, "traceback": None,
    }


def test_write_record_load_roundtrip(tmp_path):
    t = _traj()
    files, sums = write_run_files(tmp_path, KEY, [t])
    assert files == [f"runs/ab/{KEY}.npz"]
    # the recorded checksum is the sha256 of the file bytes, computed independently here
    assert sums == [hashlib.sha256((tmp_path / files[0]).read_bytes()).hexdigest()]
    with Store(tmp_path) as st:
        st.register_sweep("s1", {"generator": "modesum"}, [KEY])
        st.record([_result(KEY, files, sums)])
        got = st.load([KEY])
    assert len(got) == 1
    assert got[0].values.tobytes() == t.values.tobytes()
    assert got[0].params == t.params and got[0].labels == t.labels and got[0].seed == 0


def test_multi_trajectory_run_layout(tmp_path):
    files, _ = write_run_files(tmp_path, KEY, [_traj(0), _traj(1), _traj(2)])
    assert files == [f"runs/ab/{KEY}_{i:03d}.npz" for i in range(3)] == run_relpaths(KEY, 3)
    with pytest.raises(ValueError, match="trajectories must not be empty"):
        write_run_files(tmp_path, KEY, [])


def test_catalog_is_plain_sqlite_read_by_pandas(tmp_path):
    pd = pytest.importorskip("pandas")
    files, sums = write_run_files(tmp_path, KEY, [_traj()])
    k2 = "cd" + "1" * 62
    k3 = "ef" + "2" * 62
    with Store(tmp_path) as st:
        st.register_sweep("s1", {}, [KEY, k2, k3])
        st.record([_result(KEY, files, sums), _result(k2, [], [], status="failed", error="ValueError: boom")])
        df_sweep = st.catalog("s1")
    df = pd.read_sql("SELECT key, status, error FROM runs ORDER BY key", sqlite3.connect(tmp_path / "catalog.sqlite"))
    assert df["key"].tolist() == [KEY, k2]
    assert df["status"].tolist() == ["done", "failed"]
    assert df["error"].tolist()[1] == "ValueError: boom"
    # per-sweep view: grid order, the never-run key is pending, params expanded to columns
    assert df_sweep["key"].tolist() == [KEY, k2, k3]
    assert df_sweep["status"].tolist() == ["done", "failed", "pending"]
    assert df_sweep["param.a"].tolist()[:2] == [1.5, 1.5]


def test_record_replaces_a_key_and_rejects_bad_status(tmp_path):
    files, sums = write_run_files(tmp_path, KEY, [_traj()])
    with Store(tmp_path) as st:
        st.record([_result(KEY, [], [], status="failed", error="first try")])
        st.record([_result(KEY, files, sums)])
        rows = st.rows()
        assert list(rows) == [KEY] and rows[KEY]["status"] == "done"
        with pytest.raises(ValueError, match="status must be one of"):
            st.record([_result(KEY, files, sums, status="ok")])


@pytest.mark.parametrize("damage", ["truncate", "flip", "delete", "swap"])
def test_damaged_files_are_detected(tmp_path, damage):
    files, sums = write_run_files(tmp_path, KEY, [_traj(0)])
    path = tmp_path / files[0]
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif damage == "flip":
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))
    elif damage == "delete":
        path.unlink()
    else:  # a valid toptraj file, but not the one the catalog recorded
        write_run_files(tmp_path, KEY, [_traj(1)])
    with Store(tmp_path) as st:
        st.record([_result(KEY, files, sums)])
        row = st.rows()[KEY]
        assert st.verify_row(row) is not None
        with pytest.raises(StoreError, match="re-run"):
            st.load([KEY])


def test_load_missing_runs(tmp_path):
    with Store(tmp_path) as st:
        st.record([_result(KEY, [], [], status="failed", error="x")])
        with pytest.raises(StoreError, match="2 of 2 runs are not done \\(1 failed, 1 not run\\)"):
            st.load([KEY, "ff" * 32])
        assert len(st.load([KEY, "ff" * 32], missing="skip")) == 0
        with pytest.raises(ValueError, match="missing must be one of"):
            st.load([KEY], missing="ignore")
        with pytest.raises(ValueError, match="sweep_id 'nope' is not in"):
            st.sweep_keys("nope")


def test_clean_temporary_only_removes_old_temp_files(tmp_path):
    with Store(tmp_path) as st:
        folder = tmp_path / "runs" / "ab"
        folder.mkdir(parents=True)
        old, new, real = folder / ".x.npz.1.tmp", folder / ".y.npz.2.tmp", folder / "z.npz"
        for p in (old, new, real):
            p.write_bytes(b"x")
        past = time.time() - 7200
        os.utime(old, (past, past))
        assert st.clean_temporary(older_than=3600) == 1
        assert not old.exists() and new.exists() and real.exists()


def test_bad_root(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(ValueError, match="root must be a folder"):
        Store(f)
    with pytest.raises(ValueError, match="root must be a path"):
        Store(3)


def test_file_sha256_matches_hashlib(tmp_path):
    p = tmp_path / "blob"
    data = os.urandom(3 * (1 << 20) + 17)  # spans several read chunks
    p.write_bytes(data)
    assert file_sha256(p) == hashlib.sha256(data).hexdigest()
