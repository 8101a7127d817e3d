"""The package behind *Mixed Effects, from Archers to InstEval*.

Modules
-------
simulate
    Seeded simulators: the archer experiments.
frequentist
    Ordinary least squares helpers that return tidy tables.
plotting
    The house plot style and the figures the chapters share.
data
    Where the book's data live, and CSV in/out.
validation
    Argument checks that raise clear ``ValueError`` messages.

Heavy libraries (PyMC, statsmodels) are imported by the modules that need them, never here,
so ``import analysis`` stays fast.
"""

__version__ = "0.1.0"
