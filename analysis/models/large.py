r"""Crossed random effects beyond exact REML: moments and backfitting, on pandas or Dask.

The model is the crossed random-intercept model of :mod:`analysis.models.crossed`,

.. math:: y = X\beta + \sum_k Z_k b_k + \varepsilon,\qquad
          b_k \sim N(0, \sigma_k^2 I),\quad \varepsilon \sim N(0, \sigma^2 I),

at a size where exact REML stops (for lme4 as for the package's own fitter, the factorisation
fills in and memory grows much faster than the data). Two estimators replace it, both built
from per-level sums that one pass over the data produces, so they run on a Dask DataFrame
partition by partition and only level-sized vectors ever sit in memory:

* **Variance components by the method of moments** (Gao & Owen 2017, *Efficient moment
  calculations for variance components in large unbalanced crossed random effects models*,
  Electron. J. Statist. 11). For each factor :math:`k`, the U-statistic
  :math:`U_k = \tfrac12\sum_{i \ne j,\ k_i = k_j} (r_i - r_j)^2` compares observations that
  share a level of :math:`k`, so that factor's effect cancels; :math:`U_e` compares all pairs.
  With :math:`n_{kl}` the count of level :math:`l` of factor :math:`k`, :math:`S_k=\sum_l
  n_{kl}^2` and :math:`C_{kk'}` the sum of squared counts of the cells of factors :math:`k`
  and :math:`k'`,

  .. math:: E[U_k] = \sigma^2 (S_k - N) + \sum_{k' \ne k} \sigma_{k'}^2 (S_k - C_{kk'}),
     \qquad E[U_e] = \sigma^2 (N^2 - N) + \sum_k \sigma_k^2 (N^2 - S_k),

  a linear system of :math:`K + 1` equations whose solution (negative values set to zero)
  estimates the variances. Each :math:`U` comes from per-level counts, sums and sums of
  squares: :math:`U_k = \sum_l (n_{kl} Q_{kl} - S_{kl}^2)`. With fixed effects the
  statistics are computed on ordinary-least-squares residuals, which ignores the few
  degrees of freedom the fixed effects use (negligible at this scale).
* **Fixed effects and conditional modes by backfitting** (Ghosh, Hastie & Owen 2022,
  *Backfitting for large scale crossed random effects regressions*, Ann. Statist. 50). Given
  the variance components, the GLS estimate of :math:`\beta` and the BLUPs solve penalised
  normal equations; block Gauss-Seidel on them updates :math:`\beta` by least squares on the
  partial residuals, then each factor's effects by
  :math:`b_{kl} = \sum_{i \in l} r_i / (n_{kl} + \sigma^2/\sigma_k^2)`, and repeats. Each
  sweep costs :math:`O(N)`; the iteration stops when no estimate moves by more than ``tol``.

* **The same equations by preconditioned conjugate gradients** (the default). Backfitting is
  block Gauss-Seidel, and on heavy-tailed designs (a few very active users and items, many
  rare ones) its per-sweep change becomes small long before the estimates are right: on a
  simulated 10^6-row design it needed over a thousand sweeps to stop at a change of 1e-6 and
  was then still 3e-4 away from the solution. The penalised normal equations are symmetric
  positive definite, so SciPy's conjugate gradient solver (:func:`scipy.sparse.linalg.cg`)
  solves them with the same one-pass products (a :class:`~scipy.sparse.linalg.LinearOperator`
  whose ``matvec`` is one reduction over the partitions) and a block-Jacobi preconditioner
  (:math:`(X^\top X)^{-1}` for :math:`\beta`, :math:`1/(n_{kl} + \sigma^2/\sigma_k^2)` for each
  level); it needed 17 passes on that design.

Both are written here because the book's chapter on scale teaches them and no maintained
Python library implements them; the parallelism is Dask's (per-partition sums combined by
its scheduler), none of it home-made. A pandas DataFrame is treated as a single partition.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy.sparse.linalg import LinearOperator, cg

from analysis.validation import (
    check_choice,
    check_grouping_levels,
    check_nonnegative,
    check_positive,
    check_positive_int,
    check_response_scale,
    column_names,
    finite_array,
    numeric_response,
    require_columns,
    require_rows,
)

__all__ = ["LargeFit", "Solver", "moment_estimates", "backfit", "fit_large"]

#: How the penalised normal equations are solved: conjugate gradients or backfitting.
Solver = Literal["cg", "backfitting"]
_SOLVERS = ("cg", "backfitting")

Stats = dict[str, Any]


@dataclass
class LargeFit:
    """A crossed random-intercept fit by moments and backfitting.

    Attributes
    ----------
    fixed
        Fixed effects indexed by term (``"(Intercept)"`` and the fixed columns), column
        ``estimate``.
    sds
        Standard deviations, indexed by grouping factor and ``"Residual"``.
    ranef
        For each grouping factor, a frame indexed by level with column ``mode``.
    method
        How the variance components were obtained (``"moments"`` or ``"given"``), and
        how the equations were solved (``"+cg"`` or ``"+backfitting"``).
    n_obs
        Rows used.
    sweeps, converged, history
        Iterations run (backfitting sweeps or conjugate-gradient steps; each is one pass over
        the data, backfitting sweeps one per factor and one for the fixed effects), whether
        the solver met its tolerance, and the largest change of any estimate in each
        iteration.
    fit_seconds
        Wall time of the whole fit.
    """

    fixed: pd.DataFrame
    sds: pd.Series
    ranef: dict[str, pd.DataFrame]
    method: str
    n_obs: int
    sweeps: int
    converged: bool
    history: list[float] = field(default_factory=list)
    fit_seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """Return the fit as JSON-ready objects: the one document of every fit.

        That is :meth:`analysis.models.results.FitResult.to_dict` of
        :func:`analysis.models.results.result_of` (what ``fit-large --json`` prints): the
        SDs are the ``varcorr`` records, the modes the ``ranef`` records (level labels as
        strings), and the iterations and their history are in ``extras``.
        """
        from analysis.models.results import result_of

        return result_of(self).to_dict()


# --------------------------------------------------------------------------------------------
# Data: pandas (one partition) or Dask (many), integer level codes
# --------------------------------------------------------------------------------------------


@dataclass
class _Data:
    frame: Any  # pandas or dask DataFrame with integer-coded groups
    response: str
    fixed: list[str]
    groups: list[str]
    levels: dict[str, pd.Index]  # labels of the codes 0..L-1
    n_obs: int


def _is_dask(frame: object) -> bool:
    return type(frame).__module__.startswith("dask")


def _prepare(data: object, response: str, fixed: Sequence[str], groups: Sequence[str]) -> _Data:
    fixed_list = column_names("fixed", list(fixed))
    group_list = column_names("groups", list(groups))
    if not group_list:
        raise ValueError("groups must name at least one grouping column")
    roles = [response, *fixed_list, *group_list]
    if len(set(roles)) != len(roles):
        raise ValueError(f"a column appears in two roles: {roles}")
    if isinstance(data, pd.DataFrame):
        require_columns(data, roles)
        require_rows(data)
        frame = data.loc[:, roles].copy()
        numeric_response(frame, response)  # numeric, finite, not too large to square
        for col in fixed_list:
            if not pd.api.types.is_numeric_dtype(frame[col]):
                raise ValueError(f"column {col!r} must be numeric")
            finite_array(f"column {col!r}", frame[col])
        levels = {}
        for g in group_list:
            if frame[g].isna().any():
                raise ValueError(f"grouping column {g!r} has missing values")
            codes, uniques = pd.factorize(frame[g], sort=True)
            frame[g] = codes.astype(np.int64)
            levels[g] = pd.Index(uniques, name=g)
        n_obs = len(frame)
    elif _is_dask(data):
        missing = [c for c in roles if c not in data.columns]
        if missing:
            raise ValueError(f"data has no column(s) {missing}")
        frame = data[roles]
        for g in group_list:
            if not pd.api.types.is_integer_dtype(frame[g].dtype):
                raise ValueError(
                    f"grouping column {g!r} must hold integer level codes in a Dask frame "
                    "(write the data with integer-coded factors)"
                )
        for col in (response, *fixed_list):
            if not pd.api.types.is_numeric_dtype(frame[col].dtype):
                raise ValueError(f"column {col!r} must be numeric")
        import dask

        # every partition (each file, each row group) is checked, not only the first file's
        # schema, and the codes present are collected: the levels are those codes, densely
        # re-coded 0..L-1, so memory follows the number of levels, not the largest code
        found = [
            dask.delayed(_partition_summary)(part, response, roles, group_list)
            for part in frame.to_delayed()
        ]
        while len(found) > 1:
            found = [
                dask.delayed(_combine_summaries)(found[i], found[i + 1])
                if i + 1 < len(found)
                else found[i]
                for i in range(0, len(found), 2)
            ]
        summary = dask.compute(found[0])[0]
        counts, codes = summary["n"], summary["codes"]
        if int(counts) == 0:
            raise ValueError("data has no rows")
        if summary["missing"]:
            raise ValueError("data has missing values")
        check_response_scale(response, float(summary["largest"]))
        levels = {g: pd.Index(codes[g], name=g) for g in group_list}
        lookup = {g: np.asarray(codes[g]) for g in group_list}
        frame = frame.map_partitions(_recode, lookup, meta=frame._meta)
        n_obs = int(counts)
    else:
        raise ValueError(f"data must be a pandas or Dask DataFrame, got {type(data).__name__}")
    for g, lev in levels.items():
        check_grouping_levels(g, len(lev))
    return _Data(frame, response, fixed_list, group_list, levels, n_obs)


def _partition_summary(
    part: pd.DataFrame, response: str, roles: list[str], groups: list[str]
) -> Stats:
    """Rows, largest absolute response, missing values and level codes of one partition."""
    missing = int(part[roles].isna().to_numpy().sum())
    if missing:  # before the codes: a missing code would make an integer column float
        return {
            "n": len(part),
            "largest": 0.0,
            "missing": missing,
            "codes": {g: np.array([], dtype=np.int64) for g in groups},
        }
    y = part[response].to_numpy(dtype=float)
    return {
        "n": len(part),
        "largest": float(np.max(np.abs(y))) if len(y) else 0.0,
        "missing": 0,
        "codes": _partition_levels(part, groups),
    }


def _combine_summaries(a: Stats, b: Stats) -> Stats:
    return {
        "n": a["n"] + b["n"],
        "largest": max(a["largest"], b["largest"]),
        "missing": a["missing"] + b["missing"],
        "codes": {g: np.union1d(a["codes"][g], b["codes"][g]) for g in a["codes"]},
    }


def _partition_levels(part: pd.DataFrame, groups: list[str]) -> dict[str, np.ndarray]:
    """Return the sorted distinct codes of each grouping column in one partition.

    Raises
    ------
    ValueError
        If a grouping column of this partition does not hold integers: a float code such as
        3.5 would otherwise be truncated to 3 when read as an integer.
    """
    out = {}
    for g in groups:
        column = part[g]
        if not pd.api.types.is_integer_dtype(column.dtype):
            values = column.to_numpy()
            example = (
                next((v for v in values if not float(v).is_integer()), None)
                if (pd.api.types.is_float_dtype(column.dtype))
                else None
            )
            detail = f" (e.g. {float(example)!r})" if example is not None else ""
            raise ValueError(
                f"grouping column {g!r} holds {column.dtype} values{detail} in one of the "
                "Parquet files or row groups, not integer level codes: every file must store "
                "it as integers"
            )
        out[g] = np.unique(column.to_numpy(dtype=np.int64))
    return out


def _recode(part: pd.DataFrame, lookup: dict[str, np.ndarray]) -> pd.DataFrame:
    """Replace each grouping column's codes by their positions among the levels (0..L-1)."""
    part = part.copy()
    for g, levels in lookup.items():
        part[g] = np.searchsorted(levels, part[g].to_numpy(dtype=np.int64)).astype(np.int64)
    return part


