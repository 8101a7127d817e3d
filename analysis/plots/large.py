"""Figures of the chapter on scale: solver convergence, and time against rows from ``bench/``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from analysis.plots.style import figure_axes, legend_above
from analysis.validation import finite_array, require_columns

__all__ = ["plot_solver_convergence", "plot_scaling"]

_COLORS = ("#2e86c1", "#b03a2e", "#27ae60", "#8e44ad")

#: Ratio of rows between neighbouring "did not finish" markers (one marker width on the log axis).
_FAILED_SPREAD = 1.45


def plot_solver_convergence(
    histories: Mapping[str, Sequence[float]], *, ax: Axes | None = None
) -> Figure:
    """Plot the largest change of any estimate per iteration, one line per solver (log scale).

    Parameters
    ----------
    histories
        Solver label to its per-iteration changes (``LargeFit.history``).
    ax
        Axes to draw on; a new figure is made if omitted.
    """
    if not histories:
        raise ValueError("histories must hold at least one solver")
    fig, ax = figure_axes(ax, (7.0, 3.8))
    for k, (label, history) in enumerate(histories.items()):
        values = finite_array(f"the history of {label!r}", history, ndim=None)
        ax.plot(
            np.arange(1, values.size + 1),
            np.maximum(values, 1e-16),
            color=_COLORS[k % len(_COLORS)],
            lw=2,
            label=f"{label} ({values.size} iterations)",
        )
    ax.set_yscale("log")
    ax.set_xscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel("largest change of any estimate")
    legend_above(ax)
    fig.tight_layout()
    return fig


def plot_scaling(reml: pd.DataFrame, scale: pd.DataFrame) -> Figure:
    """Two panels from ``bench/bench_large.py``: exact REML, and moments + CG on Dask.

    Parameters
    ----------
    reml
        Columns ``rows``, ``program``, ``status`` and ``wall_seconds`` (``large_reml.csv``).
        Runs that did not finish or were refused are marked at the top of the panel.
    scale
        Columns ``rows``, ``workers``, ``status`` and ``fit_seconds`` (``large_scale.csv``).
    """
    require_columns(reml, ["rows", "program", "status", "wall_seconds"])
    require_columns(scale, ["rows", "workers", "status", "fit_seconds"])
    fig, (left, right) = plt.subplots(1, 2, figsize=(7.3, 3.9), sharey=True, layout="constrained")
    top = float(np.nanmax([reml["wall_seconds"].max(), scale["fit_seconds"].max()])) * 3
    status = reml.groupby("program", sort=False)["status"]
    failing = [str(p) for p, st in status if (st != "ok").any()]
    for k, (program, runs) in enumerate(reml.groupby("program", sort=False)):
        colour = _COLORS[k % len(_COLORS)]
        done = runs[runs["status"] == "ok"]
        left.plot(
            done["rows"], done["wall_seconds"], "o-", color=colour, lw=2, ms=5, label=str(program)
        )
        failed = runs[runs["status"] != "ok"]
        if failed.empty:
            continue
        # Side by side, a marker's width apart on the log axis, centred on the size at which
        # they failed, so that programs failing at the same size do not hide each other.
        shift = _FAILED_SPREAD ** (failing.index(str(program)) - (len(failing) - 1) / 2)
        left.plot(
            failed["rows"] * shift,
            np.full(len(failed), top),
            "x",
            color=colour,
            ms=8,
            mew=2,
            clip_on=False,
        )
    left.set_title("exact REML (whole process)")
    for k, (workers, runs) in enumerate(scale.groupby("workers")):
        done = runs[runs["status"] == "ok"].sort_values("rows")
        right.plot(
            done["rows"],
            done["fit_seconds"],
            "o-",
            color=_COLORS[k],
            lw=2,
            ms=5,
            label=f"{workers} worker{'s' if workers > 1 else ''}",
        )
    ok = scale[scale["status"] == "ok"]
    if len(ok):
        anchor = ok.loc[ok["rows"].idxmax()]
        grid = np.array([ok["rows"].min(), ok["rows"].max()], dtype=float)
        right.plot(
            grid,
            anchor["fit_seconds"] * grid / anchor["rows"],
            ":",
            color="grey",
            label="linear in rows",
        )
    right.set_title("moments + CG on Dask (fit)")
    for ax in (left, right):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("rows")
        ax.legend(frameon=False, fontsize=8, loc="upper left")
    left.set_ylabel("seconds (x: did not finish)")
    if failing:
        bottom = left.get_ylim()[0]
        left.set_ylim(bottom, top * 2.5)  # the markers sit inside the panel, not on its edge
        first = float(reml.loc[reml["status"] != "ok", "rows"].min())
        left.annotate(
            "did not finish",
            (first / _FAILED_SPREAD ** (len(failing) / 2), top),
            xytext=(-4, 0),
            textcoords="offset points",
            ha="right",
            va="center",
            fontsize=8,
        )
    return fig
