"""Deprecated alias of :mod:`toptraj.validation` (kept so that older plug-ins still import)."""

from toptraj.validation import *  # noqa: F403
