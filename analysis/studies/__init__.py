"""Simulation studies: many simulated data sets, a model refitted to each, and a summary.

This layer sits above :mod:`analysis.models` and :mod:`analysis.datasets`: a study draws data
from the simulators of :mod:`analysis.datasets`, fits the models of :mod:`analysis.models` to
each draw and summarises the replicates. Neither of those layers imports this one, and nothing
here draws (the figures of the studies are in :mod:`analysis.plots`).

Modules, by concept
-------------------
power
    :func:`~analysis.studies.power.bow_test_power`: how often the bow test rejects.
coverage
    :func:`~analysis.studies.coverage.coverage_study` (Wald intervals for the bow effect, with
    :class:`~analysis.studies.coverage.CoverageStudy`) and
    :func:`~analysis.studies.coverage.prediction_coverage_study` (prediction intervals of
    group effects): how often an interval covers the truth.
singular
    :func:`~analysis.studies.singular.singular_rate` and
    :func:`~analysis.studies.singular.singular_example`: how often a random-slopes fit is
    singular.
prediction
    :func:`~analysis.studies.prediction.replicate`,
    :func:`~analysis.studies.prediction.relative_rmse` and
    :func:`~analysis.studies.prediction.summarise`: held-out prediction error of the online
    prediction methods over simulated services.

The modules are imported one by one (``from analysis.studies import power``), so that a
chapter pays only for the studies it runs.
"""
