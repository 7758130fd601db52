"""Fuzzing the command line with hostile input: crafted .npz files, catalog rows and sweep configs.

Whatever the input, ``toptraj`` must end with exit status 0, 1, 2 or 3, print exactly one line on
stderr when it fails, and never show a traceback. (CSV bytes are fuzzed with the readers' tests.)
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import shutil
import sqlite3
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from toptraj.cli import main
from toptraj.io import _checksum
from toptraj.trajectory import Trajectory

pytestmark = pytest.mark.slow

SETTINGS = settings(max_examples=40, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def run_cli(argv: list[str]) -> tuple[int, str]:
    """main(argv) in this process: (exit status, stderr); a raised exception fails the test."""
    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse's own errors
            code = exc.code
    return code, err.getvalue()


def assert_contract(code: int, err: str, what: str) -> None:
    assert code in (0, 1, 2, 3), f"{what}: exit status {code}; stderr {err!r}"
    assert "Traceback" not in err, f"{what}: traceback on stderr: {err}"
    lines = [line for line in err.splitlines() if line.strip()]
    if code != 0:
        assert len(lines) == 1, f"{what}: exit {code} with {len(lines)} stderr lines: {err!r}"


# -- .npz files --------------------------------------------------------------------------------
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)
arrays = st.one_of(
    st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=6).map(lambda v: np.array(v, dtype=np.float64)),
    st.lists(st.integers(-5, 5), max_size=6).map(lambda v: np.array(v, dtype=np.int64)),
    st.lists(st.text(max_size=3), max_size=3).map(lambda v: np.array(v, dtype=str)),
    st.just(np.zeros((3, 2, 2))),
    st.just(np.array(1.5)),
)
META_FIELDS = ("channels", "axis", "source", "params", "seed", "labels", "provenance", "format")


def _valid_meta() -> tuple[dict, np.ndarray, np.ndarray]:
    t = Trajectory(times=np.geomspace(1, 100, 12), values=np.geomspace(1, 0.1, 12)[:, None], channels=("loss",),
                   source="fuzz", params={"a": 1.5}, seed=0)
    return {"format": "toptraj.trajectory", "format_version": 1, **t.to_dict()}, t.times, t.values


@st.composite
def npz_files(draw):
    """The fields of a trajectory .npz: each valid, mutated or missing; the checksum often made to match."""
    meta, times, values = _valid_meta()
    arrays_out = {"times": times, "values": values, "channels": np.array(["loss"])}
    kind = draw(st.sampled_from(["mutate_meta", "random_meta", "mutate_arrays", "drop_field", "raw_bytes"]))
    if kind == "raw_bytes":
        return draw(st.binary(max_size=300))
    if kind == "mutate_meta":
        for field in draw(st.lists(st.sampled_from(META_FIELDS), min_size=1, max_size=3, unique=True)):
            meta[field] = draw(json_values)
    elif kind == "random_meta":
        meta = draw(json_values)
    elif kind == "mutate_arrays":
        arrays_out[draw(st.sampled_from(["times", "values"]))] = draw(arrays)
    else:
        arrays_out.pop(draw(st.sampled_from(["times", "values", "channels"])))
    if isinstance(meta, dict) and draw(st.booleans()):
        try:
            text = json.dumps(meta, sort_keys=True)
            t = arrays_out.get("times", np.zeros(0))
            v = arrays_out.get("values", np.zeros(0))
            meta["checksum"] = _checksum(np.asarray(t), np.asarray(v), text=text)
        except (TypeError, ValueError):
            pass
    text = json.dumps(meta, sort_keys=True) if not draw(st.booleans()) else json.dumps(meta)[:-1]  # or truncated
    arrays_out["meta"] = np.array(text)
    buf = io.BytesIO()
    np.savez(buf, **arrays_out)
    return buf.getvalue()


@settings(SETTINGS, max_examples=25)
@given(data=npz_files())
def test_crafted_npz_files_never_crash_analyze(data):
    with tempfile.TemporaryDirectory() as tmp:
        f = Path(tmp) / "run.npz"
        f.write_bytes(data)
        code, err = run_cli(["analyze", str(f), "--out", str(Path(tmp) / "out")])
    assert_contract(code, err, "analyze crafted .npz")


# -- catalog rows ------------------------------------------------------------------------------
CONFIG = ('generator = "modesum"\nseeds = [0]\n[params]\na = 1.5\nb = 1.25\nnoise = 0.01\n'
          "[axis]\ntimes = {start = 1, stop = 100, num = 5, log = true}\n")
sql_values = st.one_of(
    st.none(), st.integers(-(2**63), 2**63 - 1), st.floats(allow_nan=False), st.text(max_size=40), st.binary(max_size=20),
    json_values.map(json.dumps),
    st.sampled_from(['["../../etc/hostname"]', '["/etc/hostname"]', '["runs/ab/x.npz"]', "[]", '["a", "b"]',
                     "done", "failed", '{"a": 1.5}', "[" * 5000]),
)
COLUMNS = ("key", "files", "checksums", "status", "params", "axis", "options", "seed", "error")


@pytest.fixture(scope="module")
def template_store(tmp_path_factory):
    root = tmp_path_factory.mktemp("template")
    cfg = root / "grid.toml"
    cfg.write_text(CONFIG)
    code, err = run_cli(["sweep", str(cfg), "--out", str(root / "store")])
    assert code == 0, err
    # A crafted catalog need not keep our constraints: copy the table without them (CREATE TABLE AS).
    con = sqlite3.connect(root / "store" / "catalog.sqlite")
    con.executescript("CREATE TABLE loose AS SELECT * FROM runs; DROP TABLE runs; ALTER TABLE loose RENAME TO runs;")
    con.commit()
    con.close()
    return root


@SETTINGS
@given(updates=st.dictionaries(st.sampled_from(COLUMNS), sql_values, min_size=1, max_size=4))
def test_crafted_catalog_rows_never_crash_a_resumed_sweep(template_store, updates):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "store"
        shutil.copytree(template_store / "store", root)
        con = sqlite3.connect(root / "catalog.sqlite")
        con.execute("UPDATE runs SET " + ", ".join(f"{c} = ?" for c in updates), tuple(updates.values()))
        con.commit()
        con.close()
        code, err = run_cli(["sweep", str(template_store / "grid.toml"), "--out", str(root), "--resume"])
    assert_contract(code, err, f"sweep --resume with catalog row {updates}")


# -- TOML sweep configs ------------------------------------------------------------------------
scalars = st.one_of(
    st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=True, allow_infinity=True),
    st.text(alphabet="abcxyz./_-19 ", max_size=8), st.sampled_from([1.5, 2.0, 0.5, 1e-3, 400.0, 1e308, 0]),
)
nums = st.sampled_from([0, 1, 2, 3, -1, 2.5, 10**7, 10**12, 10**30, "x", float("nan"), float("inf")])
range_tables = st.fixed_dictionaries(
    {"start": st.sampled_from([1, 0, -1, 1.5, 1e-300]), "stop": st.sampled_from([2, 100, 1e4, 0, 1e308])},
    optional={"num": nums, "log": st.booleans() | st.just("yes"), "integer": st.booleans()},
)
value_specs = st.lists(scalars, max_size=3) | range_tables
PARAM_NAMES = ["a", "b", "M", "amplitude", "noise", "time_scale", "zzz"]


@st.composite
def sweep_configs(draw):
    """A valid small modesum sweep with up to three hostile mutations (so that many examples run)."""
    cfg: dict = {
        "generator": "modesum",
        "params": {"a": 1.5, "b": 1.25},
        "grid": {"noise": [0.0, 0.05]},
        "seeds": [0, 1],
        "axis": {"times": {"start": 1, "stop": 100, "num": 5, "log": True}},
        "options": {},
    }
    mutations = draw(st.lists(st.sampled_from([
        "param", "grid", "seeds", "axis", "options", "generator", "extra", "drop", "big_seeds", "big_grid",
    ]), max_size=3))
    for m in mutations:
        if m == "param":
            cfg.setdefault("params", {})[draw(st.sampled_from(PARAM_NAMES))] = draw(scalars)
        elif m == "grid":
            cfg["grid"] = draw(st.dictionaries(st.sampled_from(PARAM_NAMES), value_specs, max_size=2))
        elif m == "seeds":
            cfg["seeds"] = draw(st.one_of(st.none(), st.lists(st.integers(-2, 3), max_size=3), st.just("abc"),
                                          st.fixed_dictionaries({"start": st.sampled_from([0, 5, -1]),
                                                                 "stop": st.sampled_from([1, 3, 0])})))
        elif m == "big_seeds":
            cfg["seeds"] = {"start": 0, "stop": draw(st.sampled_from([10**9, 10**18, 2**62]))}
        elif m == "big_grid":
            cfg["grid"] = {"a": {"start": 1.5, "stop": 3.0, "num": draw(st.sampled_from([10**4, 10**7, 10**12]))},
                           "b": {"start": 0.5, "stop": 2.0, "num": 1000}}
            cfg.setdefault("params", {}).pop("a", None)
            cfg["params"].pop("b", None)
        elif m == "axis":
            cfg["axis"] = draw(st.one_of(
                st.fixed_dictionaries({"times": value_specs}), st.just({}),
                st.dictionaries(st.sampled_from(["times", "name", "steps"]), scalars, max_size=2),
            ))
        elif m == "options":
            cfg["options"] = draw(st.one_of(
                st.just({"modes": [1, 10]}), st.just({"run_dir": "../../x"}), st.just({"run_dir": "/tmp/x"}),
                st.dictionaries(st.sampled_from(["modes", "zzz", "seed"]), scalars, max_size=2),
            ))
        elif m == "generator":
            cfg["generator"] = draw(st.sampled_from(["nope", 3, "dmft", "maloney", ""]))
        elif m == "extra":
            cfg[draw(st.sampled_from(["name", "extra", "function"]))] = draw(scalars)
        else:
            cfg.pop(draw(st.sampled_from(["generator", "params", "axis", "seeds", "grid"])), None)
    both = set(cfg.get("params", {})) & set(cfg.get("grid", {}))
    for k in both:
        if draw(st.booleans()):
            cfg["params"].pop(k)
    return cfg


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k} = {_toml_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(type(v))


def to_toml(cfg: dict) -> str:
    lines = [f"{k} = {_toml_value(v)}" for k, v in cfg.items() if v is not None and not isinstance(v, dict)]
    for k, v in cfg.items():
        if isinstance(v, dict):
            lines.append(f"[{k}]")
            lines.extend(f"{kk} = {_toml_value(vv)}" for kk, vv in v.items())
    return "\n".join(lines) + "\n"


@SETTINGS
@given(cfg=sweep_configs())
def test_hostile_sweep_configs_end_in_a_known_exit_status(cfg):
    with tempfile.TemporaryDirectory() as tmp:
        f = Path(tmp) / "grid.toml"
        f.write_text(to_toml(cfg))
        code, err = run_cli(["sweep", str(f), "--out", str(Path(tmp) / "store")])
        escaped = (Path(tmp).parent / "x").exists()
    assert_contract(code, err, f"sweep with config {cfg}")
    assert not escaped


@settings(max_examples=25, deadline=None, derandomize=True)
@given(data=st.binary(max_size=200))
def test_random_bytes_as_a_sweep_config(data):
    with tempfile.TemporaryDirectory() as tmp:
        f = Path(tmp) / "grid.toml"
        f.write_bytes(data)
        code, err = run_cli(["sweep", str(f), "--out", str(Path(tmp) / "store")])
    assert_contract(code, err, f"sweep with config bytes {data!r}")
    assert code == 2 or code == 0


def test_fuzz_helpers_catch_a_traceback():
    """The contract check itself fails on a traceback or on several stderr lines."""
    with pytest.raises(AssertionError):
        assert_contract(3, "Traceback (most recent call last):\n  ...\nKeyError: 'x'\n", "x")
    with pytest.raises(AssertionError):
        assert_contract(2, "line one\nline two\n", "x")
    with pytest.raises(AssertionError):
        assert_contract(5, "x\n", "x")
    assert_contract(2, "toptraj sweep: error: bad\n", "x")
