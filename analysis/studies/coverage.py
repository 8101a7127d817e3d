r"""How often an interval covers the truth, by simulation.

Two studies, each of which simulates many data sets from a known truth, refits a model to each
and records whether its intervals cover that truth:

- :func:`coverage_study`: the Wald interval for the bow effect of the archer data, under the
  random-intercept model ``(1 | Name)`` and the random-slopes model ``(1 + Bow | Name)``, when
  the bow costs each archer a different amount (:class:`CoverageStudy` holds the intervals);
- :func:`prediction_coverage_study`: the prediction intervals of the group effects of a
  random-intercept fit, with the conditional and the prediction-error SDs.

The models and their refits are in :mod:`analysis.models.slopes` and
:mod:`analysis.models.mixed`; the archer simulator is
:func:`analysis.datasets.archers.simulate_archers`.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import mixedlm
import numpy as np
import pandas as pd
from scipy import stats

from analysis.datasets.archers import ArcherExperiment, simulate_archers
from analysis.models.likelihood import RandomInterceptLikelihood
from analysis.models.mixed import MixedFit, prediction_error_sds
from analysis.models.slopes import (
    INTERCEPT_FORMULA,
    MODEL_LABELS,
    SLOPE_FORMULA,
    bow_term,
    check_optimizer,
    one_blas_thread,
    refit_response,
)
from analysis.validation import (
    check_level,
    check_positive,
    check_positive_int,
    check_seed,
    finite_array,
)

__all__ = ["CoverageStudy", "coverage_study", "prediction_coverage_study"]


@dataclass(frozen=True)
class CoverageStudy:
    r"""The Wald intervals for the bow effect in every replication of :func:`coverage_study`.

    Attributes
    ----------
    intervals
        One row per replication and model: ``replicate``, ``seed``, ``model`` (label from
        :data:`analysis.models.slopes.MODEL_LABELS`), ``estimate``, ``se``, ``lower``,
        ``upper``, ``covers`` (bool) and ``singular`` (whether mixedlm's ``isSingular`` flags
        the fit).
    truth
        The true bow effect :math:`\tau` of the simulation.
    level
        The intervals' confidence level.
    n_reps
        The number of replications.
    settings
        The simulation's settings (archers, shots, SDs, correlation).
    """

    intervals: pd.DataFrame
    truth: float
    level: float
    n_reps: int
    settings: dict[str, float]

    def summary(self) -> pd.DataFrame:
        r"""Coverage per model, with its Monte Carlo SE, and how the SEs compare.

        Returns
        -------
        pandas.DataFrame
            Indexed by model: ``coverage`` (share of intervals covering the truth),
            ``mc_se`` (its binomial standard error, :math:`\sqrt{\hat p(1-\hat p)/R}`),
            ``mean_se`` (the average reported standard error), ``sd_estimate`` (the actual
            SD of the estimates over the replications), ``se_ratio`` (their ratio: 1 when
            the reported SE is honest) and ``singular`` (share of singular fits).
        """
        grouped = self.intervals.groupby("model", sort=False)
        out = pd.DataFrame(
            {
                "coverage": grouped["covers"].mean(),
                "mean_se": grouped["se"].mean(),
                "sd_estimate": grouped["estimate"].std(ddof=1),
                "singular": grouped["singular"].mean(),
            }
        )
        n = grouped.size()
        out.insert(1, "mc_se", np.sqrt(out["coverage"] * (1 - out["coverage"]) / n))
        out.insert(4, "se_ratio", out["mean_se"] / out["sd_estimate"])
        out.index.name = "model"
        return out


def _same_design(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    """Whether two archer data sets have the same rows in the same order of bow and archer."""
    return (
        len(a) == len(b)
        and np.array_equal(a["Name"].cat.codes.to_numpy(), b["Name"].cat.codes.to_numpy())
        and np.array_equal(a["Bow"].cat.codes.to_numpy(), b["Bow"].cat.codes.to_numpy())
    )


def coverage_study(
    n_reps: int = 400,
    *,
    seed: int,
    n_archers: int = 50,
    shots: int = 10,
    bow_sd: float = 4.0,
    skill_bow_corr: float = 0.5,
    level: float = 0.95,
    formulas: Sequence[str] = (INTERCEPT_FORMULA, SLOPE_FORMULA),
    optimizer: str = "L-BFGS-B",
    **simulation: float,
) -> CoverageStudy:
    r"""Simulate archer experiments and record each model's Wald interval for the bow effect.

    Replication ``r`` simulates :func:`analysis.datasets.archers.simulate_archers` with seed
    ``seed + r`` and fits each model by REML (lme4's default) with mixedlm; the interval is
    mixedlm's ``confint(method="Wald")``, estimate :math:`\pm z_{(1+\text{level})/2}`
    standard errors.

    Parameters
    ----------
    n_reps
        Number of simulated experiments.
    seed
        Seed of the first replication.
    n_archers, shots
        Design: archers, and shots per archer and bow (balanced).
    bow_sd
        SD of the archers' own bow effects (0: the bow costs everybody the same).
    skill_bow_corr
        Correlation between skill and own bow effect (must be 0 when ``bow_sd`` is 0).
    level
        Confidence level of the intervals.
    formulas
        The models, in lme4 syntax; they must have the fixed effects ``Bow`` and an
        intercept.
    optimizer
        How the replications are refitted: ``"L-BFGS-B"`` (fast, see
        :mod:`analysis.models.slopes`) or mixedlm's default ``"auto"``.
    **simulation
        Further arguments of :func:`~analysis.datasets.archers.simulate_archers` (``mean``,
        ``bow_effect``, ``archer_sd``, ``shot_sd``).

    Returns
    -------
    CoverageStudy
        The intervals; :meth:`CoverageStudy.summary` gives the coverage per model.

    Raises
    ------
    ValueError
        For a non-positive ``n_reps``, a ``level`` outside (0, 1), an empty or repeated
        ``formulas``, bad simulation settings (the simulator names the argument), or if a
        fit fails.
    """
    n_reps = check_positive_int("n_reps", n_reps)
    seed = check_seed(seed)
    level = check_level(level)
    optimizer = check_optimizer(optimizer)
    formulas = list(formulas)
    if not formulas or len(set(formulas)) != len(formulas):
        raise ValueError(f"formulas must be one or more distinct formulas, got {formulas}")
    allowed = {"mean", "bow_effect", "archer_sd", "shot_sd"}
    unknown = set(simulation) - allowed
    if unknown:
        raise ValueError(f"unknown simulation settings {sorted(unknown)}; allowed: {allowed}")

    def simulate(r: int) -> ArcherExperiment:
        return simulate_archers(
            n_archers,
            shots,
            seed=seed + r,
            bow_sd=bow_sd,
            skill_bow_corr=skill_bow_corr,
            **simulation,
        )

    first = simulate(0)
    rows: list[dict[str, object]] = []
    with one_blas_thread():
        templates = {}
        for formula in formulas:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                templates[formula] = mixedlm.lmer(formula, first.data, REML=True)
            bow_term(templates[formula])
        for r in range(n_reps):
            experiment = first if r == 0 else simulate(r)
            if not _same_design(experiment.data, first.data):  # pragma: no cover - by design
                raise ValueError("the simulated design changed between replications")
            y = experiment.data["Distance"].to_numpy(float)
            for formula, template in templates.items():
                fit = template if r == 0 else refit_response(template, y, optimizer)
                if fit is None:
                    raise ValueError(f"replication {r}: the fit of {formula!r} failed")
                term = bow_term(fit)
                lower, upper = fit.confint(parm=term, level=level, method="Wald")[term]
                se = float(np.sqrt(fit.vcov()[1, 1]))
                rows.append(
                    {
                        "replicate": r,
                        "seed": seed + r,
                        "model": MODEL_LABELS.get(formula, formula),
                        "estimate": float(fit.fixef()[term]),
                        "se": se,
                        "lower": float(lower),
                        "upper": float(upper),
                        "covers": bool(lower <= first.bow_effect <= upper),
                        "singular": bool(fit.isSingular()),
                    }
                )
    settings = {
        "n_archers": float(n_archers),
        "shots": float(shots),
        "bow_sd": float(first.bow_sd),
        "skill_bow_corr": float(first.skill_bow_corr),
        "archer_sd": float(first.archer_sd),
        "shot_sd": float(first.shot_sd),
    }
    return CoverageStudy(
        intervals=pd.DataFrame(rows),
        truth=float(first.bow_effect),
        level=level,
        n_reps=n_reps,
        settings=settings,
    )


def prediction_coverage_study(
    fit: MixedFit,
    *,
    n_sims: int,
    seed: int,
    level: float = 0.95,
    beta: Sequence[float] | np.ndarray | None = None,
    sd_group: float | None = None,
    sd_resid: float | None = None,
) -> pd.DataFrame:
    r"""Coverage of prediction intervals for the group effects, simulated on a fit's design.

    Each replicate keeps the fit's design (its :math:`X` and groups), draws new group effects
    :math:`\alpha_j \sim N(0, \sigma_a^2)` and new data from the model, refits it by REML (the
    closed-form criterion of :mod:`analysis.models.likelihood`) and records, for the intervals
    :math:`\hat\alpha_j \pm z\,\mathrm{SD}_j`, the share of groups whose truth they cover:

    - ``cond_centred``: conditional SDs against the centred truth :math:`\alpha_j - \bar\alpha`;
    - ``cond``: conditional SDs against the truth :math:`\alpha_j` itself;
    - ``pev``: prediction-error SDs against :math:`\alpha_j`;
    - ``pev_known``: prediction-error SDs at the *true* SDs (not the estimates) against
      :math:`\alpha_j`, which isolates the cost of plugging in :math:`\hat\sigma_a, \hat\sigma_e`.

    Parameters
    ----------
    fit
        A fit from :func:`analysis.models.mixed.fit_random_intercept`; supplies the design.
    n_sims
        Number of simulated data sets.
    seed
        Seed of the random generator.
    level
        Coverage level of the intervals.
    beta, sd_group, sd_resid
        The truth to simulate from (fixed effects in the order of ``fit.fixed``, the two SDs);
        by default the fit's estimates. ``sd_group`` must be positive.

    Returns
    -------
    pandas.DataFrame
        One row per replicate: the four coverage shares, ``mu_error`` (the estimated minus the
        true first fixed effect) and the mean ``cond_sd`` and ``pev_sd``.
    """
    if not isinstance(fit, MixedFit) or fit.model is None:
        raise ValueError("prediction_coverage_study needs a MixedFit from fit_random_intercept")
    n_sims = check_positive_int("n_sims", n_sims)
    rng = np.random.default_rng(check_seed(seed))
    z = float(stats.norm.ppf(0.5 + check_level(level) / 2))
    estimates = fit.fixed["estimate"].to_numpy(float)
    true_beta = estimates if beta is None else finite_array("beta", beta)
    if true_beta.shape != (len(fit.fixed),):
        raise ValueError(f"beta must hold {len(fit.fixed)} finite fixed effects, got {beta!r}")
    sd_a = check_positive("sd_group", fit.sd_group if sd_group is None else sd_group)
    sd_e = check_positive("sd_resid", fit.sd_resid if sd_resid is None else sd_resid)
    x = np.asarray(fit.model.exog, dtype=float)
    codes = pd.Categorical(
        pd.Series(np.asarray(fit.model.groups)).astype(str), categories=list(fit.blups.index)
    ).codes
    n_groups = fit.n_groups
    mean = x @ true_beta
    _, pev_known = prediction_error_sds(x, codes, n_groups, sd_a, sd_e)
    rows = []
    for _ in range(n_sims):
        alpha = rng.normal(0.0, sd_a, size=n_groups)
        y = mean + alpha[codes] + rng.normal(0.0, sd_e, size=codes.size)
        lik = RandomInterceptLikelihood(y, x, codes)
        est = lik.fit(reml=True)
        modes, _ = lik.modes(est.sd_group, est.sd_resid)
        cond_sd, pev_sd = prediction_error_sds(x, codes, n_groups, est.sd_group, est.sd_resid)
        error = modes - alpha
        centred = modes - (alpha - alpha.mean())
        rows.append(
            {
                "cond_centred": float(np.mean(np.abs(centred) <= z * cond_sd)),
                "cond": float(np.mean(np.abs(error) <= z * cond_sd)),
                "pev": float(np.mean(np.abs(error) <= z * pev_sd)),
                "pev_known": float(np.mean(np.abs(error) <= z * pev_known)),
                "mu_error": float(lik.beta(est.sd_group, est.sd_resid)[0] - true_beta[0]),
                "cond_sd": float(cond_sd.mean()),
                "pev_sd": float(pev_sd.mean()),
            }
        )
    return pd.DataFrame(rows)
