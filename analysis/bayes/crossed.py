r"""Bayesian crossed random-intercept models (InstEval in the book): ADVI and exact NUTS.

The model of the InstEval chapters is

.. math::

    y_i = x_i^\top\beta + b^{(s)}_{s[i]} + b^{(d)}_{d[i]} + b^{(dept)}_{dept[i]}
          + \varepsilon_i,\qquad
    b^{(g)}_j \sim N(0, \sigma_g^2),\quad \varepsilon_i \sim N(0, \sigma_e^2).

Two PyMC versions are built here.

* :func:`advi_model` is the straightforward one (as in the Edward tutorial on InstEval):
  every level of every factor is a parameter, written non-centred
  (:math:`b^{(g)} = \sigma_g z^{(g)}`, :math:`z^{(g)} \sim N(0, I)`), and
  :func:`fit_advi` fits it by mean-field ADVI.
* :func:`marginal_model` gives NUTS the same posterior with one factor (the students, the
  largest) **integrated out analytically**. Given everything else, the ratings of student
  :math:`j` are :math:`N(m_j, \sigma_e^2 I + \sigma_s^2 \mathbf{1}\mathbf{1}^\top)` where
  :math:`m_j` holds the rest of the mean, and with :math:`n_j` ratings, residuals
  :math:`r_j = y_j - m_j`, :math:`S_j = \mathbf 1^\top r_j` and
  :math:`D_j = \sigma_e^2 + n_j\sigma_s^2`,

  .. math::

      \log p(y_j\mid\cdot) = -\tfrac{n_j}{2}\log 2\pi - (n_j - 1)\log\sigma_e
          - \tfrac12\log D_j
          - \frac{1}{2\sigma_e^2}\Big(r_j^\top r_j - \frac{\sigma_s^2 S_j^2}{D_j}\Big).

  Summed over students, :math:`\sum_j r_j^\top r_j` is the total residual sum of squares.
  The rest of the mean depends on a row only through its *cell* (fixed-effect row and the
  levels of the remaining factors: 1,773 cells in InstEval's training split), so the total
  sum of squares needs only per-cell counts, sums and sums of squares, and the per-student
  sums :math:`S_j` need only the (student, cell) pairs with their counts -- all computed
  once by :func:`prepare_crossed`.

  Then the fixed effects and the effects of the small factors (``groups[2:]``, the 14
  departments) -- 16 coefficients with Normal priors, entering linearly -- are integrated out
  too: a 16-dimensional Gaussian integral, i.e. a log-determinant and a Schur complement of
  a :math:`17 \times 17` bordered matrix built from sufficient statistics
  (:func:`marginal_loglik`). NUTS samples only the instructor effects and the four SDs
  (1,132 parameters instead of about 4,130), and the department SD, which otherwise mixes
  badly against the department effects, becomes easy.

After sampling, :func:`recover_effects` draws the fixed and department effects from their
exact conditional Normal for every draw, and computes each student's conditional mean and
variance, from which :func:`posterior_summary` gives Rao-Blackwellised posterior means and SDs.

Variable names: ``beta`` (dims ``term``), ``sigma_e``, ``sigma_<group>`` for each factor,
``z_<group>`` and ``b_<group>`` (dims ``<group>``) for each factor that is a parameter.
"""

from __future__ import annotations

import analysis.quiet  # noqa: F401  (must run before PyTensor is imported)

# isort: split

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt
import scipy.sparse as sp
from xarray import DataTree

from analysis.bayes import Priors, SigmaPrior
from analysis.models.crossed import FixedDesign, fixed_design, group_codes
from analysis.validation import (
    check_bool,
    check_positive,
    check_positive_int,
    check_seed,
    model_columns,
    numeric_response,
    require_columns,
)

__all__ = [
    "CrossedData",
    "DEFAULT_PRIORS",
    "AdviResult",
    "prepare_crossed",
    "hyperparameters",
    "advi_model",
    "fit_advi",
    "marginal_loglik",
    "marginal_model",
    "recover_effects",
    "posterior_summary",
    "PosteriorSummary",
    "effects_by_method",
]


