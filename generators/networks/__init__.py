"""Real neural-network training runs (torch): trajectories, width sweeps and measured ground truth.

A run trains an MLP, a small CNN (image tasks) or a small transformer (character-level text) of a
given width with SGD or Adam, and records on a log-spaced step grid: train/test loss, train/test
accuracy, the norm of the last minibatch gradient, the parameter norm and a fixed random sketch of
the flattened parameters (``proj_0..proj_{d-1}``, the weight-space path). Data are made offline
(see :mod:`generators.networks.data`). Ground truth: the empirical NTK at initialisation
(:func:`empirical_ntk_spectrum`, exponents a and b) and, from width sweeps, the time exponent,
the early/late width exponents, the crossover t_x and the overfitting onset t_of with the
definitions of docs/theory/dmft.rst section 6 (the widest model stands in for infinite width); see
docs/theory/networks.rst for these runs and Bordelon, Atanasov, Pehlevan, arXiv:2402.01092 for the labels.

Parametrisations (``parametrization``):

* ``standard``: every weight N(0, g/fan_in) (g = 2 after a ReLU, else 1), one learning rate.
* ``mup``: maximal-update parametrisation (Yang & Hu, Tensor Programs V, Table 3) relative to
  ``base_width`` (m = width / base_width; at m = 1 it equals ``standard``): output weights have
  init variance g/(fan_in m); SGD learning rates are lr*m for input weights and biases, lr for hidden
  weights, lr/m for output weights; Adam: lr for input weights and biases, lr/m for hidden and output
  weights. Attention logits are scaled by sqrt(d0)/d instead of 1/sqrt(d). Under muP wider nets
  train faster (lower train loss at every recorded step >= 10 in benchmarks/bench_networks.py).

Threads: :func:`train` sets ``torch.set_num_threads(num_threads)`` (default 1) for its duration and
restores it after. One thread makes the runs reproducible bit for bit on a given CPU and leaves the
second core free (the machine this was built on has two).

Interrupted runs resume from ``run_dir`` (an atomically replaced ``checkpoint.pt`` and, when done,
``trajectory.npz``). A non-finite loss stops the run: the returned trajectory holds every finite row
recorded so far, ``params["stopped"]`` is the step, ``provenance["stopped"]`` has the step and the
reason, and a :class:`RuntimeWarning` is issued; if nothing was recorded yet,
:class:`TrainingDivergedError` is raised.

Cost model: training is about 6 B n_params flops per step; each of the n_record records evaluates
2 n_eval samples (2 n_eval n_params flops) and sketches the parameters in O(4 n_params). The
default sketch is a sparse sign projection (4 nonzeros per parameter, generated block-wise from
``projection_seed``), so it never holds a dense d x n_params matrix.

Package layout (every name is re-exported here, so ``from generators.networks import X`` is unchanged)
------------------------------------------------------------------------------------------------------
config    TrainConfig, SOURCE and the allowed values, select_device, select_precision (mixed precision)
data      the offline data sets (load_dataset, DataSet); generators._datasets is an alias
models    build_model: MLP, CNN and transformer with standard or muP parametrisation
sketches  SparseSketch (the weight-space path) and record_grid
training  train, checkpoints (CheckpointError), TrainingDivergedError
ntk       empirical NTK, its spectrum and exponents, ntk_at_init; generators._ntk is an alias
sweep     sweep analysis: time_exponent_fit, width_exponent, sweep_labels, width_sweep, train_widths
truth     measured ground truth with seed-bootstrap intervals (measure_sweep, label_sweep, measured_sweep)
kernels   empirical NTK at init and after training, trace over outputs (kernels_through_training)
paths     topology of the weight-sketch path (path_topology, topological_onset)
spec      SPEC: the declaration for ``toptraj generate network`` and sweeps (train, train_widths)
"""

from generators.networks.config import (  # noqa: F401
    ARCHS,
    DEVICES,
    OPTIMIZERS,
    PARAMETRIZATIONS,
    PRECISIONS,
    SOURCE,
    TrainConfig,
    estimate_memory_bytes,
    select_device,
    select_precision,
)
from generators.networks.data import (  # noqa: F401
    DATASETS,
    DEFAULT_SIZES,
    DataSet,
    load_dataset,
)
from generators.networks.models import (  # noqa: F401
    _CNN,
    _cnn_class,
    _role_multipliers,
    _Transformer,
    _transformer_class,
    build_model,
)
from generators.networks.ntk import (  # noqa: F401
    NTKSpectrum,
    empirical_ntk_spectrum,
    ntk_at_init,
)
from generators.networks.sketches import (  # noqa: F401
    _SKETCH_BLOCK,
    _SKETCH_NNZ,
    SparseSketch,
    record_grid,
)
from generators.networks.spec import SPEC, TrainOptions, WidthsOptions  # noqa: F401
from generators.networks.sweep import (  # noqa: F401
    _log_window,
    crossover_time,
    local_width_exponent,
    sweep_labels,
    time_exponent_fit,
    train_widths,
    width_exponent,
    width_sweep,
)
from generators.networks.training import (  # noqa: F401
    _CKPT_FORMAT,
    _EVAL_CHUNK,
    CheckpointError,
    TrainingDivergedError,
    _channels,
    _config_json,
    _load_checkpoint,
    _Run,
    overfitting_onset,
    train,
)

__all__ = [
    "TrainConfig", "train", "width_sweep", "empirical_ntk_spectrum", "NTKSpectrum", "select_device",
    "build_model", "CheckpointError", "TrainingDivergedError", "sweep_labels", "local_width_exponent",
    "crossover_time", "width_exponent", "time_exponent_fit", "overfitting_onset", "record_grid",
    "SparseSketch", "ntk_at_init", "train_widths", "SPEC", "SOURCE", "select_precision",
]
