"""Prediction error: the one root mean squared error every chapter and test uses."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.validation import finite_array

__all__ = ["rmse"]


def rmse(residuals: np.ndarray | pd.Series) -> float:
    """Return the root mean squared error of ``residuals`` (observed minus predicted).

    Raises
    ------
    ValueError
        If ``residuals`` is empty or holds a non-finite value.
    """
    r = finite_array("residuals", residuals, ndim=None)
    return float(np.sqrt(np.mean(r**2)))
