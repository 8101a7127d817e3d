r"""The Bayesian archer models in PyMC: fixed archer effects, and the mixed model.

The archer model of the book is

.. math::

    Y_{ijk} = \mu + \tau\,\mathbb{1}(i = \text{Southwood}) + \alpha_j + \varepsilon_{ijk},
    \qquad \varepsilon_{ijk} \sim N(0, \sigma_e^2).

Two Bayesian readings of :math:`\alpha_j` are built here:

* :func:`fixed_effects_model` -- every :math:`\alpha_j` gets a Normal prior with a *fixed*
  standard deviation :math:`\sigma_a` chosen by the analyst: the prior expresses our
  uncertainty about each archer, and nothing is learned about a population of archers.
* :func:`mixed_model` -- :math:`\alpha_j \sim N(0, \sigma_a^2)` with a prior on
  :math:`\sigma_a`, which becomes a parameter to estimate (the Bayesian mixed model), in a
  *centred* or a *non-centred* form.

Every model names its variables the same way: ``mu``, ``tau``, ``sigma_e``, ``alpha`` (dims
``archer``), and, for the mixed model, ``sigma_a``. :data:`HYPERPARAMETERS` lists the
scalar parameters a convergence check should cover.

:func:`information_ratio` says whether the centred or the non-centred form suits a data set.
"""

from __future__ import annotations

import analysis.quiet  # noqa: F401  (must run before PyTensor is imported)

# isort: split

from typing import Any

import numpy as np
import pandas as pd
import pymc as pm

from analysis.bayes.priors import DEFAULT_PRIORS, Priors
from analysis.datasets.archers import BOWS
from analysis.validation import (
    check_bool,
    check_positive,
    numeric_response,
    require_columns,
    require_rows,
)

__all__ = [
    "HYPERPARAMETERS",
    "fixed_effects_model",
    "mixed_model",
    "information_ratio",
    "archer_arrays",
]

#: The scalar parameters of the archer models, in the order tables show them.
HYPERPARAMETERS: tuple[str, ...] = ("mu", "tau", "sigma_a", "sigma_e")


def archer_arrays(
    data: pd.DataFrame, priors: Priors
) -> tuple[dict[str, Any], np.ndarray, np.ndarray, np.ndarray]:
    """Check archer data and priors, as every archer model and sampler needs them.

    Parameters
    ----------
    data
        Archer data with columns ``Distance``, ``Bow`` and ``Name``.
    priors
        The priors (only checked to be a :class:`~analysis.bayes.priors.Priors`).

    Returns
    -------
    tuple
        The coordinates (``archer``: names in order of first appearance, or of the categories
        for a categorical ``Name``; ``obs``: row numbers), the distances, the Southwood
        indicator (1.0 for the second bow of ``BOWS``) and each row's archer index.

    Raises
    ------
    ValueError
        For missing columns, empty or non-finite data, an unknown or missing bow, a missing
        name, or priors that are not a ``Priors``.
    """
    require_columns(data, ["Distance", "Bow", "Name"])
    require_rows(data)
    y = numeric_response(data, "Distance")
    if data["Bow"].isna().any():
        raise ValueError("data['Bow'] has missing values")
    bows = data["Bow"].astype(str)
    unknown = sorted(set(bows) - set(BOWS))
    if unknown:
        raise ValueError(f"data['Bow'] has unknown bow(s) {unknown}; expected {list(BOWS)}")
    if data["Name"].isna().any():
        raise ValueError("data['Name'] has missing values")
    names_col = data["Name"].astype(str)
    if isinstance(data["Name"].dtype, pd.CategoricalDtype):
        present = set(names_col)
        names = [str(c) for c in data["Name"].cat.categories if str(c) in present]
    else:
        names = [str(n) for n in pd.unique(names_col)]
    idx = pd.Index(names).get_indexer(names_col).astype(int)
    south = (bows == BOWS[1]).to_numpy(dtype=float)
    if not isinstance(priors, Priors):
        raise ValueError(f"priors must be a Priors instance, got {type(priors).__name__}")
    coords = {"archer": names, "obs": np.arange(len(y))}
    return coords, y, south, idx


def fixed_effects_model(
    data: pd.DataFrame,
    *,
    sigma_a: float = 50.0,
    centered: bool = True,
    priors: Priors = DEFAULT_PRIORS,
) -> pm.Model:
    r"""Build the Bayesian fixed-effects archer model: a fixed prior SD for every archer.

    .. math::

        \mu \sim N(m_\mu, s_\mu^2),\quad \tau \sim N(0, s_\tau^2),\quad
        \alpha_j \sim N(0, \sigma_a^2)\ \text{with } \sigma_a \text{ fixed},\quad
        \sigma_e \sim p(\sigma_e),\quad
        Y \sim N(\mu + \tau\,\text{south} + \alpha_j, \sigma_e^2).

    In the centred form (default) the archer means :math:`\mu + \alpha_j` are sampled, which
    mixes well when each archer's shots pin their effect down far better than the prior does;
    in the non-centred form ``z_j = \alpha_j / \sigma_a`` is sampled, which suits a prior SD
    that is small next to the noise of an archer's mean (see :func:`mixed_model`). Either way
    :math:`\alpha_j` is recorded as ``alpha``.

    Parameters
    ----------
    data
        Archer data with columns ``Distance``, ``Bow`` and ``Name``.
    sigma_a
        The fixed prior SD of each archer effect, in metres (positive).
    centered
        Sample the archer means (``True``) or standardised effects ``z`` (``False``).
    priors
        Priors of ``mu`` (the intercept), ``tau`` (``effect_sd``) and ``sigma_e`` (``sigma``);
        ``priors.group_sd`` is not used.

    Returns
    -------
    pymc.Model
        Variables ``mu``, ``tau``, ``sigma_e``, ``alpha`` and ``archer_mean`` (centred) or
        ``z`` (non-centred), all but the first three with dims ``archer``, and the observed
        ``Distance`` (dims ``obs``).

    Raises
    ------
    ValueError
        For missing columns, empty or non-finite data, an unknown bow, a non-positive
        ``sigma_a`` or a non-boolean ``centered``.
    """
    sigma_a = check_positive("sigma_a", sigma_a)
    centered = check_bool("centered", centered)
    coords, y, south, idx = archer_arrays(data, priors)
    with pm.Model(coords=coords) as model:
        mu = pm.Normal("mu", mu=priors.intercept_mean, sigma=priors.intercept_sd)
        tau = pm.Normal("tau", mu=0.0, sigma=priors.effect_sd)
        sigma_e = priors.sigma.build("sigma_e")
        _archer_effects(mu, sigma_a, centered)
        if centered:
            expected = model["archer_mean"][idx] + tau * south
        else:
            expected = mu + model["alpha"][idx] + tau * south
        pm.Normal("Distance", mu=expected, sigma=sigma_e, observed=y, dims="obs")
    return model


