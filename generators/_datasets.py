"""Alias of :mod:`generators.networks.data` (the offline data sets), kept so old imports keep working."""

from generators.networks.data import (  # noqa: F401
    _DIGITS_TOTAL,
    _TEXT_MAX_CHARS,
    _TEXT_TEST_FRACTION,
    DATASETS,
    DEFAULT_SIZES,
    VOCAB,
    DataSet,
    _digits,
    _encode,
    _mnist1d,
    _mnist1d_cached,
    _stdlib_text,
    _windows,
    load_dataset,
)
