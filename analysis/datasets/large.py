"""A seeded generator of large crossed data sets, written to Parquet chunk by chunk.

Users rate (or click, or buy) items; both have power-law-like activity, as real services do: a
few users and items account for much of the traffic. Each row is
``y = intercept + beta * x + u[user] + v[item] + e``, with Normal user and item effects and
noise. The data are written in chunks (one Parquet row group each) so that a data set far larger
than memory can be made: only the level-sized vectors (effects and activity weights) and one
chunk are ever held.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from analysis.validation import (
    check_finite,
    check_nonnegative,
    check_positive,
    check_positive_int,
    check_seed,
)

__all__ = ["CrossedTruth", "MILLION_DESIGN", "write_crossed_parquet"]

#: The million-rating design of the chapter on scale (small enough for exact REML in seconds),
#: shared with the benchmark that replicates it.
MILLION_DESIGN: dict[str, int] = {"n_rows": 1_000_000, "n_users": 5_000, "n_items": 500}


@dataclass(frozen=True)
class CrossedTruth:
    """What a generated data set was drawn from.

    Attributes
    ----------
    path
        The Parquet file written.
    n_rows, n_users, n_items
        Its size.
    intercept, beta
        The fixed effects (``x`` is standard Normal).
    sds
        True SDs: ``{"user": ..., "item": ..., "Residual": ...}``.
    """

    path: Path
    n_rows: int
    n_users: int
    n_items: int
    intercept: float
    beta: float
    sds: dict[str, float]


def write_crossed_parquet(
    path: str | os.PathLike[str],
    n_rows: int,
    *,
    seed: int,
    n_users: int = 100_000,
    n_items: int = 20_000,
    user_sd: float = 0.5,
    item_sd: float = 0.8,
    noise_sd: float = 1.0,
    intercept: float = 3.0,
    beta: float = 0.2,
    activity_spread: float = 1.5,
    chunk_rows: int = 1_000_000,
) -> CrossedTruth:
    """Write a users x items data set with heavy-tailed activity to one Parquet file.

    Parameters
    ----------
    path
        File to write (its folder must exist).
    n_rows
        Rows in all.
    seed
        Seed: the same seed and arguments give the same values, whatever ``chunk_rows``.
    n_users, n_items
        Levels of the two crossed factors (integer codes ``user`` and ``item``).
    user_sd, item_sd, noise_sd
        True SDs of the user and item effects and of the noise.
    intercept, beta
        Fixed part: ``intercept + beta * x`` with ``x`` standard Normal.
    activity_spread
        SD of the log activity weights of users and items: larger means heavier tails.
    chunk_rows
        Rows per written chunk (memory is bounded by this, not by ``n_rows``).

    Returns
    -------
    CrossedTruth
        The path and the true parameters.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    n_rows = check_positive_int("n_rows", n_rows)
    n_users = check_positive_int("n_users", n_users)
    n_items = check_positive_int("n_items", n_items)
    chunk_rows = check_positive_int("chunk_rows", chunk_rows)
    seed = check_seed(seed)
    sds = {
        "user": check_nonnegative("user_sd", user_sd),
        "item": check_nonnegative("item_sd", item_sd),
        "Residual": check_positive("noise_sd", noise_sd),
    }
    intercept = check_finite("intercept", intercept)
    beta = check_finite("beta", beta)
    spread = check_nonnegative("activity_spread", activity_spread)
    target = Path(path)
    if not target.parent.is_dir():
        raise ValueError(f"folder {target.parent} does not exist")

    root = np.random.SeedSequence(seed)
    level_seed, row_seed = root.spawn(2)
    rng = np.random.default_rng(level_seed)
    u = rng.normal(0.0, sds["user"], n_users)
    v = rng.normal(0.0, sds["item"], n_items)
    cum_u = np.cumsum(np.exp(rng.normal(0.0, spread, n_users)))
    cum_v = np.cumsum(np.exp(rng.normal(0.0, spread, n_items)))
    cum_u /= cum_u[-1]
    cum_v /= cum_v[-1]
    # One generator per block of a fixed size, so the values do not depend on chunk_rows.
    block = 65_536
    n_blocks = -(-n_rows // block)
    block_seeds = row_seed.spawn(n_blocks)
    schema = pa.schema(
        [("y", pa.float64()), ("x", pa.float64()), ("user", pa.int64()), ("item", pa.int64())]
    )
    # Written under a temporary name and renamed when complete, so that an interrupted run
    # never leaves a truncated file under the final name.
    partial = target.with_name(target.name + ".partial")
    with pq.ParquetWriter(partial, schema) as writer:
        pending: list[dict[str, np.ndarray]] = []
        pending_rows = 0
        for b in range(n_blocks):
            m = min(block, n_rows - b * block)
            g = np.random.default_rng(block_seeds[b])
            user = np.minimum(np.searchsorted(cum_u, g.random(m)), n_users - 1)
            item = np.minimum(np.searchsorted(cum_v, g.random(m)), n_items - 1)
            x = g.standard_normal(m)
            y = intercept + beta * x + u[user] + v[item] + g.normal(0.0, sds["Residual"], m)
            pending.append(
                {"y": y, "x": x, "user": user.astype(np.int64), "item": item.astype(np.int64)}
            )
            pending_rows += m
            if pending_rows >= chunk_rows or b == n_blocks - 1:
                cols = {k: np.concatenate([p[k] for p in pending]) for k in schema.names}
                writer.write_table(pa.table(cols, schema=schema))
                pending, pending_rows = [], 0
    os.replace(partial, target)
    return CrossedTruth(target, n_rows, n_users, n_items, intercept, beta, sds)