# --------------------------------------------------------------------------------------------
# Data preparation
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CrossedData:
    r"""Arrays of a crossed random-intercept data set, ready for the PyMC builders.

    Attributes
    ----------
    response
        The response column's name.
    groups
        All grouping factors; ``groups[0]`` is the one :func:`marginal_model` integrates out.
    design
        The fixed-effect design (intercept first); ``design.names`` name ``beta``.
    y
        Response, length ``n``.
    X
        Fixed-effect design matrix, ``n x p``.
    codes
        For each factor, the level index (0-based) of every row.
    levels
        For each factor, its levels (those present in the data, in category order).
    cell
        For every row, the index of its cell: a unique combination of fixed-effect row and
        levels of ``groups[1:]``.
    cell_X, cell_codes
        The design row and the ``groups[1:]`` level indices of each cell.
    cell_n, cell_sum, cell_sumsq
        Rows, response sum and response sum of squares per cell.
    pair_unit, pair_cell, pair_n
        The distinct (level of ``groups[0]``, cell) pairs and their row counts.
    unit_n, unit_sum
        Rows and response sum per level of ``groups[0]``.
    block_names
        Names of the *Gaussian block* :math:`u` that :func:`marginal_model` integrates out:
        the fixed effects, then one entry per level of each factor in ``groups[2:]``
        (``"dept[3]"``).
    cell_C
        Design of each cell for the block (``cells x K``).
    unit_C
        Per-level sums over rows of ``groups[0]`` of the block design (``units x K``).
    CtC, Cty
        :math:`C^\top C` and :math:`C^\top y` of the row-level block design :math:`C`.
    size_n, size_count, size_of_unit
        The distinct numbers of rows per level of ``groups[0]``, how many levels have each,
        and each level's index into them.
    size_CC
        For each distinct size, the sum of :math:`c_j c_j^\top` over levels of that size
        (``sizes x K x K``), :math:`c_j` a row of ``unit_C``.
    """

    response: str
    groups: tuple[str, ...]
    design: FixedDesign
    y: np.ndarray
    X: np.ndarray
    codes: dict[str, np.ndarray]
    levels: dict[str, pd.Index]
    cell: np.ndarray
    cell_X: np.ndarray
    cell_codes: dict[str, np.ndarray]
    cell_n: np.ndarray
    cell_sum: np.ndarray
    cell_sumsq: np.ndarray
    pair_unit: np.ndarray
    pair_cell: np.ndarray
    pair_n: np.ndarray
    unit_n: np.ndarray
    unit_sum: np.ndarray
    block_names: tuple[str, ...]
    cell_C: np.ndarray
    unit_C: np.ndarray
    CtC: np.ndarray
    Cty: np.ndarray
    size_n: np.ndarray
    size_count: np.ndarray
    size_of_unit: np.ndarray
    size_CC: np.ndarray

    @property
    def n_obs(self) -> int:
        """Number of rows."""
        return int(self.y.size)

    @property
    def marginal_group(self) -> str:
        """The factor integrated out by :func:`marginal_model`."""
        return self.groups[0]

    def coords(self) -> dict[str, list[str]]:
        """PyMC coordinates: ``term`` and one dimension per factor (labels as strings)."""
        out: dict[str, list[str]] = {"term": list(self.design.names)}
        for g in self.groups:
            out[g] = [str(v) for v in self.levels[g]]
        return out


