"""Shared test set-up: non-interactive plotting, one BLAS thread per xdist worker, the repository on sys.path."""

import os
import sys
from pathlib import Path

os.environ.setdefault("MPLBACKEND", "Agg")
if os.environ.get("PYTEST_XDIST_WORKER"):
    # Under pytest-xdist the workers already occupy every core: one BLAS/OpenMP thread each
    # (set before numpy loads), else threads oversubscribe the cores and spin against each other.
    for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_var, "1")
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
