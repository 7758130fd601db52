"""Offline data sets for the torch training runs (nothing is downloaded).

* ``mnist1d``: MNIST-1D made by the ``mnist1d`` package's own generator (``make_dataset`` with
  ``get_dataset_args()``, never its download). 10 classes, inputs of length 40. Supports a
  data-limited regime (``n_train`` samples reused) and an online regime (a pool of
  ``steps * batch_size`` fresh samples, each used once).
* ``digits``: scikit-learn's bundled 8x8 digit images (1797 samples, 10 classes); data-limited only.
* ``text``: character-level language modelling on the Python standard library's own ``*.py`` files,
  split by file into train and test (the files are shuffled with the data seed). Characters are
  ASCII codes (non-ASCII mapped to 127); a sample is a window of ``context + 1`` characters.

Numpy arrays only; the training module converts them to tensors. Data sets are cached in-process
(generating 160k MNIST-1D samples takes ~40 s on one core, so a width sweep makes them once).

Cost model: mnist1d ~0.25 ms per sample (pure-Python transforms in the package); digits and text
are a file read.
"""

from __future__ import annotations

import random
import sysconfig
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

DATASETS = ("mnist1d", "digits", "text")
#: Default sizes per data set: (n_train, n_test). For text, n_train counts windows.
DEFAULT_SIZES = {"mnist1d": (4000, 1000), "digits": (1297, 500), "text": (20000, 2000)}
VOCAB = 128  # ASCII; everything else is token 127
_DIGITS_TOTAL = 1797
_TEXT_TEST_FRACTION = 0.2
_TEXT_MAX_CHARS = 2_000_000  # cap on the training text read (bounded memory)


@dataclass(frozen=True)
class DataSet:
    """Arrays of one data set.

    x_train : ``(n_train, *input_shape)`` float32, or (n_chars,) int64 token stream for text
    y_train : (n_train,) int64 class labels (None for text)
    x_test, y_test : the same for the test split (text: (n_test, context + 1) int64 windows, y None)
    n_classes : number of output classes (vocabulary size for text)
    input_shape : shape of one input, e.g. (40,), (8, 8) or (context,)
    online : True if every training sample is meant to be used once
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray | None
    x_test: np.ndarray
    y_test: np.ndarray | None
    n_classes: int
    input_shape: tuple[int, ...]
    online: bool = False

    @property
    def n_train(self) -> int:
        return int(self.x_train.shape[0])


def _mnist1d(n_samples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n_samples`` MNIST-1D samples, shapes (n, 40) float32 and (n,) int64.

    The package reseeds Python's and numpy's global generators; their states are restored so that
    making data never changes anyone else's random numbers.
    """
    try:
        from mnist1d.data import get_dataset_args, make_dataset
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise ValueError("dataset='mnist1d' needs the mnist1d package (pip install mnist1d)") from exc
    args = get_dataset_args()
    n_total = 10 * -(-n_samples // 10)  # the generator makes num_samples // 10 per class
    args.num_samples = n_total
    args.train_split = 1.0
    args.seed = int(seed)
    py_state, np_state = random.getstate(), np.random.get_state()
    try:
        data = make_dataset(args)
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)
    return data["x"][:n_samples].astype(np.float32), data["y"][:n_samples].astype(np.int64)


@lru_cache(maxsize=4)
def _mnist1d_cached(n_samples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    x, y = _mnist1d(n_samples, seed)
    x.setflags(write=False)
    y.setflags(write=False)
    return x, y


def _digits(n_train: int, n_test: int, seed: int) -> DataSet:
    from sklearn.datasets import load_digits

    if n_train + n_test > _DIGITS_TOTAL:
        raise ValueError(
            f"n_train + n_test must be <= {_DIGITS_TOTAL} for dataset='digits', got {n_train} + {n_test}"
        )
    bunch = load_digits()
    x = (bunch.images.astype(np.float32) / 16.0).astype(np.float32)
    x = (x - x.mean()) / x.std()
    y = bunch.target.astype(np.int64)
    perm = np.random.default_rng(seed).permutation(len(y))
    tr, te = perm[:n_train], perm[n_train : n_train + n_test]
    return DataSet("digits", x[tr], y[tr], x[te], y[te], 10, (8, 8))


def _encode(text: str) -> np.ndarray:
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
    return np.minimum(codes, VOCAB - 1)


@lru_cache(maxsize=2)
def _stdlib_text(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Token streams (train, test) from the standard library's ``*.py`` files, split by file."""
    root = Path(sysconfig.get_paths()["stdlib"])
    files = sorted(root.glob("*.py"))
    if len(files) < 10:
        raise ValueError(f"dataset='text' needs the Python standard library sources; found {len(files)} files in {root}")
    order = np.random.default_rng(seed).permutation(len(files))
    n_test = max(1, int(round(_TEXT_TEST_FRACTION * len(files))))
    parts: dict[str, list[str]] = {"train": [], "test": []}
    budget = {"train": _TEXT_MAX_CHARS, "test": _TEXT_MAX_CHARS // 4}
    for rank, i in enumerate(order):
        split = "test" if rank < n_test else "train"
        if budget[split] <= 0:
            continue
        text = files[i].read_text(encoding="utf-8", errors="replace")[: budget[split]]
        budget[split] -= len(text)
        parts[split].append(text)
    train, test = (_encode("\n".join(parts[s])) for s in ("train", "test"))
    return train, test


def _windows(stream: np.ndarray, n: int, length: int, rng: np.random.Generator) -> np.ndarray:
    if stream.size <= length:
        raise ValueError(f"text stream of {stream.size} characters is shorter than a window of {length}")
    starts = rng.integers(0, stream.size - length, size=n)
    return stream[starts[:, None] + np.arange(length)]


def load_dataset(
    name: str, n_train: int, n_test: int, seed: int, *, online: bool = False, n_online: int = 0, context: int = 32
) -> DataSet:
    """Build one data set (see the module docstring).

    Parameters
    ----------
    name : one of :data:`DATASETS`
    n_train, n_test : sizes (windows for text); ignored n_train in the online regime
    seed : data seed (fixes samples and splits; independent of the training seed)
    online : fresh samples every step (mnist1d: a pool of ``n_online`` new samples; text: the whole
        training stream, windows drawn at random positions)
    n_online : pool size for online mnist1d (steps * batch_size)
    context : text window length (inputs; targets are shifted by one)
    """
    if name == "mnist1d":
        n_pool = n_online if online else n_train
        x, y = _mnist1d_cached(int(n_pool + n_test), int(seed))
        return DataSet("mnist1d", x[:n_pool], y[:n_pool], x[n_pool:], y[n_pool:], 10, (40,), online)
    if name == "digits":
        if online:
            raise ValueError("online=True is not available for dataset='digits' (only 1797 samples); use online=False")
        return _digits(int(n_train), int(n_test), int(seed))
    if name == "text":
        train, test = _stdlib_text(int(seed))
        rng = np.random.default_rng(seed)
        x_test = _windows(test, int(n_test), context + 1, rng)
        x_train = train if online else _windows(train, int(n_train), context + 1, rng)
        return DataSet("text", x_train, None, x_test, None, VOCAB, (context,), online)
    raise ValueError(f"dataset must be one of {list(DATASETS)}, got {name!r}")
