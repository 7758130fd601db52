"""Every notebook in notebooks/ runs top to bottom (small sizes: TOPTRAJ_NOTEBOOK_SMALL=1) and shows its figures inline."""

import re
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
# A code cell that draws (toptraj.plotting or pyplot) must be tagged "figure", so that the image
# check below cannot be dodged by leaving a tag out.
DRAWS = re.compile(r"\bplotting\.(new_axes|plot_\w+)\(|\bplt\.\w+\(")


def _execute(path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    return nb


def _figure_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code" and "figure" in c.get("metadata", {}).get("tags", [])]


def _pngs(cell):
    return [o for o in cell.get("outputs", []) if "image/png" in o.get("data", {})]


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs_and_embeds_every_figure(path, monkeypatch):
    # As in CI (and .ci/dev): a headless backend in the environment. The notebook must still
    # embed its figures as image/png outputs, which is what Jupyter shows a reader.
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("TOPTRAJ_NOTEBOOK_SMALL", "1")  # notebooks that read it use fewer runs
    nb = _execute(path)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    untagged = [c.source[:60] for c in nb.cells if c.cell_type == "code" and DRAWS.search(c.source) and c not in _figure_cells(nb)]
    assert not untagged, f"cells that draw must be tagged 'figure': {untagged}"
    for cell in _figure_cells(nb):
        assert _pngs(cell), f"figure cell shows no image/png output: {cell.source[:80]!r}"


def test_there_is_a_notebook_with_a_figure():
    nbformat = pytest.importorskip("nbformat")
    assert any(p.name == "01_quickstart.ipynb" for p in NOTEBOOKS)
    assert _figure_cells(nbformat.read(NOTEBOOKS[0], as_version=4))
