"""Figures, by topic. The house style and shared helpers are in :mod:`analysis.plots.style`."""