def _arrays(part: pd.DataFrame, d: _Data) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    y = part[d.response].to_numpy(dtype=float)
    X = np.column_stack([np.ones(len(part))] + [part[c].to_numpy(dtype=float) for c in d.fixed])
    codes = [part[g].to_numpy(dtype=np.int64) for g in d.groups]
    return y, X, codes


def _add(a: Stats, b: Stats) -> Stats:
    return {k: a[k] + b[k] for k in a}


def _reduce(d: _Data, func: Callable[[pd.DataFrame], Stats]) -> Stats:
    """Apply ``func`` to every partition and add the results (Dask's scheduler runs it)."""
    if isinstance(d.frame, pd.DataFrame):
        return func(d.frame)
    import dask

    parts = [dask.delayed(func)(p) for p in d.frame.to_delayed()]
    while len(parts) > 1:  # a binary tree of additions, as Dask's own reductions do
        parts = [
            dask.delayed(_add)(parts[i], parts[i + 1]) if i + 1 < len(parts) else parts[i]
            for i in range(0, len(parts), 2)
        ]
    return dask.compute(parts[0])[0]


def _cell_square_sum(d: _Data, a: str, b: str) -> float:
    """Sum over the cells of factors ``a`` and ``b`` of the squared cell counts."""
    width = len(d.levels[b])
    key = d.frame[a].astype("int64") * width + d.frame[b].astype("int64")
    # On Dask the counts are shuffled into as many partitions as the data have, so no
    # single worker holds every cell (there can be nearly as many cells as rows).
    counts = (
        key.value_counts(split_out=d.frame.npartitions) if _is_dask(key) else key.value_counts()
    )
    total = (counts.astype("float64") ** 2).sum()
    return float(total.compute() if _is_dask(total) else total)


