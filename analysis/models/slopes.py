r"""Random slopes for the archer data: does the bow cost every archer the same.

The random-slopes chapters need a few things beyond what mixedlm (the Python port of lme4)
fits and prints itself, and they live here:

- :func:`bootstrap_lrt`, a parametric bootstrap of the likelihood-ratio statistic's null
  distribution, with the chi-square mixture of Stram and Lee (1994) as the asymptotic reference
  (:func:`chi2_mixture_sf`, :func:`chi2_mixture_ppf`), and :func:`information_criteria`;
- :func:`archer_bow_differences`, each archer's own bow difference and its noise band;
- :func:`residual_spread_bootstrap`, a parametric bootstrap of the groups' residual SDs (the
  sleepstudy chapter's check of one residual SD for every subject);
- the refit machinery the simulation studies of :mod:`analysis.studies.coverage` and
  :mod:`analysis.studies.singular` share with the bootstraps: :func:`refit_response`,
  :func:`one_blas_thread` and :data:`OPTIMIZERS`.

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

import numpy as np
import pandas as pd
from mixedlm.models.lmer import LmerResult
from scipy import optimize, stats

from analysis.validation import (
    check_choice,
    check_interval,
    check_level,
    check_nonnegative_int,
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
    "check_optimizer",
    "refit_response",
    "one_blas_thread",
    "bow_term",
    "chi2_mixture_sf",
    "chi2_mixture_ppf",
    "BootstrapLRT",
    "bootstrap_lrt",
    "information_criteria",
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


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
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


#: The optimizers the simulations can refit with: mixedlm's default and its fast path.
OPTIMIZERS = ("L-BFGS-B", "auto")


def check_optimizer(optimizer: object) -> str:
    """Return ``optimizer`` if it is one of :data:`OPTIMIZERS`, else raise ``ValueError``."""
    return check_choice("optimizer", optimizer, OPTIMIZERS)


def refit_response(
    template: LmerResult, y: np.ndarray, optimizer: str = "L-BFGS-B"
) -> LmerResult | None:
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


# ---------------------------------------------------------------------------------------------
# The likelihood-ratio test of a variance on the boundary
# ---------------------------------------------------------------------------------------------


def _check_dfs(df_low: object, df_high: object) -> tuple[int, int]:
    low = check_nonnegative_int("df_low", df_low)
    high = check_nonnegative_int("df_high", df_high)
    if high <= low:
        raise ValueError(f"df_high must exceed df_low, got {df_high!r} and {df_low!r}")
    return low, high


def _check_weight(weight: object) -> float:
    return check_interval("weight", weight, 0, 1, closed="both")


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
    optimizer = check_optimizer(optimizer)
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
    with one_blas_thread():
        null_ml, alt_ml = _ml(null_fit), _ml(alt_fit)
        observed = _lrt_statistic(null_ml, alt_ml)
        responses = null_ml.simulate(nsim=n_boot, seed=seed)
        statistics = []
        failed = 0
        for b in range(n_boot):
            y = responses[:, b]
            null_b, alt_b = (
                refit_response(null_ml, y, optimizer),
                refit_response(alt_ml, y, optimizer),
            )
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
    with one_blas_thread():
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
# Each archer's own bow difference
# ---------------------------------------------------------------------------------------------


def archer_bow_differences(data: pd.DataFrame) -> pd.DataFrame:
    """Each archer's mean distance and own bow difference, and the noise band around them.

    Parameters
    ----------
    data
        Archer data (``Distance``, ``Bow``, ``Name``); every archer must shoot both bows at
        least twice with one of them. ``Bow`` has two levels: the first (the first category
        of a categorical column, else the first in sorted order) is the reference.

    Returns
    -------
    pandas.DataFrame
        Indexed by archer: ``mean`` (mean of the two bow means), ``difference`` (second
        bow's mean minus the first's: Southwood minus Northwood in the archer data) and
        ``noise_se`` (the standard error that difference would have from shot noise alone,
        with the pooled within-cell SD).
    """
    require_columns(data, ["Distance", "Bow", "Name"])
    bow = data["Bow"]
    bows = [str(b) for b in (bow.cat.categories if hasattr(bow, "cat") else sorted(bow.unique()))]
    if len(bows) != 2:
        raise ValueError(f"data: Bow must have two levels, got {bows}")
    cells = data.assign(Name=data["Name"].astype(str), Bow=data["Bow"].astype(str))
    grouped = cells.groupby(["Name", "Bow"], sort=False)["Distance"]
    means = grouped.mean().unstack()
    counts = grouped.size().unstack()
    if any(b not in means.columns for b in bows) or means.isna().any().any():
        raise ValueError("data: every archer must shoot with both bows")
    resid = cells["Distance"] - grouped.transform("mean")
    dof = len(cells) - counts.size
    if dof < 1:
        raise ValueError("data: need repeated shots to estimate the shot-to-shot SD")
    sd_e = float(np.sqrt((resid**2).sum() / dof))
    order = pd.unique(cells["Name"])
    out = pd.DataFrame(
        {
            "mean": means[bows].mean(axis=1),
            "difference": means[bows[1]] - means[bows[0]],
            "noise_se": sd_e * np.sqrt(1 / counts[bows[0]] + 1 / counts[bows[1]]),
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
    with one_blas_thread():
        responses = fit.simulate(nsim=n_boot, seed=seed)
        for b in range(n_boot):
            refit = refit_response(fit, responses[:, b], "auto")
            if refit is None:
                failed += 1
                continue
            sds = _sorted_group_sds(np.asarray(refit.residuals(), dtype=float), labels)
            rows.append(sds.to_numpy(float))
    simulated = np.vstack(rows) if rows else np.empty((0, observed.size))
    return ResidualSpreadBootstrap(
        observed=observed, simulated=simulated, n_failed=failed, seed=seed
    )
