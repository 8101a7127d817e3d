r"""Generalized linear mixed models as lme4's ``glmer`` and ``glmer.nb`` fit them.

Binomial (0/1 or ``cbind(successes, failures)``), Poisson and negative-binomial responses
with any random-effect structure of :mod:`analysis.models.formula`, by the Laplace
approximation or, for one scalar random effect, adaptive Gauss--Hermite quadrature
(``nagq`` > 1), reported in lme4's layout (:func:`fit_glmer`, :meth:`GlmerFit.to_dict`).

Why a library, and where it is guarded
--------------------------------------
The engine is mixedlm's ``glmer`` (a port of lme4; its binomial and Poisson deviance is
evaluated natively). mixedlm 1.3.0 was checked against lme4 1.1.31 on every reference of
``scripts/lme4_glmer.R`` (``tests/test_glmer.py``), and these gaps were found:

1. **Formulas.** Its parser refuses ``cbind(...)``, ``I(...)`` and transformations. Guard:
   it never sees the user's formula. :func:`analysis.models.formula.build_design` builds the
   columns and :meth:`~analysis.models.formula.Design.frame` hands mixedlm plain numeric
   columns and ``y ~ 0 + x0 + ... + (0 + z0_0 + ... | g0)``; a ``cbind`` response becomes
   the proportion of successes with the trials as prior weights (mixedlm's binomial then has
   lme4's likelihood, binomial constants included).
2. **Stopping short of the optimum, slowly.** Its second stage, the joint (theta, beta)
   optimisation of the Laplace deviance (COBYQA or L-BFGS-B on finite differences), can stop
   early: the issue that started this module saw it stop 0.78 log-likelihood units below
   lme4 on a random-slope logistic model; on the references here it stops within about 1e-3
   of the optimum in the fixed effects, and it costs 2.4 times its first stage (VerbAgg:
   6.4 s against 2.7 s on the loaded 2-core benchmark machine). Guard, :func:`_refine`: the
   fit takes mixedlm's first stage (``nAGQ = 0``: theta optimised with beta inside PIRLS,
   lme4's first stage too) as the start, and Newton steps on the exact Laplace deviance
   (:class:`_Laplace`, which equals mixedlm's deviance function to 1e-9 and lme4's to
   1e-3) replace the second stage; a Hessian that is not positive definite (a start far from
   the optimum) sends it through L-BFGS-B first. The gain over the start is recorded
   (``GlmerFit.polish_gain``); on every reference the result's log-likelihood is at least
   lme4's (minus 1e-4).
3. **Standard errors.** mixedlm's ``vcov`` is the conditional one (beta given theta, from
   the penalised least-squares system); lme4 (``use.hessian = TRUE``) inverts the numerical
   Hessian of the deviance in (theta, beta) and reports its beta block, which also carries
   the uncertainty of theta. The two differ by up to 3% (grouseticks' intercept: 0.1904
   against 0.1964). Guard, :func:`_derivatives` and :func:`_vcov_beta`: the same
   central-difference Hessian, on the exact Laplace deviance (on mixedlm's own deviance
   function for ``nagq`` > 1). Its step is 1e-3: with lme4's 1e-4 the rounding of the modes
   swamps the mixed second differences of grouseticks' observation-level model. One gap
   remains and is lme4's: its deviance function (``devFunOnly``) is not the exact Laplace
   deviance (its PIRLS stops at a relative change of 1e-7 and takes the log-determinant
   from the previous iterate's weights), above it by 4e-4 to 7e-4 on cbpp, by an amount
   that moves with the parameters; its Hessian, and so its SEs, differ from the exact ones
   by up to 5.4e-3 on cbpp (every other reference: below 1e-3).
4. **The log-likelihood with nAGQ > 1.** lme4's ``logLik`` of a quadrature fit omits the
   saturated model's constant (cbpp: -50.005 with ``nAGQ = 9`` against -92.03 by Laplace),
   mixedlm's includes it. The fit reports lme4's value as ``loglik`` and the comparable one
   as ``loglik_normalized``.
5. **Negative binomial.** mixedlm's ``glmer_nb`` keeps the NB shape at the value it is given
   (1 by default) instead of estimating it as ``glmer.nb`` does, and its NB path is not native:
   one fit of grouseticks (403 rows) took 12--21 s, so a profile over the shape by refits
   would take minutes. No guard reaches lme4's optimum in reasonable time, so this module
   evaluates the NB Laplace deviance itself (:class:`_Laplace`, penalised iteratively
   reweighted least squares for the modes with Fisher weights, as lme4's) and maximises it
   over (theta, beta, log shape) jointly, starting from mixedlm's Poisson first stage
   (L-BFGS-B, then the Newton guard). ``glmer.nb`` optimises the shape by ``optimize()``
   over refits; both reach the same maximum (shape 2.0522 on grouseticks, lme4 2.0522).
   The SEs are those of the Hessian in (theta, beta) at the estimated shape, as lme4's.

These are the reports to send upstream (mixedlm): cbind/I() in the parser, the joint
optimiser's stopping rule, the Hessian-based vcov, the quadrature log-likelihood constant,
the NB shape estimation and speed.

Checks lme4 makes, or should
----------------------------
A binomial response must be 0/1, or a ``cbind`` of non-negative whole numbers; proportions
need ``cbind`` (the trials); Poisson and negative-binomial counts must be non-negative whole
numbers; ``nagq`` > 1 needs one scalar random effect. Each is a ``ValueError`` with one
line. Perfect separation (a fixed effect whose likelihood increases without bound, found by
the linear program of Konis' test on the fixed-effect design) is what lme4 fits and warns
about: the fit is returned with finite, very large estimates, a warning naming the
coefficients and ``GlmerFit.separation`` listing them, never a silent infinite estimate.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import linalg, optimize, sparse, special

from analysis.models.formula import Design, build_design
from analysis.validation import SINGULAR_TOL, check_choice, check_positive_int

__all__ = ["FAMILIES", "MAX_RANDOM", "GlmerFit", "fit_glmer", "check_response"]

#: The families :func:`fit_glmer` fits.
FAMILIES: tuple[str, ...] = ("binomial", "poisson", "negbin")
#: Most random effects the module's own algebra (NB fits, conditional SDs) handles densely.
MAX_RANDOM = 6000
#: Step of the central-difference Hessian (lme4's deriv12 uses 1e-4; 1e-3 keeps the
#: inner mode solve's rounding out of the second differences).
HESSIAN_STEP = 1e-3


# --------------------------------------------------------------------------------------------
# Checks of the response


def check_response(design: Design, family: str) -> None:
    """Raise ``ValueError`` if the response does not suit the family, as lme4 would.

    Parameters
    ----------
    design
        The evaluated formula.
    family
        ``"binomial"``, ``"poisson"`` or ``"negbin"``.
    """
    y, name = design.y, design.response_name
    if family == "binomial":
        if design.trials is not None:
            failures = design.trials - y
            if np.any(y < 0) or np.any(failures < 0):
                if np.any(y < 0):
                    raise ValueError(f"{name}: successes must not be negative")
                row = int(np.flatnonzero(failures < 0)[0])
                raise ValueError(
                    f"{name}: successes exceed the trials (failures negative) in "
                    f"{int(np.sum(failures < 0))} row(s), first row {row + 1}"
                )
            if np.any(y != np.round(y)) or np.any(failures != np.round(failures)):
                raise ValueError(f"{name}: successes and failures must be whole numbers")
            if np.all(design.trials == 0):
                raise ValueError(f"{name}: every row has zero trials")
            return
        if np.any((y != 0) & (y != 1)):
            if np.all((y >= 0) & (y <= 1)):
                raise ValueError(
                    f"the binomial response {name!r} holds proportions: give the trials "
                    "with cbind(successes, failures)"
                )
            raise ValueError(
                f"the binomial response {name!r} must be 0 or 1 (or use cbind(successes, "
                f"failures)); it ranges from {y.min():g} to {y.max():g}"
            )
        return
    if design.trials is not None:
        raise ValueError(f"cbind() is a binomial response; the {family} family needs counts")
    if np.any(y < 0):
        raise ValueError(f"the {family} response {name!r} has negative counts")
    if np.any(y != np.round(y)):
        raise ValueError(f"the {family} response {name!r} has non-integer counts")


def _glm_diverges(x: np.ndarray, y: np.ndarray, trials: np.ndarray) -> bool:
    """Return whether the fixed-effects logistic fit (IRLS) fails to settle (a separation sign).

    The fit of ``y`` successes out of ``trials`` on ``x`` converges (relative change of the
    deviance below 1e-10, linear predictor within +-25) unless the data are separated, when
    the estimates grow without bound.
    """
    beta = np.zeros(x.shape[1])
    previous = np.inf
    for _ in range(40):
        eta = x @ beta
        mu = special.expit(eta)
        w = trials * mu * (1 - mu) + 1e-12
        z = eta + (y - trials * mu) / w
        xw = x * w[:, None]
        try:
            beta = np.linalg.solve(x.T @ xw, xw.T @ z)
        except np.linalg.LinAlgError:
            return True
        eta = x @ beta
        deviance = -2.0 * float(
            np.sum(-y * np.logaddexp(0.0, -eta) - (trials - y) * np.logaddexp(0.0, eta))
        )
        if abs(previous - deviance) < 1e-10 * (1.0 + abs(deviance)):
            return bool(np.max(np.abs(eta)) > 25)
        previous = deviance
    return True


def _separation(design: Design, family: str) -> list[str]:
    """Return the fixed-effect names in a direction of (quasi-)complete separation, if any.

    Konis' linear program: is there a direction ``b`` with ``x_i b >= 0`` for every row with
    a success, ``x_i b <= 0`` for every row with a failure, and ``x_i b != 0`` somewhere?
    Then the likelihood increases without bound along ``b`` (rows holding both outcomes
    force ``x_i b = 0``).
    """
    if family != "binomial":
        return []
    x = design.X
    trials = design.trials if design.trials is not None else np.ones_like(design.y)
    if not _glm_diverges(x, design.y, trials):
        return []  # the fixed-effects logistic fit converges: no separation, no LP needed
    has_success = design.y > 0
    has_failure = (trials - design.y) > 0
    sign = has_success.astype(float) - has_failure.astype(float)  # +1, -1 or 0 (both)
    rows = np.column_stack([x, sign])
    rows, _ = np.unique(rows, axis=0, return_index=True)
    x, sign = rows[:, :-1], rows[:, -1]
    scale = np.maximum(np.abs(x).max(axis=0), 1e-300)
    xs = x / scale
    # maximise sum(sign_i * x_i b) subject to -sign_i x_i b <= 0, x_i b = 0 where sign 0
    strict = sign != 0
    res = optimize.linprog(
        c=-(sign[strict, None] * xs[strict]).sum(axis=0),
        A_ub=-(sign[strict, None] * xs[strict]),
        b_ub=np.zeros(int(strict.sum())),
        A_eq=xs[~strict] if (~strict).any() else None,
        b_eq=np.zeros(int((~strict).sum())) if (~strict).any() else None,
        bounds=[(-1.0, 1.0)] * x.shape[1],
        method="highs",
    )
    if res.status != 0 or -res.fun < 1e-7:
        return []
    direction = res.x
    return [n for n, b in zip(design.fixed_names, direction, strict=True) if abs(b) > 1e-7]


# --------------------------------------------------------------------------------------------
# The module's own Laplace deviance (negative binomial; conditional variances)


@dataclass
class _Term:
    offset: int  # first random-effect index of the term
    k: int  # columns per level
    n_levels: int
    tri: tuple[np.ndarray, np.ndarray]  # lower-triangular indices, column-major (lme4's)


class _System:
    """The penalised system ``M = (Z Lambda)' W (Z Lambda) + I``, factored by blocks.

    The random effects of the first term (the grouping with most levels) form a
    block-diagonal ``A`` (one ``k x k`` block per level); the others, ``D``, are few. ``M``
    is eliminated as ``[[A, B], [B', D]]``: ``A`` inverted block by block and the Schur
    complement ``S = D - B' A^-1 B`` factored densely. Every cross-product is a weighted
    count (``numpy.bincount``) over the observations, so a crossed design with many levels in
    one factor costs little more than one pass over its rows.
    """

    def __init__(self, lap: _Laplace, vals: list[np.ndarray], w: np.ndarray) -> None:
        terms = lap.terms
        first = terms[0]
        self.k1, self.q1 = first.k, first.n_levels * first.k
        codes = lap.codes
        k1, n1 = first.k, first.n_levels
        blocks = np.empty((n1, k1, k1))
        for a in range(k1):
            for b in range(a, k1):
                col = np.bincount(codes[0], w * vals[0][:, a] * vals[0][:, b], minlength=n1)
                blocks[:, a, b] = col
                blocks[:, b, a] = col
        blocks += np.eye(k1)[None, :, :]
        if k1 == 1:
            self.a_inv = 1.0 / blocks
            self.logdet = float(np.sum(np.log(blocks)))
        else:
            chol_a = np.linalg.cholesky(blocks)  # raises LinAlgError if not PD
            self.a_inv = np.linalg.inv(blocks)
            self.logdet = 2.0 * float(np.sum(np.log(np.diagonal(chol_a, axis1=1, axis2=2))))
        self.qr = lap.q - self.q1
        if self.qr:
            self.b = np.zeros((self.q1, self.qr))
            d = np.eye(self.qr)
            for t in range(1, len(terms)):
                self._cross(self.b, 0, t, lap, vals, w, row0=0, col0=terms[t].offset - self.q1)
                for s_ in range(1, t + 1):
                    self._cross(
                        d,
                        s_,
                        t,
                        lap,
                        vals,
                        w,
                        row0=terms[s_].offset - self.q1,
                        col0=terms[t].offset - self.q1,
                    )
            d = np.triu(d) + np.triu(d, 1).T
            self.p: Any
            if k1 == 1 and np.count_nonzero(self.b) < 0.25 * self.b.size:
                # crossed factors seen in few combinations: B is sparse, and B' A^-1 B costs
                # its nonzeros, not q1 * qr^2
                b_sparse = sparse.csr_matrix(self.b)
                self.p = sparse.csr_matrix(b_sparse.multiply(self.a_inv[:, 0, :]))
                s = d - (b_sparse.T @ self.p).toarray()
            else:
                self.p = self._a_solve(self.b)  # A^-1 B
                s = d - self.b.T @ self.p
            self.chol_s = np.linalg.cholesky(s)
            self.logdet += 2.0 * float(np.sum(np.log(np.diag(self.chol_s))))

    @staticmethod
    def _cross(
        out: np.ndarray,
        s: int,
        t: int,
        lap: _Laplace,
        vals: list[np.ndarray],
        w: np.ndarray,
        row0: int,
        col0: int,
    ) -> None:
        """Add the block of term s (rows) by term t (columns) of Z'WZ into ``out``."""
        ts, tt = lap.terms[s], lap.terms[t]
        cs, ct = lap.codes[s], lap.codes[t]
        pair = cs * tt.n_levels + ct
        size = ts.n_levels * tt.n_levels
        for a in range(ts.k):
            for b in range(tt.k):
                counts = np.bincount(pair, w * vals[s][:, a] * vals[t][:, b], minlength=size)
                out[
                    row0 + a : row0 + ts.n_levels * ts.k : ts.k,
                    col0 + b : col0 + tt.n_levels * tt.k : tt.k,
                ] += counts.reshape(ts.n_levels, tt.n_levels)

    def _a_solve(self, rhs: np.ndarray) -> np.ndarray:
        k1 = self.k1
        if k1 == 1:
            return self.a_inv[:, 0, :] * rhs
        shaped = rhs.reshape(self.q1 // k1, k1, -1)
        return np.einsum("jab,jbc->jac", self.a_inv, shaped).reshape(rhs.shape)

    def solve(self, g: np.ndarray) -> np.ndarray:
        """Return ``M^-1 g``."""
        g1, g2 = g[: self.q1], g[self.q1 :]
        x1 = self._a_solve(g1[:, None])[:, 0]
        if not self.qr:
            return x1
        rhs = g2 - self.b.T @ x1
        x2 = linalg.cho_solve((self.chol_s, True), rhs)
        return np.r_[x1 - self.p @ x2, x2]

    def diag_blocks(self, sizes: list[tuple[int, int, int]]) -> list[np.ndarray]:
        """Return the ``k x k`` diagonal blocks of ``M^-1`` for each (offset, k, n) term."""
        out = []
        s_inv = None
        if self.qr:
            ls_inv = linalg.solve_triangular(self.chol_s, np.eye(self.qr), lower=True)
            s_inv = ls_inv.T @ ls_inv
        for offset, k, n in sizes:
            if offset < self.q1:
                blocks = self.a_inv.copy()
                if self.qr:
                    if sparse.issparse(self.p):  # k == 1
                        ps = np.asarray(self.p @ s_inv)
                        blocks += np.asarray(self.p.multiply(ps).sum(axis=1)).reshape(n, 1, 1)
                    else:
                        pj = self.p.reshape(n, k, self.qr)
                        blocks += np.einsum("jar,rs,jbs->jab", pj, s_inv, pj)
            else:
                at = offset - self.q1
                sub = s_inv[at : at + n * k, at : at + n * k]
                blocks = np.stack([sub[j * k : (j + 1) * k, j * k : (j + 1) * k] for j in range(n)])
            out.append(blocks)
        return out


class _Laplace:
    """Laplace deviance ``-2 log p(y | u) + |u|^2 + log|L|^2`` on a design (lme4's theta).

    ``theta`` is lme4's: per random term the lower-triangular relative Cholesky factor,
    column-major. The modes ``u`` (spherical) come from penalised iteratively reweighted
    least squares with Fisher weights, as lme4's PIRLS, solved by :class:`_System`.
    """

    def __init__(self, design: Design, family: str, nb_shape: float = 1.0) -> None:
        self.design = design
        self.family = family
        self.nb_shape = nb_shape
        self.y = design.y
        self.trials = design.trials if design.trials is not None else np.ones_like(design.y)
        self.offset = design.offset if design.offset is not None else np.zeros_like(design.y)
        y, n = self.y, self.trials
        if family == "binomial":
            self.const = float(
                np.sum(special.gammaln(n + 1) - special.gammaln(y + 1) - special.gammaln(n - y + 1))
            )
        else:
            self.const = -float(np.sum(special.gammaln(y + 1)))
        self.terms: list[_Term] = []
        self.codes = [term.codes for term in design.random]
        start = 0
        for term in design.random:
            k = term.matrix.shape[1]
            tri = np.tril_indices(k)
            order = np.lexsort((tri[0], tri[1]))  # column-major
            self.terms.append(_Term(start, k, term.n_levels, (tri[0][order], tri[1][order])))
            start += term.n_levels * k
        self.q = start
        first = self.terms[0]
        rest = self.q - first.n_levels * first.k
        if rest > MAX_RANDOM:
            raise ValueError(
                f"the model has {rest} random effects besides those of "
                f"{design.random[0].group!r}; this module's algebra handles at most {MAX_RANDOM}"
            )
        self.n_theta = sum(len(t.tri[0]) for t in self.terms)
        self.u = np.zeros(self.q)

    def theta_lower(self) -> list[float | None]:
        """Lower bounds of theta: 0 on diagonals, none off them (lme4's)."""
        out: list[float | None] = []
        for t in self.terms:
            out += [0.0 if i == j else None for i, j in zip(*t.tri, strict=True)]
        return out

    def lambdas(self, theta: np.ndarray) -> list[np.ndarray]:
        """Return the lower-triangular factor of every term."""
        out, at = [], 0
        for t in self.terms:
            m = len(t.tri[0])
            lower = np.zeros((t.k, t.k))
            lower[t.tri] = theta[at : at + m]
            at += m
            out.append(lower)
        return out

    def zlambda(self, theta: np.ndarray) -> list[np.ndarray]:
        """Each term's rows of ``Z Lambda`` (n x k: the nonzero entries)."""
        return [
            term.matrix @ lower
            for term, lower in zip(self.design.random, self.lambdas(theta), strict=True)
        ]

    def times(self, vals: list[np.ndarray], u: np.ndarray) -> np.ndarray:
        """``Z Lambda u``."""
        out = np.zeros(self.design.n_obs)
        for t, v, c in zip(self.terms, vals, self.codes, strict=True):
            block = u[t.offset : t.offset + t.n_levels * t.k].reshape(t.n_levels, t.k)
            out += np.einsum("ia,ia->i", v, block[c])
        return out

    def t_times(self, vals: list[np.ndarray], r: np.ndarray) -> np.ndarray:
        """``(Z Lambda)' r``."""
        out = np.zeros(self.q)
        for t, v, c in zip(self.terms, vals, self.codes, strict=True):
            for a in range(t.k):
                out[t.offset + a : t.offset + t.n_levels * t.k : t.k] = np.bincount(
                    c, v[:, a] * r, minlength=t.n_levels
                )
        return out

    # family pieces on the log or logit scale: mean, log density, Fisher weights
    def _mean(self, eta: np.ndarray) -> np.ndarray:
        if self.family == "binomial":
            return special.expit(eta)
        return np.exp(np.clip(eta, -700, 700))

    def loglik_terms(self, eta: np.ndarray) -> float:
        y = self.y
        if self.family == "binomial":
            n = self.trials
            return self.const + float(
                np.sum(-y * np.logaddexp(0.0, -eta) - (n - y) * np.logaddexp(0.0, eta))
            )
        mu = self._mean(eta)
        if self.family == "poisson":
            return self.const + float(np.sum(y * eta - mu))
        k = self.nb_shape
        return self.const + float(
            np.sum(
                special.gammaln(y + k)
                - special.gammaln(k)
                + k * np.log(k / (k + mu))
                + y * (eta - np.log(k + mu))
            )
        )

    def _score_weights(self, eta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mu = self._mean(eta)
        if self.family == "binomial":
            return self.y - self.trials * mu, self.trials * mu * (1 - mu)
        if self.family == "poisson":
            return self.y - mu, mu
        k = self.nb_shape
        w = mu * k / (k + mu)
        return (self.y - mu) * k / (k + mu), w

    def deviance(self, theta: np.ndarray, beta: np.ndarray) -> float:
        """Return the Laplace deviance at (theta, beta); the modes are kept in ``self.u``."""
        vals = self.zlambda(theta)
        fixed = self.design.X @ beta + self.offset
        u = self.u.copy()

        def penalised(u_: np.ndarray) -> float:
            return -2.0 * self.loglik_terms(fixed + self.times(vals, u_)) + float(u_ @ u_)

        current = penalised(u)
        try:
            for _ in range(60):
                score, w = self._score_weights(fixed + self.times(vals, u))
                step = _System(self, vals, w).solve(self.t_times(vals, score) - u)
                factor = 1.0
                for _ in range(30):
                    trial = u + factor * step
                    value = penalised(trial)
                    if value <= current + 1e-12:
                        break
                    factor /= 2.0
                else:
                    break
                u, change = trial, current - value
                current = value
                if change < 1e-12 * (1.0 + abs(current)) or np.max(np.abs(factor * step)) < 1e-10:
                    break
            _, w = self._score_weights(fixed + self.times(vals, u))
            system = _System(self, vals, w)
        except np.linalg.LinAlgError:
            return np.inf
        self.u = u
        return current + system.logdet

    def conditional_sd(self, theta: np.ndarray, beta: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Return the conditional SDs of ``b = Lambda u`` (lme4's ``condVar``) at the modes."""
        vals = self.zlambda(theta)
        eta = self.design.X @ beta + self.offset + self.times(vals, u)
        _, w = self._score_weights(eta)
        system = _System(self, vals, w)
        blocks = system.diag_blocks([(t.offset, t.k, t.n_levels) for t in self.terms])
        sds = np.zeros(self.q)
        for t, lower, cov_u in zip(self.terms, self.lambdas(theta), blocks, strict=True):
            cov_b = np.einsum("ab,jbc,dc->jad", lower, cov_u, lower)
            var = np.clip(np.diagonal(cov_b, axis1=1, axis2=2), 0.0, None)
            sds[t.offset : t.offset + t.n_levels * t.k] = np.sqrt(var).ravel()
        return sds


# --------------------------------------------------------------------------------------------
# Guards on mixedlm


def _derivatives(
    dev: Any, x: np.ndarray, free: np.ndarray, f0: float | None = None
) -> tuple[float, np.ndarray, np.ndarray]:
    """Central-difference gradient and Hessian of ``dev`` in the ``free`` coordinates.

    The step is lme4's (``deriv12``: :data:`HESSIAN_STEP`, absolute).
    """
    idx = np.flatnonzero(free)
    p = idx.size
    h = HESSIAN_STEP
    f0 = float(dev(x)) if f0 is None else f0
    grad = np.zeros(p)
    hess = np.zeros((p, p))
    fp, fm = np.zeros(p), np.zeros(p)
    for a, i in enumerate(idx):
        e = np.zeros_like(x)
        e[i] = h
        fp[a], fm[a] = float(dev(x + e)), float(dev(x - e))
        grad[a] = (fp[a] - fm[a]) / (2 * h)
        hess[a, a] = (fp[a] - 2 * f0 + fm[a]) / h**2
    for a in range(p):
        for c in range(a + 1, p):
            e = np.zeros_like(x)
            e[idx[a]] = h
            e[idx[c]] = h
            fpp, fmm = float(dev(x + e)), float(dev(x - e))
            hess[a, c] = hess[c, a] = (fpp - fp[a] - fp[c] + 2 * f0 - fm[a] - fm[c] + fmm) / (
                2 * h * h
            )
    return f0, grad, hess


def _gradient(dev: Any, x: np.ndarray, free: np.ndarray) -> np.ndarray:
    """Central-difference gradient of ``dev`` in the ``free`` coordinates."""
    idx = np.flatnonzero(free)
    grad = np.zeros(idx.size)
    for a, i in enumerate(idx):
        e = np.zeros_like(x)
        e[i] = HESSIAN_STEP
        grad[a] = (float(dev(x + e)) - float(dev(x - e))) / (2 * HESSIAN_STEP)
    return grad


def _newton_step(hess: np.ndarray, grad: np.ndarray) -> np.ndarray | None:
    """Return ``H^-1 g`` if ``H`` is positive definite, else ``None``."""
    try:
        chol = np.linalg.cholesky(hess)
    except np.linalg.LinAlgError:
        return None
    return linalg.cho_solve((chol, True), grad)


def _refine(
    dev: Any, x: np.ndarray, lower: list[float | None], max_steps: int = 10
) -> tuple[np.ndarray, float, np.ndarray, np.ndarray, float, bool]:
    """Take Newton steps on ``dev`` to the optimum from mixedlm's estimates (the guard).

    One finite-difference Hessian is reused while the steps stay short (gradients only,
    ``2p`` evaluations a step); if it is not positive definite (far from the optimum), a
    second optimiser (L-BFGS-B) runs first. Coordinates at a lower bound (a zero SD) stay
    there. Returns the point, its deviance, the free coordinates, the Hessian there (free
    coordinates), the gain over the start and whether the Newton step fell below 1e-5 in
    every coordinate.
    """
    lo = np.array([-np.inf if b is None else b for b in lower] + [-np.inf] * (x.size - len(lower)))
    x = np.maximum(np.asarray(x, dtype=float), lo)
    start_value = value = float(dev(x))
    free = x - lo > 10 * HESSIAN_STEP
    value, grad, hess = _derivatives(dev, x, free, value)
    hess_at = x.copy()
    step = _newton_step(hess, grad)
    if step is None:
        bounds = [(None if not np.isfinite(b) else b, None) for b in lo]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = optimize.minimize(
                dev,
                x,
                method="L-BFGS-B",
                bounds=bounds,
                options={"maxiter": 1000, "ftol": 1e-15, "gtol": 1e-8},
            )
        if res.fun < value:
            x = np.maximum(np.asarray(res.x, float), lo)
        free = x - lo > 10 * HESSIAN_STEP
        value, grad, hess = _derivatives(dev, x, free, float(dev(x)))
        hess_at = x.copy()
        step = _newton_step(hess, grad)
    converged = False
    for _ in range(max_steps):
        if step is None:
            break
        if np.max(np.abs(step), initial=0.0) < 1e-5:
            converged = True
            break
        factor, improved = 1.0, False
        for _ in range(20):
            trial = x.copy()
            trial[free] -= factor * step
            trial = np.maximum(trial, lo)
            trial_value = float(dev(trial))
            if trial_value < value - 1e-12:
                improved = True
                break
            factor /= 2
        if not improved:
            converged = bool(np.max(np.abs(step), initial=0.0) < 1e-3)
            break
        x, value = trial, trial_value
        new_free = x - lo > 10 * HESSIAN_STEP
        if np.any(new_free != free) or np.max(np.abs(x - hess_at)) > 0.25:
            free = new_free
            value, grad, hess = _derivatives(dev, x, free, value)
            hess_at = x.copy()
        else:
            grad = _gradient(dev, x, free)
        step = _newton_step(hess, grad)
    if np.max(np.abs(x - hess_at)) > 1e-3:
        value, _, hess = _derivatives(dev, x, free, value)
    return x, value, free, hess, max(start_value - value, 0.0), converged


def _vcov_beta(hess: np.ndarray, free: np.ndarray, n_theta: int) -> np.ndarray:
    """lme4's vcov: the fixed-effect block of ``2 H^-1`` (H: Hessian in theta and beta)."""
    n_beta = free.size - n_theta
    try:
        cov = 2.0 * np.linalg.inv(hess)
    except np.linalg.LinAlgError:
        return np.full((n_beta, n_beta), np.nan)
    n_free_theta = int(np.sum(free[:n_theta]))
    block = cov[n_free_theta:, n_free_theta:]
    if not np.all(np.isfinite(block)) or np.any(np.diag(block) <= 0):
        return np.full((n_beta, n_beta), np.nan)
    return block


# --------------------------------------------------------------------------------------------
# The fit


@dataclass
class GlmerFit:
    """A generalized linear mixed model fitted as lme4's ``glmer`` (or ``glmer.nb``).

    Attributes
    ----------
    formula, family, nagq
        What was fitted (``nagq`` 1: Laplace).
    fixed
        lme4's ``coef(summary(fit))``: ``term``, ``estimate``, ``std_error``, ``z_value``,
        ``p_value``.
    varcorr
        lme4's ``as.data.frame(VarCorr(fit))``: ``grp``, ``var1``, ``var2``, ``vcov``,
        ``sdcor`` (no residual row: the families have no residual SD).
    ranef
        lme4's ``as.data.frame(ranef(fit, condVar = TRUE))``: ``grpvar``, ``term``, ``grp``,
        ``condval``, ``condsd``.
    loglik
        lme4's ``logLik``: by Laplace the full log-likelihood; with ``nagq`` > 1 without the
        saturated model's constant, as lme4 reports it.
    loglik_normalized
        The full log-likelihood whatever ``nagq`` (equal to ``loglik`` by Laplace).
    df
        Number of parameters (fixed effects, theta, and the NB shape).
    n_obs, n_groups
        Observations and levels per grouping factor.
    singular, converged
        lme4's isSingular (a theta diagonal below :data:`SINGULAR_TOL`) and whether the
        optimisers converged.
    nb_shape
        The negative binomial's shape (lme4's ``theta`` of ``glmer.nb``), else ``None``.
    separation
        Fixed effects in a direction of complete separation (empty if none).
    polish_gain
        How much the guard lowered mixedlm's deviance (0: mixedlm was at the optimum).
    engine
        Which fitter and guard produced the estimates (see the module's docstring).
    messages
        Warnings the fit raised (also issued as warnings).
    fit_seconds
        Wall time of the fit.
    """

    formula: str
    family: str
    nagq: int
    fixed: pd.DataFrame
    varcorr: pd.DataFrame
    ranef: pd.DataFrame
    loglik: float
    loglik_normalized: float
    df: int
    n_obs: int
    n_groups: dict[str, int]
    singular: bool
    converged: bool
    nb_shape: float | None = None
    separation: list[str] = field(default_factory=list)
    polish_gain: float = 0.0
    engine: str = "mixedlm"
    messages: list[str] = field(default_factory=list)
    fit_seconds: float = 0.0

    @property
    def deviance(self) -> float:
        """Minus twice :attr:`loglik` (the ``deviance`` column of lme4's summary)."""
        return -2.0 * self.loglik

    @property
    def aic(self) -> float:
        """lme4's AIC."""
        return -2.0 * self.loglik + 2.0 * self.df

    @property
    def bic(self) -> float:
        """lme4's BIC."""
        return -2.0 * self.loglik + self.df * math.log(self.n_obs)

    def to_dict(self) -> dict[str, Any]:
        """Return the fit as JSON-ready objects: the one document of every fit.

        That is :meth:`analysis.models.results.FitResult.to_dict` of
        :func:`analysis.models.results.result_of` (what the ``glmer`` command prints with
        ``--json``); what only a GLMM reports (``nAGQ``, ``nb_theta``, ``separation``, ...) is in
        its ``extras``.
        """
        from analysis.models.results import result_of

        return result_of(self).to_dict()


def _mixedlm_family(family: str) -> Any:
    from mixedlm.families.binomial import Binomial
    from mixedlm.families.poisson import Poisson

    return Binomial() if family == "binomial" else Poisson()


def _mixedlm_fit(design: Design, family: str, nagq: int) -> tuple[Any, Any, dict[str, str]]:
    """Fit with mixedlm on the design's plain columns; return the fit, its joint objective."""
    import mixedlm
    from mixedlm.estimation.joint_glmm import JointGLMMObjective

    frame, formula, names = design.frame()
    weights = design.trials if (family == "binomial" and design.trials is not None) else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            fit = mixedlm.glmer(
                formula,
                frame,
                family=_mixedlm_family(family),
                nAGQ=nagq,
                weights=weights,
                offset=design.offset,
            )
        except (ValueError, np.linalg.LinAlgError, ArithmeticError) as err:
            raise RuntimeError(f"mixedlm could not fit the model: {err}") from err
    objective = (
        JointGLMMObjective(
            fit.matrices,
            fit.family,
            nagq,
            pirls_maxiter=fit.pirls_maxiter,
            pirls_tol=fit.pirls_tol,
        )
        if nagq > 1
        else None
    )
    return fit, objective, names


def _theta_to_sds(design: Design, blocks: list[np.ndarray]) -> pd.DataFrame:
    """lme4's VarCorr rows from one covariance block per random term (design order)."""
    rows = []
    seen: dict[str, int] = {}
    for term, cov in zip(design.random, blocks, strict=True):
        count = seen.get(term.group, 0)
        seen[term.group] = count + 1
        grp = term.group if count == 0 else f"{term.group}.{count}"
        sd = np.sqrt(np.clip(np.diag(cov), 0.0, None))
        for i, name in enumerate(term.names):
            rows.append((grp, name, "", float(cov[i, i]), float(sd[i])))
        for i in range(len(term.names)):
            for j in range(i + 1, len(term.names)):
                cor = cov[i, j] / (sd[i] * sd[j]) if sd[i] * sd[j] > 0 else float("nan")
                rows.append((grp, term.names[i], term.names[j], float(cov[i, j]), float(cor)))
    return pd.DataFrame(rows, columns=["grp", "var1", "var2", "vcov", "sdcor"])


def _blocks_from_theta(lap: _Laplace, theta: np.ndarray, scale: float = 1.0) -> list[np.ndarray]:
    blocks, at = [], 0
    for t in lap.terms:
        m = len(t.tri[0])
        lower = np.zeros((t.k, t.k))
        lower[t.tri] = theta[at : at + m]
        at += m
        blocks.append(scale * lower @ lower.T)
    return blocks


def _ranef_frame(design: Design, lap: _Laplace, b: np.ndarray, sd: np.ndarray) -> pd.DataFrame:
    parts = []
    for term, t in zip(design.random, lap.terms, strict=True):
        levels = np.asarray(term.levels, dtype=object)
        for c, name in enumerate(term.names):
            idx = t.offset + np.arange(t.n_levels) * t.k + c
            parts.append(
                pd.DataFrame(
                    {
                        "grpvar": term.group,
                        "term": name,
                        "grp": levels,
                        "condval": b[idx],
                        "condsd": sd[idx],
                    }
                )
            )
    return pd.concat(parts, ignore_index=True)


def _theta_from_mixedlm(fit: Any, design: Design) -> np.ndarray:
    """Return lme4's theta from mixedlm's covariance blocks, in the design's term order."""
    groups = fit.VarCorr().groups
    theta = []
    for t in range(len(design.random)):
        cov = np.asarray(groups[f"g{t}"].cov, dtype=float)
        k = cov.shape[0]
        try:
            lower = np.linalg.cholesky(cov + 1e-300 * np.eye(k))
        except np.linalg.LinAlgError:
            w, v = np.linalg.eigh(cov)
            lower = np.linalg.cholesky(v @ np.diag(np.clip(w, 1e-16, None)) @ v.T)
        tri = np.tril_indices(k)
        order = np.lexsort((tri[0], tri[1]))
        theta.extend(lower[tri[0][order], tri[1][order]])
    out = np.asarray(theta, dtype=float)
    out[np.abs(out) < 1e-12] = 0.0  # a variance on its boundary
    return out


def fit_glmer(
    formula: str,
    data: pd.DataFrame,
    family: str = "binomial",
    *,
    nagq: int = 1,
) -> GlmerFit:
    """Fit a generalized linear mixed model as lme4's ``glmer`` (``glmer.nb`` for negbin).

    Parameters
    ----------
    formula
        An lme4 formula (:mod:`analysis.models.formula`), e.g.
        ``"cbind(hits, shots - hits) ~ Bow + I(distance - 40) + (1 | Name)"``.
    data
        The data.
    family
        ``"binomial"`` (logit link), ``"poisson"`` (log link) or ``"negbin"`` (log link, shape
        estimated).
    nagq
        1 for the Laplace approximation; up to 25 points of adaptive Gauss--Hermite
        quadrature for a model with one scalar random effect (binomial or Poisson).

    Returns
    -------
    GlmerFit
        Estimates, SEs, variance components, modes and criteria in lme4's layout.

    Raises
    ------
    ValueError
        For an unknown family, a bad ``nagq``, a response that does not suit the family, a
        malformed formula or data that do not fit it.
    RuntimeError
        If the fit fails numerically.

    Warns
    -----
    UserWarning
        For perfect separation (``separation`` names the coefficients), a singular fit or
        an optimiser that did not converge.
    """
    from threadpoolctl import threadpool_limits

    # the dense blocks are small: threads only contend (40x slower on a loaded 2-core box)
    with threadpool_limits(1, "blas"):
        return _fit_glmer(formula, data, family, nagq)


def _fit_glmer(formula: str, data: pd.DataFrame, family: str, nagq: int) -> GlmerFit:
    started = time.perf_counter()
    check_choice("family", family, FAMILIES)
    nagq = check_positive_int("nagq", nagq, maximum=25)
    design = build_design(formula, data)
    check_response(design, family)
    if not design.random:
        raise ValueError(
            f"formula {formula!r} has no random-effect term such as (1 | g): fit it with a GLM"
        )
    if nagq > 1:
        if family == "negbin":
            raise ValueError("nagq > 1 is available for the binomial and Poisson families")
        if len(design.random) != 1 or design.random[0].matrix.shape[1] != 1:
            raise ValueError(
                "nagq > 1 (adaptive Gauss-Hermite quadrature) needs a single scalar random "
                "effect such as (1 | g), as in lme4"
            )
    rank = np.linalg.matrix_rank(design.X)
    if rank < design.X.shape[1]:
        raise ValueError(
            f"the fixed-effect columns {design.fixed_names} are linearly dependent (rank "
            f"{rank}); drop a redundant term"
        )
    separated = _separation(design, family)
    messages: list[str] = []
    if separated:
        messages.append(
            "perfect separation: the likelihood keeps increasing along the fixed effect(s) "
            f"{', '.join(separated)}; their estimates and SEs are not meaningful (lme4 fits "
            "and warns of convergence)"
        )
    lap_family = family if family != "negbin" else "poisson"
    # Laplace: mixedlm's first stage (nAGQ = 0, theta optimised with beta in PIRLS, as lme4's
    # first stage) is the start and the guard's Newton steps the second stage; quadrature:
    # mixedlm's whole fit, then the same steps on its own quadrature deviance
    fit, objective, _names = _mixedlm_fit(design, lap_family, 0 if nagq == 1 else nagq)
    if family == "negbin":
        return _fit_negbin(design, fit, formula, started, messages, separated)

    lap = _Laplace(design, family)
    n_theta = lap.n_theta
    theta_start = _theta_from_mixedlm(fit, design)
    if nagq == 1:
        # the module's own Laplace deviance: tightly converged modes, so that the finite
        # differences of the Hessian are not swamped by mixedlm's PIRLS tolerance
        def dev(x: np.ndarray) -> float:
            return lap.deviance(x[:n_theta], x[n_theta:])

        x0 = np.r_[theta_start, np.asarray(fit.beta, float)]
        lower = lap.theta_lower()
    else:

        def dev(x: np.ndarray) -> float:
            return float(objective.evaluate(np.asarray(x, dtype=float))[0])

        x0 = np.r_[np.asarray(fit.theta, float), np.asarray(fit.beta, float)]
        lower = [b[0] for b in objective.bounds]
    with np.errstate(all="ignore"):
        best, value, free, hess, gain, converged = _refine(dev, x0, lower)
    vcov = _vcov_beta(hess, free, n_theta)
    if nagq == 1:
        theta, beta = best[:n_theta], best[n_theta:]
        dev(best)
        u = lap.u.copy()
        loglik = loglik_norm = -0.5 * value
    else:
        deviance_value, beta, u_m, _ = objective.evaluate(best)
        fitted = _replace_fit(fit, best[:n_theta], beta, u_m, deviance_value)
        theta = _theta_from_mixedlm(fitted, design)
        beta = np.asarray(beta, float)
        u = _u_from_b(lap, theta, _b_from_u(lap, fitted, design))
        loglik_norm = float(fitted.logLik().value)
        loglik = -0.5 * float(deviance_value)  # lme4 omits the saturated constant here
    b = _b_from_theta_u(lap, theta, u)
    condsd = lap.conditional_sd(theta, beta, u)
    df = design.X.shape[1] + n_theta
    return _finish(
        design,
        formula,
        family,
        nagq,
        beta,
        vcov,
        lap,
        theta,
        b,
        condsd,
        loglik,
        loglik_norm,
        df,
        converged,
        None,
        separated,
        gain,
        "mixedlm nAGQ=0 start + Newton on the Laplace deviance"
        if nagq == 1
        else f"mixedlm nAGQ={nagq} + Newton on its quadrature deviance",
        messages,
        started,
    )


def _replace_fit(fit: Any, theta: np.ndarray, beta: Any, u: Any, deviance_value: float) -> Any:
    from dataclasses import replace

    return replace(
        fit,
        theta=np.asarray(theta, float),
        beta=np.asarray(beta, float),
        u=np.asarray(u, float),
        deviance=float(deviance_value),
    )


def _b_from_u(lap: _Laplace, fit: Any, design: Design) -> np.ndarray:
    """Return the conditional modes b in the design's layout, from mixedlm's ranef."""
    tidy = fit.tidy(effects="ran_vals")
    b = np.zeros(lap.q)
    for t, (term, lt) in enumerate(zip(design.random, lap.terms, strict=True)):
        rows = tidy[tidy["group"].astype(str) == f"g{t}"]
        pos = {lab: j for j, lab in enumerate(term.levels)}
        for c in range(lt.k):
            sub = rows[rows["term"].astype(str) == f"z{t}_{c}"]
            idx = np.array([pos[str(v)] for v in sub["level"]], dtype=int)
            b[lt.offset + idx * lt.k + c] = sub["estimate"].to_numpy(float)
    return b


def _lower_blocks(lap: _Laplace, theta: np.ndarray) -> Any:
    """Each term with its lower-triangular factor of the relative covariance (from theta)."""
    at = 0
    for t in lap.terms:
        m = len(t.tri[0])
        lower = np.zeros((t.k, t.k))
        lower[t.tri] = theta[at : at + m]
        at += m
        yield t, lower


def _u_from_b(lap: _Laplace, theta: np.ndarray, b: np.ndarray) -> np.ndarray:
    u = np.zeros_like(b)
    for t, lower in _lower_blocks(lap, theta):
        block = b[t.offset : t.offset + t.n_levels * t.k].reshape(t.n_levels, t.k)
        solved = np.linalg.lstsq(lower, block.T, rcond=None)[0].T
        u[t.offset : t.offset + t.n_levels * t.k] = solved.ravel()
    return u


def _fit_negbin(
    design: Design,
    poisson_fit: Any,
    formula: str,
    started: float,
    messages: list[str],
    separated: list[str],
) -> GlmerFit:
    """glmer.nb: maximise the Laplace likelihood over theta, beta and the NB shape."""
    lap = _Laplace(design, "negbin")
    theta0 = _theta_from_mixedlm(poisson_fit, design)
    beta0 = np.asarray(poisson_fit.beta, float)
    n_theta = lap.n_theta
    # starting shape: moments of the Poisson fit's conditional means (as MASS's theta.ml start)
    mu = np.asarray(poisson_fit.fitted(), float)
    excess = np.sum((design.y - mu) ** 2 - design.y)
    shape0 = float(np.clip(np.sum(mu**2) / excess, 0.05, 1e4)) if excess > 0 else 10.0
    lower = lap.theta_lower()

    def objective(x: np.ndarray) -> float:
        lap.nb_shape = float(np.exp(x[-1]))
        return lap.deviance(x[:n_theta], x[n_theta:-1])

    x0 = np.r_[theta0, beta0, math.log(shape0)]
    bounds = [(lo, None) for lo in lower] + [(None, None)] * (beta0.size + 1)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        res = optimize.minimize(
            objective,
            x0,
            method="L-BFGS-B",
            bounds=bounds,
            options={"maxiter": 2000, "ftol": 1e-14, "gtol": 1e-8},
        )
        best, _, _, _, gain, converged = _refine(objective, res.x, lower)
    shape = float(np.exp(best[-1]))

    def dev(x: np.ndarray) -> float:
        lap.nb_shape = shape
        return lap.deviance(x[:n_theta], x[n_theta:])

    with np.errstate(all="ignore"):
        free = np.r_[
            best[:n_theta] - np.array([-np.inf if b is None else b for b in lower])
            > 10 * HESSIAN_STEP,
            np.ones(beta0.size, dtype=bool),
        ]
        deviance_value, _, hess = _derivatives(dev, best[:-1], free)
    vcov = _vcov_beta(hess, free, n_theta)
    theta, beta = best[:n_theta], best[n_theta:-1]
    deviance_value = dev(best[:-1])
    u = lap.u.copy()
    b = _b_from_theta_u(lap, theta, u)
    condsd = lap.conditional_sd(theta, beta, u)
    loglik = -0.5 * deviance_value
    df = design.X.shape[1] + n_theta + 1
    return _finish(
        design,
        formula,
        "negbin",
        1,
        beta,
        vcov,
        lap,
        theta,
        b,
        condsd,
        loglik,
        loglik,
        df,
        converged,
        shape,
        separated,
        gain,
        "mixedlm (Poisson start) + own Laplace (negative binomial)",
        messages,
        started,
    )


def _b_from_theta_u(lap: _Laplace, theta: np.ndarray, u: np.ndarray) -> np.ndarray:
    b = np.zeros_like(u)
    for t, lower in _lower_blocks(lap, theta):
        block = u[t.offset : t.offset + t.n_levels * t.k].reshape(t.n_levels, t.k)
        b[t.offset : t.offset + t.n_levels * t.k] = (block @ lower.T).ravel()
    return b


def _finish(
    design: Design,
    formula: str,
    family: str,
    nagq: int,
    beta: np.ndarray,
    vcov: np.ndarray,
    lap: _Laplace,
    theta: np.ndarray,
    b: np.ndarray,
    condsd: np.ndarray,
    loglik: float,
    loglik_norm: float,
    df: int,
    converged: bool,
    shape: float | None,
    separated: list[str],
    gain: float,
    engine: str,
    messages: list[str],
    started: float,
) -> GlmerFit:
    se = np.sqrt(np.diag(vcov))
    z = beta / se
    fixed = pd.DataFrame(
        {
            "term": design.fixed_names,
            "estimate": beta,
            "std_error": se,
            "z_value": z,
            "p_value": 2.0 * special.ndtr(-np.abs(z)),
        }
    )
    diag = [i for i, lo in enumerate(lap.theta_lower()) if lo is not None]
    singular = bool(np.any(theta[diag] < SINGULAR_TOL))
    if singular:
        messages.append("boundary (singular) fit: see help('isSingular')")
    if not converged:
        messages.append("the optimiser did not converge; check the scale of the predictors")
    if not np.all(np.isfinite(se)):
        messages.append(
            "the Hessian of the deviance is not positive definite; SEs are not available"
        )
    n_groups: dict[str, int] = {}
    for term in design.random:
        n_groups.setdefault(term.group, term.n_levels)
    fit = GlmerFit(
        formula=formula,
        family=family,
        nagq=nagq,
        fixed=fixed,
        varcorr=_theta_to_sds(design, _blocks_from_theta(lap, theta)),
        ranef=_ranef_frame(design, lap, b, condsd),
        loglik=float(loglik),
        loglik_normalized=float(loglik_norm),
        df=int(df),
        n_obs=design.n_obs,
        n_groups=n_groups,
        singular=singular,
        converged=bool(converged),
        nb_shape=shape,
        separation=list(separated),
        polish_gain=float(gain),
        engine=engine,
        messages=list(dict.fromkeys(messages)),
        fit_seconds=time.perf_counter() - started,
    )
    for message in fit.messages:
        warnings.warn(message, UserWarning, stacklevel=3)
    return fit
