"""Alias of :mod:`generators.networks.ntk` (the empirical NTK and its spectrum), kept so old imports keep working."""

from generators.networks.ntk import (  # noqa: F401
    NTKSpectrum,
    binary_split,
    default_fit_range,
    empirical_ntk_spectrum,
    ntk_matrix,
    power_law_slope,
    spectrum_from_kernel,
)