def prepare_crossed(
    data: pd.DataFrame,
    response: str = "y",
    fixed: Sequence[str] = ("service",),
    groups: Sequence[str] = ("s", "d", "dept"),
) -> CrossedData:
    """Check the data and compute the arrays and sufficient statistics the models need.

    Parameters
    ----------
    data
        The (training) data.
    response
        Numeric response column.
    fixed
        Fixed-effect columns (an intercept is always added; factors are treatment-coded as in
        :func:`analysis.models.crossed.fixed_design`).
    groups
        Grouping columns, each with a random intercept. The first is the one
        :func:`marginal_model` integrates out: choose the factor with the most levels.

    Returns
    -------
    CrossedData

    Raises
    ------
    ValueError
        If ``data`` is not a non-empty frame, a column is missing or in two roles, the response
        is not numeric and finite, or ``groups`` is empty.
    """
    # two or more factors: the first is integrated out, the others sampled
    fixed_list, group_list = model_columns(data, response, fixed, groups, min_groups=2)
    y = numeric_response(data, response)

    design = fixed_design(data, fixed_list)
    X = design.matrix(data)
    codes: dict[str, np.ndarray] = {}
    levels: dict[str, pd.Index] = {}
    for g in group_list:
        codes[g], levels[g] = group_codes(data[g], g)

    # Cells: unique combinations of the design row and the non-marginalised factors.
    key = np.column_stack([X] + [codes[g].astype(float) for g in group_list[1:]])
    uniq, cell = np.unique(key, axis=0, return_inverse=True)
    cell = cell.ravel().astype(np.int64)
    n_cells = uniq.shape[0]
    p = X.shape[1]
    cell_X = uniq[:, :p]
    cell_codes = {g: uniq[:, p + k].astype(np.int64) for k, g in enumerate(group_list[1:])}
    cell_n = np.bincount(cell, minlength=n_cells).astype(float)
    cell_sum = np.bincount(cell, weights=y, minlength=n_cells)
    cell_sumsq = np.bincount(cell, weights=y * y, minlength=n_cells)

    unit = codes[group_list[0]]
    n_units = len(levels[group_list[0]])
    pair_key = unit * n_cells + cell
    pairs, pair_n = np.unique(pair_key, return_counts=True)
    pair_unit = (pairs // n_cells).astype(np.int64)
    pair_cell = (pairs % n_cells).astype(np.int64)
    unit_n = np.bincount(unit, minlength=n_units).astype(float)

    # The Gaussian block: fixed effects and the levels of groups[2:].
    block_names = list(design.names)
    blocks = [cell_X]
    for g in group_list[2:]:
        q = len(levels[g])
        blocks.append(np.eye(q)[cell_codes[g]])
        block_names.extend(f"{g}[{lev}]" for lev in levels[g])
    cell_C = np.column_stack(blocks)
    unit_C = np.zeros((n_units, cell_C.shape[1]))
    np.add.at(unit_C, pair_unit, pair_n[:, None] * cell_C[pair_cell])
    size_n, size_of_unit = np.unique(unit_n, return_inverse=True)
    size_of_unit = size_of_unit.ravel().astype(np.int64)
    size_CC = np.zeros((size_n.size, cell_C.shape[1], cell_C.shape[1]))
    np.add.at(size_CC, size_of_unit, unit_C[:, :, None] * unit_C[:, None, :])
    return CrossedData(
        response=response,
        groups=tuple(group_list),
        design=design,
        y=y,
        X=X,
        codes=codes,
        levels=levels,
        cell=cell,
        cell_X=cell_X,
        cell_codes=cell_codes,
        cell_n=cell_n,
        cell_sum=cell_sum,
        cell_sumsq=cell_sumsq,
        pair_unit=pair_unit,
        pair_cell=pair_cell,
        pair_n=pair_n.astype(float),
        unit_n=unit_n,
        unit_sum=np.bincount(unit, weights=y, minlength=n_units),
        block_names=tuple(block_names),
        cell_C=cell_C,
        unit_C=unit_C,
        CtC=(cell_C * cell_n[:, None]).T @ cell_C,
        Cty=cell_C.T @ cell_sum,
        size_n=size_n,
        size_count=np.bincount(size_of_unit, minlength=size_n.size).astype(float),
        size_of_unit=size_of_unit,
        size_CC=size_CC,
    )


def _as_prepared(data: CrossedData | pd.DataFrame) -> CrossedData:
    if isinstance(data, CrossedData):
        return data
    if isinstance(data, pd.DataFrame):
        return prepare_crossed(data)
    raise ValueError(
        "data must be a CrossedData (see prepare_crossed) or a DataFrame, "
        f"got {type(data).__name__}"
    )


# --------------------------------------------------------------------------------------------
# Priors and model builders
# --------------------------------------------------------------------------------------------


#: The priors used in the book: weakly informative on the scale of a 1-to-5 rating (the mean
#: rating within 3 ± 4 or so, other fixed effects within ± 2, every SD HalfNormal(1)).
DEFAULT_PRIORS = Priors(
    intercept_mean=3.0,
    intercept_sd=2.0,
    effect_sd=1.0,
    sigma=SigmaPrior("halfnormal", 1.0),
    group_sd=SigmaPrior("halfnormal", 1.0),
    slope_sd=SigmaPrior("halfnormal", 1.0),
)


def hyperparameters(data: CrossedData) -> list[str]:
    """Return the names of the scalar parameters: ``beta``, ``sigma_e`` and the factor SDs."""
    return ["beta", "sigma_e", *[f"sigma_{g}" for g in data.groups]]


def _common(data: CrossedData, priors: Priors) -> tuple[pt.TensorVariable, dict[str, object]]:
    """Create ``beta`` and all SDs in the current model; return beta and the SDs by name."""
    p = data.X.shape[1]
    mu0 = np.zeros(p)
    mu0[0] = priors.intercept_mean
    sd0 = np.full(p, priors.effect_sd)
    sd0[0] = priors.intercept_sd
    beta = pm.Normal("beta", mu=mu0, sigma=sd0, dims="term")
    sds: dict[str, object] = {"sigma_e": priors.sigma.build("sigma_e")}
    for g in data.groups:
        sds[f"sigma_{g}"] = priors.group_sd.build(f"sigma_{g}")
    return beta, sds


def advi_model(data: CrossedData | pd.DataFrame, priors: Priors = DEFAULT_PRIORS) -> pm.Model:
    r"""Build the straightforward non-centred model: every level of every factor a parameter.

    Parameters
    ----------
    data
        Prepared data (:func:`prepare_crossed`) or a frame with InstEval's columns.
    priors
        The priors.

    Returns
    -------
    pymc.Model
        Variables ``beta``, ``sigma_e``, ``sigma_<g>``, ``z_<g>``, ``b_<g>`` (deterministic
        :math:`\sigma_g z_g`) for every factor, and the observed response.
    """
    data = _as_prepared(data)
    with pm.Model(coords=data.coords()) as model:
        beta, sds = _common(data, priors)
        mean = pt.dot(data.X, beta)
        for g in data.groups:
            z = pm.Normal(f"z_{g}", 0.0, 1.0, dims=g)
            b = pm.Deterministic(f"b_{g}", sds[f"sigma_{g}"] * z, dims=g)
            mean = mean + b[data.codes[g]]
        pm.Normal(data.response, mu=mean, sigma=sds["sigma_e"], observed=data.y)
    return model


def _block_prior(data: CrossedData, priors: Priors) -> tuple[np.ndarray, np.ndarray]:
    """Prior means and SDs of the fixed effects in the Gaussian block."""
    p = data.X.shape[1]
    mu0 = np.zeros(p)
    mu0[0] = priors.intercept_mean
    sd0 = np.full(p, priors.effect_sd)
    sd0[0] = priors.intercept_sd
    return mu0, sd0


def marginal_loglik(
    data: CrossedData,
    sigma_e: object,
    sigmas: dict[str, object],
    b_sampled: object,
    priors: Priors = DEFAULT_PRIORS,
) -> pt.TensorVariable:
    r"""Return :math:`\log p(y \mid b_{g_1}, \sigma)` with everything else integrated out.

    Integrated out analytically: the effects of ``groups[0]`` (diagonal block, closed form per
    level, see the module docstring), and the *Gaussian block* :math:`u` of fixed effects and
    effects of ``groups[2:]`` together with their Normal priors (a ``K x K`` dense Gaussian
    integral, ``K`` = 16 for InstEval). Only the effects of ``groups[1]`` remain.

    With :math:`M = I - A W A^\top` (:math:`A` the ``groups[0]`` indicator matrix,
    :math:`W = \mathrm{diag}(\sigma_s^2/D_j)`), :math:`e = y - b_{g_1}[\cdot]`,
    :math:`G = C^\top M C / \sigma_e^2`, :math:`h = C^\top M e / \sigma_e^2`, prior
    :math:`u \sim N(\mu_0, \Lambda_0^{-1})`, :math:`P = G + \Lambda_0`,
    :math:`b = h + \Lambda_0\mu_0`:

    .. math::

        \log p = -\tfrac n2\log 2\pi - (n - J)\log\sigma_e - \tfrac12\sum_j\log D_j
        - \frac{e^\top M e}{2\sigma_e^2} - \tfrac12\mu_0^\top\Lambda_0\mu_0
        + \tfrac12 b^\top P^{-1} b + \tfrac12\log|\Lambda_0| - \tfrac12\log|P|.

    Works on PyTensor variables (inside a model) and on NumPy values alike (then call
    ``.eval()`` on the result).

    Parameters
    ----------
    data
        Prepared data.
    sigma_e
        Residual SD.
    sigmas
        SD of every factor, by factor name.
    b_sampled
        The effects of ``groups[1]``, one per level.
    priors
        Priors of the fixed effects (the block's Normal prior).

    Returns
    -------
    pytensor.tensor.TensorVariable
        The scalar log density of the response.
    """
    g0, g1 = data.groups[0], data.groups[1]
    sigma_e = pt.as_tensor_variable(sigma_e)
    var_e = sigma_e * sigma_e
    var_m = pt.as_tensor_variable(sigmas[g0]) ** 2
    b1 = pt.as_tensor_variable(b_sampled)
    # Offsets per cell and residual sums e'e, per-unit sums E_j.
    o = b1[data.cell_codes[g1]]
    ete = pt.sum(data.cell_sumsq - 2.0 * o * data.cell_sum + data.cell_n * o * o)
    n_units = data.unit_n.size
    fitted = pt.inc_subtensor(pt.zeros(n_units)[data.pair_unit], data.pair_n * o[data.pair_cell])
    e_unit = data.unit_sum - fitted
    # Weights per distinct size, then per unit.
    d_size = var_e + data.size_n * var_m
    w_size = var_m / d_size
    w_unit = w_size[data.size_of_unit]
    eme = ete - pt.sum(w_unit * e_unit * e_unit)
    # Gaussian block.
    cte = data.Cty - pt.dot(data.cell_C.T, data.cell_n * o)
    h = (cte - pt.dot(data.unit_C.T, w_unit * e_unit)) / var_e
    ccw = pt.tensordot(w_size, data.size_CC, axes=[[0], [0]])
    G = (data.CtC - ccw) / var_e
    mu0, sd0 = _block_prior(data, priors)
    p = mu0.size
    prec_parts = [pt.as_tensor_variable(1.0 / sd0**2)]
    logdet_prior = pt.as_tensor_variable(-2.0 * np.sum(np.log(sd0)))
    for g in data.groups[2:]:
        q = len(data.levels[g])
        s2 = pt.as_tensor_variable(sigmas[g]) ** 2
        prec_parts.append(pt.ones(q) / s2)
        logdet_prior = logdet_prior - q * pt.log(s2)
    lam0 = pt.concatenate(prec_parts)
    mu0_full = np.concatenate([mu0, np.zeros(data.cell_C.shape[1] - p)])
    P = G + pt.diag(lam0)
    b = h + lam0 * mu0_full
    # The Gaussian integral needs log|P| and the Schur complement
    # c - b'P^{-1}b of the bordered matrix [[P, b], [b', c]], c = e'Me/sigma_e^2 + mu0'L0 mu0.
    # Both come from log-determinants: PyTensor differentiates those cheaply in every backend,
    # unlike an explicit inverse or triangular solves (an order of magnitude slower in numba).
    c = eme / var_e + pt.sum(lam0 * mu0_full * mu0_full)
    top = pt.concatenate([P, b[:, None]], axis=1)
    bottom = pt.concatenate([b, pt.stack([c])])[None, :]
    logdet_p = pt.linalg.slogdet(P)[1]
    logdet_aug = pt.linalg.slogdet(pt.concatenate([top, bottom], axis=0))[1]
    schur = pt.exp(logdet_aug - logdet_p)
    n = float(data.n_obs)
    return (
        -0.5 * n * np.log(2.0 * np.pi)
        - (n - n_units) * pt.log(sigma_e)
        - 0.5 * pt.sum(data.size_count * pt.log(d_size))
        + 0.5 * logdet_prior
        - 0.5 * logdet_p
        - 0.5 * schur
    )


def marginal_model(
    data: CrossedData | pd.DataFrame,
    priors: Priors = DEFAULT_PRIORS,
    centered: bool = True,
) -> pm.Model:
    """Build the fast exact model: only ``groups[1]`` and the SDs are sampled.

    The effects of ``groups[0]`` (students) and the Gaussian block of fixed effects and
    ``groups[2:]`` effects (departments) are integrated out by :func:`marginal_loglik`; they
    are recovered after sampling by :func:`recover_effects`. For InstEval the sampler sees
    1,128 instructor effects and four SDs instead of about 4,100 parameters.

    Parameters
    ----------
    data
        Prepared data (:func:`prepare_crossed`) or a frame with InstEval's columns.
    priors
        The priors (the same as :func:`advi_model`'s: Normal fixed effects, HalfNormal SDs).
    centered
        Sample ``b_<g1>`` directly (centred, the default: suits factors with many rows per
        level, like InstEval's instructors) or as ``sigma * z`` (non-centred).

    Returns
    -------
    pymc.Model
        Variables ``sigma_e``, ``sigma_<g>`` for every factor, ``b_<g1>`` (and ``z_<g1>`` if
        non-centred), and a potential ``loglik``.
    """
    data = _as_prepared(data)
    centered = check_bool("centered", centered)
    g1 = data.groups[1]
    with pm.Model(coords={g1: [str(v) for v in data.levels[g1]]}) as model:
        sigma_e = priors.sigma.build("sigma_e")
        sigmas = {g: priors.group_sd.build(f"sigma_{g}") for g in data.groups}
        if centered:
            b1 = pm.Normal(f"b_{g1}", 0.0, sigmas[g1], dims=g1)
        else:
            z = pm.Normal(f"z_{g1}", 0.0, 1.0, dims=g1)
            b1 = pm.Deterministic(f"b_{g1}", sigmas[g1] * z, dims=g1)
        pm.Potential("loglik", marginal_loglik(data, sigma_e, sigmas, b1, priors))
    return model


def recover_effects(
    data: CrossedData,
    idata: DataTree,
    *,
    seed: int,
    priors: Priors = DEFAULT_PRIORS,
) -> DataTree:
    """Add the integrated-out parameters of :func:`marginal_model` to ``idata`` (in place).

    For every draw, the Gaussian block (``beta`` and ``b_<g>`` for ``groups[2:]``) is drawn
    from its exact conditional Normal :math:`N(P^{-1}b, P^{-1})`, and then the conditional
    mean and variance of every ``groups[0]`` effect are computed (module docstring). The
    results are exact posterior draws of the block and a Rao-Blackwellised description of the
    ``groups[0]`` effects.

    Parameters
    ----------
    data
        The prepared data the model was fitted on.
    idata
        Draws of :func:`marginal_model`.
    seed
        Seed of the block draws.
    priors
        The priors the model was built with.

    Returns
    -------
    xarray.DataTree
        ``idata`` whose posterior now also holds ``beta`` (dims ``term``), ``b_<g>`` for
        ``groups[2:]``, and ``cmean_<g0>`` and ``cvar_<g0>`` (conditional mean and variance of
        the ``groups[0]`` effects given each draw).
    """
    seed = check_seed(seed)
    g0, g1 = data.groups[0], data.groups[1]
    post = idata.posterior.to_dataset()
    n_chain, n_draw = post.sizes["chain"], post.sizes["draw"]
    b1 = _draws(idata, f"b_{g1}")
    var_e = _draws(idata, "sigma_e") ** 2
    var_m = _draws(idata, f"sigma_{g0}") ** 2
    mu0, sd0 = _block_prior(data, priors)
    p = mu0.size
    K = data.cell_C.shape[1]
    mu0_full = np.concatenate([mu0, np.zeros(K - p)])
    rng = np.random.default_rng(seed)
    pairs = sp.csr_matrix(
        (data.pair_n, (data.pair_unit, data.pair_cell)),
        shape=(data.unit_n.size, data.cell_n.size),
    )
    n_total = b1.shape[0]
    u_draws = np.empty((n_total, K))
    cmean = np.empty((n_total, data.unit_n.size))
    cvar = np.empty((n_total, data.unit_n.size))
    extra = {g: _draws(idata, f"sigma_{g}") ** 2 for g in data.groups[2:]}
    for t in range(n_total):
        o = b1[t][data.cell_codes[g1]]
        e_unit = data.unit_sum - pairs @ o
        w_unit = var_m[t] / (var_e[t] + data.unit_n * var_m[t])
        w_size = var_m[t] / (var_e[t] + data.size_n * var_m[t])
        cte = data.Cty - data.cell_C.T @ (data.cell_n * o)
        h = (cte - data.unit_C.T @ (w_unit * e_unit)) / var_e[t]
        G = (data.CtC - np.tensordot(w_size, data.size_CC, axes=(0, 0))) / var_e[t]
        lam0 = np.concatenate(
            [1.0 / sd0**2]
            + [np.full(len(data.levels[g]), 1.0 / extra[g][t]) for g in data.groups[2:]]
        )
        L = np.linalg.cholesky(G + np.diag(lam0))
        mean = np.linalg.solve(L.T, np.linalg.solve(L, h + lam0 * mu0_full))
        u = mean + np.linalg.solve(L.T, rng.standard_normal(K))
        u_draws[t] = u
        resid = e_unit - data.unit_C @ u
        cmean[t] = w_unit * resid
        cvar[t] = var_e[t] * w_unit
    shape = (n_chain, n_draw)
    post["beta"] = (("chain", "draw", "term"), u_draws[:, :p].reshape(shape + (p,)))
    post = post.assign_coords(term=list(data.design.names))
    start = p
    for g in data.groups[2:]:
        q = len(data.levels[g])
        post[f"b_{g}"] = (("chain", "draw", g), u_draws[:, start : start + q].reshape(shape + (q,)))
        post = post.assign_coords({g: [str(v) for v in data.levels[g]]})
        start += q
    labels = [str(v) for v in data.levels[g0]]
    post[f"cmean_{g0}"] = (("chain", "draw", g0), cmean.reshape(shape + (len(labels),)))
    post[f"cvar_{g0}"] = (("chain", "draw", g0), cvar.reshape(shape + (len(labels),)))
    post = post.assign_coords({g0: labels})
    idata["posterior"] = DataTree(post)
    return idata


# --------------------------------------------------------------------------------------------
# ADVI
# --------------------------------------------------------------------------------------------


@dataclass
class AdviResult:
    """A fitted mean-field ADVI approximation.

    Attributes
    ----------
    loss
        The negative ELBO at every iteration (the convergence trace).
    idata
        Draws from the approximation (``posterior`` group).
    seconds
        Wall time of the optimisation (excluding drawing).
    n
        Iterations run.
    approx
        The PyMC approximation object.
    """

    loss: np.ndarray
    idata: DataTree
    seconds: float
    n: int
    approx: object = field(repr=False)


def fit_advi(
    model: pm.Model, *, n: int = 10_000, seed: int, draws: int = 1000, learning_rate: float = 0.01
) -> AdviResult:
    """Fit mean-field ADVI (``pm.fit(method="advi")``) and draw from the approximation.

    Parameters
    ----------
    model
        Typically :func:`advi_model`.
    n
        Iterations of stochastic gradient ascent on the ELBO.
    seed
        Seed of the optimisation and of the draws.
    draws
        Draws taken from the fitted approximation.
    learning_rate
        Step size of the Adam optimiser.

    Returns
    -------
    AdviResult
    """
    if not isinstance(model, pm.Model):
        raise ValueError(f"model must be a pymc.Model, got {type(model).__name__}")
    n = check_positive_int("n", n)
    draws = check_positive_int("draws", draws)
    seed = check_seed(seed)
    learning_rate = check_positive("learning_rate", learning_rate)
    start = time.perf_counter()
    with model:
        approx = pm.fit(
            n=n,
            method="advi",
            random_seed=int(seed),
            progressbar=False,
            obj_optimizer=pm.adam(learning_rate=learning_rate),
        )
    seconds = time.perf_counter() - start
    idata = approx.sample(draws, random_seed=int(seed) + 1)
    return AdviResult(
        loss=np.asarray(approx.hist, dtype=float),
        idata=idata,
        seconds=seconds,
        n=n,
        approx=approx,
    )


# --------------------------------------------------------------------------------------------
# Summaries, recovered effects and prediction
# --------------------------------------------------------------------------------------------


def _draws(idata: DataTree, name: str) -> np.ndarray:
    """Return a variable's draws stacked over chains: shape (draws, ...)."""
    values = idata.posterior[name].values
    return values.reshape((-1,) + values.shape[2:])


def _conditional_summary(idata: DataTree, group: str, levels: pd.Index) -> pd.DataFrame:
    """Posterior mean and SD of an integrated-out factor from per-draw conditional moments."""
    cmean = _draws(idata, f"cmean_{group}")
    cvar = _draws(idata, f"cvar_{group}")
    mean = cmean.mean(axis=0)
    sd = np.sqrt(cmean.var(axis=0) + cvar.mean(axis=0))
    return pd.DataFrame({"mean": mean, "sd": sd}, index=pd.Index(levels, name=group))


@dataclass
class PosteriorSummary:
    """Posterior means and SDs of a crossed model's parameters.

    Attributes
    ----------
    fixed
        Indexed by term, columns ``mean`` and ``sd``.
    sds
        Indexed by factor name and ``"Residual"``, columns ``mean`` and ``sd``.
    ranef
        For each factor, a frame indexed by level with columns ``mean`` and ``sd``.
    design
        The fixed-effect design, for :meth:`predict`.
    groups
        The factors, in order.
    """

    fixed: pd.DataFrame
    sds: pd.DataFrame
    ranef: dict[str, pd.DataFrame]
    design: FixedDesign
    groups: tuple[str, ...]

    def predict(self, newdata: pd.DataFrame, include_random: bool = True) -> np.ndarray:
        """Predict the response with posterior means; unseen levels contribute zero.

        Parameters
        ----------
        newdata
            Frame with the fixed-effect columns and the grouping columns.
        include_random
            If false, return the fixed part only.

        Returns
        -------
        numpy.ndarray
            One prediction per row.
        """
        X = self.design.matrix(newdata, argname="newdata")
        pred = X @ self.fixed["mean"].to_numpy()
        if include_random:
            require_columns(newdata, self.groups, argname="newdata")
            for g in self.groups:
                frame = self.ranef[g]
                known = pd.Index([str(v) for v in frame.index])
                idx = known.get_indexer(newdata[g].astype(str).to_numpy())
                values = frame["mean"].to_numpy()
                pred = pred + np.where(idx >= 0, values[np.maximum(idx, 0)], 0.0)
        return np.asarray(pred, dtype=float)


def posterior_summary(data: CrossedData, idata: DataTree) -> PosteriorSummary:
    """Summarise draws of :func:`advi_model` or :func:`marginal_model`.

    Parameters
    ----------
    data
        The prepared data the model was fitted on.
    idata
        Posterior (or approximation) draws; for :func:`marginal_model`, after
        :func:`recover_effects`.

    Returns
    -------
    PosteriorSummary
    """
    if "beta" not in idata.posterior:
        raise ValueError(
            "idata has no beta draws: for marginal_model, call recover_effects() first"
        )
    beta = _draws(idata, "beta")
    fixed = pd.DataFrame(
        {"mean": beta.mean(axis=0), "sd": beta.std(axis=0, ddof=1)},
        index=pd.Index(list(data.design.names), name="term"),
    )
    rows = {}
    for g in data.groups:
        v = _draws(idata, f"sigma_{g}")
        rows[g] = (v.mean(), v.std(ddof=1))
    v = _draws(idata, "sigma_e")
    rows["Residual"] = (v.mean(), v.std(ddof=1))
    sds = pd.DataFrame.from_dict(rows, orient="index", columns=["mean", "sd"])
    ranef: dict[str, pd.DataFrame] = {}
    for g in data.groups:
        name = f"b_{g}"
        if name in idata.posterior:
            b = _draws(idata, name)
            ranef[g] = pd.DataFrame(
                {"mean": b.mean(axis=0), "sd": b.std(axis=0, ddof=1)},
                index=pd.Index(data.levels[g], name=g),
            )
        elif f"cmean_{g}" in idata.posterior:
            ranef[g] = _conditional_summary(idata, g, data.levels[g])
        else:
            raise ValueError(f"idata has neither b_{g} nor cmean_{g}: call recover_effects() first")
    return PosteriorSummary(
        fixed=fixed, sds=sds, ranef=ranef, design=data.design, groups=data.groups
    )


# --------------------------------------------------------------------------------------------
# Comparison tables (their figures are in analysis.plots.bayes)
# --------------------------------------------------------------------------------------------


def effects_by_method(estimates: dict[str, dict[str, pd.Series]], group: str) -> pd.DataFrame:
    """Join one factor's per-level estimates from several methods into one frame.

    Parameters
    ----------
    estimates
        For each method name, a mapping from factor name to a Series of estimates indexed by
        level (e.g. ``fit.ranef["s"]["mode"]`` or ``summary.ranef["s"]["mean"]``).
    group
        The factor to collect.

    Returns
    -------
    pandas.DataFrame
        Indexed by level (as strings), one column per method; only levels every method has.
    """
    columns = {}
    for method, per_group in estimates.items():
        if group not in per_group:
            raise ValueError(f"estimates[{method!r}] has no factor {group!r}")
        series = per_group[group]
        columns[method] = pd.Series(
            np.asarray(series, dtype=float), index=[str(v) for v in series.index]
        )
    return pd.DataFrame(columns).dropna()
