r"""Bayesian mixed models in PyMC, and NUTS sampling with the settings in one place.

The archer model of the book is

.. math::

    Y_{ijk} = \mu + \tau\,\mathbb{1}(i = \text{Southwood}) + \alpha_j + \varepsilon_{ijk},
    \qquad \varepsilon_{ijk} \sim N(0, \sigma_e^2).

The package is cut by concept; every public name is importable from ``analysis.bayes``:

* :mod:`analysis.bayes.priors` -- :class:`SigmaPrior`, :class:`Priors` and
  :data:`DEFAULT_PRIORS`, the priors of every model in the units of the data.
* :mod:`analysis.bayes.sampling` -- :func:`sample` (nutpie when installed, PyMC's NUTS
  otherwise, the compiled model cached per model), :class:`SamplerSettings`,
  :data:`DEFAULT_SETTINGS`, :func:`compile_seconds` and :func:`posterior_predictive`.
* :mod:`analysis.bayes.archers` -- the archer models: :func:`fixed_effects_model` (a fixed
  prior SD for every archer) and :func:`mixed_model` (the archer SD estimated), centred or
  non-centred; :data:`HYPERPARAMETERS` and :func:`information_ratio`.
* :mod:`analysis.bayes.gibbs` -- :func:`gibbs_mixed_model`, a conjugate Gibbs sampler of the
  archer mixed model, centred or uncentred.
* :mod:`analysis.bayes.slopes` -- :func:`random_slopes_model`, ``y ~ x + (x | g)`` for any
  data set, in three covariance :data:`Structure`\ s.
* :mod:`analysis.bayes.summaries` -- :func:`diagnostics`, :func:`convergence_summary`,
  :func:`count_divergences`, :func:`compare_samplers`, :func:`posterior_agreement`,
  :func:`posterior_means` and :func:`draws_of`.

The InstEval models are in :mod:`analysis.bayes.crossed`, the online-experiment model in
:mod:`analysis.bayes.one_way`, and :mod:`analysis.bayes.equivalence` checks that two PyMC models
are the same model.

Importing this package first imports :mod:`analysis.quiet`, which silences the
known-harmless start-up noise of PyTensor and PyMC (see there for exactly what and why); each
module of the package imports it first too, before PyMC.
"""

from __future__ import annotations

import analysis.quiet  # noqa: F401  (must run before PyTensor is imported)

# isort: split

# Not part of the surface: bench/bench_archer_nuts.py and bench/bench_insteval_nuts.py read
# ``analysis.bayes.az``, as the single-module package provided it.
import arviz as az  # noqa: F401

from analysis.bayes.archers import (
    HYPERPARAMETERS,
    fixed_effects_model,
    information_ratio,
    mixed_model,
)
from analysis.bayes.gibbs import gibbs_mixed_model
from analysis.bayes.priors import DEFAULT_PRIORS, Priors, SigmaPrior
from analysis.bayes.sampling import (
    DEFAULT_SETTINGS,
    Engine,
    SamplerSettings,
    compile_seconds,
    nutpie_available,
    posterior_predictive,
    sample,
)
from analysis.bayes.slopes import Structure, random_slopes_model
from analysis.bayes.summaries import (
    compare_samplers,
    convergence_summary,
    count_divergences,
    diagnostics,
    draws_of,
    posterior_agreement,
    posterior_means,
)

__all__ = [
    "Engine",
    "HYPERPARAMETERS",
    "SamplerSettings",
    "DEFAULT_SETTINGS",
    "SigmaPrior",
    "Priors",
    "DEFAULT_PRIORS",
    "nutpie_available",
    "fixed_effects_model",
    "mixed_model",
    "Structure",
    "random_slopes_model",
    "posterior_agreement",
    "sample",
    "gibbs_mixed_model",
    "compile_seconds",
    "posterior_predictive",
    "diagnostics",
    "count_divergences",
    "convergence_summary",
    "compare_samplers",
    "information_ratio",
    "posterior_means",
    "draws_of",
]
