import matplotlib.pyplot as plt
import pandas as pd
import pytest
from matplotlib.collections import PathCollection
from matplotlib.figure import Figure

from analysis.datasets.archers import simulate_archers
from analysis.models.ols import coef_table, fit_ols
from analysis.plots.archers import plot_archer_spread, plot_coefficients, plot_distance_by_bow
from analysis.plots.power import plot_power
from analysis.plots.style import set_style
from analysis.studies.power import bow_test_power


@pytest.fixture(autouse=True)
def _close_figures():
    set_style()
    yield
    plt.close("all")


def test_distance_plots_return_figures_with_all_points():
    exp = simulate_archers(3, 4, seed=1)
    for by_archer in (False, True):
        fig = plot_distance_by_bow(exp.data, by_archer=by_archer)
        assert isinstance(fig, Figure)
        points = sum(
            len(c.get_offsets()) for c in fig.axes[0].collections if isinstance(c, PathCollection)
        )
        assert points == len(exp.data)


def test_coefficient_power_and_spread_plots():
    exp = simulate_archers(5, 3, seed=2)
    table = coef_table(fit_ols(exp.data, "Distance ~ Bow + Name"))
    terms = [t for t in table.index if t.startswith("Name[")]
    fig = plot_coefficients(table, terms=terms, labels=[t[7:-1] for t in terms], title="x")
    assert len(fig.axes[0].get_yticklabels()) == len(terms)
    power = bow_test_power(["Distance ~ Bow"], n_experiments=5, n_archers=3, shots=2, seed=1)
    assert isinstance(plot_power(power), Figure)
    means = exp.data.groupby("Name", observed=True)["Distance"].mean()
    assert isinstance(plot_archer_spread(means, exp.archer_effects), Figure)


def test_plots_reject_missing_columns():
    with pytest.raises(ValueError, match="Distance"):
        plot_distance_by_bow(pd.DataFrame({"Bow": [], "Name": []}))
    with pytest.raises(ValueError, match="ci_low"):
        plot_coefficients(pd.DataFrame({"estimate": [1.0]}))
    with pytest.raises(ValueError, match="labels"):
        plot_coefficients(
            pd.DataFrame({"estimate": [1.0], "ci_low": [0.0], "ci_high": [2.0]}), labels=["a", "b"]
        )
    with pytest.raises(ValueError, match="at least one"):
        plot_archer_spread(pd.Series(dtype=float))


# ------------------------------------------------------------------------------------------
# Figures fit the book's text column
# ------------------------------------------------------------------------------------------

#: Width of the book's text column (sphinx-book-theme) in pixels: a wider image is shrunk,
#: and its labels with it.
TEXT_COLUMN_PX = 757