def _archer_effects(mu: Any, sigma_a: Any, centered: bool) -> None:
    """Add the archer effects (``archer_mean`` or ``z``, and ``alpha``) to the current model."""
    if centered:
        archer_mean = pm.Normal("archer_mean", mu=mu, sigma=sigma_a, dims="archer")
        pm.Deterministic("alpha", archer_mean - mu, dims="archer")
    else:
        z = pm.Normal("z", mu=0.0, sigma=1.0, dims="archer")
        pm.Deterministic("alpha", sigma_a * z, dims="archer")


def mixed_model(
    data: pd.DataFrame,
    *,
    centered: bool = True,
    priors: Priors = DEFAULT_PRIORS,
) -> pm.Model:
    r"""Build the Bayesian mixed archer model: archer effects drawn from N(0, σ_a²).

    .. math::

        \alpha_j \sim N(0, \sigma_a^2),\quad \sigma_a \sim p(\sigma_a),\quad
        Y \sim N(\mu + \tau\,\text{south} + \alpha_j, \sigma_e^2),

    with the same priors on :math:`\mu, \tau, \sigma_e` as :func:`fixed_effects_model`.

    Parameters
    ----------
    data
        Archer data with columns ``Distance``, ``Bow`` and ``Name``; at least two archers.
    centered
        ``True`` for the centred form: the archer means :math:`\mu + \alpha_j \sim N(\mu,
        \sigma_a^2)` are the sampled variables (``archer_mean``), so :math:`\mu` enters only
        their prior. ``False`` for the non-centred form: standard Normal ``z_j`` are sampled
        and :math:`\alpha_j = \sigma_a z_j`. The two define the same posterior but give NUTS
        different geometries: centred suits informative data (many shots per archer),
        non-centred suits sparse data.
    priors
        The priors; ``priors.group_sd`` is the prior of :math:`\sigma_a` (see
        :meth:`Priors.with_group_sd`).

    Returns
    -------
    pymc.Model
        Variables ``mu``, ``tau``, ``sigma_a``, ``sigma_e``, ``alpha`` (dims ``archer``) and
        ``archer_mean`` (centred) or ``z`` (non-centred), and the observed ``Distance``.

    Raises
    ------
    ValueError
        For missing columns, empty or non-finite data, an unknown bow, fewer than two
        archers, or a non-boolean ``centered``.
    """
    centered = check_bool("centered", centered)
    coords, y, south, idx = archer_arrays(data, priors)
    if len(coords["archer"]) < 2:
        raise ValueError(
            "data must hold at least two archers to estimate the archer SD sigma_a, "
            f"got {len(coords['archer'])}"
        )
    with pm.Model(coords=coords) as model:
        mu = pm.Normal("mu", mu=priors.intercept_mean, sigma=priors.intercept_sd)
        tau = pm.Normal("tau", mu=0.0, sigma=priors.effect_sd)
        sigma_a = priors.group_sd.build("sigma_a")
        sigma_e = priors.sigma.build("sigma_e")
        _archer_effects(mu, sigma_a, centered)
        if centered:
            expected = model["archer_mean"][idx] + tau * south
        else:
            expected = mu + model["alpha"][idx] + tau * south
        pm.Normal("Distance", mu=expected, sigma=sigma_e, observed=y, dims="obs")
    return model


def information_ratio(shots_per_archer: float, sigma_a: float, sigma_e: float) -> float:
    r"""How much more one archer's shots say about their effect than the population does.

    The ratio :math:`n\sigma_a^2/\sigma_e^2` of the precision of an archer's mean of
    :math:`n` shots (:math:`n/\sigma_e^2`) to the precision of the population distribution
    of archer effects (:math:`1/\sigma_a^2`). Large values (the data pin each archer down)
    favour the centred form; values near or below 1 favour the non-centred form.

    Parameters
    ----------
    shots_per_archer
        Shots per archer, :math:`n` (positive).
    sigma_a, sigma_e
        Archer SD and shot SD (positive).

    Returns
    -------
    float
        The ratio.
    """
    for name, value in (
        ("shots_per_archer", shots_per_archer),
        ("sigma_a", sigma_a),
        ("sigma_e", sigma_e),
    ):
        check_positive(name, value)
    return float(shots_per_archer * sigma_a**2 / sigma_e**2)
