"""The simulators and figures of the part 'Beyond the normal'."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from scipy.special import expit

from analysis.datasets.online import simulate_clicks, simulate_visits
from analysis.plots.glmm import (
    plot_conditional_vs_marginal,
    plot_hit_rates,
    plot_log_loss_by_traffic,
    plot_quadrature_gap,
)


def test_clicks_are_seeded_and_recover_their_truth():
    a, b = simulate_clicks(3000, seed=5), simulate_clicks(3000, seed=5)
    pd.testing.assert_frame_equal(a.data, b.data)
    d = a.data
    assert (d["clicks"] <= d["impressions"]).all() and (d["impressions"] >= 1).all()
    # the true log-odds have the stated mean and SD
    assert a.click_logit.mean() == pytest.approx(a.intercept, abs=0.05)
    assert a.click_logit.std() == pytest.approx(a.advertiser_sd, rel=0.05)
    # clicks over impressions recover the impression-weighted true CTR
    p = expit(a.click_logit.to_numpy())
    expected = np.sum(d["impressions"] * p) / d["impressions"].sum()
    assert d["clicks"].sum() / d["impressions"].sum() == pytest.approx(expected, rel=0.03)
    assert d["advertiser"].is_unique


def test_visits_are_seeded_crossed_and_overdispersed():
    sim = simulate_visits(30, 15, seed=9)
    assert sim.data.equals(simulate_visits(30, 15, seed=9).data)
    d = sim.data
    assert len(d) == 30 * 15 and d.groupby(["site", "week"]).size().eq(1).all()
    assert d["visits"].var() > 1.5 * d["visits"].mean()  # over-dispersed, as built
    poisson = simulate_visits(
        30, 15, seed=9, site_sd=0.0, week_sd=0.0, extra_sd=0.0, promo_effect=0.0
    )
    assert poisson.data["visits"].mean() == pytest.approx(np.exp(poisson.intercept), rel=0.1)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: simulate_clicks(0, seed=1), "n_advertisers"),
        (lambda: simulate_clicks(10, seed="1"), "seed"),
        (lambda: simulate_clicks(10, seed=1, advertiser_sd=-1), "advertiser_sd"),
        (lambda: simulate_clicks(10, seed=1, median_impressions=0), "median_impressions"),
        (lambda: simulate_visits(1, 5, seed=1), "at least 2"),
        (lambda: simulate_visits(5, 5, seed=1, promo_share=1.0), "promo_share"),
        (lambda: simulate_visits(5, 5, seed=1, extra_sd=-0.1), "extra_sd"),
    ],
)
def test_simulators_refuse_bad_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_figures_draw_and_check_their_input():
    from analysis.datasets.archers import simulate_hits

    shots = simulate_hits(5, 2, seed=1).data
    assert isinstance(plot_hit_rates(shots), Figure)
    gap = pd.DataFrame(
        {"sd": [1.0, 1.0, 2.0, 2.0], "shots": [2, 4, 2, 4], "gap": [0.01, 0.005, 0.03, 0.02]}
    )
    assert isinstance(plot_quadrature_gap(gap), Figure)
    curves = pd.DataFrame(
        {
            "distance": [20.0, 40.0],
            "archer 0": [0.8, 0.5],
            "typical archer (b = 0)": [0.8, 0.5],
            "population average": [0.75, 0.5],
        }
    )
    assert isinstance(plot_conditional_vs_marginal(curves), Figure)
    losses = pd.DataFrame(
        {"small": [0.2, np.inf, 0.1], "large": [0.15, 0.12, 0.1]},
        index=["pooled", "per unit", "truth"],
    )
    fig = plot_log_loss_by_traffic(losses)
    assert len(fig.axes[0].lines) == 2  # pooled and the zero line; the infinite row is left out
    with pytest.raises(ValueError, match="reference"):
        plot_log_loss_by_traffic(losses, reference="oracle")
    with pytest.raises(ValueError):
        plot_hit_rates(shots.drop(columns="Bow"))
