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
        "import sys, toptraj, toptraj.cli, toptraj.io, toptraj.regression, toptraj.baselines; "
        "toptraj.cli.build_parser(); "
        f"print([m for m in {heavy!r} if m in sys.modules])"
    )
    assert run(code) == "[]"


def test_generators_is_this_repository():
    path = run("import generators; print(generators.__file__)")
    assert Path(path).resolve().parent == ROOT / "generators"
    assert "modesum" in run("import generators; print(generators.GENERATORS)")
