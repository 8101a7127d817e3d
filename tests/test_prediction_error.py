"""The two uncertainties of a predicted archer effect (chapter 5): conditional SD and PEV.

``prediction_errors`` is checked against lme4 (``scripts/lme4_pev.R``: ``ranef(condVar =
TRUE)`` and Henderson's C^{-1} computed in R), against a dense solve of the mixed-model
equations written out here, against statsmodels' conditional covariances and against
mixedlm's prediction standard errors, which use the same C^{-1} for ``x'beta + alpha_j``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.book.lme4 import lme4_reference
from analysis.datasets.archers import fifty_archers, simulate_archers, unbalanced_archers
from analysis.models.mixed import fit_random_intercept, prediction_errors
from analysis.studies.coverage import prediction_coverage_study

REFERENCE = Path(__file__).resolve().parents[1] / "data" / "reference" / "archers_pev_lme4.json"
EXPERIMENTS = {"archers_50": fifty_archers, "archers_50_unbalanced": unbalanced_archers}


@pytest.fixture(scope="module", params=sorted(EXPERIMENTS))
def case(request):
    experiment = EXPERIMENTS[request.param]()
    fit = fit_random_intercept(experiment.data, response="Distance", fixed=("Bow",), group="Name")
    return request.param, experiment, fit


def _dense_mme(fit) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """sigma_e^2 C^{-1} of Henderson's equations, written out densely; and X, Z."""
    x = np.asarray(fit.model.exog, dtype=float)
    groups = pd.Categorical(
        pd.Series(np.asarray(fit.model.groups)).astype(str), categories=list(fit.blups.index)
    )
    z = pd.get_dummies(groups, dtype=float).to_numpy()
    lam = fit.sd_resid**2 / fit.sd_group**2
    c = np.block([[x.T @ x, x.T @ z], [z.T @ x, z.T @ z + lam * np.eye(z.shape[1])]])
    return fit.sd_resid**2 * np.linalg.inv(c), x, z


def test_matches_lme4_condvar_and_henderson(case):
    name, _, fit = case
    ref = lme4_reference(name, REFERENCE)
    table = prediction_errors(fit)
    modes = ref.ranef.set_index("grp").loc[table.index.astype(str)]
    pev = pd.Series(ref.extras["pev_sd"]["pev_sd"], index=ref.extras["pev_sd"]["grp"])
    np.testing.assert_allclose(table["cond_sd"], modes["condsd"], rtol=1e-6)
    np.testing.assert_allclose(table["pev_sd"], pev.loc[table.index.astype(str)], rtol=1e-6)
    np.testing.assert_allclose(table["blup"], modes["condval"], atol=1e-5)


def test_matches_dense_mme_and_statsmodels(case):
    _, _, fit = case
    table = prediction_errors(fit)
    cinv, x, _ = _dense_mme(fit)
    p = x.shape[1]
    np.testing.assert_allclose(table["pev_sd"], np.sqrt(np.diag(cinv)[p:]), rtol=1e-10)
    # The fixed-effect block is the fixed effects' covariance (lme4's vcov).
    np.testing.assert_allclose(np.sqrt(np.diag(cinv)[:p]), fit.fixed["se"], rtol=1e-8)
    # The conditional SD is the fit's blup_sd and statsmodels' random_effects_cov.
    np.testing.assert_allclose(table["cond_sd"], fit.blup_sd, rtol=1e-10)
    sm = fit.result.random_effects_cov
    sm_sd = [float(np.sqrt(np.asarray(sm[g])[0, 0])) for g in fit.model.group_labels]
    np.testing.assert_allclose(
        table["cond_sd"].loc[[str(g) for g in fit.model.group_labels]], sm_sd, rtol=1e-5
    )
    # Counting the fixed effects' uncertainty can only widen the interval.
    assert (table["pev_sd"] > table["cond_sd"]).all()