# --------------------------------------------------------------------------------------------
# Estimators
# --------------------------------------------------------------------------------------------


def _moments(d: _Data) -> tuple[pd.Series, np.ndarray]:
    def cross(part: pd.DataFrame) -> Stats:
        y, X, _ = _arrays(part, d)
        return {"xtx": X.T @ X, "xty": X.T @ y}

    s = _reduce(d, cross)
    beta = np.linalg.solve(s["xtx"], s["xty"])
    sizes = {g: len(d.levels[g]) for g in d.groups}

    def stats(part: pd.DataFrame) -> Stats:
        y, X, codes = _arrays(part, d)
        r = y - X @ beta
        out: Stats = {"n": float(len(r)), "sr": r.sum(), "sr2": r @ r}
        for g, c in zip(d.groups, codes, strict=True):
            out[f"n_{g}"] = np.bincount(c, minlength=sizes[g]).astype(float)
            out[f"s_{g}"] = np.bincount(c, weights=r, minlength=sizes[g])
            out[f"q_{g}"] = np.bincount(c, weights=r * r, minlength=sizes[g])
        return out

    st = _reduce(d, stats)
    n = st["n"]
    K = len(d.groups)
    A = np.zeros((K + 1, K + 1))  # unknowns: sigma_k^2 for each factor, then sigma^2
    u = np.zeros(K + 1)
    S = {g: float(st[f"n_{g}"] @ st[f"n_{g}"]) for g in d.groups}
    cells = {  # the cell counts of a pair of factors are symmetric: one pass per pair
        (g, h): _cell_square_sum(d, g, h) for i, g in enumerate(d.groups) for h in d.groups[i + 1 :]
    }
    for i, g in enumerate(d.groups):
        u[i] = float(st[f"n_{g}"] @ st[f"q_{g}"] - st[f"s_{g}"] @ st[f"s_{g}"])
        A[i, K] = S[g] - n
        for j, h in enumerate(d.groups):
            if j != i:
                A[i, j] = S[g] - cells.get((g, h), cells.get((h, g)))
    u[K] = n * st["sr2"] - st["sr"] ** 2
    A[K, K] = n * n - n
    for j, h in enumerate(d.groups):
        A[K, j] = n * n - S[h]
    variances = np.maximum(np.linalg.solve(A, u), 0.0)
    sds = pd.Series(np.sqrt(variances), index=[*d.groups, "Residual"], name="sd")
    return sds, beta


