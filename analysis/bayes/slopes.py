"""Random intercepts and slopes for any data set: ``y ~ x + (x | g)`` written out in PyMC."""

from __future__ import annotations

import analysis.quiet  # noqa: F401  (must run before PyTensor is imported)

# isort: split

from typing import Any, Literal

import numpy as np
import pandas as pd
import pymc as pm

from analysis.bayes.priors import Priors
from analysis.validation import check_choice, numeric_response, require_columns, require_rows

__all__ = ["Structure", "random_slopes_model"]

#: The three covariance structures :func:`random_slopes_model` builds.
Structure = Literal["correlated", "independent", "intercept"]
_STRUCTURES: tuple[str, ...] = ("correlated", "independent", "intercept")


def _sd_dist(priors: Priors) -> Any:
    """Return the LKJ prior's ``sd_dist``: the intercept and slope SD priors as one vector."""
    if priors.group_sd.family != priors.slope_sd.family:
        raise ValueError(
            "the correlated model needs the same family for the intercept and slope SD priors, "
            f"got {priors.group_sd.family!r} and {priors.slope_sd.family!r}"
        )
    return priors.group_sd.dist(np.array([priors.group_sd.scale, priors.slope_sd.scale]))


def random_slopes_model(
    data: pd.DataFrame,
    *,
    response: str,
    slope: str,
    group: str,
    structure: Structure = "correlated",
    priors: Priors | None = None,
) -> pm.Model:
    r"""Build ``response ~ slope + (slope | group)`` in PyMC, written out by hand.

    .. math::

        y_{ij} \sim N\big(\beta_0 + b_{0j} + (\beta_1 + b_{1j})\,x_{ij},\ \sigma^2\big),
        \qquad (b_{0j}, b_{1j}) \sim N(0, \Sigma),

    always in the non-centred form (standard Normal ``z`` scaled by the SDs), which suits
    groups with few observations. ``structure`` chooses :math:`\Sigma`:

    * ``"correlated"`` -- lme4's ``(x | g)``: :math:`\Sigma = \operatorname{diag}(\sigma_b)
      R \operatorname{diag}(\sigma_b)` with an LKJ prior on :math:`R` (Lewandowski,
      Kurowicka & Joe 2009), through its Cholesky factor: :math:`b_j = L z_j`.
    * ``"independent"`` -- lme4's ``(x || g)``: intercepts and slopes independent. This is
      what Bambi 0.21 builds for ``(x | g)``, with the same variable names, so the two
      posteriors can be compared directly.
    * ``"intercept"`` -- ``(1 | g)``: a random intercept only.

    Parameters
    ----------
    data
        One row per observation.
    response, slope, group
        Column names: the numeric response, the numeric predictor whose slope varies, and
        the grouping factor (levels ordered as sorted strings).
    structure
        ``"correlated"``, ``"independent"`` or ``"intercept"``.
    priors
        The priors; :meth:`Priors.from_data` by default.

    Returns
    -------
    pymc.Model
        Variables ``Intercept``, ``<slope>``, ``sigma``, ``1|<group>_sigma`` and
        ``1|<group>`` (dims ``<group>``); with a random slope also ``<slope>|<group>_sigma``
        and ``<slope>|<group>``; in the correlated model also ``rho``, the correlation of
        intercept and slope. The observed variable is named ``response``.

    Raises
    ------
    ValueError
        For missing or non-numeric columns, fewer than two groups, or an unknown structure.
    """
    check_choice("structure", structure, _STRUCTURES)
    require_columns(data, [response, slope, group])
    require_rows(data)
    y = numeric_response(data, response)
    x = numeric_response(data, slope, role="predictor")
    if data[group].isna().any():
        raise ValueError(f"data[{group!r}] has missing values")
    codes, levels = pd.factorize(data[group].astype(str), sort=True)
    if len(levels) < 2:
        raise ValueError(f"data[{group!r}] must have at least two levels, got {len(levels)}")
    if priors is None:
        priors = Priors.from_data(data, response, slope)
    coords = {group: [str(v) for v in levels], "effect": ["Intercept", slope]}
    b0_name, b1_name = f"1|{group}", f"{slope}|{group}"
    with pm.Model(coords=coords) as model:
        beta0 = pm.Normal("Intercept", mu=priors.intercept_mean, sigma=priors.intercept_sd)
        beta1 = pm.Normal(slope, mu=0.0, sigma=priors.effect_sd)
        sigma = priors.sigma.build("sigma")
        if structure == "correlated":
            chol, corr, sds = pm.LKJCholeskyCov(
                f"chol_{group}",
                n=2,
                eta=priors.lkj_eta,
                sd_dist=_sd_dist(priors),
                compute_corr=True,
            )
            z = pm.Normal(f"z_{group}", 0.0, 1.0, dims=(group, "effect"))
            effects = pm.math.dot(z, chol.T)  # b_j = L z_j, row by row
            pm.Deterministic(f"{b0_name}_sigma", sds[0])
            pm.Deterministic(f"{b1_name}_sigma", sds[1])
            pm.Deterministic("rho", corr[0, 1])
            b0 = pm.Deterministic(b0_name, effects[:, 0], dims=group)
            b1 = pm.Deterministic(b1_name, effects[:, 1], dims=group)
        else:
            s0 = priors.group_sd.build(f"{b0_name}_sigma")
            z0 = pm.Normal(f"{b0_name}_offset", 0.0, 1.0, dims=group)
            b0 = pm.Deterministic(b0_name, s0 * z0, dims=group)
            b1 = None
            if structure == "independent":
                s1 = priors.slope_sd.build(f"{b1_name}_sigma")
                z1 = pm.Normal(f"{b1_name}_offset", 0.0, 1.0, dims=group)
                b1 = pm.Deterministic(b1_name, s1 * z1, dims=group)
        expected = beta0 + b0[codes] + beta1 * x
        if b1 is not None:
            expected = expected + b1[codes] * x
        pm.Normal(response, mu=expected, sigma=sigma, observed=y)
    return model