def test_mixedlm_prediction_se_uses_the_same_inverse(case):
    """mixedlm's se_fit of x'beta + alpha_j is [x, z_j]' sigma^2 C^{-1} [x, z_j]."""
    from analysis.models.lmer import fit_lmer

    _, experiment, fit = case
    cinv, x, z = _dense_mme(fit)
    general = fit_lmer("Distance ~ Bow + (1 | Name)", experiment.data)
    se = np.asarray(general.predict(se_fit=True).se_fit)
    design = np.hstack([x, z])
    # mixedlm orders rows as the data; build_model keeps the data's order too.
    expected = np.sqrt(np.einsum("ij,jk,ik->i", design, cinv, design))
    np.testing.assert_allclose(se, expected, rtol=1e-4)


def test_balanced_decomposition():
    """Balanced: PEV^2 = k sigma_e^2/n + k^2 Var(mu_hat + tau_hat/2), the two parts apart."""
    experiment = fifty_archers()
    fit = fit_random_intercept(experiment.data)
    table = prediction_errors(fit)
    n = int(fit.group_sizes.iloc[0])
    k = fit.sd_group**2 / (fit.sd_group**2 + fit.sd_resid**2 / n)
    cinv, x, _ = _dense_mme(fit)
    centre = np.array([1.0, 0.5])  # mean over the two bows, shot equally often
    var_centre = centre @ cinv[:2, :2] @ centre
    np.testing.assert_allclose(
        table["pev_sd"] ** 2, table["cond_sd"] ** 2 + k**2 * var_centre, rtol=1e-10
    )
    assert table["pev_sd"].nunique() == 1 and table["pev_sd"].iloc[0] > 3 * table["cond_sd"].iloc[0]


def test_coverage_study_separates_the_two_intervals():
    experiment = simulate_archers(30, 10, seed=11)
    fit = fit_random_intercept(experiment.data)
    study = prediction_coverage_study(
        fit,
        n_sims=60,
        seed=5,
        beta=[experiment.mean, experiment.bow_effect],
        sd_group=experiment.archer_sd,
        sd_resid=experiment.shot_sd,
    )
    means = study.mean()
    assert len(study) == 60
    assert means["cond"] < 0.75 < 0.88 < means["cond_centred"]
    assert means["pev"] > 0.88 and means["pev_known"] > 0.88
    again = prediction_coverage_study(
        fit,
        n_sims=60,
        seed=5,
        beta=[experiment.mean, experiment.bow_effect],
        sd_group=experiment.archer_sd,
        sd_resid=experiment.shot_sd,
    )
    pd.testing.assert_frame_equal(study, again)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n_sims": 0, "seed": 1},
        {"n_sims": 2, "seed": -1},
        {"n_sims": 2, "seed": 1, "level": 1.5},
        {"n_sims": 2, "seed": 1, "beta": [1.0]},
        {"n_sims": 2, "seed": 1, "sd_group": 0.0},
    ],
)
def test_coverage_study_rejects_bad_input(kwargs):
    fit = fit_random_intercept(simulate_archers(5, 4, seed=3).data)
    with pytest.raises(ValueError):
        prediction_coverage_study(fit, **kwargs)


def test_prediction_errors_rejects_other_objects():
    with pytest.raises(ValueError):
        prediction_errors(object())


def test_caterpillar_draws_prediction_error_bars():
    import matplotlib.pyplot as plt

    from analysis.plots.mixed import plot_caterpillar

    fit = fit_random_intercept(simulate_archers(8, 5, seed=2).data)
    table = prediction_errors(fit)
    fig = plot_caterpillar(fit.blups, fit.blup_sd, pev_sd=table["pev_sd"])
    try:
        labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
        assert any("prediction-error" in label for label in labels)
    finally:
        plt.close(fig)
    with pytest.raises(ValueError):
        plot_caterpillar(fit.blups, fit.blup_sd, pev_sd=table["pev_sd"].iloc[:3])
