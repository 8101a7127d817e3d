r"""REML and ML fits of linear models with crossed random intercepts, the lme4 way, made cheap.

The model is

.. math:: y = X\beta + \sum_k Z_k b_k + \varepsilon,\qquad
          b_k \sim N(0, \sigma_k^2 I),\quad \varepsilon \sim N(0, \sigma^2 I),

with one random intercept per level of each grouping factor ``k`` (the factors may be crossed,
as students and instructors are in InstEval). Following lme4 (Bates et al. 2015, *Fitting
linear mixed-effects models using lme4*, J. Stat. Softw. 67(1)), write
:math:`b = \Lambda_\theta u` with :math:`\Lambda_\theta` diagonal, holding
:math:`\theta_k = \sigma_k/\sigma` on the columns of factor ``k``. For a given
:math:`\theta` the penalised least-squares problem

.. math:: \min_{u, \beta} \|y - X\beta - Z\Lambda_\theta u\|^2 + \|u\|^2

has a closed-form solution, and :math:`\sigma` and :math:`\beta` can be profiled out, leaving a
criterion of :math:`\theta` alone (lme4's ``REMLcrit``, or the ML deviance) that a
derivative-free optimiser (BOBYQA, from ``nlopt``, as in lme4's default ``nloptwrap``)
minimises.

What makes it cheap is the structure of :math:`Z'Z`. The columns of the largest factor (the
students) never overlap with each other, so their block of
:math:`\Lambda'Z'Z\Lambda + I` is *diagonal*. We eliminate it exactly (a Schur complement,
one division per level) and are left with a small dense system over the other factors' levels,
the fixed effects and the response, which LAPACK's Cholesky factors in milliseconds. The
determinants, the residual sum of squares and the solution all come out of that one
factorisation.
"""

from __future__ import annotations

import contextlib
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.linalg import solve_triangular
from scipy.linalg.lapack import dpotrf, dpotri

from analysis.validation import (
    SINGULAR_TOL,
    check_bool,
    check_choice,
    check_fixed_factor_levels,
    check_grouping_levels,
    check_memory,
    check_positive,
    check_positive_int,
    column_names,
    level_effects,
    model_columns,
    numeric_response,
    require_columns,
)

__all__ = [
    "MAX_DENSE_LEVELS",
    "setup_bytes",
    "CrossedFit",
    "FixedDesign",
    "ProfiledDeviance",
    "fit_crossed",
    "fixed_design",
    "crossprod_pattern",
    "group_codes",
]

_LOG_2PI = float(np.log(2.0 * np.pi))

#: Largest total number of levels of the factors that are not eliminated (the dense system).
MAX_DENSE_LEVELS = 6000


# ---------------------------------------------------------------------------------------------
# Designs
# ---------------------------------------------------------------------------------------------


def _is_categorical(series: pd.Series) -> bool:
    return (
        isinstance(series.dtype, pd.CategoricalDtype)
        or not pd.api.types.is_numeric_dtype(series)
        or pd.api.types.is_bool_dtype(series)
    )


@dataclass(frozen=True)
class FixedDesign:
    """How the fixed-effect columns are built, so new data can be coded the same way.

    Attributes
    ----------
    terms
        The data columns, in order.
    names
        The design-matrix column names, R style: ``"(Intercept)"``, a numeric column's own
        name, or a factor's name followed by its level (``"service1"``) under treatment coding.
    levels
        For each factor term, its levels (the first is the reference); absent for numeric terms.
    """

    terms: tuple[str, ...]
    names: tuple[str, ...]
    levels: dict[str, tuple[object, ...]] = field(default_factory=dict)

    def matrix(self, data: pd.DataFrame, argname: str = "data") -> np.ndarray:
        """Return the design matrix of ``data`` (n x p, intercept first).

        Raises
        ------
        ValueError
            If a column is missing, holds missing values, or a factor has a level that was not
            seen when the design was built.
        """
        require_columns(data, self.terms, argname=argname)
        cols = [np.ones(len(data))]
        for term in self.terms:
            series = data[term]
            if series.isna().any():
                raise ValueError(f"{argname}: column {term!r} has missing values")
            if term in self.levels:
                levels = self.levels[term]
                values = np.asarray(series.astype(object))
                known = pd.Index(levels)
                unknown = set(pd.unique(values)) - set(known)
                if unknown:
                    raise ValueError(
                        f"{argname}: column {term!r} has level(s) {sorted(map(str, unknown))} "
                        f"not seen in the fitted data (levels {list(map(str, levels))})"
                    )
                for level in levels[1:]:
                    cols.append((values == level).astype(float))
            else:
                cols.append(series.to_numpy(dtype=float))
        return np.column_stack(cols)


