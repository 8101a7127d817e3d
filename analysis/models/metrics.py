"""Prediction error: the one root mean squared error every chapter and test uses."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["rmse"]


def rmse(residuals: np.ndarray | pd.Series) -> float:
    """Return the root mean squared error of ``residuals`` (observed minus predicted).

    Raises
    ------
    ValueError
        If ``residuals`` is empty or holds a non-finite value.
    """
    r = np.asarray(residuals, dtype=float)
    if r.size == 0 or not np.all(np.isfinite(r)):
        raise ValueError("residuals must be a non-empty array of finite numbers")
    return float(np.sqrt(np.mean(r**2)))
