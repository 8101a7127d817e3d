"""The package behind *Mixed Effects, from Archers to InstEval*, cut by layer.

Packages
--------
datasets
    Where the data come from, real or simulated: the archers, balanced and unbalanced
    (``archers``), the data folder and CSV in/out (``files``), lme4's InstEval and a simulator
    of its kind (``insteval``), the online service of chapter 7 (``online``), large users x
    items sets on Parquet (``large``).
models
    Fitting: ordinary least squares (``ols``), the one closed-form random-intercept likelihood
    (``likelihood``), statsmodels' ``MixedLM`` with lme4's tables and profile intervals
    (``mixed``, ``profile``), the crossed REML fitter that chapter 8 teaches (``crossed``),
    any lme4 formula through mixedlm (``lmer``), prediction for many small units
    (``online``), random slopes: bootstrap LRT and refits (``slopes``), moments and conjugate
    gradients at scale (``large``), prediction error (``metrics``). Never imports ``datasets``.
studies
    Simulation studies, above models and datasets: data drawn from the simulators, a model
    refitted to each draw, the replicates summarised. The power of the bow test (``power``),
    coverage of Wald and prediction intervals (``coverage``), how often a random-slopes fit is
    singular (``singular``), held-out prediction error of the online methods (``prediction``).
bayes
    One ``Priors``, PyMC models of the archers and random slopes, NUTS through nutpie and its
    diagnostics (the package itself); crossed random intercepts by ADVI and by NUTS with one
    factor integrated out (``crossed``); the one-way model of the online chapter (``one_way``).
plots
    The house style (``style``, style only) and the figures by topic: the archer data
    (``archers``), power studies (``power``), mixed models, caterpillar and
    shrinkage plots for any fit (``mixed``), random slopes (``slopes``), posteriors and
    sampler diagnostics (``bayes``), online prediction (``online``), crossed designs and
    InstEval (``crossed``), scale (``large``). Only this layer draws.
book
    What the chapters need to print and check numbers (glue, tables), the one comparison with
    lme4's committed numbers (``lme4``), reproducibility and benchmark records
    (``reproducibility``), the silencing of known start-up noise (``quiet``).

Modules
-------
validation
    The argument checks every layer shares.
cli
    The command line, ``python -m analysis COMMAND ...``, in one module (``cli.py``): the
    commands ``fit-mixed``, ``fit-crossed``, ``fit-large`` and ``lmer`` and what they share
    (reading the data, error messages and exit statuses, JSON or text output).

Heavy libraries (PyMC, statsmodels, Dask) are imported by the modules that need them, never
here, so ``import analysis`` stays fast.
"""

__version__ = "0.1.0"
