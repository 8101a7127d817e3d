"""The package behind *Mixed Effects, from Archers to InstEval*, cut by layer.

Packages
--------
datasets
    Where the data come from: the archer simulators (``archers``), the data folder and CSV
    in/out (``files``), lme4's InstEval (``insteval``), large users x items sets on Parquet
    (``large``).
models
    Fitting: ordinary least squares (``ols``), statsmodels' ``MixedLM`` with profile
    intervals (``mixed``, ``profile``), the crossed REML fitter (``crossed``), lme4 formulas
    through mixedlm (``lmer``), prediction for many small units (``online``), random-slope
    studies (``slopes``), moments and conjugate gradients at scale (``large``).
bayes
    PyMC models, NUTS through nutpie, diagnostics (the package itself), and the InstEval
    posterior (``insteval``).
plots
    The house style (``style``) and the figures by topic (``mixed``, ``online``, ``large``).
book
    What the chapters need to print and check numbers (glue, tables), reproducibility and
    benchmark records (``reproducibility``), the silencing of known start-up noise
    (``quiet``).

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