def fixed_design(data: pd.DataFrame, fixed: Sequence[str]) -> FixedDesign:
    """Build the fixed-effect design (intercept plus ``fixed``) as R's ``model.matrix`` would.

    Numeric columns enter as they are; categorical, string and boolean columns are
    treatment-coded against their first level (the first category of a pandas categorical,
    otherwise the smallest value). Levels that never occur are dropped.

    Parameters
    ----------
    data
        The data.
    fixed
        Column names of the fixed effects (may be empty: intercept only).

    Returns
    -------
    FixedDesign
        The design; call :meth:`FixedDesign.matrix` to get the matrix.
    """
    if isinstance(fixed, str):
        raise ValueError(f"fixed must be a list of column names, got the string {fixed!r}")
    terms = tuple(fixed)
    require_columns(data, terms)
    names: list[str] = ["(Intercept)"]
    levels: dict[str, tuple[object, ...]] = {}
    for term in terms:
        series = data[term]
        if series.isna().any():
            raise ValueError(f"data: column {term!r} has missing values")
        if _is_categorical(series):
            if isinstance(series.dtype, pd.CategoricalDtype):
                used = series.cat.remove_unused_categories().cat.categories
                lev = tuple(used)
            else:
                lev = tuple(sorted(pd.unique(series.astype(object)), key=str))
            check_fixed_factor_levels(term, lev)
            levels[term] = lev
            names.extend(f"{term}{level}" for level in lev[1:])
        else:
            if not np.all(np.isfinite(series.to_numpy(dtype=float))):
                raise ValueError(f"data: fixed-effect column {term!r} has infinite values")
            names.append(term)
    return FixedDesign(terms=terms, names=tuple(names), levels=levels)


def group_codes(series: pd.Series, name: str = "group") -> tuple[np.ndarray, pd.Index]:
    """Return integer codes (0..q-1) and the levels of a grouping column.

    Categorical columns keep their category order (unused categories dropped); other columns
    get their sorted unique values.

    Raises
    ------
    ValueError
        If the column has missing values.
    """
    if series.isna().any():
        raise ValueError(f"data: grouping column {name!r} has missing values")
    if isinstance(series.dtype, pd.CategoricalDtype):
        cat = series.cat.remove_unused_categories()
        return cat.cat.codes.to_numpy(dtype=np.int64), pd.Index(cat.cat.categories, name=name)
    codes, uniques = pd.factorize(series, sort=True)
    return codes.astype(np.int64), pd.Index(uniques, name=name)


def crossprod_pattern(data: pd.DataFrame, groups: Sequence[str]) -> sp.csr_matrix:
    """Return :math:`Z'Z` for the random intercepts of ``groups`` (sparse, counts).

    Columns are the levels of each grouping factor in turn. For crossed factors the diagonal
    blocks are diagonal (each row of the data has one level per factor) and the off-diagonal
    blocks count how often two levels meet.

    Parameters
    ----------
    data
        The data.
    groups
        Grouping columns.

    Returns
    -------
    scipy.sparse.csr_matrix
        The ``q x q`` cross-product matrix, ``q`` the total number of levels.
    """
    group_list = column_names("groups", groups)
    require_columns(data, group_list)
    n = len(data)
    blocks = []
    for g in group_list:
        codes, levels = group_codes(data[g], g)
        blocks.append(sp.csr_matrix((np.ones(n), (np.arange(n), codes)), shape=(n, len(levels))))
    Z = sp.hstack(blocks, format="csr")
    return sp.csr_matrix(Z.T @ Z)


def _blas_limits(blas_threads: int | None) -> contextlib.AbstractContextManager[object]:
    """Return a context limiting BLAS/LAPACK threads (a no-op for ``None``)."""
    if blas_threads is None:
        return contextlib.nullcontext()
    from threadpoolctl import threadpool_limits

    return threadpool_limits(check_positive_int("blas_threads", blas_threads), "blas")


# ---------------------------------------------------------------------------------------------
# The profiled criterion
# ---------------------------------------------------------------------------------------------


@dataclass
class _Solution:
    theta: np.ndarray
    criterion: float
    sigma: float
    beta: np.ndarray
    vcov_beta: np.ndarray
    b: list[np.ndarray]
    cond_sd: list[np.ndarray]


#: Rows of the eliminated factor's block taken at a time in :meth:`ProfiledDeviance.solve`.
_ROWS_PER_BLOCK = 128

#: Bytes per pair of columns met by one level of the eliminated factor, in the set-up of
#: :class:`ProfiledDeviance` (the sparse product's two entries per pair, the arrays of
#: indices and values built from them, and the sparse map), and per entry of the dense
#: ``m x m`` matrices (the Schur complement and its Cholesky factor, the inverse and its
#: temporaries in :meth:`ProfiledDeviance.solve`, a boolean mask). Both are upper bounds:
#: InstEval's set-up peaks at about a quarter of the estimate.
BYTES_PER_PAIR = 128
BYTES_PER_DENSE_ENTRY = 33


def setup_bytes(columns_per_level: np.ndarray, m: int) -> float:
    """Estimate the bytes :class:`ProfiledDeviance` allocates, before it allocates them.

    Parameters
    ----------
    columns_per_level
        For each level of the eliminated (largest) factor, the number of other columns (levels
        of the other factors, fixed effects, response) its rows touch.
    m
        Columns of the dense system.
    """
    k = np.asarray(columns_per_level, dtype=float)
    pairs = float(np.sum(k * (k + 1) / 2))
    return BYTES_PER_PAIR * pairs + BYTES_PER_DENSE_ENTRY * float(m) ** 2