def moment_estimates(
    data: object, response: str, fixed: Sequence[str], groups: Sequence[str]
) -> pd.Series:
    """Estimate the standard deviations by the method of moments (module docstring).

    Parameters
    ----------
    data
        A pandas DataFrame, or a Dask DataFrame whose grouping columns hold integer codes.
    response
        Numeric response column.
    fixed
        Numeric fixed-effect columns (an intercept is always included).
    groups
        Two or more crossed grouping columns (one works too: then it is the one-way ANOVA
        estimator).

    Returns
    -------
    pandas.Series
        SDs indexed by grouping column and ``"Residual"``; a negative moment solution is set
        to zero.
    """
    return _moments(_prepare(data, response, fixed, groups))[0]


def _backfit(
    d: _Data, sds: pd.Series, tol: float, max_sweeps: int
) -> tuple[np.ndarray, dict[str, np.ndarray], list[float], bool]:
    sizes = {g: len(d.levels[g]) for g in d.groups}
    _check_sds(d, sds)

    def setup(part: pd.DataFrame) -> Stats:
        y, X, codes = _arrays(part, d)
        out: Stats = {"xtx": X.T @ X}
        for g, c in zip(d.groups, codes, strict=True):
            out[f"n_{g}"] = np.bincount(c, minlength=sizes[g]).astype(float)
        return out

    base = _reduce(d, setup)
    p = base["xtx"].shape[0]
    beta = np.zeros(p)
    effects = {g: np.zeros(sizes[g]) for g in d.groups}
    history: list[float] = []
    for _ in range(max_sweeps):
        change = 0.0
        current = dict(effects)

        def fixed_part(part: pd.DataFrame, current: dict[str, np.ndarray] = current) -> Stats:
            y, X, codes = _arrays(part, d)
            r = y - sum(current[g][c] for g, c in zip(d.groups, codes, strict=True))
            return {"xtr": X.T @ r}

        new_beta = np.linalg.solve(base["xtx"], _reduce(d, fixed_part)["xtr"])
        change = max(change, float(np.max(np.abs(new_beta - beta))))
        beta = new_beta
        for k, g in enumerate(d.groups):
            var_k = float(sds[g]) ** 2
            if var_k == 0:
                effects[g] = np.zeros(sizes[g])
                continue
            penalty = float(sds["Residual"]) ** 2 / var_k
            snapshot = dict(effects)

            def partial(
                part: pd.DataFrame,
                k: int = k,
                g: str = g,
                snapshot: dict[str, np.ndarray] = snapshot,
                beta: np.ndarray = beta,
            ) -> Stats:
                y, X, codes = _arrays(part, d)
                r = y - X @ beta
                for j, (h, c) in enumerate(zip(d.groups, codes, strict=True)):
                    if j != k:
                        r = r - snapshot[h][c]
                return {"s": np.bincount(codes[k], weights=r, minlength=sizes[g])}

            new = _reduce(d, partial)["s"] / (base[f"n_{g}"] + penalty)
            change = max(change, float(np.max(np.abs(new - effects[g]))))
            effects[g] = new
        history.append(change)
        if change < tol:
            return beta, effects, history, True
    return beta, effects, history, False


