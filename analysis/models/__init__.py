"""Model fitting at the layer below the chapters.

Modules
-------
large
    Crossed random effects at scale: method-of-moments variance components and backfitting,
    on pandas or Dask data frames.
"""
