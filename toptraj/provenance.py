"""Provenance recorded with every saved result: versions, device, git revision, time."""

from __future__ import annotations

import datetime as _dt
import importlib.metadata as _md
import platform
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

_PACKAGES = ("toptraj", "numpy", "scipy", "scikit-learn", "ripser", "persim", "giotto-ph", "giotto-tda", "torch")


@lru_cache(maxsize=1)
def _versions() -> dict:
    out = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = _md.version(name)
        except _md.PackageNotFoundError:
            continue
    return out


@lru_cache(maxsize=1)
def git_revision() -> str | None:
    """The repository's HEAD commit (with '+dirty' if the tree has changes), or None."""
    root = Path(__file__).resolve().parents[1]
    try:
        rev = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5
        )
        if rev.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=5,
        )
        return rev.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def collect(device: str = "cpu", **extra) -> dict:
    """Provenance dict: package versions, platform, device, git revision, UTC time, plus ``extra``."""
    return {
        "versions": dict(_versions()),
        "platform": platform.platform(),
        "argv": list(sys.argv[:1]),
        "device": device,
        "git": git_revision(),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        **extra,
    }
