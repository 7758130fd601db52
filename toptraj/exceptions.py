"""Exception types of toptraj, split by cause, and the command line's exit status for each.

- :class:`InputError` (a ValueError), exit status 2: an argument, file or config key breaks a
  rule; the message names it and the rule.
- :class:`StoreError` (an InputError), exit 2: a stored file is missing, corrupt or not a toptraj
  file; the message names the file. :class:`CheckpointError` (a StoreError): a training
  checkpoint is unreadable or belongs to another run.
- :class:`NumericalError` (a RuntimeError), exit status 3: the input was valid but the computation
  failed. Subclasses: :class:`ConvergenceError` (an iterative solve did not converge),
  :class:`UnstableStepError` (a step size turned out unstable at run time, e.g. for one draw of
  the features), :class:`TrainingDivergedError` (a training loss became non-finite).

Input errors are ValueErrors and numerical failures RuntimeErrors, so code written against the
built-in types keeps working; plug-in generators raise these types (import them from here) to get
the same treatment from ``toptraj generate`` and ``toptraj sweep``. Exit status 1 means some runs
of a sweep failed; an unexpected exception is reported as ``internal error`` with status 3
(``TOPTRAJ_DEBUG=1`` shows its traceback), KeyboardInterrupt as status 130.
"""

from __future__ import annotations

__all__ = [
    "EXIT_OK", "EXIT_RUNS_FAILED", "EXIT_BAD_INPUT", "EXIT_NUMERICAL", "EXIT_INTERRUPTED",
    "ToptrajError", "InputError", "StoreError", "CheckpointError",
    "NumericalError", "ConvergenceError", "UnstableStepError", "TrainingDivergedError", "exit_status",
]

EXIT_OK = 0
EXIT_RUNS_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_NUMERICAL = 3
EXIT_INTERRUPTED = 130


class ToptrajError(Exception):
    """Base class of every exception toptraj raises on purpose."""


class InputError(ToptrajError, ValueError):
    """Bad input: the message names the argument, file, row/column or key and the rule broken."""


class StoreError(InputError):
    """A stored file is missing, corrupt or not a toptraj file; the message names the file."""


class CheckpointError(StoreError):
    """A checkpoint in a run folder is unreadable or belongs to another run (the file is kept)."""


class NumericalError(ToptrajError, RuntimeError):
    """The input was valid but the computation failed; the message names the cause and parameters."""


class ConvergenceError(NumericalError):
    """An iterative solve (e.g. a Newton solve for kappa(s) or r) did not converge."""


class UnstableStepError(NumericalError):
    """A step size is unstable for the problem actually drawn (checked at run time)."""


class TrainingDivergedError(NumericalError):
    """The loss became non-finite before the first record; nothing was recorded.

    Attributes: ``step`` (the step whose loss was non-finite) and ``reason``.
    """

    def __init__(self, message: str, step: int | None = None, reason: str | None = None):
        super().__init__(message)
        self.step = step
        self.reason = reason

    def __reduce__(self):  # keep step and reason through pickling (Dask workers)
        return (type(self), (str(self), self.step, self.reason))


def exit_status(exc: BaseException) -> int:
    """The command line's exit status for an exception (see the module docstring).

    ValueError and OSError count as bad input (2): they come from checks on arguments and files.
    """
    if isinstance(exc, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    if isinstance(exc, NumericalError):
        return EXIT_NUMERICAL
    if isinstance(exc, (ValueError, OSError)):
        return EXIT_BAD_INPUT
    return EXIT_NUMERICAL
