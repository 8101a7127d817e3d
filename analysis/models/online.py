r"""Prediction for many small units: a simulated online service and five ways to predict it.

The simulator draws a service with many *units* (websites, advertisers, shops) whose traffic is
heavy-tailed: most units are seen a handful of times, a few are seen thousands of times. An
observation of unit :math:`j` (optionally on device :math:`d`) is

.. math::

    y_{ji} = \beta + \mu^a_j + \mu^b_{d} + \varepsilon_{ji}, \qquad
    \mu^a_j \sim N(0, \sigma_a^2), \quad \mu^b_d \sim N(0, \sigma_b^2), \quad
    \varepsilon_{ji} \sim N(0, \sigma_e^2).

The prediction methods all take a training frame and a test frame (columns ``unit`` and ``y``)
and return one prediction per test row:

* :func:`predict_grand_mean` -- complete pooling, one number for everybody;
* :func:`predict_unit_means` -- no pooling, each unit's own mean;
* :func:`predict_blup` -- partial pooling, the one-way mixed model's BLUPs fitted by REML
  (:func:`fit_one_way`);
* :func:`predict_ridge_cv` -- ridge regression on one-hot units, penalty by cross-validation;
* :func:`predict_mundlak` -- partial pooling with the unit's log-traffic as a fixed effect
  (:func:`fit_mundlak`), for services whose busy units differ from their quiet ones;
* :func:`analysis.bayes.one_way.predict_bayes` -- the posterior mean of a hierarchical
  Bayesian model (PyMC), in the Bayesian layer.

Units never seen in training get the grand mean (no pooling) or the estimated intercept
(every other method).

The one-way model is fitted by REML with the book's closed-form likelihood
(:class:`analysis.models.likelihood.RandomInterceptLikelihood`, an intercept as the only fixed
effect), whose cost is linear in the number of observations however unbalanced the units.
The BLUP of unit :math:`j` is
:math:`\hat\mu^a_j = n_j (\bar y_j - \hat\beta) / (n_j + \lambda)` with
:math:`\lambda = \sigma_e^2 / \sigma_a^2`: exactly the ridge estimate with penalty
:math:`\lambda` and an unpenalised intercept (:func:`fit_ridge`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

from analysis.models.likelihood import RandomInterceptLikelihood
from analysis.validation import (
    check_finite,
    check_positive,
    check_positive_int,
    check_seed,
    finite_array,
    level_effects,
    require_columns,
    require_rows,
)

__all__ = [
    "OneWayFit",
    "fit_one_way",
    "RidgeFit",
    "fit_ridge",
    "fit_ridge_cv",
    "predict_grand_mean",
    "predict_unit_means",
    "predict_blup",
    "predict_ridge_cv",
    "MundlakFit",
    "fit_mundlak",
    "predict_mundlak",
    "mundlak_methods",
    "BUCKETS",
    "traffic_bucket",
    "evaluate",
    "default_methods",
]

#: A prediction method: ``method(train, test)`` returns one prediction per row of ``test``.
Method = Callable[[pd.DataFrame, pd.DataFrame], np.ndarray]


# --------------------------------------------------------------------------------------------
# Sufficient statistics
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _UnitStats:
    units: np.ndarray  # sorted unit ids
    n: np.ndarray  # observations per unit
    mean: np.ndarray  # unit means
    within_ss: float  # pooled within-unit sum of squares

    @property
    def n_obs(self) -> int:
        return int(self.n.sum())


def _unit_stats(train: pd.DataFrame, argname: str = "train") -> _UnitStats:
    require_columns(train, ["unit", "y"], argname=argname)
    require_rows(train, argname)
    y = finite_array(f"{argname} column 'y'", train["y"])
    grouped = train.groupby("unit", sort=True)["y"]
    n = grouped.size().to_numpy()
    mean = grouped.mean().to_numpy()
    units = grouped.size().index.to_numpy()
    codes = np.searchsorted(units, train["unit"].to_numpy())
    within = float(np.sum((y - mean[codes]) ** 2))
    return _UnitStats(units=units, n=n, mean=mean, within_ss=within)


def _lookup(effects: pd.Series, units: pd.Series, default: float = 0.0) -> np.ndarray:
    return level_effects(effects, units, "unit", default=default, argname="test")


def _check_test(test: pd.DataFrame) -> None:
    require_columns(test, ["unit"], argname="test")


# --------------------------------------------------------------------------------------------
# One-way mixed model by REML
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OneWayFit:
    r"""A one-way random-intercept model fitted by REML.

    Attributes
    ----------
    intercept
        :math:`\hat\beta`, the GLS intercept at the REML variance estimates.
    unit_sd, noise_sd
        REML estimates of :math:`\sigma_a` and :math:`\sigma_e`.
    effects
        The BLUPs :math:`\hat\mu^a_j`, indexed by unit.
    n
        Training observations per unit, indexed by unit.
    reml_criterion
        Minus twice the restricted log-likelihood at the optimum (lme4's ``REMLcrit``).
    """

    intercept: float
    unit_sd: float
    noise_sd: float
    effects: pd.Series
    n: pd.Series
    reml_criterion: float

    @property
    def penalty(self) -> float:
        r""":math:`\lambda = \hat\sigma_e^2 / \hat\sigma_a^2`, the implied ridge penalty."""
        return math.inf if self.unit_sd == 0 else self.noise_sd**2 / self.unit_sd**2

    def predict(self, test: pd.DataFrame) -> np.ndarray:
        """Predict every row of ``test``: intercept plus BLUP (0 for unseen units)."""
        _check_test(test)
        return self.intercept + _lookup(self.effects, test["unit"])


def _check_identified(st: _UnitStats) -> None:
    if len(st.units) < 2:
        raise ValueError("train must hold at least two units to estimate the unit SD")
    if st.n_obs <= len(st.units):
        raise ValueError("train must hold at least one unit with two or more observations")
    if st.within_ss <= 0:
        raise ValueError("train has no within-unit variation; the noise SD is not identified")


def fit_one_way(train: pd.DataFrame) -> OneWayFit:
    r"""Fit :math:`y = \beta + \mu^a_{unit} + \varepsilon` by REML and compute the BLUPs.

    The REML criterion of :class:`analysis.models.likelihood.RandomInterceptLikelihood`, with
    :math:`\sigma_e` profiled out, is minimised over the ratio :math:`\sigma_a / \sigma_e`
    (the boundary :math:`\hat\sigma_a = 0` included); the BLUPs are its conditional modes.

    Parameters
    ----------
    train
        Training data with columns ``unit`` and ``y`` (other columns are ignored).

    Returns
    -------
    OneWayFit
        Estimates and BLUPs.

    Raises
    ------
    ValueError
        If ``train`` lacks the columns, is empty, has non-finite ``y``, or has too little data
        to separate the two variances (fewer than two units, or no unit with two observations).
    """
    st = _unit_stats(train)
    _check_identified(st)
    lik = RandomInterceptLikelihood(
        train["y"].to_numpy(dtype=float), np.ones(len(train)), train["unit"].to_numpy()
    )
    fit = lik.fit(reml=True)
    blup, _ = lik.modes(fit.sd_group, fit.sd_resid)
    index = pd.Index(st.units, name="unit")
    return OneWayFit(
        intercept=float(lik.beta(fit.sd_group, fit.sd_resid)[0]),
        unit_sd=fit.sd_group,
        noise_sd=fit.sd_resid,
        effects=pd.Series(blup, index=index, name="blup"),
        n=pd.Series(st.n, index=index, name="n"),
        reml_criterion=fit.deviance,
    )


# --------------------------------------------------------------------------------------------
# Unit effects correlated with traffic: Mundlak's device
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MundlakFit:
    r"""A one-way model with the unit's log-traffic as a fixed effect, fitted by REML.

    The model is :math:`y_{ji} = \beta + \gamma \log n_j + \nu_j + \varepsilon_{ji}` with
    :math:`n_j` the unit's training observations: Mundlak's device, which adds the unit mean of
    a covariate as a fixed effect so that the random effects :math:`\nu_j` keep only the part
    of the unit effects that the covariate does not explain. Traffic is a property of the unit,
    so its unit mean is itself.

    Attributes
    ----------
    intercept, slope
        :math:`\hat\beta` and :math:`\hat\gamma` (GLS at the REML variance estimates).
    unit_sd, noise_sd
        REML estimates of :math:`\sigma_\nu` and :math:`\sigma_e`.
    effects
        The BLUPs :math:`\hat\nu_j`, indexed by unit.
    n
        Training observations per unit, indexed by unit.
    new_unit_log_traffic
        The log-traffic at which a unit unseen in training is predicted: a new unit has no
        traffic of its own, so it gets the mean of :math:`\log n_j` over the training
        *observations*, the traffic-weighted average unit.
    """

    intercept: float
    slope: float
    unit_sd: float
    noise_sd: float
    effects: pd.Series
    n: pd.Series
    new_unit_log_traffic: float

    def fixed_part(self, log_traffic: np.ndarray | float) -> np.ndarray:
        r"""Return :math:`\hat\beta + \hat\gamma x` at log-traffic ``x``."""
        return self.intercept + self.slope * np.asarray(log_traffic, dtype=float)

    def predict(
        self, test: pd.DataFrame, *, new_unit_log_traffic: float | None = None
    ) -> np.ndarray:
        """Predict every row of ``test``: fixed part at the unit's log-traffic plus BLUP.

        Units unseen in training get the fixed part at ``new_unit_log_traffic`` (by default
        the fit's :attr:`new_unit_log_traffic`) and no BLUP.
        """
        _check_test(test)
        x_new = (
            self.new_unit_log_traffic
            if new_unit_log_traffic is None
            else check_finite("new_unit_log_traffic", new_unit_log_traffic)
        )
        log_n = np.log(self.n.astype(float))
        x = level_effects(log_n, test["unit"], "unit", default=x_new, argname="test")
        return self.fixed_part(x) + _lookup(self.effects, test["unit"])


def fit_mundlak(train: pd.DataFrame) -> MundlakFit:
    r"""Fit :math:`y = \beta + \gamma \log n_{unit} + \nu_{unit} + \varepsilon` by REML.

    The same closed-form REML likelihood as :func:`fit_one_way`
    (:class:`analysis.models.likelihood.RandomInterceptLikelihood`), with a second fixed-effect
    column holding each observation's unit log-traffic :math:`\log n_j`.

    Parameters
    ----------
    train
        Training data with columns ``unit`` and ``y``.

    Returns
    -------
    MundlakFit
        Estimates and BLUPs.

    Raises
    ------
    ValueError
        As :func:`fit_one_way`, and if every unit has the same traffic (the slope is then not
        identified).
    """
    st = _unit_stats(train)
    _check_identified(st)
    if np.all(st.n == st.n[0]):
        raise ValueError("every unit has the same traffic; the log-traffic slope is not identified")
    codes = np.searchsorted(st.units, train["unit"].to_numpy())
    log_n = np.log(st.n.astype(float))
    x = np.column_stack([np.ones(len(train)), log_n[codes]])
    lik = RandomInterceptLikelihood(train["y"].to_numpy(dtype=float), x, train["unit"].to_numpy())
    fit = lik.fit(reml=True)
    beta = lik.beta(fit.sd_group, fit.sd_resid)
    blup, _ = lik.modes(fit.sd_group, fit.sd_resid)
    index = pd.Index(st.units, name="unit")
    return MundlakFit(
        intercept=float(beta[0]),
        slope=float(beta[1]),
        unit_sd=fit.sd_group,
        noise_sd=fit.sd_resid,
        effects=pd.Series(blup, index=index, name="blup"),
        n=pd.Series(st.n, index=index, name="n"),
        new_unit_log_traffic=float(np.dot(st.n, log_n) / st.n_obs),
    )


def predict_mundlak(train: pd.DataFrame, test: pd.DataFrame) -> np.ndarray:
    """Partial pooling with log-traffic as a fixed effect (:func:`fit_mundlak`)."""
    return fit_mundlak(train).predict(test)


# --------------------------------------------------------------------------------------------
# Ridge regression on one-hot units
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RidgeFit:
    """Ridge regression of ``y`` on one-hot units with an unpenalised intercept.

    Attributes
    ----------
    intercept
        The fitted intercept.
    effects
        One coefficient per training unit, indexed by unit.
    alpha
        The penalty used (chosen by cross-validation in :func:`fit_ridge_cv`).
    cv_curve
        From :func:`fit_ridge_cv` only: the cross-validated mean squared error of every
        candidate penalty, indexed by penalty (``None`` otherwise).
    """

    intercept: float
    effects: pd.Series
    alpha: float
    cv_curve: pd.Series | None = None

    def predict(self, test: pd.DataFrame) -> np.ndarray:
        """Predict every row of ``test``: intercept plus coefficient (0 for unseen units)."""
        _check_test(test)
        return self.intercept + _lookup(self.effects, test["unit"])


def _one_hot(train: pd.DataFrame) -> tuple[sparse.csr_matrix, np.ndarray]:
    require_columns(train, ["unit", "y"], argname="train")
    require_rows(train, "train")
    units, codes = np.unique(train["unit"].to_numpy(), return_inverse=True)
    rows = np.arange(len(train))
    x = sparse.csr_matrix((np.ones(len(train)), (rows, codes)), shape=(len(train), len(units)))
    return x, units


def fit_ridge(train: pd.DataFrame, alpha: float, *, dense: bool = True) -> RidgeFit:
    r"""Fit ridge regression on one-hot units with penalty ``alpha`` (scikit-learn ``Ridge``).

    The design has one indicator column per training unit (none dropped) and scikit-learn's
    unpenalised intercept, so the fit minimises
    :math:`\sum_i (y_i - b_0 - u_{j(i)})^2 + \alpha \sum_j u_j^2`. With
    ``alpha`` equal to :math:`\sigma_e^2 / \sigma_a^2` the solution is the mixed model's
    intercept and BLUPs.

    Parameters
    ----------
    train
        Training data with columns ``unit`` and ``y``.
    alpha
        The penalty, positive.
    dense
        Solve with a dense design by Cholesky (exact; fine up to a few hundred units and tens
        of thousands of rows). If false, keep the design sparse and let scikit-learn pick an
        conjugate-gradient solver (``sparse_cg``, tolerance 1e-12), which handles thousands of
        units and agrees with the dense solution to about 1e-9.

    Returns
    -------
    RidgeFit
        The fit.
    """
    from sklearn.linear_model import Ridge

    alpha = check_positive("alpha", alpha)
    x, units = _one_hot(train)
    y = train["y"].to_numpy(dtype=float)
    if dense:
        model = Ridge(alpha=alpha, fit_intercept=True, solver="cholesky").fit(x.toarray(), y)
    else:
        model = Ridge(alpha=alpha, fit_intercept=True, solver="sparse_cg", tol=1e-12).fit(x, y)
    return RidgeFit(
        intercept=float(model.intercept_),
        effects=pd.Series(model.coef_, index=pd.Index(units, name="unit"), name="ridge"),
        alpha=alpha,
    )


def _ridge_by_units(n: np.ndarray, total: np.ndarray, alpha: float) -> tuple[float, np.ndarray]:
    """Exact one-hot ridge solution from per-unit counts and sums (used for fast CV)."""
    mean = total / n
    w = n * alpha / (n + alpha)
    b0 = float(np.dot(w, mean) / w.sum())
    return b0, n * (mean - b0) / (n + alpha)


def fit_ridge_cv(
    train: pd.DataFrame,
    *,
    seed: int,
    alphas: Sequence[float] | None = None,
    n_folds: int = 5,
) -> RidgeFit:
    """Choose the ridge penalty by K-fold cross-validation, then refit on all of ``train``.

    The folds are scikit-learn ``KFold`` splits of the rows, shuffled with ``seed``; the
    criterion is the held-out mean squared error averaged over folds, as in scikit-learn's
    ``GridSearchCV(Ridge(), scoring="neg_mean_squared_error")``. Because the design is one-hot,
    each candidate fit is computed exactly from per-unit counts and sums (the same minimiser
    scikit-learn's ``Ridge`` finds, see :func:`fit_ridge`), which keeps thousands of units fast.

    Parameters
    ----------
    train
        Training data with columns ``unit`` and ``y``.
    seed
        Seed of the fold shuffling.
    alphas
        Candidate penalties (default: 121 values log-spaced from 0.01 to 10 000).
    n_folds
        Number of folds, at least 2.

    Returns
    -------
    RidgeFit
        The refitted model; ``alpha`` is the chosen penalty.
    """
    from sklearn.model_selection import KFold

    seed = check_seed(seed)
    n_folds = check_positive_int("n_folds", n_folds, minimum=2)
    grid = np.logspace(-2, 4, 121) if alphas is None else finite_array("alphas", alphas)
    if np.any(grid <= 0):
        raise ValueError(f"alphas must be positive numbers, got {grid[grid <= 0][0]:g}")
    require_columns(train, ["unit", "y"], argname="train")
    require_rows(train, "train", minimum=n_folds)  # each of the n_folds folds needs a row
    units, codes = np.unique(train["unit"].to_numpy(), return_inverse=True)
    y = train["y"].to_numpy(dtype=float)
    n_units = len(units)
    mse = np.zeros(len(grid))
    folds = KFold(n_splits=n_folds, shuffle=True, random_state=seed)
    for fit_rows, val_rows in folds.split(y):
        n = np.bincount(codes[fit_rows], minlength=n_units).astype(float)
        total = np.bincount(codes[fit_rows], weights=y[fit_rows], minlength=n_units)
        seen = n > 0
        for k, alpha in enumerate(grid):
            b0, u = _ridge_by_units(n[seen], total[seen], alpha)
            coef = np.zeros(n_units)
            coef[seen] = u
            pred = b0 + coef[codes[val_rows]]
            mse[k] += float(np.mean((y[val_rows] - pred) ** 2)) / n_folds
    best = float(grid[int(np.argmin(mse))])
    n = np.bincount(codes, minlength=n_units).astype(float)
    total = np.bincount(codes, weights=y, minlength=n_units)
    b0, u = _ridge_by_units(n, total, best)
    return RidgeFit(
        intercept=b0,
        effects=pd.Series(u, index=pd.Index(units, name="unit"), name="ridge"),
        alpha=best,
        cv_curve=pd.Series(mse, index=pd.Index(grid, name="alpha"), name="cv_mse"),
    )


# --------------------------------------------------------------------------------------------
# Prediction methods: method(train, test) -> predictions
# --------------------------------------------------------------------------------------------


def predict_grand_mean(train: pd.DataFrame, test: pd.DataFrame) -> np.ndarray:
    """Complete pooling: predict the mean of all training observations for every test row."""
    st = _unit_stats(train)
    _check_test(test)
    return np.full(len(test), float(np.dot(st.n, st.mean) / st.n_obs))


def predict_unit_means(train: pd.DataFrame, test: pd.DataFrame) -> np.ndarray:
    """No pooling: predict each unit's training mean; unseen units get the grand mean."""
    st = _unit_stats(train)
    _check_test(test)
    grand = float(np.dot(st.n, st.mean) / st.n_obs)
    means = pd.Series(st.mean, index=st.units)
    return _lookup(means, test["unit"], default=grand)


def predict_blup(train: pd.DataFrame, test: pd.DataFrame) -> np.ndarray:
    """Partial pooling: the one-way mixed model's intercept plus BLUP (:func:`fit_one_way`)."""
    return fit_one_way(train).predict(test)


def predict_ridge_cv(
    train: pd.DataFrame, test: pd.DataFrame, *, seed: int, n_folds: int = 5
) -> np.ndarray:
    """Ridge on one-hot units, penalty by seeded K-fold cross-validation (:func:`fit_ridge_cv`)."""
    return fit_ridge_cv(train, seed=seed, n_folds=n_folds).predict(test)


# --------------------------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------------------------

#: Traffic buckets by number of training observations, smallest first; ``unseen`` is 0.
BUCKETS: tuple[str, ...] = ("unseen", "1", "2-3", "4-10", "11-30", "31-100", ">100")
_EDGES = np.array([0, 1, 2, 4, 11, 31, 101])


def traffic_bucket(n_train: np.ndarray | Sequence[int] | pd.Series) -> pd.Categorical:
    """Label training-traffic counts with the buckets of :data:`BUCKETS`.

    Parameters
    ----------
    n_train
        Number of training observations per row (0 for units unseen in training).

    Returns
    -------
    pandas.Categorical
        Ordered categories :data:`BUCKETS`.
    """
    n = np.asarray(n_train)
    if n.ndim != 1 or (len(n) and (not np.issubdtype(n.dtype, np.number) or np.any(n < 0))):
        raise ValueError("n_train must be a one-dimensional array of non-negative counts")
    idx = np.searchsorted(_EDGES, n, side="right") - 1
    return pd.Categorical.from_codes(idx, categories=list(BUCKETS), ordered=True)


def evaluate(
    train: pd.DataFrame, test: pd.DataFrame, predictions: Mapping[str, np.ndarray]
) -> pd.DataFrame:
    """Held-out RMSE of each method, overall and by traffic bucket.

    Parameters
    ----------
    train
        The training frame (used only to count each unit's training observations).
    test
        The test frame with columns ``unit`` and ``y``.
    predictions
        Method name to predictions for ``test`` (one per row).

    Returns
    -------
    pandas.DataFrame
        Columns ``method``, ``bucket`` (the :data:`BUCKETS` plus ``overall``), ``n_test``
        and ``rmse``; empty buckets are left out.
    """
    require_columns(train, ["unit"], argname="train")
    require_columns(test, ["unit", "y"], argname="test")
    counts = train["unit"].value_counts()
    n_train = counts.reindex(test["unit"].to_numpy()).fillna(0).to_numpy(dtype=int)
    bucket = np.asarray(traffic_bucket(n_train))
    y = test["y"].to_numpy(dtype=float)
    rows = []
    for name, pred in predictions.items():
        pred = np.asarray(pred, dtype=float)
        if pred.shape != y.shape:
            raise ValueError(f"predictions[{name!r}] must have {len(y)} values, got {pred.shape}")
        sq = (y - pred) ** 2
        for label in (*BUCKETS, "overall"):
            mask = np.ones(len(y), bool) if label == "overall" else bucket == label
            if mask.any():
                rows.append(
                    {
                        "method": name,
                        "bucket": label,
                        "n_test": int(mask.sum()),
                        "rmse": float(np.sqrt(sq[mask].mean())),
                    }
                )
    out = pd.DataFrame(rows)
    out["bucket"] = pd.Categorical(out["bucket"], categories=[*BUCKETS, "overall"], ordered=True)
    return out


def default_methods(seed: int) -> dict[str, Method]:
    """Return the four fast methods, in the book's order; the ridge folds use ``seed``."""

    def ridge(train: pd.DataFrame, test: pd.DataFrame) -> np.ndarray:
        return predict_ridge_cv(train, test, seed=seed)

    return {
        "complete pooling": predict_grand_mean,
        "no pooling": predict_unit_means,
        "partial pooling (BLUP)": predict_blup,
        "ridge (CV)": ridge,
    }


def mundlak_methods(seed: int) -> dict[str, Method]:
    """Return complete, no and partial pooling and :func:`predict_mundlak` (``seed`` unused).

    For :func:`analysis.studies.prediction.replicate` on services whose unit effects follow
    their traffic; the first three are the methods of :func:`default_methods`, so they give
    the same predictions.
    """
    methods = default_methods(seed)
    return {
        "complete pooling": methods["complete pooling"],
        "no pooling": methods["no pooling"],
        "partial pooling (BLUP)": methods["partial pooling (BLUP)"],
        "with log-traffic (Mundlak)": predict_mundlak,
    }
