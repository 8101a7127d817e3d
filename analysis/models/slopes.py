r"""Random slopes for the archer data: does the bow cost every archer the same.

The random-slopes chapter needs four things beyond what mixedlm (the Python port of lme4)
fits and prints itself, and they live here:

- :func:`coverage_study`, a seeded simulation of how often the Wald interval for the bow effect
  covers the truth when the bow costs each archer a different amount, under the
  random-intercept model ``(1 | Name)`` and the random-slopes model ``(1 + Bow | Name)``;
- :func:`bootstrap_lrt`, a parametric bootstrap of the likelihood-ratio statistic's null
  distribution, with the chi-square mixture of Stram and Lee (1994) as the asymptotic reference
  (:func:`chi2_mixture_sf`, :func:`chi2_mixture_ppf`);
- :func:`singular_rate` and :func:`singular_example`: how often the random-slopes fit lands on
  the boundary of its parameter space, and a small data set on which it does;
- :func:`residual_spread_bootstrap`, a parametric bootstrap of the groups' residual SDs (the
  sleepstudy chapter's check of one residual SD for every subject);
- the chapter's figures.

All fitting is mixedlm's: :func:`mixedlm.lmer` fits the template model once and the
simulations re-use its design through ``LmerResult.refit`` (new response, same formula and
design matrices), which is what makes hundreds of fits take seconds. Two choices keep them
fast. BLAS runs on one thread during the loops: on a small, busy machine a multi-threaded BLAS
makes each of these tiny fits tens of times slower. And the refits use mixedlm's L-BFGS-B
with exact gradients (``optimizer="L-BFGS-B"``): mixedlm's default (``"auto"``) runs the same
optimizer but, whenever a variance in a correlated block ends near zero, which under a null
hypothesis of no slope variance is most of the time, tries COBYQA as well, twenty times
slower, to gain a few hundred-thousandths of a unit of deviance (the tests check the two
agree).
"""

from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import mixedlm
import numpy as np
import pandas as pd
from mixedlm.models.lmer import LmerResult
from scipy import optimize, stats

from analysis.datasets.archers import BOWS, ArcherExperiment, simulate_archers
from analysis.validation import (
    check_level,
    check_nonnegative,
    check_positive_int,
    check_seed,
    require_columns,
)

__all__ = [
    "INTERCEPT_FORMULA",
    "SLOPE_FORMULA",
    "INTERACTION_FORMULA",
    "MODEL_LABELS",
    "OPTIMIZERS",
    "CoverageStudy",
    "coverage_study",
    "bow_term",
    "chi2_mixture_sf",
    "chi2_mixture_ppf",
    "BootstrapLRT",
    "bootstrap_lrt",
    "information_criteria",
    "singular_rate",
    "SINGULAR_SEED",
    "SINGULAR_DESIGN",
    "singular_example",
    "archer_bow_differences",
    "ResidualSpreadBootstrap",
    "residual_spread_bootstrap",
]

#: The random-intercept model of the earlier chapters: one bow effect for every archer.
INTERCEPT_FORMULA = "Distance ~ Bow + (1 | Name)"
#: The random-slopes model: each archer has an intercept and a bow effect of their own.
SLOPE_FORMULA = "Distance ~ Bow + (1 + Bow | Name)"
#: The archer-by-bow interaction model, a random-slopes model with one fewer parameter.
INTERACTION_FORMULA = "Distance ~ Bow + (1 | Name) + (1 | Name:Bow)"
#: Short labels for the models in tables and figures.
MODEL_LABELS: dict[str, str] = {
    INTERCEPT_FORMULA: "(1 | Name)",
    SLOPE_FORMULA: "(1 + Bow | Name)",
    INTERACTION_FORMULA: "(1 | Name) + (1 | Name:Bow)",
}

#: Colours for the two models compared throughout the chapter.
_MODEL_COLORS = {"(1 | Name)": "#b03a2e", "(1 + Bow | Name)": "#2e86c1"}


