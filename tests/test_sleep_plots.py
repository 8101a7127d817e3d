"""The sleepstudy chapter's figures: size, panels, and refusal of bad input."""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from analysis.plots.mixed import (
    INTERCEPT,
    plot_ranef_qq,
    plot_residual_spread,
    plot_residuals_fitted,
    plot_shrinkage_2d,
    plot_subject_panels,
)
from analysis.plots.style import set_style

#: The book's text column is 757 px wide; figures are drawn at 100 dpi.
MAX_WIDTH_IN = 7.5


@pytest.fixture(autouse=True)
def _close_figures():
    set_style()
    yield
    plt.close("all")


@pytest.fixture
def study():
    """Seven subjects, ten days each, with known lines plus noise (seeded)."""
    rng = np.random.default_rng(20240611)
    subjects = [f"s{i}" for i in range(7)]
    intercepts = 250 + rng.normal(0, 25, len(subjects))
    slopes = 10 + rng.normal(0, 6, len(subjects))
    days = np.arange(10.0)
    rows = [
        {"Subject": s, "Days": d, "Reaction": a + b * d + rng.normal(0, 20)}
        for s, a, b in zip(subjects, intercepts, slopes, strict=True)
        for d in days
    ]
    data = pd.DataFrame(rows)
    own = pd.DataFrame(
        {s: np.polyfit(g["Days"], g["Reaction"], 1)[::-1] for s, g in data.groupby("Subject")},
        index=[INTERCEPT, "Days"],
    ).T
    model = own * 0.8 + own.mean() * 0.2
    return data, own, model


def _check_size(fig):
    assert isinstance(fig, Figure)
    width, height = fig.get_size_inches()
    assert width <= MAX_WIDTH_IN and 2.5 <= height <= 9


def _visible_axes(fig):
    return [ax for ax in fig.axes if ax.get_visible()]


def test_subject_panels_draw_one_panel_per_subject(study):
    data, own, model = study
    fig = plot_subject_panels(data, own, model, population=(250.0, 10.0), ncols=4)
    _check_size(fig)
    axes = _visible_axes(fig)
    assert len(axes) == 7 and len(fig.axes) == 8  # a 2 x 4 grid, the last panel hidden
    # Ordered by the subjects' own slopes, flattest first.
    titles = [ax.get_title() for ax in axes]
    assert titles == list(own["Days"].sort_values().index)
    # Every panel: its ten points, the population, own and model lines.
    for ax in axes:
        assert len(ax.collections[0].get_offsets()) == 10
        assert len(ax.lines) == 3
    assert len(fig.legends[0].get_texts()) == 4


def test_subject_panels_refuse_bad_input(study):
    data, own, model = study
    with pytest.raises(ValueError, match="Reaction"):
        plot_subject_panels(data.drop(columns="Reaction"), own, model)
    with pytest.raises(ValueError, match="missing"):
        plot_subject_panels(data, own.drop(index="s3"), model)
    with pytest.raises(ValueError, match=r"\(Intercept\)"):
        plot_subject_panels(data, own.drop(columns=INTERCEPT), model)
    with pytest.raises(ValueError, match="ncols"):
        plot_subject_panels(data, own, model, ncols=0)
    with pytest.raises(ValueError, match="infinite"):
        plot_subject_panels(data, own.assign(Days=np.nan), model)


def test_shrinkage_2d_draws_arrows_contours_and_points(study):
    _, own, model = study
    cov = np.array([[600.0, 10.0], [10.0, 35.0]])
    fig = plot_shrinkage_2d(own, model, (250.0, 10.0), cov, levels=(0.5, 0.95), label_top=2)
    _check_size(fig)
    (ax,) = fig.axes
    assert len(ax.lines) == 2  # one contour per level
    assert len(ax.collections) == 3  # own fits, model, fixed effects
    arrows = [t for t in ax.texts if t.arrow_patch is not None]
    assert len(arrows) == len(own)
    assert len(ax.texts) == len(own) + 2  # arrows plus two labels


def test_shrinkage_2d_contour_holds_the_stated_share():
    rng = np.random.default_rng(7)
    cov = np.array([[4.0, 1.5], [1.5, 2.0]])
    draws = rng.multivariate_normal([1.0, -1.0], cov, size=20000)
    inside = np.einsum("ij,jk,ik->i", draws - [1.0, -1.0], np.linalg.inv(cov), draws - [1.0, -1.0])
    from analysis.plots.mixed import _ellipse

    ring = _ellipse(np.array([1.0, -1.0]), cov, 0.5)
    radius2 = np.einsum("ij,jk,ik->i", ring - [1.0, -1.0], np.linalg.inv(cov), ring - [1.0, -1.0])
    assert np.allclose(radius2, radius2[0])
    assert abs(np.mean(inside <= radius2[0]) - 0.5) < 0.01


