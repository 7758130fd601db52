"""The sweep store's safety: one driver at a time (lock file), paths confined to the store, damaged catalogs."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import toptraj.store as store_mod
from toptraj.io import StoreError
from toptraj.store import Store, StoreLockedError, resolve_inside, write_run_files
from toptraj.trajectory import Trajectory

pytestmark = pytest.mark.core

KEY = "ab" + "0" * 62

HOLDER = textwrap.dedent(
    """
    import sys
    from toptraj.store import Store
    st = Store(sys.argv[1])
    st.register_sweep("held", {}, [])
    print("locked", flush=True)
    sys.stdin.readline()   # hold the lock until the test writes a line
    st.close()
    print("released", flush=True)
    """
)


def _traj(seed: int = 0) -> Trajectory:
    rng = np.random.default_rng(seed)
    return Trajectory(times=np.arange(1.0, 9.0), values=rng.random((8, 1)), channels=("loss",), source="test", seed=seed)


def _result(key: str, files, sums, status: str = "done") -> dict:
    return {
        "key": key, "generator": "modesum", "function": "solve", "version": "0", "params": {"a": 1.5},
        "seed": 0, "axis": {"times": [1.0]}, "options": {}, "status": status, "files": files,
        "checksums": sums, "duration": 0.0, "write_time": 0.0, "error": None, "traceback": None,
    }


@pytest.fixture
def holder(tmp_path):
    """A second process that holds the lock of tmp_path/store until released."""
    root = tmp_path / "store"
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(root)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout.readline().strip() == "locked"
        yield root, proc
    finally:
        if proc.poll() is None:
            proc.stdin.write("\n")
            proc.stdin.flush()
            proc.wait(timeout=60)


def test_second_driver_is_refused_naming_store_and_holder(holder):
    root, proc = holder
    with Store(root) as st:
        assert len(st.rows()) == 0  # reading needs no lock
        with pytest.raises(StoreLockedError) as info:
            st.register_sweep("mine", {}, [])
        with pytest.raises(StoreLockedError):
            st.record([_result(KEY, [], [], status="failed")])
    msg = str(info.value)
    assert str(root) in msg and f"pid {proc.pid}" in msg and socket.gethostname() in msg
    # once the holder has finished, the same store can be driven
    proc.stdin.write("\n")
    proc.stdin.flush()
    assert proc.stdout.readline().strip() == "released"
    proc.wait(timeout=60)
    with Store(root) as st:
        st.register_sweep("mine", {}, [KEY])
        assert st.locked


def test_two_sweep_commands_at_once_one_refuses_with_exit_2(holder, tmp_path, capsys):
    from toptraj.cli import main

    root, proc = holder
    cfg = tmp_path / "grid.toml"
    cfg.write_text('generator = "modesum"\n[params]\nb = 1.0\n[grid]\na = [1.5, 2.0]\n'
                   "[axis]\ntimes = {start = 1, stop = 100, num = 5, log = true}\n")
    code = main(["sweep", str(cfg), "--out", str(root)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and str(root) in err[0] and f"pid {proc.pid}" in err[0]
    with Store(root) as st:
        assert st.rows() == {}  # the refused driver ran nothing


def test_stale_lock_of_a_dead_process_is_taken_over(tmp_path, capsys):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    root = tmp_path / "store"
    root.mkdir()
    (root / ".lock").write_text(json.dumps({"pid": dead.pid, "host": socket.gethostname(), "since": "earlier"}))
    with Store(root) as st:
        st.register_sweep("s", {}, [KEY])
        assert st.locked
        assert json.loads((root / ".lock").read_text())["pid"] == os.getpid()
    err = capsys.readouterr().err
    assert "stale lock" in err and f"pid {dead.pid}" in err
    assert (root / ".lock").read_text() == ""  # a clean release empties the file (no stale-lock message next time)


def test_stores_of_one_process_share_the_lock(tmp_path):
    with Store(tmp_path) as a, Store(tmp_path) as b:
        a.register_sweep("s", {}, [KEY])
        b.record([_result(KEY, [], [], status="failed")])  # same driver process: allowed
        assert a.locked and b.locked


@pytest.mark.parametrize(
    "rel",
    ["../outside.npz", "/etc/hostname", "runs/../../outside.npz", "runs/ab/../../../outside.npz", ""],
)
def test_resolve_inside_refuses_escaping_paths(tmp_path, rel):
    with pytest.raises(StoreError, match="store"):
        resolve_inside(tmp_path, rel, "catalog.sqlite: files[0]")


def test_resolve_inside_accepts_paths_in_the_store(tmp_path):
    assert resolve_inside(tmp_path, "runs/ab/x.npz", "w") == (tmp_path / "runs/ab/x.npz").resolve()


@pytest.mark.parametrize("rel", ["../secret.npz", "/etc/hostname", f"runs/cd/{'cd' * 32}.npz", "other/file.npz"])
def test_crafted_catalog_cannot_make_the_loader_read_or_hash_other_files(tmp_path, monkeypatch, rel):
    root = tmp_path / "store"
    secret = tmp_path / "secret.npz"
    write_run_files(tmp_path / "elsewhere", KEY, [_traj()])
    secret.write_bytes(b"not yours")
    with Store(root) as st:
        st.record([_result(KEY, [rel], ["0" * 64])])
    opened = []
    monkeypatch.setattr(store_mod, "file_sha256", lambda p: opened.append(p) or "0" * 64)
    monkeypatch.setattr(store_mod, "load_trajectory", lambda p: opened.append(p))
    with Store(root) as st:
        with pytest.raises(StoreError, match="catalog.sqlite") as info:
            st.load([KEY])
        with pytest.raises(StoreError):
            st.rows()
    assert opened == []  # refused before any file was opened or hashed
    assert repr(rel) in str(info.value)


def test_symlinked_run_file_pointing_outside_is_refused(tmp_path, monkeypatch):
    root = tmp_path / "store"
    outside = tmp_path / "outside.npz"
    outside.write_bytes(b"system file")
    rel = f"runs/ab/{KEY}.npz"
    (root / "runs" / "ab").mkdir(parents=True)
    (root / rel).symlink_to(outside)
    with Store(root) as st:
        st.record([_result(KEY, [rel], ["0" * 64])])
    hashed = []
    monkeypatch.setattr(store_mod, "file_sha256", lambda p: hashed.append(p) or "0" * 64)
    with Store(root) as st, pytest.raises(StoreError, match="outside the store"):
        st.load([KEY])
    assert hashed == []


def test_crafted_json_and_keys_in_catalog_are_store_errors(tmp_path):
    root = tmp_path / "store"
    with Store(root) as st:
        st.record([_result(KEY, [], [], status="failed")])
    con = sqlite3.connect(root / "catalog.sqlite")
    con.execute("UPDATE runs SET params = '{not json'")
    con.commit()
    with Store(root) as st, pytest.raises(StoreError, match="'params' is not valid JSON"):
        st.rows()
    con.execute("UPDATE runs SET params = '{}', key = '../../x'")
    con.commit()
    con.close()
    with Store(root) as st, pytest.raises(StoreError, match="64 hex digits"):
        st.rows()


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_damaged_catalog_is_one_store_error(tmp_path, damage):
    root = tmp_path / "store"
    with Store(root) as st:
        st.record([_result(KEY, [], [], status="failed")])
    cat = root / "catalog.sqlite"
    for extra in ("catalog.sqlite-wal", "catalog.sqlite-shm"):
        (root / extra).unlink(missing_ok=True)
    if damage == "garbage":
        cat.write_bytes(b"this is not a database" * 100)
    else:
        cat.write_bytes(cat.read_bytes()[:1500])
    with pytest.raises(StoreError, match="damaged or not a toptraj catalog") as info:
        with Store(root) as st:
            st.rows()
    assert "\n" not in str(info.value) and "catalog.sqlite" in str(info.value)


def test_damaged_catalog_on_the_command_line_is_exit_2_one_line(tmp_path, capsys):
    from toptraj.cli import main

    root = tmp_path / "store"
    root.mkdir()
    (root / "catalog.sqlite").write_bytes(b"\x00garbage" * 64)
    cfg = tmp_path / "grid.toml"
    cfg.write_text('generator = "modesum"\n[params]\nb = 1.0\na = 1.5\n'
                   "[axis]\ntimes = {start = 1, stop = 100, num = 5, log = true}\n")
    assert main(["sweep", str(cfg), "--out", str(root)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "catalog.sqlite" in err[0] and "damaged" in err[0]
