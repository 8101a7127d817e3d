"""Data sets of the book.

Modules
-------
large
    A seeded generator of large users x items data sets with heavy-tailed activity, written
    to Parquet chunk by chunk.
"""
