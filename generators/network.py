"""Real neural-network training runs (torch), MNIST-1D / digits / stdlib text; `toptraj generate network`.

The command-line name of :mod:`generators.networks`: this module re-exports its public API and its
``add_cli_arguments`` / ``run_cli`` hooks. Importing it does not import torch.
"""

from generators.networks import (  # noqa: F401
    SOURCE,
    CheckpointError,
    NTKSpectrum,
    TrainConfig,
    TrainingDivergedError,
    add_cli_arguments,
    empirical_ntk_spectrum,
    run_cli,
    select_device,
    train,
    width_sweep,
)
