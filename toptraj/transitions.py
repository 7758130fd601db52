"""Transition times of a run, with the project's fixed definitions (docs/theory/dmft.rst, Labels).

- Overfitting onset t_of: the first time the gap ratio (L_test - L_train) / L_test reaches 0.1.
- Width-correction crossover t_x: with dL(t, N) = L(t, N) - L(t, inf), the local width exponent
  kappa_N(t) = -log(dL(t, 2N) / dL(t, N)) / log 2 starts near 1 and ends near the late exponent
  m_late; t_x is the first time kappa_N crosses (1 + m_late) / 2. Undefined (NaN) when
  abs(m_late - 1) < 0.1.

Times are located by log-linear interpolation between grid points. Generators (theory curves)
and real runs use these same functions, so a label means the same thing everywhere.
"""

from __future__ import annotations

import math

import numpy as np

from toptraj.validation import check_finite_array, check_increasing, check_number

GAP_THRESHOLD = 0.1
#: t_x is undefined when the late width exponent is this close to the early one (1).
CROSSOVER_MIN_CONTRAST = 0.1


def first_reach(times, values, level: float, direction: int = 1) -> float:
    """First time ``values`` reaches ``level`` (>= for direction=+1, <= for -1); NaN if never.

    Parameters
    ----------
    times : array, shape (n,), strictly increasing and non-negative
    values : array, shape (n,); NaN entries are skipped (treated as not observed)
    level : float
    direction : +1 (reach from below) or -1 (reach from above)

    Returns
    -------
    float : ``times[0]`` if the first observed value already satisfies the condition; otherwise
    the log-linear interpolation between the last observation before and the first after
    (linear when the earlier time is 0).
    """
    t = check_increasing("times", times)
    if t[0] < 0:
        raise ValueError(f"times must be >= 0, got {t[0]}")
    y = np.asarray(values, dtype=np.float64)
    if y.shape != t.shape:
        raise ValueError(f"values has shape {y.shape}, times has {t.shape}; they must match")
    if direction not in (1, -1):
        raise ValueError(f"direction must be +1 or -1, got {direction!r}")
    level = check_number("level", level)
    ok = np.isfinite(y)
    t, y = t[ok], y[ok]
    d = direction * (y - level)  # >= 0 once the level is reached
    hit = np.nonzero(d >= 0)[0]
    if len(hit) == 0:
        return math.nan
    i = int(hit[0])
    if i == 0 or d[i] == 0:
        return float(t[i])
    w = d[i - 1] / (d[i - 1] - d[i])
    if t[i - 1] == 0:
        return float(w * t[i])
    return float(math.exp(math.log(t[i - 1]) + w * (math.log(t[i]) - math.log(t[i - 1]))))


def overfitting_onset(times, train_loss, test_loss, threshold: float = GAP_THRESHOLD) -> float:
    """t_of: first time (test - train) / test reaches ``threshold``; NaN if never. Shapes (n,).

    The definition is the one of the theory page ``docs/theory/dmft.rst`` (labels section): the
    gap ratio is interpolated linearly in log t between the grid points around the crossing.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.array([1.0, 10.0, 100.0, 1000.0])
    >>> test = np.array([1.0, 0.5, 0.4, 0.4])
    >>> train = np.array([1.0, 0.48, 0.3, 0.2])  # gap ratio 0, 0.04, 0.25, 0.5
    >>> round(overfitting_onset(t, train, test), 3)  # 0.1 is reached between t = 10 and 100
    19.307
    """
    train = check_finite_array("train_loss", train_loss, ndim=1)
    test = check_finite_array("test_loss", test_loss, ndim=1)
    if train.shape != test.shape:
        raise ValueError(f"train_loss has shape {train.shape}, test_loss {test.shape}; they must match")
    if np.any(test <= 0):
        raise ValueError("test_loss must be positive for the gap ratio (test - train) / test")
    return first_reach(times, (test - train) / test, threshold, +1)


def local_width_exponent(dl_n, dl_2n) -> np.ndarray:
    """kappa_N(t) = -log(dL(t, 2N) / dL(t, N)) / log 2, shape (n,); NaN where either dL <= 0."""
    a, b = np.asarray(dl_n, dtype=np.float64), np.asarray(dl_2n, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"dl_n has shape {a.shape}, dl_2n {b.shape}; they must match")
    out = np.full(a.shape, np.nan)
    ok = (a > 0) & (b > 0)
    out[ok] = -np.log(b[ok] / a[ok]) / math.log(2.0)
    return out


def width_crossover_time(times, kappa, m_late: float) -> float:
    """t_x: first time kappa_N(t) crosses (1 + m_late) / 2, moving from 1 towards m_late.

    NaN when abs(m_late - 1) < 0.1 (no contrast to locate) or when kappa never crosses.
    """
    if not math.isfinite(m_late) or abs(m_late - 1.0) < CROSSOVER_MIN_CONTRAST:
        return math.nan
    return first_reach(times, kappa, 0.5 * (1.0 + m_late), direction=1 if m_late > 1 else -1)
