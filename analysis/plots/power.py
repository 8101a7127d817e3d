"""Figures of power studies: how often a test rejects.

The studies are in :mod:`analysis.studies.power`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from analysis.plots.style import figure_axes
from analysis.validation import require_columns

__all__ = ["plot_power"]


def plot_power(power: pd.DataFrame, *, ax: Axes | None = None) -> Figure:
    """Bar chart of rejection rates with 95% Monte Carlo intervals, one bar per model.

    Parameters
    ----------
    power
        A table from :func:`analysis.studies.power.bow_test_power` (columns ``power`` and
        ``mc_se``), indexed by model.
    ax
        Axes to draw on; a new figure is made if omitted.

    Returns
    -------
    matplotlib.figure.Figure
        The figure.
    """
    require_columns(power, ["power", "mc_se"], argname="power")
    fig, ax = figure_axes(ax, (6.5, 0.6 * len(power) + 1.6))
    y = np.arange(len(power))
    ax.barh(
        y,
        100 * power["power"],
        color="#5d6d7e",
        height=0.55,
        xerr=100 * 1.96 * power["mc_se"],
        capsize=3,
    )
    ax.set_yticks(y, [str(i) for i in power.index])
    ax.set_xlim(0, 100)
    ax.set_xlabel("Experiments in which the bow effect is significant at 5% (%)")
    ax.set_title("Power of the bow test")
    fig.tight_layout()
    return fig
