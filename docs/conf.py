"""Sphinx configuration: API reference from numpydoc docstrings (autosummary), theory pages.

Build (warnings are errors, as in CI)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html
"""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the repository's own `generators/`, not PyPI's package of that name
os.environ.setdefault("MPLBACKEND", "Agg")

import toptraj  # noqa: E402

project = "toptraj"
author = "toptraj contributors"
copyright = "toptraj contributors"
release = toptraj.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "README.md"]
root_doc = "index"

# Autosummary writes one page per public module (and, for a package, per public submodule: a
# generator may be a module or a package of stages). Only members defined in a module are listed,
# so a name re-exported by a package is documented once, where it is defined.
autosummary_generate = True
autosummary_imported_members = False
autodoc_default_options = {"member-order": "bysource"}
autodoc_typehints = "none"  # the numpydoc Parameters sections carry the types
autodoc_mock_imports = ["torch", "mnist1d", "gtda", "dask", "distributed"]

numpydoc_show_class_members = False  # the class template lists members itself
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

html_theme = "pydata_sphinx_theme"
html_title = "toptraj"
html_theme_options = {"navigation_with_keys": False, "show_toc_level": 2}
html_static_path: list[str] = []


def _skip_metadata_requests(app, what, name, obj, skip, options):
    # scikit-learn adds set_fit_request & co. to estimators whose fit takes extra arguments
    # (GroupedRidgeCV's groups); their docstrings point into scikit-learn's own glossary.
    if name.startswith("set_") and name.endswith("_request"):
        return True
    return None


def setup(app):
    app.connect("autodoc-skip-member", _skip_metadata_requests)
