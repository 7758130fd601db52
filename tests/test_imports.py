"""Import hygiene: the core stays light, and `generators` is this repository's package."""

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.core
ROOT = Path(__file__).resolve().parents[1]


def run(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd="/", timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_import_toptraj_is_light():
    heavy = ["torch", "dask", "gtda", "matplotlib.pyplot", "distributed"]
    code = (
        "import sys, toptraj, toptraj.cli, toptraj.io, toptraj.regression, toptraj.baselines, toptraj.registry, "
        "toptraj.sweeps, toptraj.generate; "
        "toptraj.cli.build_parser(); toptraj.registry.available_generators(); "
        f"print([m for m in {heavy!r} if m in sys.modules])"
    )
    assert run(code) == "[]"


def test_import_toptraj_imports_no_generator_module():
    # The core reaches generators only through the registry, on demand; the CLI parser and the
    # list of available generators do not import them (at most the tiny package __init__).
    code = (
        "import sys, toptraj, toptraj.cli, toptraj.registry, toptraj.sweeps; toptraj.cli.build_parser(); "
        "toptraj.registry.available_generators(); print(sorted(m for m in sys.modules if m.startswith('generators.')))"
    )
    assert run(code) == "[]"
    assert run("import sys, toptraj; print('generators' in sys.modules)") == "False"


def test_generators_is_this_repository():
    path = run("import generators; print(generators.__file__)")
    assert Path(path).resolve().parent == ROOT / "generators"
    assert "modesum" in run("import generators; print(generators.GENERATORS)")