def rendered_size(fig: Figure) -> tuple[int, int]:
    """Size in pixels of the PNG that Jupyter's inline backend makes of ``fig``."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=fig.dpi, bbox_inches="tight")
    buffer.seek(0)
    return Image.open(buffer).size


def test_many_archers_make_a_slope_plot_with_a_few_highlighted():
    from analysis.plots.archers import MAX_ARCHERS_SHOWN

    exp = simulate_archers(MAX_ARCHERS_SHOWN + 12, 3, seed=4)
    fig = plot_distance_by_bow(exp.data, by_archer=True)
    ax = fig.axes[0]
    n_archers = exp.data["Name"].nunique()
    assert len(ax.lines) == n_archers  # one line per archer, from bow to bow
    names = [t.get_text() for t in ax.texts]
    assert len(names) == 3  # three archers highlighted and named
    means = exp.data.groupby(exp.data["Name"].astype(str))["Distance"].mean()
    assert means.idxmax() in names and means.idxmin() in names
    # Only the highlighted archers' shots are drawn.
    shots = sum(len(c.get_offsets()) for c in ax.collections if isinstance(c, PathCollection))
    assert shots == int(exp.data["Name"].astype(str).isin(names).sum())
    assert rendered_size(fig)[0] <= TEXT_COLUMN_PX
    chosen = [str(n) for n in exp.data["Name"].cat.categories[:2]]
    fig = plot_distance_by_bow(exp.data, by_archer=True, highlight=chosen)
    assert sorted(t.get_text() for t in fig.axes[0].texts) == sorted(chosen)
    with pytest.raises(ValueError, match="highlight"):
        plot_distance_by_bow(exp.data, by_archer=True, highlight=["Nobody"])
    for bad in (-1, 2.5, True):  # a count is a whole number of at least 0, not a bool
        with pytest.raises(ValueError, match="highlight must"):
            plot_distance_by_bow(exp.data, by_archer=True, highlight=bad)


def test_legend_above_keeps_the_legend_off_the_data():
    from analysis.plots.style import legend_above

    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1], label="a line")
    ax.plot([0, 1], [1, 0], label="another")
    ax.set_title("a title")
    legend_above(ax)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    legend_box = ax.get_legend().get_window_extent(renderer)
    assert legend_box.y0 >= ax.bbox.y1 - 1  # above the plotting area
    assert ax.title.get_window_extent(renderer).y0 >= legend_box.y1 - 1  # title above it


def test_chapter_figures_fit_the_text_column():
    import numpy as np
    import xarray as xr
    from xarray import DataTree

    from analysis import bayes
    from analysis.models.mixed import fit_random_intercept, shrinkage_table
    from analysis.models.profile import confint, profile
    from analysis.plots import bayes as bplots
    from analysis.plots import crossed as iv
    from analysis.plots import online as op
    from analysis.plots.mixed import plot_caterpillar, plot_profiles, plot_shrinkage
    from analysis.studies import prediction

    rng = np.random.default_rng(0)
    exp = simulate_archers(12, [1, 2, 3, 5, 8, 10, 20, 30, 2, 1, 4, 6], seed=5)
    fit = fit_random_intercept(exp.data, response="Distance", fixed=("Bow",), group="Name")
    curves = profile(fit, n_points=5)
    ratings = pd.DataFrame(
        {
            "y": rng.integers(1, 6, 400),
            "s": rng.integers(0, 60, 400),
            "d": rng.integers(0, 20, 400),
        }
    )
    effects = pd.DataFrame({"x": rng.normal(size=30), "y": rng.normal(size=30)})
    results = prediction.replicate([1, 2], n_units=300)
    posterior = {
        "mu": (("chain", "draw"), rng.normal(size=(2, 50))),
        "sigma_a": (("chain", "draw"), np.exp(rng.normal(size=(2, 50)))),
        "alpha": (("chain", "draw", "archer"), rng.normal(size=(2, 50, 3))),
    }
    diverging = rng.random((2, 50)) < 0.05
    idata = DataTree.from_dict(
        {
            "posterior": xr.Dataset(posterior),
            "sample_stats": xr.Dataset({"diverging": (("chain", "draw"), diverging)}),
        }
    )
    priors = {"A": bayes.SigmaPrior("halfnormal", 5.0), "B": bayes.SigmaPrior("gamma", 2.0)}
    draws = {"A": np.exp(rng.normal(size=200)), "B": np.exp(rng.normal(size=200))}
    figures = {
        "profiles": plot_profiles(curves, confint(fit), truth={"sd_(Intercept)|Name": 23.0}),
        "shrinkage": plot_shrinkage(shrinkage_table(fit), label_top=3),
        "caterpillar": plot_caterpillar(fit.blups, fit.blup_sd, sizes=fit.group_sizes),
        "ratings overview": iv.plot_ratings_overview(ratings),
        "effect comparison": bplots.plot_effect_comparison(
            {"s": effects, "d": effects, "dept": effects},
            [("x", "y"), ("y", "x"), ("x", "y")],
        ),
        "ADVI loss": bplots.plot_loss(np.linspace(100.0, 1.0, 300), title="t"),
        "RMSE panels": op.plot_rmse_panels(
            prediction.summarise(results),
            prediction.summarise(prediction.relative_rmse(results, "partial pooling (BLUP)")),
            reference="partial pooling (BLUP)",
        ),
        "funnels": bplots.plot_funnels({"centred": idata, "non-centred": idata}),
        "prior panels": bplots.plot_prior_sensitivity_panels(
            {"full": draws, "sparse": draws}, priors=priors
        ),
    }
    for name, fig in figures.items():
        width, _ = rendered_size(fig)
        assert width <= TEXT_COLUMN_PX, f"{name}: {width} px wide"
    # The caterpillar plot's group names stay readable: at least 9 points at 100 dpi.
    labels = figures["caterpillar"].axes[0].get_yticklabels()
    assert min(t.get_fontsize() for t in labels) >= 9
    # Stacked panels share one legend, above them.
    assert len(figures["RMSE panels"].legends) == 1
    assert len(figures["prior panels"].axes) == 2 and len(figures["prior panels"].legends) == 1
    # The funnel panels name their divergences in the titles.
    assert f"{int(diverging.sum())} divergent" in figures["funnels"].axes[0].get_title()
    with pytest.raises(ValueError, match="priors"):
        bplots.plot_prior_sensitivity_panels({"full": draws, "sparse": {"A": draws["A"]}})


def test_large_scale_figures_draw_what_they_are_given():
    from analysis.plots.large import plot_scaling, plot_solver_convergence

    fig = plot_solver_convergence({"backfitting": [1.0, 0.5, 0.1], "cg": [1.0, 1e-3]})
    lines = fig.axes[0].get_lines()
    assert [len(line.get_xdata()) for line in lines] == [3, 2]
    assert fig.axes[0].get_yscale() == "log"
    with pytest.raises(ValueError, match="at least one"):
        plot_solver_convergence({})
    with pytest.raises(ValueError, match="finite"):
        plot_solver_convergence({"cg": [1.0, float("nan")]})

    reml = pd.DataFrame(
        {
            "rows": [10, 100, 10, 100],
            "program": ["a", "a", "b", "b"],
            "status": ["ok", "ok", "ok", "not finished in 5 s"],
            "wall_seconds": [1.0, 20.0, 2.0, float("nan")],
        }
    )
    scale = pd.DataFrame(
        {
            "rows": [10, 100, 10, 100],
            "workers": [1, 1, 2, 2],
            "status": ["ok"] * 4,
            "fit_seconds": [1.0, 10.0, 0.6, 6.0],
        }
    )
    fig = plot_scaling(reml, scale)
    left, right = fig.axes
    # program b: one finished point on its line, one cross for the run that did not finish
    b_lines = [ln for ln in left.get_lines() if ln.get_color() == left.get_lines()[2].get_color()]
    assert sum(len(ln.get_xdata()) for ln in b_lines) == 2
    assert len(right.get_lines()) == 3  # 1 worker, 2 workers, the linear reference
    with pytest.raises(ValueError, match="fit_seconds"):
        plot_scaling(reml, scale.drop(columns="fit_seconds"))