def _solve_cg(
    d: _Data, sds: pd.Series, tol: float, max_sweeps: int
) -> tuple[np.ndarray, dict[str, np.ndarray], list[float], bool]:
    """Solve the penalised normal equations by preconditioned conjugate gradients (SciPy)."""
    sizes = {g: len(d.levels[g]) for g in d.groups}
    _check_sds(d, sds)
    active = [g for g in d.groups if float(sds[g]) > 0]  # a zero SD: effects are exactly 0
    penalty = {g: float(sds["Residual"]) ** 2 / float(sds[g]) ** 2 for g in active}

    def setup(part: pd.DataFrame) -> Stats:
        y, X, codes = _arrays(part, d)
        out: Stats = {"xtx": X.T @ X, "xty": X.T @ y}
        for g, c in zip(d.groups, codes, strict=True):
            if g in penalty:
                out[f"n_{g}"] = np.bincount(c, minlength=sizes[g]).astype(float)
                out[f"s_{g}"] = np.bincount(c, weights=y, minlength=sizes[g])
        return out

    base = _reduce(d, setup)
    p = base["xtx"].shape[0]
    bounds = np.cumsum([p] + [sizes[g] for g in active])

    def split(v: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        return v[:p], {g: v[bounds[k] : bounds[k + 1]] for k, g in enumerate(active)}

    def matvec(v: np.ndarray) -> np.ndarray:
        beta, effects = split(np.asarray(v, dtype=float).ravel())

        def product(part: pd.DataFrame) -> Stats:
            _, X, codes = _arrays(part, d)
            fitted = X @ beta
            for g, c in zip(d.groups, codes, strict=True):
                if g in effects:
                    fitted = fitted + effects[g][c]
            out: Stats = {"x": X.T @ fitted}
            for g, c in zip(d.groups, codes, strict=True):
                if g in effects:
                    out[g] = np.bincount(c, weights=fitted, minlength=sizes[g])
            return out

        s = _reduce(d, product)
        return np.concatenate([s["x"]] + [s[g] + penalty[g] * effects[g] for g in active])

    xtx_inv = np.linalg.inv(base["xtx"])
    inv_diag = np.concatenate([1.0 / (base[f"n_{g}"] + penalty[g]) for g in active])

    def precondition(v: np.ndarray) -> np.ndarray:
        v = np.asarray(v, dtype=float).ravel()
        return np.concatenate([xtx_inv @ v[:p], inv_diag * v[p:]])

    size = int(bounds[-1])
    rhs = np.concatenate([base["xty"]] + [base[f"s_{g}"] for g in active])
    history: list[float] = []
    previous = [np.zeros(size)]

    def record(xk: np.ndarray) -> None:
        history.append(float(np.max(np.abs(xk - previous[0]))))
        previous[0] = np.array(xk, copy=True)

    solution, info = cg(
        LinearOperator((size, size), matvec=matvec, dtype=float),
        rhs,
        rtol=tol,
        maxiter=max_sweeps,
        M=LinearOperator((size, size), matvec=precondition, dtype=float),
        callback=record,
    )
    beta, effects = split(solution)
    full = {g: effects.get(g, np.zeros(sizes[g])) for g in d.groups}
    return beta, full, history, info == 0


def _check_sds(d: _Data, sds: pd.Series) -> None:
    missing = [g for g in [*d.groups, "Residual"] if g not in sds.index]
    if missing:
        raise ValueError(f"sds lacks {missing}")
    for name, value in sds.items():
        check_nonnegative(f"sds[{name!r}]", value)
    check_positive("sds['Residual'] (the residual SD)", sds["Residual"])


def backfit(
    data: object,
    response: str,
    fixed: Sequence[str],
    groups: Sequence[str],
    sds: pd.Series,
    *,
    tol: float = 1e-10,
    max_sweeps: int = 2000,
    solver: Solver = "cg",
) -> LargeFit:
    """GLS fixed effects and conditional modes for given SDs (module docstring).

    Parameters
    ----------
    data, response, fixed, groups
        As for :func:`moment_estimates`.
    sds
        Standard deviations indexed by grouping column and ``"Residual"`` (e.g. REML's).
    tol
        Conjugate gradients: stop when the residual of the equations is this small relative
        to their right-hand side. Backfitting: stop when no estimate changes by more than
        this in a sweep.
    max_sweeps
        Give up after this many iterations (``converged`` is then false).
    solver
        ``"cg"`` (preconditioned conjugate gradients, SciPy) or ``"backfitting"``.

    Returns
    -------
    LargeFit
        With ``method`` ``"given+cg"`` or ``"given+backfitting"``.
    """
    start = time.perf_counter()
    d = _prepare(data, response, fixed, groups)
    return _finish(d, pd.Series(sds, dtype=float), "given", tol, max_sweeps, start, solver)


def fit_large(
    data: object,
    response: str,
    fixed: Sequence[str],
    groups: Sequence[str],
    *,
    tol: float = 1e-8,
    max_sweeps: int = 2000,
    solver: Solver = "cg",
) -> LargeFit:
    """Fit crossed random intercepts by moments, then solve for the effects (module docstring).

    Parameters
    ----------
    data
        A pandas DataFrame (one partition), a Dask DataFrame with integer-coded grouping
        columns, or the path of a Parquet file or folder (read with Dask).
    response, fixed, groups
        As for :func:`moment_estimates`.
    tol, max_sweeps, solver
        As for :func:`backfit`.

    Returns
    -------
    LargeFit
        With ``method`` ``"moments+cg"`` or ``"moments+backfitting"``.
    """
    start = time.perf_counter()
    if isinstance(data, (str, bytes)) or hasattr(data, "__fspath__"):
        import dask.dataframe as dd

        # one partition per row group: memory is bounded by a row group, not by the file
        data = dd.read_parquet(data, split_row_groups=True)
    d = _prepare(data, response, fixed, groups)
    sds, _ = _moments(d)
    return _finish(d, sds, "moments", tol, max_sweeps, start, solver)


def _finish(
    d: _Data,
    sds: pd.Series,
    source: str,
    tol: float,
    max_sweeps: int,
    start: float,
    solver: str = "cg",
) -> LargeFit:
    check_choice("solver", solver, _SOLVERS)
    tol = check_positive("tol", tol)
    max_sweeps = check_positive_int("max_sweeps", max_sweeps)
    solve = _solve_cg if solver == "cg" else _backfit
    beta, effects, history, converged = solve(d, sds, tol, max_sweeps)
    fixed = pd.DataFrame({"estimate": beta}, index=pd.Index(["(Intercept)", *d.fixed], name="term"))
    ranef = {g: pd.DataFrame({"mode": effects[g]}, index=d.levels[g]) for g in d.groups}
    return LargeFit(
        fixed=fixed,
        sds=sds.loc[[*d.groups, "Residual"]],
        ranef=ranef,
        method=f"{source}+{solver}",
        n_obs=d.n_obs,
        sweeps=len(history),
        converged=converged,
        history=history,
        fit_seconds=time.perf_counter() - start,
    )
