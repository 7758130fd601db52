"""The generator registry: a third-party generator runs through `toptraj generate`, `toptraj sweep`
and `load_sweep` with no change to toptraj, found through its entry point or passed as a spec;
built-in specs agree with the functions they declare."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from toptraj.exceptions import InputError
from toptraj.generate import build_parser, generate
from toptraj.io import load_set
from toptraj.parameters import describe, docstring_parameters, parse_text
from toptraj.registry import (
    BUILTIN_GENERATORS,
    Axis,
    GeneratorSpec,
    RunFunction,
    available_generators,
    get_generator,
    register,
    unregister,
)
from toptraj.sweeps import load_config, load_sweep, run_sweep

pytestmark = pytest.mark.core

PLUGIN = textwrap.dedent('''
    """A generator that lives outside toptraj: L(t) = scale * (1 + t)^-rate with log-normal noise."""
    from dataclasses import asdict, dataclass
    from typing import Literal

    import numpy as np

    from toptraj import Trajectory
    from toptraj.exceptions import ConvergenceError
    from toptraj.registry import Axis, GeneratorSpec, RunFunction
    from toptraj.validation import check_number


    @dataclass(frozen=True)
    class ToyParams:
        """Toy power law.

        Parameters
        ----------
        rate : float
            Exponent r > 0 of the loss (1 + t)^-r.
        failure : {"none", "numerical", "bug", "interrupt"}
            Make the run fail on purpose.
        """

        rate: float
        failure: Literal["none", "numerical", "bug", "interrupt"] = "none"

        def __post_init__(self):
            check_number("rate", self.rate, low=0.0, low_open=True)


    @dataclass(frozen=True)
    class CurveOptions:
        """Options of curve.

        Parameters
        ----------
        scale : float
            Multiplies the loss.
        """

        scale: float = 1.0


    def curve(params, times, seed, scale=1.0):
        if params.failure == "numerical":
            raise ConvergenceError("toy iteration did not converge after 3 steps")
        if params.failure == "bug":
            raise ZeroDivisionError("a bug in the toy")
        if params.failure == "interrupt":
            raise KeyboardInterrupt
        t = np.asarray(times, dtype=float)
        noise = np.exp(0.01 * np.random.default_rng(seed).standard_normal(t.shape))
        loss = scale * (1.0 + t) ** -params.rate * noise
        return Trajectory(times=t, values=loss[:, None], channels=("test_loss",), source="toy",
                          params=asdict(params), seed=seed, labels={"time_exponent": params.rate})


    SPEC = GeneratorSpec(
        name="toy",
        params=ToyParams,
        functions=(RunFunction("curve", curve, seed="seed", options=CurveOptions, cli_seeds=(0,)),),
        axis=Axis("times", default="1:100:8"),
        labels=("time_exponent",),
        version="0.1",
    )
''')


@pytest.fixture
def plugin_dir(tmp_path):
    """A folder with the plug-in module and a dist-info declaring its entry point (as pip would)."""
    root = tmp_path / "site"
    root.mkdir()
    (root / "toyplugin.py").write_text(PLUGIN)
    info = root / "toyplugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: toyplugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[toptraj.generators]\ntoy = toyplugin:SPEC\n")
    return root


def _toptraj(args, cwd, plugin_dir):
    env = {"PYTHONPATH": str(plugin_dir), "PATH": "/usr/bin:/bin"}
    return subprocess.run([sys.executable, "-m", "toptraj.cli", *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=300)


def test_entry_point_plugin_runs_through_generate_and_sweep(tmp_path, plugin_dir):
    out = _toptraj(["generate", "toy", "--rate", "0.5", "--times", "1:100:6", "--seeds", "0:3", "--scale", "2",
                    "--out", str(tmp_path / "g")], tmp_path, plugin_dir)
    assert out.returncode == 0, out.stderr
    runs = load_set(tmp_path / "g")
    assert [r.seed for r in runs] == [0, 1, 2] and runs[0].source == "toy"
    t = np.geomspace(1, 100, 6)
    assert np.allclose(runs[0].channel("test_loss"), 2 * (1 + t) ** -0.5, rtol=0.05)
    # its help comes from the dataclass docstrings
    help_text = _toptraj(["generate", "toy", "--help"], tmp_path, plugin_dir).stdout
    assert "Exponent r > 0 of the loss" in help_text and "Multiplies the loss" in help_text

    cfg = tmp_path / "toy.toml"
    cfg.write_text('generator = "toy"\nseeds = [0, 1]\n[grid]\nrate = [0.5, 1]\n'
                   '[axis]\ntimes = {start = 1, stop = 100, num = 6, log = true}\n[options]\nscale = 2\n')
    out = _toptraj(["sweep", str(cfg), "--out", str(tmp_path / "s")], tmp_path, plugin_dir)
    assert out.returncode == 0, out.stderr
    assert "4 runs of toy.curve" in out.stdout

    # load_sweep in this process finds the plug-in through the same entry point
    sys.path.insert(0, str(plugin_dir))
    try:
        assert "toy" in available_generators()
        got = load_sweep(cfg, tmp_path / "s")
        assert [(r.params["rate"], r.seed) for r in got] == [(0.5, 0), (0.5, 1), (1.0, 0), (1.0, 1)]
        assert np.array_equal(got[0].values, runs[0].values)  # same seed and parameters, same numbers
    finally:
        sys.path.remove(str(plugin_dir))
        unregister("toy")
        sys.modules.pop("toyplugin", None)


def test_plugin_numerical_failure_and_bug_exit_3_one_line(tmp_path, plugin_dir):
    for failure, needle in (("numerical", "numerical failure (ConvergenceError): toy iteration did not converge"),
                            ("bug", "internal error (ZeroDivisionError): a bug in the toy")):
        out = _toptraj(["generate", "toy", "--rate", "0.5", "--failure", failure, "--out", str(tmp_path / failure)],
                       tmp_path, plugin_dir)
        assert out.returncode == 3, out.stderr
        err = out.stderr.strip()
        assert len(err.splitlines()) == 1 and "Traceback" not in err and needle in err, err
    assert "rate=0.5" in _toptraj(["generate", "toy", "--rate", "0.5", "--failure", "numerical", "--out",
                                   str(tmp_path / "n")], tmp_path, plugin_dir).stderr  # names the parameters


def test_spec_object_runs_without_registration(tmp_path, plugin_dir):
    sys.path.insert(0, str(plugin_dir))
    try:
        toy = importlib.import_module("toyplugin")
    finally:
        sys.path.remove(str(plugin_dir))
    try:
        runs = generate(toy.SPEC, ["--rate", "1.5", "--times", "1,10,100", "--seeds", "4"])
        assert len(runs) == 1 and runs[0].seed == 4 and runs[0].times.tolist() == [1.0, 10.0, 100.0]
        cfg = {"seeds": [4], "params": {"rate": 1.5}, "axis": {"times": [1.0, 10.0, 100.0]}}
        with pytest.raises(InputError, match="missing 'generator'"):
            load_config(cfg)
        result = run_sweep(cfg, tmp_path / "s", generator=toy.SPEC, progress=False)
        assert (result.n_done, result.n_failed) == (1, 0)
        (got,) = load_sweep(cfg, tmp_path / "s", generator=toy.SPEC)
        assert np.array_equal(got.values, runs[0].values)
        # or as the config's generator entry; a mismatching name is refused
        assert load_config({**cfg, "generator": toy.SPEC}).keys == load_config(cfg, toy.SPEC).keys
        with pytest.raises(InputError, match="names 'modesum' but the spec given is 'toy'"):
            load_config({**cfg, "generator": "modesum"}, toy.SPEC)
        # registered in-process, the CLI reaches it by name
        register(toy.SPEC)
        from toptraj.cli import main

        assert main(["generate", "toy", "--rate", "2", "--out", str(tmp_path / "g")]) == 0
        assert len(load_set(tmp_path / "g")) == 1
    finally:
        unregister("toy")
        sys.modules.pop("toyplugin", None)


def test_unknown_generator_lists_the_available_ones():
    with pytest.raises(InputError, match=r"generator must be one of \['modesum', 'dmft', 'plrf', 'maloney', "
                                         r"'network'.*got 'nope'"):
        get_generator("nope")


def test_register_refuses_a_name_clash_and_bad_specs():
    spec = get_generator("modesum")
    clone = dataclasses.replace(spec, description="another")
    with pytest.raises(InputError, match="already registered"):
        register(clone)
    with pytest.raises(InputError, match="functions must be a non-empty tuple"):
        dataclasses.replace(spec, functions=())
    with pytest.raises(InputError, match="seed must be one of"):
        dataclasses.replace(spec, functions=(dataclasses.replace(spec.functions[0], seed="seedz"),))
    with pytest.raises(InputError, match="reserved"):
        dataclasses.replace(spec, axis=Axis("a"))
    with pytest.raises(InputError, match="version must be a non-empty string"):
        dataclasses.replace(spec, version="")
    with pytest.raises(InputError, match="defaults names 'bogus'"):
        dataclasses.replace(spec, defaults={"bogus": 1})
    with pytest.raises(InputError, match="dataclass"):
        GeneratorSpec("x", dict, (RunFunction("f", print),), version="1")


@pytest.mark.parametrize("name", sorted(BUILTIN_GENERATORS))
def test_builtin_specs_match_the_functions_they_declare(name):
    spec = get_generator(name)
    assert spec.name == name and spec.params.__module__.startswith("generators.")
    assert all(describe(spec.params)[f].help for f in describe(spec.params))  # every field documented
    for fn in spec.functions:
        sig = inspect.signature(fn.function)
        names = list(sig.parameters)
        if fn.seed != "none":
            assert fn.seed in names, (name, fn.name)
        else:
            assert "seed" not in names and "seeds" not in names
        if fn.options is not None:
            for field, info in describe(fn.options).items():
                assert field in sig.parameters, (name, fn.name, field)
                assert info.help, (name, fn.name, field)
                default = sig.parameters[field].default
                if default is not inspect.Parameter.empty:  # the options dataclass repeats the function's default
                    default = tuple(default) if isinstance(default, (list, tuple)) else default
                    assert default == info.default, (name, fn.name, field)
    build_parser(spec)  # the command line can be derived


def test_docstring_parameters_and_text_parsing():
    doc = """Title.

    Parameters
    ----------
    a, b : float
        First line
        second line.
    c : int

    Returns
    -------
    x : float
        Not a parameter.
    """
    assert docstring_parameters(doc) == {"a": "First line second line.", "b": "First line second line.", "c": ""}
    fields = describe(get_generator("dmft").params)
    assert parse_text(fields["P"], "inf") == float("inf")
    assert parse_text(fields["M"], "1e3") == 1000
    assert parse_text(fields["lr"], "none") is None
    with pytest.raises(InputError, match=r"--optimizer: 'adam' is not one of \['flow', 'gd', 'sgd', 'momentum'\]"):
        parse_text(fields["optimizer"], "adam")
    with pytest.raises(InputError, match="--M: '2.5' is not a whole number"):
        parse_text(fields["M"], "2.5")


def test_core_reaches_generators_only_through_the_registry():
    """toptraj/ never imports generators/; no module imports a private name of toptraj."""
    repo = Path(__file__).resolve().parents[1]
    offenders = []
    for path in [*(repo / "toptraj").rglob("*.py"), *(repo / "generators").rglob("*.py")]:
        for line in path.read_text().splitlines():
            s = line.strip()
            core = path.is_relative_to(repo / "toptraj")
            if core and s.startswith(("import generators", "from generators")):
                offenders.append(f"{path.relative_to(repo)}: {s}")
            if (s.startswith("from toptraj") and " import _" in s) or s.startswith(("from toptraj._", "import toptraj._")):
                offenders.append(f"{path.relative_to(repo)}: {s}")
    assert offenders == []