class ProfiledDeviance:
    r"""The profiled REML criterion (or ML deviance) of a crossed random-intercept model.

    Everything that does not depend on :math:`\theta` is computed once here: the cross
    products of the response, the fixed-effect columns and the indicator columns of every
    factor but the largest (``m`` columns in all, one of them the response), and the sparse
    cross products of those columns with the largest factor's indicators, gathered into one
    sparse linear map from θ to the Schur complement. Each evaluation then costs one sparse
    matrix-vector product, one dense ``m x m`` Cholesky factorisation, and a few vector
    operations.

    Parameters
    ----------
    X
        Fixed-effect design, ``n x p`` with full column rank.
    y
        Response, length ``n``.
    codes
        For each grouping factor, integer level codes ``0..q_k-1`` of length ``n``.
    n_levels
        ``q_k`` for each factor.
    reml
        REML criterion if true, otherwise the ML deviance.
    memory_limit
        Bytes the set-up may take; by default what the system has available
        (:func:`analysis.validation.available_memory`). A design estimated to need more is
        refused with a ValueError before anything large is allocated.
    """

    def __init__(
        self,
        X: np.ndarray,
        y: np.ndarray,
        codes: Sequence[np.ndarray],
        n_levels: Sequence[int],
        reml: bool = True,
        memory_limit: float | None = None,
    ) -> None:
        X = np.asarray(X, dtype=float)
        y = np.asarray(y, dtype=float)
        n, p = X.shape
        if len(codes) == 0:
            raise ValueError("groups must name at least one grouping column")
        self.n, self.p, self.reml = n, p, bool(reml)
        self.n_levels = [int(q) for q in n_levels]
        self.n_factors = len(self.n_levels)
        #: Index of the factor whose (diagonal) block is eliminated: the one with most levels.
        self.eliminated = int(np.argmax(self.n_levels))
        self.rest = [k for k in range(self.n_factors) if k != self.eliminated]
        rows = np.arange(n)

        def indicators(k: int) -> sp.csc_matrix:
            q = self.n_levels[k]
            return sp.csc_matrix((np.ones(n), (rows, codes[k])), shape=(n, q))

        blocks = [indicators(k) for k in self.rest]
        self.mu = int(sum(self.n_levels[k] for k in self.rest))
        W0 = sp.hstack([*blocks, sp.csc_matrix(X), sp.csc_matrix(y[:, None])], format="csc")
        self.m = W0.shape[1]
        Ze = indicators(self.eliminated)
        self.counts = np.asarray(Ze.sum(axis=0)).ravel()
        #: W0' Z_e, ``m x q_e``; its last row is Z_e' y.
        self.P = sp.csr_matrix(W0.T @ Ze)
        self.Pt = sp.csr_matrix(self.P.T)
        self.Pt.sort_indices()
        # Refuse, before allocating, a design whose set-up would not fit in memory (a level of
        # the eliminated factor that meets k other columns contributes k (k + 1) / 2 pairs).
        check_memory(
            setup_bytes(np.diff(self.Pt.indptr), self.m),
            "setting up the REML criterion of this design",
            "fit it by moments and conjugate gradients instead (analysis.models.large, the "
            "fit-large command), or with lme4 on a larger machine",
            memory_limit,
        )
        # Which θ scales each column of the dense system (-1: a fixed-effect or response column).
        owner = np.concatenate(
            [np.full(self.n_levels[k], k) for k in self.rest] + [np.full(p + 1, -1)]
        ).astype(np.int64)
        self._owner = owner
        self._diag_u = np.arange(self.mu)
        self._prepare_map(W0)
        self.n_evals = 0

    # -- pieces --------------------------------------------------------------------------------

    def _prepare_map(self, W0: sp.csc_matrix) -> None:
        r"""Precompute the lower triangle of the Schur complement as a linear map.

        With :math:`D` the diagonal matrix of the θ's scaling each remaining column (1 for the
        fixed effects and the response), the Schur complement is

        .. math:: S = D\,(G - P\,\mathrm{diag}(w)\,P')\,D + I_u,\qquad
                  w_j = \theta_e^2 / (\theta_e^2 n_j + 1),

        with :math:`G = W_0'W_0` the cross products of the remaining columns ``W0``.
        The weight :math:`w_j` of a level of the eliminated factor depends only on its number of
        rows :math:`n_j` (86 distinct sizes for InstEval's students), and the sparsity patterns
        of ``G`` and ``P`` are fixed. So each stored entry of the lower triangle of ``S`` is a
        fixed linear combination of a few numbers: the products of two θ's (one per pair of
        column blocks) times the weight of each size, or times 1 for ``G``. The sums
        :math:`\sum_{j:\,n_j = s} P_{aj} P_{bj}` for every size :math:`s` are one sparse
        matrix product: :math:`P` times :math:`P'` with each column spread into one column per
        size. They go, with ``G``, into a sparse matrix with one row per entry, so that an
        evaluation is one sparse matrix-vector product and a scatter into the dense array -- a
        few milliseconds, against a dozen for the Cholesky factorisation that follows.
        """
        m = self.m
        Pt = self.Pt  # q_e x m
        self.sizes, size_class = np.unique(self.counts, return_inverse=True)
        self.size_freq = np.bincount(size_class).astype(float)
        n_sizes = self.sizes.size
        # 32-bit indices where they fit: the set-up's arrays have millions of entries, and a
        # fresh process pays for every megabyte it touches in page faults.
        itype = np.int32 if max(m * m, m * n_sizes) < np.iinfo(np.int32).max else np.int64
        # Column b of P' becomes column b * n_sizes + (size class of the row's level), so that
        # P @ spread sums P[a, j] P[b, j] over the levels j of each size, in one product.
        spread_cols = Pt.indices.astype(itype) * itype(n_sizes)
        spread_cols += size_class.astype(itype).repeat(np.diff(Pt.indptr))
        spread = sp.csr_matrix((Pt.data, spread_cols, Pt.indptr), shape=(Pt.shape[0], m * n_sizes))
        del spread_cols
        products = sp.csr_matrix(Pt.T @ spread)  # m x (m * n_sizes)
        del spread
        hi = np.arange(m, dtype=itype).repeat(np.diff(products.indptr))
        lo, slot = np.divmod(products.indices.astype(itype, copy=False), itype(n_sizes))
        lower = lo <= hi
        values = -products.data[lower]
        del products
        hi, lo, slot = hi[lower], lo[lower], slot[lower]
        del lower
        # The G part: its nonzero lower-triangle entries, in the slot after the sizes.
        G = sp.tril(W0.T @ W0, format="coo")
        G.eliminate_zeros()
        hi = np.concatenate([hi, G.row.astype(itype)])
        lo = np.concatenate([lo, G.col.astype(itype)])
        values = np.concatenate([values, G.data])
        slot = np.concatenate([slot, np.full(G.nnz, n_sizes, dtype=itype)])
        del G
        # Block pair of each entry: (owner of row + 1, owner of column + 1); hi >= lo: the lower
        # triangle.
        n_own = self.n_factors + 1
        owner = (self._owner + 1).astype(itype)
        column = (owner[hi] * n_own + owner[lo]) * (n_sizes + 1) + slot
        del slot
        flat = hi * itype(m) + lo
        del hi, lo
        used = np.zeros(m * m, dtype=bool)
        used[flat] = True
        self._flat = np.flatnonzero(used)
        row_id = (np.cumsum(used, dtype=itype) - 1)[flat]
        del flat, used
        shape = (self._flat.size, n_own * n_own * (n_sizes + 1))
        self._map = sp.csr_matrix((values, (row_id, column)), shape=shape)
        pairs = np.arange(n_own * n_own)
        self._pair_owner = (pairs // n_own - 1, pairs % n_own - 1)
        self._diag_flat = self._diag_u * (m + 1)

    def time_evaluation(
        self, theta: Sequence[float] | np.ndarray, repeats: int = 5, blas_threads: int | None = 1
    ) -> float:
        """Return the median wall time, in seconds, of one evaluation of the criterion.

        Parameters
        ----------
        theta
            Where to evaluate.
        repeats
            Number of timed evaluations.
        blas_threads
            BLAS threads during the timing, as in :func:`fit_crossed` (``None``: unchanged).
        """
        repeats = check_positive_int("repeats", repeats)
        times = []
        with _blas_limits(blas_threads):
            for _ in range(repeats):
                tick = time.perf_counter()
                self(theta)
                times.append(time.perf_counter() - tick)
        self.n_evals -= repeats
        return float(np.median(times))

    def schur_pattern(self) -> sp.csr_matrix:
        """Return the sparsity pattern of the (symmetric) Schur complement as a 0/1 matrix.

        Rows and columns are the remaining factors' levels (in the order of ``groups``, the
        eliminated factor left out), then the fixed-effect columns, then the response.
        """
        m = self.m
        rows, cols = np.divmod(self._flat, m)
        lower = sp.csr_matrix((np.ones(rows.size), (rows, cols)), shape=(m, m))
        full = lower + sp.triu(lower.T, k=1)
        full.data[:] = 1.0
        return sp.csr_matrix(full)

    def _weights(self, theta: np.ndarray, a_size: np.ndarray) -> np.ndarray:
        """Return the vector the map multiplies: theta products times (size weights, 1)."""
        t = np.append(theta, 1.0)  # index -1 (fixed effects, response) scales by 1
        scale = t[self._pair_owner[0]] * t[self._pair_owner[1]]
        te2 = float(theta[self.eliminated]) ** 2
        per_slot = np.append(te2 / a_size, 1.0)
        return np.outer(scale, per_slot).ravel()

    def _scale(self, theta: np.ndarray) -> np.ndarray:
        d = np.ones(self.m)
        mask = self._owner >= 0
        d[mask] = theta[self._owner[mask]]
        return d

    def _factor(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """Factor the Schur complement at ``theta``.

        Returns
        -------
        tuple or None
            The lower Cholesky factor (C order), the eliminated block's diagonal per level size,
            and the column scales; ``None`` if the system is not positive definite.
        """
        te = float(theta[self.eliminated])
        a_size = te * te * self.sizes + 1.0  # diagonal of the eliminated block, per level size
        S = np.zeros((self.m, self.m))
        flat_view = S.reshape(-1)
        flat_view[self._flat] = self._map @ self._weights(theta, a_size)
        flat_view[self._diag_flat] += 1.0
        # S (C order) holds the lower triangle; its transpose is a Fortran-ordered array holding
        # the upper triangle, which LAPACK factors in place as U'U: then L = U' is S's lower part.
        _, info = dpotrf(S.T, lower=0, clean=1, overwrite_a=1)
        if info != 0:
            return None
        return S, a_size, self._scale(theta)

    def __call__(self, theta: Sequence[float] | np.ndarray) -> float:
        """Return the criterion at ``theta`` (one relative SD per grouping factor, >= 0)."""
        return self.criterion(theta)

    def criterion(self, theta: Sequence[float] | np.ndarray, reml: bool | None = None) -> float:
        r"""Return the criterion at ``theta`` with :math:`\sigma` and β profiled out.

        Parameters
        ----------
        theta
            One relative SD :math:`\sigma_k/\sigma` per grouping factor, each >= 0.
        reml
            lme4's ``REMLcrit`` if true, its ML ``deviance`` if false; by default the
            criterion this object was built for (``self.reml``). Both come from the same
            factorisation, so a REML fit's ML refit (what lme4's ``profile`` starts with)
            reuses this set-up.

        Returns
        -------
        float
            The criterion; ``inf`` where the penalised system is not positive definite.
        """
        self.n_evals += 1
        parts = self.parts(theta)
        if parts is None:
            return float("inf")
        logdet_l, logdet_rx, r2 = parts
        n, p = self.n, self.p
        if self.reml if reml is None else reml:
            dof = n - p
            return logdet_l + logdet_rx + dof * (1.0 + _LOG_2PI + float(np.log(r2 / dof)))
        return logdet_l + n * (1.0 + _LOG_2PI + float(np.log(r2 / n)))

    def ml_deviance(self, theta: Sequence[float] | np.ndarray, sigma: float) -> float:
        r"""Return :math:`-2 \log L` at ``theta`` and residual SD ``sigma`` (β profiled out).

        lme4's ``devfun2`` in terms of θ: :math:`\log|L_\theta|^2 + n \log(2\pi\sigma^2)
        + r^2(\theta)/\sigma^2`, with :math:`r^2` the penalised residual sum of squares. Its
        minimum over ``sigma`` is :meth:`criterion` with ``reml=False``; profiles of the SDs
        hold one SD (or ``sigma``) fixed and minimise this over the others.
        """
        self.n_evals += 1
        if not sigma > 0:
            return float("inf")
        parts = self.parts(theta)
        if parts is None:
            return float("inf")
        logdet_l, _, r2 = parts
        s2 = float(sigma) ** 2
        return logdet_l + self.n * (_LOG_2PI + float(np.log(s2))) + r2 / s2

    def parts(self, theta: Sequence[float] | np.ndarray) -> tuple[float, float, float] | None:
        r"""Return :math:`\log|L_\theta|^2`, :math:`\log|R_X|^2` and :math:`r^2` at ``theta``.

        The log-determinant of :math:`\Lambda'Z'Z\Lambda + I`, that of the fixed-effect block
        of the factorisation, and the penalised residual sum of squares; ``None`` where the
        system is not positive definite.
        """
        out = self._factor(np.asarray(theta, dtype=float))
        if out is None:
            return None
        L, a, _ = out
        return self._parts(L, a)

    def _parts(self, L: np.ndarray, a: np.ndarray) -> tuple[float, float, float]:
        diag = np.diag(L)
        mu, p = self.mu, self.p
        r2 = float(diag[-1] ** 2)
        logdet_l = float(self.size_freq @ np.log(a)) + 2.0 * float(np.sum(np.log(diag[:mu])))
        logdet_rx = 2.0 * float(np.sum(np.log(diag[mu : mu + p])))
        return logdet_l, logdet_rx, r2

    def _criterion(self, L: np.ndarray, a: np.ndarray) -> float:
        logdet_l, logdet_rx, r2 = self._parts(L, a)
        n, p = self.n, self.p
        if self.reml:
            dof = n - p
            return logdet_l + logdet_rx + dof * (1.0 + _LOG_2PI + float(np.log(r2 / dof)))
        return logdet_l + n * (1.0 + _LOG_2PI + float(np.log(r2 / n)))

    def solve(self, theta: Sequence[float] | np.ndarray) -> _Solution:
        """Return the criterion, sigma, fixed effects, their covariance, modes and cond. SDs."""
        theta = np.asarray(theta, dtype=float)
        out = self._factor(theta)
        if out is None:
            raise np.linalg.LinAlgError("the penalised system is not positive definite")
        L, a_size, d = out
        crit = self._criterion(L, a_size)
        te_sq = float(theta[self.eliminated]) ** 2
        a = te_sq * self.counts + 1.0  # per level of the eliminated factor
        mu, p, n, e = self.mu, self.p, self.n, self.eliminated
        r2 = L[-1, -1] ** 2
        sigma2 = r2 / (n - p) if self.reml else r2 / n
        Lsub = L[:-1, :-1]
        c = L[-1, :-1]
        sol = solve_triangular(Lsub, c, lower=True, trans="T", check_finite=False)
        beta = sol[mu:]
        te = float(theta[e])
        # u_e from the eliminated block row: a * u_e = te * (Z_e'y - P_{u,beta}' (d * sol)).
        ds = d[:-1] * sol
        ze_y = np.asarray(self.Pt[:, -1].toarray()).ravel()
        u_e = te * (ze_y - self.Pt[:, :-1] @ ds) / a
        # Fixed-effect covariance: sigma^2 (L_X L_X')^{-1}.
        Lx = L[mu : mu + p, mu : mu + p]
        Lx_inv = solve_triangular(Lx, np.eye(p), lower=True, check_finite=False)
        vcov = sigma2 * (Lx_inv.T @ Lx_inv)
        # Conditional variances of u: the diagonal of (Lambda'Z'Z Lambda + I)^{-1}.
        if mu > 0:
            # L's strictly upper triangle is zero (dpotrf cleans it), so dpotri leaves the
            # lower triangle of the inverse over zeros: U below is its upper triangle, C order.
            inverse, info = dpotri(np.asfortranarray(L[:mu, :mu]), lower=1)
            if info != 0:
                raise np.linalg.LinAlgError("could not invert the remaining random-effect block")
            U = inverse.T
            var_rest = np.diag(U).copy()
            B1 = sp.csr_matrix(self.Pt[:, :mu].multiply(te * d[None, :mu]))  # q_e x mu
            # b' S^{-1} b = 2 b'U b - sum_k b_k^2 U_kk for each row b of B1, in blocks of rows
            # (a q_e x mu product at once would touch tens of megabytes for InstEval).
            quad = np.empty(B1.shape[0])
            for lo in range(0, B1.shape[0], _ROWS_PER_BLOCK):
                rows = B1[lo : lo + _ROWS_PER_BLOCK]
                quad[lo : lo + rows.shape[0]] = np.asarray(rows.multiply(rows @ U).sum(axis=1))[
                    :, 0
                ]
            quad = 2.0 * quad - B1.multiply(B1) @ var_rest
            var_e = 1.0 / a + quad / (a * a)
        else:
            var_rest = np.zeros(0)
            var_e = 1.0 / a
        b: list[np.ndarray] = [np.empty(0)] * self.n_factors
        cond_sd: list[np.ndarray] = [np.empty(0)] * self.n_factors
        sigma = float(np.sqrt(sigma2))
        b[e] = te * u_e
        cond_sd[e] = sigma * te * np.sqrt(var_e)
        start = 0
        for k in self.rest:
            q = self.n_levels[k]
            b[k] = theta[k] * sol[start : start + q]
            cond_sd[k] = sigma * theta[k] * np.sqrt(var_rest[start : start + q])
            start += q
        return _Solution(theta, crit, sigma, beta, vcov, b, cond_sd)


# ---------------------------------------------------------------------------------------------
# The fit
# ---------------------------------------------------------------------------------------------


@dataclass
class CrossedFit:
    """A fitted crossed random-intercept model.

    Attributes
    ----------
    fixed
        Fixed effects, indexed by term (``"(Intercept)"``, ``"service1"``, ...), with columns
        ``estimate`` and ``se``.
    sds
        Standard deviations, indexed by grouping factor names and ``"Residual"``.
    ranef
        For each grouping factor, a frame indexed by level with columns ``mode`` (the
        conditional mode, lme4's ``ranef``) and ``cond_sd`` (its conditional SD, as lme4's
        ``condVar``).
    criterion
        The minimised criterion: lme4's ``REMLcrit`` for REML, its ``deviance`` for ML.
    reml
        Whether the fit is REML.
    theta
        Relative SDs ``sigma_k / sigma`` at the optimum, one per grouping factor.
    n_evals
        Number of criterion evaluations the optimiser used.
    fit_seconds
        Wall time of the fit (design, optimisation and solution).
    response, groups, n_obs
        What was fitted, and on how many rows.
    vcov
        Covariance matrix of the fixed effects.
    design
        The fixed-effect design, reused by :meth:`predict`.
    optimizer_status
        BOBYQA's stopping reason.
    profiled_deviance
        The criterion the fit minimised (:class:`ProfiledDeviance`), kept so that profiles
        and ML refits (:func:`analysis.models.profile.confint`) reuse its set-up instead of
        building it again from the data; see :meth:`criterion_function`. It holds the sparse
        map from θ to the Schur complement (about 17 MB for InstEval).
    """

    fixed: pd.DataFrame
    sds: pd.Series
    ranef: dict[str, pd.DataFrame]
    criterion: float
    reml: bool
    theta: np.ndarray
    n_evals: int
    fit_seconds: float
    response: str
    groups: tuple[str, ...]
    n_obs: int
    vcov: pd.DataFrame
    design: FixedDesign
    optimizer_status: str = ""
    profiled_deviance: ProfiledDeviance | None = field(default=None, repr=False, compare=False)

    def criterion_function(self, reml: bool | None = None) -> Callable[[np.ndarray], float]:
        r"""Return the profiled criterion as a function of the relative SDs θ.

        Parameters
        ----------
        reml
            lme4's REML criterion (``True``) or ML deviance (``False``); by default the one
            this fit minimised. Either way :math:`\sigma` and β are profiled out, and the
            function is the one the fit was computed with (no new set-up).

        Returns
        -------
        callable
            ``f(theta) -> float`` for ``theta`` of length ``len(groups)``, all >= 0.

        Raises
        ------
        ValueError
            If the fit does not hold its criterion (a fit not made by :func:`fit_crossed`).
        """
        problem = self.profiled_deviance
        if problem is None:
            raise ValueError("this CrossedFit does not hold its criterion; refit with fit_crossed")
        use_reml = self.reml if reml is None else bool(reml)
        return lambda theta: problem.criterion(theta, reml=use_reml)

    @property
    def criterion_name(self) -> str:
        """``"REMLcrit"`` or ``"deviance"``, as lme4 names the criterion."""
        return "REMLcrit" if self.reml else "deviance"

    @property
    def sigma(self) -> float:
        """The residual standard deviation."""
        return float(self.sds["Residual"])

    def predict(self, newdata: pd.DataFrame, include_random: bool = True) -> np.ndarray:
        """Predict the response: fixed part plus each level's conditional mode.

        Levels not seen in the fitted data contribute zero (the mean of their distribution).
        A missing level, or a column holding the fitted labels in another type (``"3"`` for
        ``3``) so that none matches, is an error rather than a silent zero.

        Parameters
        ----------
        newdata
            Frame with the fixed-effect columns and (if ``include_random``) the group columns.
        include_random
            If false, return the fixed part only.

        Returns
        -------
        numpy.ndarray
            One prediction per row of ``newdata``.
        """
        X = self.design.matrix(newdata, argname="newdata")
        pred = X @ self.fixed["estimate"].to_numpy()
        if include_random:
            require_columns(newdata, self.groups, argname="newdata")
            for g in self.groups:
                pred = pred + level_effects(self.ranef[g]["mode"], newdata[g], g)
        return np.asarray(pred, dtype=float)

    @property
    def singular(self) -> bool:
        """Whether the fit is on the boundary: some SD estimated as (nearly) zero.

        The same test as lme4's ``isSingular`` with its default tolerance: a relative SD
        ``theta`` below :data:`analysis.validation.SINGULAR_TOL`.
        """
        return bool(np.any(np.asarray(self.theta) < SINGULAR_TOL))

    @property
    def n_params(self) -> int:
        """Estimated parameters: fixed effects, one SD per grouping factor, and the residual SD."""
        return len(self.fixed) + len(self.sds)

    @property
    def aic(self) -> float:
        """Akaike's criterion as lme4 computes it: the minimised criterion + 2 * parameters.

        For ML fits the criterion is the deviance. For REML fits lme4 uses the REML criterion
        the same way; such values compare models with the same fixed effects only.
        """
        return float(self.criterion + 2 * self.n_params)

    @property
    def bic(self) -> float:
        """Schwarz's criterion as lme4 computes it: criterion + log(n) * parameters."""
        return float(self.criterion + np.log(self.n_obs) * self.n_params)

    def variance_components(self) -> pd.DataFrame:
        """Return a table of the variance components: ``variance``, ``sd`` and share of total."""
        var = self.sds**2
        return pd.DataFrame({"variance": var, "sd": self.sds, "share": var / var.sum()})

    def to_dict(self) -> dict[str, object]:
        """Return the fit as one JSON-ready document, in the package's one vocabulary.

        That is :meth:`analysis.models.results.FitResult.to_dict` of
        :func:`analysis.models.results.result_of` (what the ``fit-crossed`` command prints with
        ``--json``): lme4's ``varcorr`` and ``ranef`` records, level labels as strings; the
        optimiser's ``n_evals``, ``optimizer_status`` and ``theta`` are in its ``extras``.
        """
        from analysis.models.results import result_of

        return result_of(self).to_dict()


def fit_crossed(
    data: pd.DataFrame,
    response: str,
    fixed: Sequence[str],
    groups: Sequence[str],
    reml: bool = True,
    xtol_abs: float = 1e-8,
    ftol_abs: float = 1e-8,
    maxeval: int = 100_000,
    initial_step: float | None = None,
    blas_threads: int | None = 1,
    memory_limit: float | None = None,
    start: str = "moments",
) -> CrossedFit:
    """Fit ``response ~ fixed + (1|g1) + (1|g2) + ...`` by REML (or ML), like ``lme4::lmer``.

    Parameters
    ----------
    data
        The data.
    response
        Numeric response column.
    fixed
        Fixed-effect columns (an intercept is always included; factors are treatment-coded,
        see :func:`fixed_design`).
    groups
        Grouping columns, each with its own random intercept; they may be nested or crossed.
    reml
        Fit by REML (default) or by maximum likelihood.
    xtol_abs, ftol_abs, maxeval
        Stopping rules of BOBYQA, defaulting to those of lme4's ``nloptwrap``.
    initial_step
        BOBYQA's initial trust-region radius around the start. By default 0.05 from the
        moment start and 0.5 from lme4's (lme4 leaves it to nlopt's default, which depends on
        the nlopt version: 0.75 in nlopt 2.11, 127 evaluations on InstEval against 80 at 0.5).
    blas_threads
        Threads the BLAS/LAPACK library may use during the fit (``None``: leave it alone).
        One is the default: the dense factorisations are small, and on a shared machine
        OpenBLAS's spinning threads can make a multi-threaded Cholesky many times slower.
    memory_limit
        Bytes the fit may allocate for its set-up (see :class:`ProfiledDeviance`); by default
        what the system has available. A design estimated to need more is refused before
        anything large is allocated.
    start
        Where BOBYQA starts. ``"moments"`` (default): the relative SDs estimated by the method
        of moments (:func:`analysis.models.large.moment_estimates`, one pass over the data,
        tens of milliseconds), which lie close to the REML optimum, so a small trust region
        suffices (35 evaluations on InstEval instead of 80). ``"lme4"``: ``theta = 1``, lme4's
        start. Both reach the same optimum (to about 1e-6 in theta, 1e-8 in the criterion);
        if the moment equations cannot be solved the fit starts from ``theta = 1``.

    Returns
    -------
    CrossedFit
        Fixed effects with SEs, SDs, conditional modes with conditional SDs, the criterion.

    Raises
    ------
    ValueError
        If a column is missing, the response is not numeric or has missing values, the data are
        empty, a column appears in two roles, the fixed-effect design is rank deficient, or the
        design would not fit in memory.
    """
    reml = check_bool("reml", reml)
    tick = time.perf_counter()
    start = check_choice("start", start, ("moments", "lme4"))
    if initial_step is not None:
        initial_step = check_positive("initial_step", initial_step)
    fixed_list, group_list = model_columns(data, response, fixed, groups)
    y = numeric_response(data, response)
    if np.ptp(y) == 0:
        raise ValueError(f"response column {response!r} is constant: there is nothing to model")

    design = fixed_design(data, fixed_list)
    X = design.matrix(data)
    n, p = X.shape
    if n <= p:
        raise ValueError(f"data has {n} rows, too few for {p} fixed-effect columns")
    if np.linalg.matrix_rank(X) < p:
        raise ValueError(f"the fixed-effect design {list(design.names)} is rank deficient")
    coded = [group_codes(data[g], g) for g in group_list]
    codes = [c for c, _ in coded]
    levels = [lev for _, lev in coded]
    for g, lev in zip(group_list, levels, strict=True):
        # lme4's checks: a grouping factor needs at least two levels, and fewer levels than
        # observations (otherwise its variance cannot be told from the residual variance).
        check_grouping_levels(g, len(lev), n)
    sizes = sorted(len(lev) for lev in levels)
    if sum(sizes[:-1]) > MAX_DENSE_LEVELS:
        raise ValueError(
            f"groups {group_list}: the factors other than the largest have {sum(sizes[:-1]):,} "
            f"levels in total; this fitter factors them as one dense matrix and handles at most "
            f"{MAX_DENSE_LEVELS:,} (use lme4 or a sparse Cholesky for such designs)"
        )

    with _blas_limits(blas_threads):
        return _fit(
            data,
            response,
            design,
            X,
            y,
            group_list,
            codes,
            levels,
            reml,
            (xtol_abs, ftol_abs, maxeval, initial_step),
            tick,
            memory_limit,
            start,
        )


def _fit(
    data: pd.DataFrame,
    response: str,
    design: FixedDesign,
    X: np.ndarray,
    y: np.ndarray,
    group_list: list[str],
    codes: list[np.ndarray],
    levels: list[pd.Index],
    reml: bool,
    tolerances: tuple[float, float, int, float | None],
    tick: float,
    memory_limit: float | None = None,
    start: str = "moments",
) -> CrossedFit:
    import nlopt

    xtol_abs, ftol_abs, maxeval, initial_step = tolerances
    n = X.shape[0]
    problem = ProfiledDeviance(
        X, y, codes, [len(lev) for lev in levels], reml=reml, memory_limit=memory_limit
    )
    K = len(group_list)
    opt = nlopt.opt(nlopt.LN_BOBYQA, K)
    opt.set_lower_bounds(np.zeros(K))
    opt.set_upper_bounds(np.full(K, np.inf))
    opt.set_min_objective(lambda x, grad: problem(x))
    opt.set_xtol_abs(xtol_abs)
    opt.set_ftol_abs(ftol_abs)
    opt.set_maxeval(int(maxeval))
    theta0 = moment_start(X, y, codes) if start == "moments" else None
    if initial_step is None:
        initial_step = 0.5 if theta0 is None else 0.05
    opt.set_initial_step(np.full(K, float(initial_step)))
    theta = np.asarray(opt.optimize(np.ones(K) if theta0 is None else theta0), dtype=float)
    status = {
        nlopt.SUCCESS: "success",
        nlopt.FTOL_REACHED: "ftol reached",
        nlopt.XTOL_REACHED: "xtol reached",
        nlopt.MAXEVAL_REACHED: "maxeval reached",
    }.get(opt.last_optimize_result(), str(opt.last_optimize_result()))
    sol = problem.solve(theta)

    se = np.sqrt(np.diag(sol.vcov_beta))
    fixed_table = pd.DataFrame(
        {"estimate": sol.beta, "se": se}, index=pd.Index(design.names, name="term")
    )
    sds = pd.Series(
        [sol.sigma * t for t in theta] + [sol.sigma],
        index=pd.Index([*group_list, "Residual"], name="group"),
        name="sd",
    )
    ranef = {
        g: pd.DataFrame({"mode": sol.b[k], "cond_sd": sol.cond_sd[k]}, index=levels[k])
        for k, g in enumerate(group_list)
    }
    vcov = pd.DataFrame(sol.vcov_beta, index=list(design.names), columns=list(design.names))
    fit = CrossedFit(
        fixed=fixed_table,
        sds=sds,
        ranef=ranef,
        criterion=float(sol.criterion),
        reml=bool(reml),
        theta=theta,
        n_evals=problem.n_evals,
        fit_seconds=time.perf_counter() - tick,
        response=response,
        groups=tuple(group_list),
        n_obs=n,
        vcov=vcov,
        design=design,
        optimizer_status=status,
        profiled_deviance=problem,
    )
    # Warned here, as lme4 and the book's other fitters do, so every caller hears of it.
    if fit.singular:
        warnings.warn(
            "boundary (singular) fit: some standard deviation is estimated as 0",
            UserWarning,
            stacklevel=3,
        )
    if status == "maxeval reached":
        warnings.warn(
            "the optimizer stopped at its evaluation limit: the fit may not have converged",
            UserWarning,
            stacklevel=3,
        )
    return fit


def moment_start(X: np.ndarray, y: np.ndarray, codes: Sequence[np.ndarray]) -> np.ndarray | None:
    """Relative SDs (``sigma_k / sigma``) by the method of moments, as a start for BOBYQA.

    Parameters
    ----------
    X
        Fixed-effect design with the intercept first.
    y
        Response.
    codes
        Integer level codes of each grouping factor.

    Returns
    -------
    numpy.ndarray or None
        One relative SD per factor, or ``None`` where the moment equations give no usable
        start (a singular system, a zero residual SD, a non-finite value).
    """
    from analysis.models.large import moment_estimates

    frame = pd.DataFrame({"y": y})
    fixed = [f"x{j}" for j in range(1, X.shape[1])]
    for j, name in enumerate(fixed, start=1):
        frame[name] = X[:, j]
    groups = [f"g{k}" for k in range(len(codes))]
    for name, c in zip(groups, codes, strict=True):
        frame[name] = c
    try:
        sds = moment_estimates(frame, "y", fixed, groups).to_numpy()
    except (ValueError, np.linalg.LinAlgError):
        return None
    theta = sds[:-1] / sds[-1] if sds[-1] > 0 else np.full(len(codes), np.nan)
    return theta if np.all(np.isfinite(theta)) else None
