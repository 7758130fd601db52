"""The store's in-memory run-file encoder, hashing without a re-read, catalog JSON and run keys."""

from __future__ import annotations

import hashlib
import json
import math
import zipfile

import numpy as np
import pytest

from toptraj.io import dumps_strict, load_trajectory, save_trajectory
from toptraj.store import _catalog_json, encode_run_file, write_run_files
from toptraj.trajectory import Trajectory

KEY = "ab" + "0" * 62


def _traj(seed: int = 0, n: int = 64) -> Trajectory:
    rng = np.random.default_rng(seed)
    return Trajectory(
        times=np.geomspace(1, 1e4, n), values=rng.random((n, 2)), channels=("test_loss", "train_loss"),
        axis="time", source="modesum", params={"a": 1.5, "M": math.inf}, seed=seed, labels={"a": 1.5},
        provenance={"note": "test"},
    )


def test_run_file_reads_back_like_save_trajectory(tmp_path):
    t = _traj(3)
    files, sums = write_run_files(tmp_path, KEY, [t])
    path = tmp_path / files[0]
    fast = load_trajectory(path)  # verifies the embedded checksum
    slow = load_trajectory(save_trajectory(t, tmp_path / "ref.npz"))
    assert fast.values.tobytes() == slow.values.tobytes() == t.values.tobytes()
    assert fast.times.tobytes() == slow.times.tobytes()
    assert fast.to_dict() == slow.to_dict()
    # plain numpy reads it too (no pickle), and the hash is that of the bytes on disk
    with np.load(path, allow_pickle=False) as z:
        assert list(z["channels"]) == ["test_loss", "train_loss"]
        assert json.loads(str(z["meta"]))["seed"] == 3
    assert sums == [hashlib.sha256(path.read_bytes()).hexdigest()]
    assert not list(path.parent.glob(".*.tmp"))  # no temporary file left


def test_numeric_members_stored_text_members_deflated(tmp_path):
    data = encode_run_file(_traj())
    path = tmp_path / "x.npz"
    path.write_bytes(data)
    with zipfile.ZipFile(path) as zf:
        kinds = {i.filename: i.compress_type for i in zf.infolist()}
        assert zf.testzip() is None  # every member's CRC checks
    assert kinds == {"times.npy": zipfile.ZIP_STORED, "values.npy": zipfile.ZIP_STORED,
                     "channels.npy": zipfile.ZIP_DEFLATED, "meta.npy": zipfile.ZIP_DEFLATED}
    assert encode_run_file(_traj()) == data  # deterministic bytes (fixed member dates)


def test_rewriting_a_run_replaces_its_file_atomically(tmp_path):
    write_run_files(tmp_path, KEY, [_traj(0)])
    files, sums = write_run_files(tmp_path, KEY, [_traj(1)])
    assert load_trajectory(tmp_path / files[0]).seed == 1
    assert sums == [hashlib.sha256((tmp_path / files[0]).read_bytes()).hexdigest()]


@pytest.mark.parametrize(
    "value",
    [{"times": [1.0, 2.5, 1e5]}, {"b": 1, "a": [1, 2, {"c": None}]}, {}, ["runs/ab/x.npz"],
     {"x": np.float64(1.5), "y": np.arange(3)}, {"x": float("nan"), "y": math.inf}, {"t": (1, 2)}],
)
def test_catalog_json_equals_the_strict_encoder(value):
    assert _catalog_json(value) == dumps_strict(value, sort_keys=True)


def test_run_keys_are_those_of_run_key():
    from toptraj.sweeps import load_config
    from toptraj.sweeps.config import run_key

    cfg = load_config({"generator": "modesum", "seeds": [0, 1], "params": {"b": 1.5, "M": 50},
                       "grid": {"a": [1.2, 2.0]}, "axis": {"times": {"start": 1, "stop": 1e3, "num": 5, "log": True}}})
    for run in cfg.runs:
        payload = {k: getattr(run, k) for k in ("generator", "function", "version", "params", "seed", "axis",
                                                "options")}
        assert run.key == run_key(payload)


def test_execute_batch_in_the_users_process_restores_thread_limits(tmp_path):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    from toptraj.sweeps import load_config
    from toptraj.sweeps.runner import execute_batch

    before = [(i["internal_api"], i["num_threads"]) for i in threadpoolctl.threadpool_info()]
    runs = list(load_config({"generator": "modesum", "seeds": [0], "params": {"a": 2.0, "b": 1.5, "M": 20},
                             "axis": {"times": [1.0, 10.0]}}).runs)
    results = execute_batch(runs, str(tmp_path), threads=1)
    assert [r["status"] for r in results] == ["done"]
    assert [(i["internal_api"], i["num_threads"]) for i in threadpoolctl.threadpool_info()] == before
