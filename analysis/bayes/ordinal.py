r"""Ordered ratings: the cumulative-logit model's and a Gaussian model's rating probabilities.

The cumulative-logit (proportional-odds) model of a rating :math:`Y \in \{1, \dots, K\}` has a
latent score :math:`\eta` and ordered cutpoints :math:`c_1 < \dots < c_{K-1}`:

.. math::

    P(Y \le k) = F(c_k - \eta), \qquad F(x) = 1 / (1 + e^{-x}),

so :math:`P(Y = k) = F(c_k - \eta) - F(c_{k-1} - \eta)` with :math:`c_0 = -\infty` and
:math:`c_K = +\infty` (PyMC's ``OrderedLogistic``, whose categories are :math:`0, \dots, K-1`).
A Gaussian model of the same ratings predicts a Normal :math:`N(\mu, \sigma^2)` instead; binned
at the half-integers it implies probabilities of each rating, and it puts some mass on
impossible ratings below :math:`0.5` or above :math:`K + 0.5`.

The chapter writes its PyMC model itself; this module holds what it reuses: the subsample,
the two maps from a model to rating probabilities, their summary over posterior draws, and the
distance between two distributions of ratings.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import special, stats

from analysis.validation import check_positive_int, check_seed, finite_array, require_columns

__all__ = [
    "subsample_by_group",
    "cumulative_logit_probabilities",
    "gaussian_rating_probabilities",
    "mass_outside",
    "observed_frequencies",
    "mean_posterior_probabilities",
    "total_variation",
    "cumulative_log_odds",
]


def subsample_by_group(data: pd.DataFrame, group: str, n_groups: int, *, seed: int) -> pd.DataFrame:
    """Return all rows of ``n_groups`` levels of ``group`` drawn at random without replacement.

    Categorical columns lose the levels that no longer occur, so codes are contiguous.

    Parameters
    ----------
    data
        The data.
    group
        Column whose levels are sampled (e.g. the instructor ``"d"``).
    n_groups
        Number of levels to keep, at most the number of levels present.
    seed
        Seed of the draw.

    Returns
    -------
    pandas.DataFrame
        The rows of the drawn levels, in their original order.

    Raises
    ------
    ValueError
        If ``group`` is missing or ``n_groups`` exceeds the number of levels.
    """
    require_columns(data, [group], "data")
    n_groups = check_positive_int("n_groups", n_groups)
    levels = pd.unique(data[group])
    if n_groups > len(levels):
        raise ValueError(f"n_groups={n_groups} exceeds the {len(levels)} levels of {group!r}")
    rng = np.random.default_rng(check_seed(seed))
    chosen = rng.choice(np.asarray(levels), size=n_groups, replace=False)
    sub = data[data[group].isin(chosen)].copy()
    for column in sub.columns:
        if isinstance(sub[column].dtype, pd.CategoricalDtype):
            sub[column] = sub[column].cat.remove_unused_categories()
    return sub


def _check_cutpoints(cutpoints: np.ndarray) -> np.ndarray:
    cut = finite_array("cutpoints", cutpoints, ndim=None, min_size=0)
    if cut.ndim < 1 or cut.shape[-1] < 1:
        raise ValueError("cutpoints must have at least one entry on their last axis")
    if np.any(np.diff(cut, axis=-1) <= 0):
        raise ValueError("cutpoints must be strictly increasing along their last axis")
    return cut


def cumulative_logit_probabilities(eta: np.ndarray, cutpoints: np.ndarray) -> np.ndarray:
    r"""Probabilities of each of the :math:`K` ratings under the cumulative-logit model.

    Parameters
    ----------
    eta
        Latent scores, any shape ``S``.
    cutpoints
        The :math:`K - 1` increasing cutpoints, shape ``(K - 1,)``, or one set per score,
        shape ``S + (K - 1,)``.

    Returns
    -------
    numpy.ndarray
        Shape ``S + (K,)``; entry ``k`` is :math:`P(Y = k + 1)`. Each row sums to 1.

    Raises
    ------
    ValueError
        If the cutpoints are not finite and strictly increasing, or ``eta`` is not finite.
    """
    cut = _check_cutpoints(cutpoints)
    eta = finite_array("eta", eta, ndim=None, min_size=0)
    below = special.expit(cut - eta[..., None])  # P(Y <= k), k = 1..K-1
    shape = below.shape[:-1] + (1,)
    cumulative = np.concatenate([np.zeros(shape), below, np.ones(shape)], axis=-1)
    return np.diff(cumulative, axis=-1)


def _check_scale(mean: np.ndarray, sd: float | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = finite_array("mean", mean, ndim=None, min_size=0)
    sd = finite_array("sd", sd, ndim=None, min_size=0)
    if np.any(sd <= 0):
        raise ValueError("sd must be positive")
    return mean, sd


def gaussian_rating_probabilities(
    mean: np.ndarray, sd: float | np.ndarray, n_categories: int = 5
) -> np.ndarray:
    r"""Probabilities of the ratings :math:`1, \dots, K` implied by a Normal prediction.

    The Normal :math:`N(\mu, \sigma^2)` is binned at the half-integers
    :math:`1.5, \dots, K - 0.5`; the lowest bin is :math:`(-\infty, 1.5)` and the highest
    :math:`(K - 0.5, \infty)`, so the probabilities sum to 1 and include the mass that the
    Normal puts on impossible ratings (see :func:`mass_outside`).

    Parameters
    ----------
    mean
        Predicted means, any shape ``S``.
    sd
        Predictive SD, a positive scalar or broadcastable to ``S``.
    n_categories
        Number of ratings :math:`K` (at least 2).

    Returns
    -------
    numpy.ndarray
        Shape ``S + (K,)``.

    Raises
    ------
    ValueError
        If a value is not finite, ``sd`` is not positive, or ``n_categories`` is below 2.
    """
    mean, sd = _check_scale(mean, sd)
    check_positive_int("n_categories", n_categories, minimum=2)
    edges = np.arange(1, n_categories) + 0.5
    z = (edges - mean[..., None]) / np.asarray(sd)[..., None]
    below = stats.norm.cdf(z)
    shape = below.shape[:-1] + (1,)
    cumulative = np.concatenate([np.zeros(shape), below, np.ones(shape)], axis=-1)
    return np.diff(cumulative, axis=-1)


def mass_outside(mean: np.ndarray, sd: float | np.ndarray, n_categories: int = 5) -> np.ndarray:
    r"""Probability that :math:`N(\mu, \sigma^2)` falls below 0.5 or above :math:`K + 0.5`.

    Parameters
    ----------
    mean, sd, n_categories
        As in :func:`gaussian_rating_probabilities`.

    Returns
    -------
    numpy.ndarray
        Shape of ``mean`` (broadcast with ``sd``).
    """
    mean, sd = _check_scale(mean, sd)
    check_positive_int("n_categories", n_categories)
    low = stats.norm.cdf((0.5 - mean) / sd)
    high = stats.norm.sf((n_categories + 0.5 - mean) / sd)
    return np.asarray(low + high)


def observed_frequencies(ratings: np.ndarray | pd.Series, n_categories: int = 5) -> np.ndarray:
    """Relative frequencies of the ratings ``1, ..., n_categories``.

    Raises
    ------
    ValueError
        If a rating is not an integer between 1 and ``n_categories``.
    """
    y = np.asarray(ratings)
    if y.size == 0:
        raise ValueError("ratings must not be empty")
    if not np.all((y == np.round(y)) & (y >= 1) & (y <= n_categories)):
        raise ValueError(f"ratings must be integers between 1 and {n_categories}")
    counts = np.bincount(y.astype(int) - 1, minlength=n_categories)
    return counts / counts.sum()


def mean_posterior_probabilities(
    eta_draws: np.ndarray, cutpoint_draws: np.ndarray, *, chunk: int = 100
) -> np.ndarray:
    """Posterior predictive probabilities of each rating, averaged over draws and rows.

    Parameters
    ----------
    eta_draws
        Latent scores, shape ``(draws, rows)``.
    cutpoint_draws
        Cutpoints, shape ``(draws, K - 1)``.
    chunk
        Draws processed at a time (bounds the memory used).

    Returns
    -------
    numpy.ndarray
        Shape ``(K,)``: the predicted share of each rating over the rows, averaged over draws.
    """
    eta_draws = np.asarray(eta_draws, dtype=float)
    cut = np.asarray(cutpoint_draws, dtype=float)
    if eta_draws.ndim != 2 or cut.ndim != 2 or cut.shape[0] != eta_draws.shape[0]:
        raise ValueError("eta_draws must be (draws, rows) and cutpoint_draws (draws, K - 1)")
    chunk = check_positive_int("chunk", chunk)
    total = np.zeros(cut.shape[1] + 1)
    for start in range(0, eta_draws.shape[0], chunk):
        probs = cumulative_logit_probabilities(
            eta_draws[start : start + chunk], cut[start : start + chunk, None, :]
        )
        total += probs.mean(axis=1).sum(axis=0)
    return total / eta_draws.shape[0]


def total_variation(p: np.ndarray, q: np.ndarray) -> float:
    r"""Total variation distance :math:`\tfrac12 \sum_k |p_k - q_k|` of two distributions.

    Raises
    ------
    ValueError
        If the shapes differ, an entry is negative, or either does not sum to 1.
    """
    p = np.asarray(p, dtype=float)
    q = np.asarray(q, dtype=float)
    if p.shape != q.shape:
        raise ValueError(f"p and q must have the same shape, got {p.shape} and {q.shape}")
    for name, v in (("p", p), ("q", q)):
        if np.any(v < 0) or not np.isclose(v.sum(), 1.0, atol=1e-8):
            raise ValueError(f"{name} must be a probability vector")
    return float(0.5 * np.abs(p - q).sum())


def cumulative_log_odds(
    ratings: pd.Series, groups: pd.Series, n_categories: int = 5
) -> pd.DataFrame:
    """Empirical cumulative log-odds of ratings by group (rows: thresholds ``1..K-1``).

    Raises
    ------
    ValueError
        If a group lacks ratings on one side of a threshold (an infinite log-odds).
    """
    rows = {}
    for name, y in ratings.groupby(groups, observed=True):
        share = np.array([(y <= k).mean() for k in range(1, n_categories)])
        if np.any((share <= 0) | (share >= 1)):
            raise ValueError(f"group {name!r} has no ratings on one side of a threshold")
        rows[name] = special.logit(share)
    return pd.DataFrame(rows, index=pd.Index(range(1, n_categories), name="k"))