@contextlib.contextmanager
def _one_blas_thread() -> Iterator[None]:
    """Run the block with BLAS/LAPACK on one thread (tiny fits are faster that way)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, "blas"):
        yield


def bow_term(fit: LmerResult) -> str:
    """Return the name mixedlm gives the Southwood coefficient of ``fit``.

    mixedlm names the treatment contrast of a two-level factor ``Bow.1`` (lme4:
    ``BowSouthwood``); it is the only fixed effect besides the intercept in the chapter's
    models.

    Raises
    ------
    ValueError
        If the fit does not have exactly an intercept and one bow coefficient.
    """
    names = list(fit.fixef())
    if len(names) != 2 or names[0] != "(Intercept)" or not names[1].startswith("Bow"):
        raise ValueError(f"fit must have the fixed effects (Intercept) and Bow, got {names}")
    return names[1]


# ---------------------------------------------------------------------------------------------
# Coverage of the Wald interval for the bow effect
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CoverageStudy:
    r"""The Wald intervals for the bow effect in every replication of :func:`coverage_study`.

    Attributes
    ----------
    intervals
        One row per replication and model: ``replicate``, ``seed``, ``model`` (label from
        :data:`MODEL_LABELS`), ``estimate``, ``se``, ``lower``, ``upper``, ``covers`` (bool)
        and ``singular`` (whether mixedlm's ``isSingular`` flags the fit).
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


#: The optimizers the simulations can refit with: mixedlm's default and its fast path.
OPTIMIZERS = ("L-BFGS-B", "auto")


def _check_optimizer(optimizer: object) -> str:
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {optimizer!r}")
    return str(optimizer)


def _refit(template: LmerResult, y: np.ndarray, optimizer: str = "L-BFGS-B") -> LmerResult | None:
    """Refit ``template`` to the response ``y``; ``None`` if the fit fails.

    ``optimizer="L-BFGS-B"`` is mixedlm's L-BFGS-B with exact gradients and no COBYQA
    fallback; ``"auto"`` is mixedlm's default.
    """
    options: dict[str, object] = {}
    if optimizer == "L-BFGS-B":
        options = {"method": "L-BFGS-B", "use_analytic_gradient": True}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            fit = template.refit(y, **options)
        except (ValueError, RuntimeError, np.linalg.LinAlgError):
            return None
    return fit


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
        How the replications are refitted: ``"L-BFGS-B"`` (fast, see the module notes) or
        mixedlm's default ``"auto"``.
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
    optimizer = _check_optimizer(optimizer)
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
    with _one_blas_thread():
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
                fit = template if r == 0 else _refit(template, y, optimizer)
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


# ---------------------------------------------------------------------------------------------
# The likelihood-ratio test of a variance on the boundary
# ---------------------------------------------------------------------------------------------


def _check_dfs(df_low: object, df_high: object) -> tuple[int, int]:
    if isinstance(df_low, bool) or not isinstance(df_low, (int, np.integer)) or df_low < 0:
        raise ValueError(f"df_low must be a whole number of at least 0, got {df_low!r}")
    if isinstance(df_high, bool) or not isinstance(df_high, (int, np.integer)):
        raise ValueError(f"df_high must be a whole number, got {df_high!r}")
    if df_high <= df_low:
        raise ValueError(f"df_high must exceed df_low, got {df_high!r} and {df_low!r}")
    return int(df_low), int(df_high)


def _check_weight(weight: object) -> float:
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0 <= weight <= 1:
        raise ValueError(f"weight must be a number in [0, 1], got {weight!r}")
    return float(weight)


def chi2_mixture_sf(
    x: float | np.ndarray, df_low: int = 1, df_high: int = 2, weight: float = 0.5
) -> float | np.ndarray:
    r"""Upper tail of the mixture :math:`w\,\chi^2_{\text{low}} + (1-w)\,\chi^2_{\text{high}}`.

    The large-sample null distribution of the likelihood-ratio statistic when the null
    hypothesis puts one variance on the boundary of its parameter space: going from ``q`` to
    ``q + 1`` correlated random effects per group it is the 50:50 mixture of
    :math:`\chi^2_q` and :math:`\chi^2_{q+1}` (Stram and Lee 1994); for ``(1 | Name)``
    against ``(1 + Bow | Name)``, ``q = 1``. :math:`\chi^2_0` is a point mass at zero.

    Parameters
    ----------
    x
        Statistic value(s).
    df_low, df_high
        Degrees of freedom of the two components (``df_low`` may be 0).
    weight
        Weight of the ``df_low`` component.

    Returns
    -------
    float or numpy.ndarray
        :math:`P(X > x)` under the mixture. A :math:`\chi^2_0` component is an atom at 0,
        so it contributes to :math:`P(X > x)` only for :math:`x < 0`.
    """
    df_low, df_high = _check_dfs(df_low, df_high)
    weight = _check_weight(weight)
    arr = np.asarray(x, dtype=float)
    if np.any(np.isnan(arr)):
        raise ValueError("x must not contain NaN")
    low = (arr < 0).astype(float) if df_low == 0 else stats.chi2.sf(arr, df_low)
    out = weight * low + (1 - weight) * stats.chi2.sf(arr, df_high)
    return float(out) if np.ndim(x) == 0 else out


def chi2_mixture_ppf(q: float, df_low: int = 1, df_high: int = 2, weight: float = 0.5) -> float:
    """Quantile of the chi-square mixture of :func:`chi2_mixture_sf`.

    Parameters
    ----------
    q
        Lower-tail probability, e.g. 0.95 for the 5% critical value; with a ``df_low`` of 0
        it must exceed ``weight`` (the atom at zero).
    df_low, df_high, weight
        As in :func:`chi2_mixture_sf`.

    Returns
    -------
    float
        The value ``c`` with ``chi2_mixture_sf(c) == 1 - q``.
    """
    df_low, df_high = _check_dfs(df_low, df_high)
    weight = _check_weight(weight)
    q = check_level(q, "q")
    if df_low == 0 and q <= weight:
        return 0.0
    target = 1.0 - q

    def gap(c: float) -> float:
        return float(chi2_mixture_sf(c, df_low, df_high, weight)) - target

    high = float(stats.chi2.isf(target, df_high)) + 1.0
    return float(optimize.brentq(gap, 1e-12, high, xtol=1e-12))


def _ml(fit: LmerResult) -> LmerResult:
    """``fit`` itself if it was fitted by ML, else its ML refit (lme4's ``refitML``)."""
    if not fit.isREML():
        return fit
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fit.refitML()


def _lrt_statistic(null: LmerResult, alt: LmerResult) -> float:
    """Twice the log-likelihood gain of ``alt`` over ``null`` (ML fits), clipped at 0."""
    return max(0.0, 2.0 * (float(alt.logLik().value) - float(null.logLik().value)))


@dataclass(frozen=True)
class BootstrapLRT:
    r"""A likelihood-ratio test with its parametric-bootstrap null distribution.

    Attributes
    ----------
    observed
        The observed statistic :math:`2(\ell_1 - \ell_0)` of the ML fits.
    statistics
        The statistic in each bootstrap sample simulated from the null fit (failed refits
        dropped).
    df
        The difference in the number of parameters (2 for the random slope and its
        correlation).
    n_failed
        Bootstrap samples whose refit failed.
    seed
        The seed of the simulation.
    """

    observed: float
    statistics: np.ndarray
    df: int
    n_failed: int
    seed: int

    @property
    def n_boot(self) -> int:
        """The number of usable bootstrap statistics."""
        return int(self.statistics.size)

    def p_values(self) -> pd.Series:
        r"""Return the observed statistic's p-value under each reference distribution.

        Returns
        -------
        pandas.Series
            ``naive chi2`` (:math:`\chi^2_{df}`), ``mixture`` (50:50
            :math:`\chi^2_{df-1}`, :math:`\chi^2_{df}`) and ``bootstrap``
            (:math:`(1 + \#\{T^* \ge T\})/(1 + B)`).
        """
        boot = (1 + np.count_nonzero(self.statistics >= self.observed)) / (1 + self.n_boot)
        return pd.Series(
            {
                "naive chi2": float(stats.chi2.sf(self.observed, self.df)),
                "mixture": chi2_mixture_sf(self.observed, self.df - 1, self.df),
                "bootstrap": float(boot),
            },
            name="p",
        )

    def rejection_rates(self, alpha: float = 0.05) -> pd.DataFrame:
        """How often a level-``alpha`` test with each reference rejects a true null.

        The bootstrap statistics are draws under the null hypothesis, so the share of them
        beyond a reference's critical value is that test's actual type I error rate.

        Returns
        -------
        pandas.DataFrame
            Indexed by reference (``naive chi2``, ``mixture``): ``critical`` (the critical
            value), ``rejection`` (share of bootstrap statistics above it) and ``mc_se``
            (its binomial standard error).
        """
        alpha = check_level(alpha, "alpha")
        critical = {
            "naive chi2": float(stats.chi2.isf(alpha, self.df)),
            "mixture": chi2_mixture_ppf(1 - alpha, self.df - 1, self.df),
        }
        rows = {}
        for name, c in critical.items():
            p = float(np.mean(self.statistics > c))
            rows[name] = {
                "critical": c,
                "rejection": p,
                "mc_se": math.sqrt(p * (1 - p) / self.n_boot),
            }
        out = pd.DataFrame(rows).T
        out.index.name = "reference"
        return out


def bootstrap_lrt(
    null_fit: LmerResult,
    alt_fit: LmerResult,
    n_boot: int = 500,
    *,
    seed: int,
    optimizer: str = "L-BFGS-B",
) -> BootstrapLRT:
    """Parametric bootstrap of the likelihood-ratio test of two nested mixed models.

    Both models are refitted by maximum likelihood if they were fitted by REML (as lme4's
    ``anova`` does). ``n_boot`` responses are simulated from the null model's ML fit
    (mixedlm's ``simulate``), both models are refitted to each (``refit``), and the
    statistic is recorded: the distribution the observed statistic should be compared with
    if the null hypothesis were true, as in pbkrtest's ``PBmodcomp``.

    Parameters
    ----------
    null_fit, alt_fit
        mixedlm fits of the smaller and the larger model to the same data.
    n_boot
        Number of bootstrap samples.
    seed
        Seed of the simulation.
    optimizer
        How the bootstrap samples are refitted: ``"L-BFGS-B"`` (fast, see the module
        notes) or mixedlm's default ``"auto"``.

    Returns
    -------
    BootstrapLRT
        The observed statistic, the bootstrap statistics and the p-values.

    Raises
    ------
    ValueError
        If the models are not nested in the sense of having fewer parameters and the same
        number of observations, or for a bad ``n_boot`` or ``seed``.
    """
    n_boot = check_positive_int("n_boot", n_boot)
    seed = check_seed(seed)
    optimizer = _check_optimizer(optimizer)
    if not isinstance(null_fit, LmerResult) or not isinstance(alt_fit, LmerResult):
        raise ValueError("null_fit and alt_fit must be mixedlm lmer fits")
    df = int(alt_fit.npar()) - int(null_fit.npar())
    if df < 1:
        raise ValueError(
            f"alt_fit must have more parameters than null_fit, got {alt_fit.npar()} and "
            f"{null_fit.npar()}"
        )
    if int(alt_fit.nobs()) != int(null_fit.nobs()):
        raise ValueError("null_fit and alt_fit must be fitted to the same observations")
    with _one_blas_thread():
        null_ml, alt_ml = _ml(null_fit), _ml(alt_fit)
        observed = _lrt_statistic(null_ml, alt_ml)
        responses = null_ml.simulate(nsim=n_boot, seed=seed)
        statistics = []
        failed = 0
        for b in range(n_boot):
            y = responses[:, b]
            null_b, alt_b = _refit(null_ml, y, optimizer), _refit(alt_ml, y, optimizer)
            if null_b is None or alt_b is None:
                failed += 1
                continue
            statistics.append(_lrt_statistic(null_b, alt_b))
    return BootstrapLRT(
        observed=observed,
        statistics=np.asarray(statistics, dtype=float),
        df=df,
        n_failed=failed,
        seed=seed,
    )


def information_criteria(fits: Mapping[str, LmerResult]) -> pd.DataFrame:
    """AIC, BIC and log-likelihood of models fitted to the same data, all by ML.

    REML fits are refitted by ML first (REML criteria of models with different fixed
    effects are not comparable, and lme4 compares ML values too).

    Parameters
    ----------
    fits
        Model label to mixedlm fit.

    Returns
    -------
    pandas.DataFrame
        Indexed by label: ``npar``, ``logLik``, ``AIC``, ``BIC``, ``delta AIC`` and
        ``delta BIC`` (differences from the smallest value).
    """
    if not fits:
        raise ValueError("fits must name at least one model")
    rows = {}
    with _one_blas_thread():
        for label, fit in fits.items():
            ml = _ml(fit)
            rows[label] = {
                "npar": int(ml.npar()),
                "logLik": float(ml.logLik().value),
                "AIC": float(ml.AIC()),
                "BIC": float(ml.BIC()),
            }
    out = pd.DataFrame(rows).T
    out["npar"] = out["npar"].astype(int)
    out["delta AIC"] = out["AIC"] - out["AIC"].min()
    out["delta BIC"] = out["BIC"] - out["BIC"].min()
    out.index.name = "model"
    return out


# ---------------------------------------------------------------------------------------------
# Singular fits
# ---------------------------------------------------------------------------------------------


def singular_rate(
    n_archers: Sequence[int],
    bow_sd: Sequence[float],
    n_reps: int = 100,
    *,
    seed: int,
    shots: int = 10,
    skill_bow_corr: float = 0.0,
    optimizer: str = "L-BFGS-B",
) -> pd.DataFrame:
    """How often the random-slopes fit is singular, by number of archers and slope SD.

    For every pair of settings, ``n_reps`` experiments are simulated (seeds ``seed``,
    ``seed + 1``, ...) and ``Distance ~ Bow + (1 + Bow | Name)`` is fitted by REML; a fit
    is singular when mixedlm's ``isSingular`` (lme4's rule: a relative-covariance factor on
    the boundary, within 1e-4) says so.

    Parameters
    ----------
    n_archers
        Numbers of archers (each at least 2).
    bow_sd
        SDs of the archers' own bow effects, in metres.
    n_reps
        Experiments per pair of settings.
    seed
        Seed of the first experiment of each pair.
    shots
        Shots per archer and bow.
    skill_bow_corr
        Correlation of skill and own bow effect (0 is required where ``bow_sd`` is 0).
    optimizer
        How the experiments are refitted: ``"L-BFGS-B"`` (fast, see the module notes) or
        mixedlm's default ``"auto"``.

    Returns
    -------
    pandas.DataFrame
        One row per pair: ``n_archers``, ``bow_sd``, ``singular`` (share of singular fits)
        and ``mc_se``.
    """
    n_reps = check_positive_int("n_reps", n_reps)
    seed = check_seed(seed)
    optimizer = _check_optimizer(optimizer)
    archers = [check_positive_int("n_archers", j) for j in n_archers]
    if not archers or min(archers) < 2:
        raise ValueError(f"n_archers must list numbers of at least 2, got {list(n_archers)}")
    sds = [check_nonnegative("bow_sd", s) for s in bow_sd]
    if not sds:
        raise ValueError("bow_sd must list at least one SD")
    rows = []
    with _one_blas_thread():
        for j in archers:
            template: LmerResult | None = None
            for sd in sds:
                corr = skill_bow_corr if sd > 0 else 0.0
                flags = []
                for r in range(n_reps):
                    data = simulate_archers(
                        j, shots, seed=seed + r, bow_sd=sd, skill_bow_corr=corr
                    ).data
                    if template is None:
                        with warnings.catch_warnings():
                            warnings.simplefilter("ignore")
                            template = mixedlm.lmer(SLOPE_FORMULA, data, REML=True)
                        fit: LmerResult | None = template
                    else:
                        fit = _refit(template, data["Distance"].to_numpy(float), optimizer)
                    if fit is None:
                        raise ValueError(f"n_archers={j}, bow_sd={sd}: fit {r} failed")
                    flags.append(bool(fit.isSingular()))
                p = float(np.mean(flags))
                rows.append(
                    {
                        "n_archers": j,
                        "bow_sd": sd,
                        "singular": p,
                        "mc_se": math.sqrt(p * (1 - p) / n_reps),
                    }
                )
    return pd.DataFrame(rows)


#: Seed of the singular example (six archers, own bow effects with SD 0.5 m); with it the
#: random-slopes fit is singular, as it is for most small experiments (see singular_rate).
SINGULAR_SEED: int = 1
#: The example's design: archers, shots per archer and bow, and SD of the own bow effects.
SINGULAR_DESIGN: dict[str, float] = {"n_archers": 6, "shots": 10, "bow_sd": 0.5}


def singular_example() -> ArcherExperiment:
    """Return a small experiment on which the random-slopes fit is singular.

    Six archers, ten shots with each bow, and own bow effects with an SD of half a metre
    (correlation 0 with skill): too little information to tell a small SD from zero. The
    same data are fitted with lme4 by ``scripts/lme4_singular.R``.
    """
    return simulate_archers(
        int(SINGULAR_DESIGN["n_archers"]),
        int(SINGULAR_DESIGN["shots"]),
        seed=SINGULAR_SEED,
        bow_sd=SINGULAR_DESIGN["bow_sd"],
    )


# ---------------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------------


def archer_bow_differences(data: pd.DataFrame) -> pd.DataFrame:
    """Each archer's mean distance and own bow difference, and the noise band around them.

    Parameters
    ----------
    data
        Archer data (``Distance``, ``Bow``, ``Name``); every archer must shoot both bows at
        least twice with one of them.

    Returns
    -------
    pandas.DataFrame
        Indexed by archer: ``mean`` (mean of the two bow means), ``difference`` (Southwood
        mean minus Northwood mean) and ``noise_se`` (the standard error that difference
        would have from shot noise alone, with the pooled within-cell SD).
    """
    require_columns(data, ["Distance", "Bow", "Name"])
    cells = data.assign(Name=data["Name"].astype(str), Bow=data["Bow"].astype(str))
    grouped = cells.groupby(["Name", "Bow"], sort=False)["Distance"]
    means = grouped.mean().unstack()
    counts = grouped.size().unstack()
    if list(BOWS) != [b for b in BOWS if b in means.columns] or means.isna().any().any():
        raise ValueError("data: every archer must shoot with both bows")
    resid = cells["Distance"] - grouped.transform("mean")
    dof = len(cells) - counts.size
    if dof < 1:
        raise ValueError("data: need repeated shots to estimate the shot-to-shot SD")
    sd_e = float(np.sqrt((resid**2).sum() / dof))
    order = pd.unique(cells["Name"])
    out = pd.DataFrame(
        {
            "mean": means[list(BOWS)].mean(axis=1),
            "difference": means[BOWS[1]] - means[BOWS[0]],
            "noise_se": sd_e * np.sqrt(1 / counts[BOWS[0]] + 1 / counts[BOWS[1]]),
        }
    ).loc[order]
    out.index.name = "Name"
    return out


# ---------------------------------------------------------------------------------------------
# Does every group share one residual SD? A parametric bootstrap of the groups' residual SDs
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResidualSpreadBootstrap:
    r"""The groups' residual SDs, sorted, against their distribution under the fitted model.

    Attributes
    ----------
    observed
        The SD of each group's conditional residuals (response minus fitted value with the
        conditional modes), sorted from smallest to largest; indexed by group.
    simulated
        One row per bootstrap sample: the same sorted SDs after refitting the model to a
        response simulated from it (new random effects and noise). Column ``k`` is the
        distribution of the ``k``-th smallest SD when every group shares the residual SD.
    n_failed
        Bootstrap samples whose refit failed (dropped).
    seed
        The seed of the simulation.
    """

    observed: pd.Series
    simulated: np.ndarray
    n_failed: int
    seed: int

    @property
    def n_boot(self) -> int:
        """The number of usable bootstrap samples."""
        return int(self.simulated.shape[0])

    def bands(self, level: float = 0.95) -> pd.DataFrame:
        """Return each order statistic's observed value and its bootstrap band.

        Parameters
        ----------
        level
            Coverage of the equal-tailed band of each order statistic.

        Returns
        -------
        pandas.DataFrame
            One row per rank (1 = smallest SD): ``group``, ``observed``, ``lower``,
            ``median``, ``upper`` and ``outside`` (the observed SD lies outside the band).
        """
        level = check_level(level)
        tail = (1.0 - level) / 2.0
        lower, median, upper = np.quantile(self.simulated, [tail, 0.5, 1.0 - tail], axis=0)
        observed = self.observed.to_numpy(float)
        out = pd.DataFrame(
            {
                "group": self.observed.index.astype(str),
                "observed": observed,
                "lower": lower,
                "median": median,
                "upper": upper,
                "outside": (observed < lower) | (observed > upper),
            },
            index=pd.RangeIndex(1, observed.size + 1, name="rank"),
        )
        return out


def _sorted_group_sds(residuals: np.ndarray, groups: np.ndarray) -> pd.Series:
    return pd.Series(residuals).groupby(groups).std(ddof=1).sort_values()


def residual_spread_bootstrap(
    fit: LmerResult,
    groups: Sequence[object] | np.ndarray | pd.Series,
    n_boot: int = 300,
    *,
    seed: int,
) -> ResidualSpreadBootstrap:
    """Parametric bootstrap of the sorted residual SDs of the groups of a mixed model.

    The model gives every group one residual SD. Even so the groups' residual SDs differ by
    chance, and the smallest and largest of them differ most; how much depends on the number
    of observations per group and on how much of each group's noise its own random effects
    absorb. So instead of comparing the observed SDs with a formula, simulate: ``n_boot``
    responses from the fitted model (mixedlm's ``simulate``: new random effects and noise,
    lme4's default), refit the model to each (mixedlm's ``refit``, its default optimiser),
    and record the sorted SDs of the groups' conditional residuals. The ``k``-th smallest
    observed SD is then compared with the bootstrap distribution of the ``k``-th smallest.

    Parameters
    ----------
    fit
        A mixedlm fit (REML or ML).
    groups
        The group of each observation, in the rows' order.
    n_boot
        Number of bootstrap samples.
    seed
        Seed of the simulation.

    Returns
    -------
    ResidualSpreadBootstrap
        Observed and simulated sorted SDs; ``bands()`` gives the comparison.

    Raises
    ------
    ValueError
        If ``fit`` is not a mixedlm fit, ``groups`` does not have one entry per observation
        or fewer than two groups have at least two observations, or for a bad ``n_boot`` or
        ``seed``.
    """
    n_boot = check_positive_int("n_boot", n_boot)
    seed = check_seed(seed)
    if not isinstance(fit, LmerResult):
        raise ValueError("fit must be a mixedlm lmer fit")
    labels = np.asarray(pd.Series(groups).astype(str))
    if labels.shape != (int(fit.nobs()),):
        raise ValueError(
            f"groups must have one entry per observation ({int(fit.nobs())}), got {labels.shape}"
        )
    sizes = pd.Series(labels).value_counts()
    if int((sizes >= 2).sum()) < 2:
        raise ValueError("at least two groups need two or more observations")
    observed = _sorted_group_sds(np.asarray(fit.residuals(), dtype=float), labels)
    rows, failed = [], 0
    with _one_blas_thread():
        responses = fit.simulate(nsim=n_boot, seed=seed)
        for b in range(n_boot):
            refit = _refit(fit, responses[:, b], "auto")
            if refit is None:
                failed += 1
                continue
            sds = _sorted_group_sds(np.asarray(refit.residuals(), dtype=float), labels)
            rows.append(sds.to_numpy(float))
    simulated = np.vstack(rows) if rows else np.empty((0, observed.size))
    return ResidualSpreadBootstrap(
        observed=observed, simulated=simulated, n_failed=failed, seed=seed
    )