def test_shrinkage_2d_refuses_bad_input(study):
    _, own, model = study
    good = np.array([[600.0, 10.0], [10.0, 35.0]])
    with pytest.raises(ValueError, match="positive definite"):
        plot_shrinkage_2d(own, model, (250.0, 10.0), np.array([[1.0, 1.0], [1.0, 1.0]]))
    with pytest.raises(ValueError, match="symmetric"):
        plot_shrinkage_2d(own, model, (250.0, 10.0), np.array([[1.0, 0.5], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="center"):
        plot_shrinkage_2d(own, model, (250.0,), good)
    with pytest.raises(ValueError, match="same groups"):
        plot_shrinkage_2d(own, model.drop(index="s0"), (250.0, 10.0), good)
    with pytest.raises(ValueError, match="levels"):
        plot_shrinkage_2d(own, model, (250.0, 10.0), good, levels=(0.5, 1.0))


def test_residual_plots(study):
    data, own, _ = study
    fitted = (
        own.loc[data["Subject"], INTERCEPT].to_numpy()
        + own.loc[data["Subject"], "Days"].to_numpy() * data["Days"].to_numpy()
    )
    resid = data["Reaction"].to_numpy() - fitted
    fig = plot_residuals_fitted(fitted, resid, sigma=20.0)
    _check_size(fig)
    (ax,) = fig.axes
    assert len(ax.collections[0].get_offsets()) == len(data)
    fig = plot_residual_spread(resid, data["Subject"], sigma=20.0)
    _check_size(fig)
    (ax,) = fig.axes
    labels = [t.get_text() for t in ax.get_xticklabels()]
    spread = pd.Series(resid).groupby(data["Subject"].to_numpy()).std()
    assert labels == list(spread.sort_values().index)


def test_residual_plots_refuse_bad_input():
    with pytest.raises(ValueError, match="differ in length"):
        plot_residuals_fitted([1.0, 2.0, 3.0], [0.1, 0.2])
    with pytest.raises(ValueError, match="infinite"):
        plot_residuals_fitted([1.0, 2.0, np.nan], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="sigma"):
        plot_residuals_fitted([1.0, 2.0, 3.0], [0.1, 0.2, 0.3], sigma=-1.0)
    with pytest.raises(ValueError, match="differ in length"):
        plot_residual_spread([0.1, 0.2, 0.3], ["a", "a"])
    with pytest.raises(ValueError, match="two residuals"):
        plot_residual_spread([0.1, 0.2, 0.3], ["a", "a", "b"])


def test_ranef_qq_draws_one_panel_per_term():
    rng = np.random.default_rng(3)
    modes = pd.DataFrame(
        rng.normal(size=(18, 2)), columns=[INTERCEPT, "Days"], index=[f"s{i}" for i in range(18)]
    )
    fig = plot_ranef_qq(modes, label_top=2)
    _check_size(fig)
    assert len(fig.axes) == 2
    for ax, term in zip(fig.axes, modes.columns, strict=True):
        assert ax.get_title() == term
        points = ax.collections[0].get_offsets()
        assert len(points) == 18 and np.all(np.diff(points[:, 1]) >= 0)
        assert len(ax.texts) == 2
    # R's ppoints: with 18 groups, the first probability is (1 - 0.5) / 18.
    from scipy import stats

    assert fig.axes[0].collections[0].get_offsets()[0, 0] == pytest.approx(stats.norm.ppf(0.5 / 18))


def test_ranef_qq_refuses_bad_input():
    with pytest.raises(ValueError, match="DataFrame"):
        plot_ranef_qq(pd.DataFrame())
    with pytest.raises(ValueError, match="at least 3"):
        plot_ranef_qq(pd.DataFrame({"a": [1.0, 2.0]}))
    with pytest.raises(ValueError, match="infinite"):
        plot_ranef_qq(pd.DataFrame({"a": [1.0, 2.0, np.inf]}))


def test_residual_spread_bands_mark_the_groups_outside_their_band():
    from analysis.models.slopes import ResidualSpreadBootstrap
    from analysis.plots.slopes import plot_residual_spread_bands

    rng = np.random.default_rng(3)
    simulated = np.sort(rng.normal(20, 3, (200, 6)), axis=1)
    observed = pd.Series([5.0, 18.0, 19.0, 21.0, 22.0, 60.0], index=list("abcdef"))
    boot = ResidualSpreadBootstrap(observed=observed, simulated=simulated, n_failed=0, seed=3)
    bands = boot.bands()
    assert bands["outside"].tolist() == [True, False, False, False, False, True]
    fig = plot_residual_spread_bands(boot, sigma=20.0)
    assert isinstance(fig, Figure)
    width, _ = fig.get_size_inches()
    assert width <= MAX_WIDTH_IN and fig.legends
    markers = [c for c in fig.axes[0].collections if c.get_offsets().size]
    assert sum(len(c.get_offsets()) for c in markers[-2:]) == 6  # inside and outside points
    with pytest.raises(ValueError, match="two samples"):
        plot_residual_spread_bands(
            ResidualSpreadBootstrap(observed=observed, simulated=simulated[:1], n_failed=0, seed=3)
        )
