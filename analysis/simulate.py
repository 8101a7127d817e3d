r"""Seeded simulators for the book's experiments.

The archer experiment follows the model of chapters 1 to 5,

.. math::

    Y_{ijk} = \mu + \tau\,\mathbb{1}(i = \text{Southwood}) + \alpha_j + \varepsilon_{ijk},
    \qquad \alpha_j \sim N(0, \sigma_a^2), \quad \varepsilon_{ijk} \sim N(0, \sigma_e^2),

for bow :math:`i`, archer :math:`j` and shot :math:`k`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.validation import (
    check_finite,
    check_nonnegative,
    check_nonnegative_int,
    check_positive_int,
    check_seed,
)

__all__ = [
    "BOWS",
    "ArcherExperiment",
    "archer_names",
    "simulate_archers",
    "JAIME_SEED",
    "FIFTY_SEED",
    "jaimes_first_experiment",
    "fifty_archers",
]

#: The two bows, in the order used for the ``Bow`` categorical (Northwood is the baseline).
BOWS: tuple[str, str] = ("Northwood", "Southwood")

# Invented given names and houses in the spirit of Westeros.
_GIVEN = (
    "Aldric", "Alyn", "Arwood", "Barrick", "Benjen", "Bryce", "Cedric", "Cley", "Corwin",
    "Dacey", "Damon", "Denys", "Donnel", "Edric", "Elmar", "Emmon", "Garth", "Gerold",
    "Gyles", "Harlan", "Harwin", "Hoster", "Jonos", "Jory", "Kyle", "Lothor", "Lucas",
    "Lyman", "Marq", "Merrett", "Morgil", "Osfryd", "Perwyn", "Quent", "Rickon", "Robar",
    "Rolph", "Tallad", "Symond", "Tion", "Torrhen", "Ulmer", "Vardis", "Walder",
    "Wendel", "Willam", "Wyl", "Yoren",
)
_HOUSES = (
    "Ashford", "Blackmont", "Bracken", "Brune", "Caron", "Cerwyn", "Crakehall", "Dayne",
    "Estermont", "Farwynd", "Flint", "Fossoway", "Goodbrook", "Grandison", "Hightower",
    "Hornwood", "Jordayne", "Kenning", "Lefford", "Mallister", "Marbrand", "Mooton",
    "Mormont", "Norrey", "Oakheart", "Piper", "Qorgyle", "Rowan", "Ryswell", "Sarsfield",
    "Smallwood", "Stokeworth", "Swann", "Tarbeck", "Toland", "Vance", "Waynwood", "Whent",
    "Woodwright", "Wull", "Yronwood",
)


@dataclass(frozen=True)
class ArcherExperiment:
    r"""A simulated archer experiment and the truth behind it.

    Attributes
    ----------
    data
        One row per shot with columns ``Distance`` (metres, float), ``Bow`` (categorical,
        Northwood then Southwood) and ``Name`` (categorical, archers in simulation order).
    archer_effects
        The true archer effects :math:`\alpha_j`, indexed by name.
    mean
        The true mean distance with a Northwood bow, :math:`\mu`.
    bow_effect
        The true Southwood effect, :math:`\tau`.
    archer_sd
        The true SD of archer effects, :math:`\sigma_a`.
    shot_sd
        The true SD of shot-to-shot noise, :math:`\sigma_e`.
    seed
        The seed the experiment was drawn with.
    """

    data: pd.DataFrame
    archer_effects: pd.Series
    mean: float
    bow_effect: float
    archer_sd: float
    shot_sd: float
    seed: int


def archer_names(n: int, seed: int) -> list[str]:
    """Draw ``n`` distinct archer names (given name and house), reproducibly.

    Parameters
    ----------
    n
        How many names; at most the number of distinct combinations available.
    seed
        Seed of the random generator.

    Returns
    -------
    list of str
        ``n`` distinct names such as ``"Jory Flint"``.
    """
    n = check_nonnegative_int("n", n)
    capacity = len(_GIVEN) * len(_HOUSES)
    if n > capacity:
        raise ValueError(f"n must be at most {capacity} (the distinct names available), got {n}")
    rng = np.random.default_rng(seed)
    picks = rng.choice(capacity, size=n, replace=False)
    return [f"{_GIVEN[p // len(_HOUSES)]} {_HOUSES[p % len(_HOUSES)]}" for p in picks]


def _shot_counts(shots: int | Sequence[int] | np.ndarray, n_archers: int) -> np.ndarray:
    """Turn the ``shots`` argument into an ``(n_archers, 2)`` array of counts per bow."""
    if isinstance(shots, (int, np.integer)) and not isinstance(shots, bool):
        count = check_positive_int("shots", shots)
        return np.full((n_archers, 2), count, dtype=int)
    arr = np.asarray(shots)
    if arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
        raise ValueError("shots must be an integer or an array of whole numbers")
    if arr.ndim == 1:
        arr = np.column_stack([arr, arr])
    if arr.shape != (n_archers, 2):
        raise ValueError(
            f"shots must be an integer, a sequence of {n_archers} counts (one per archer), or "
            f"an array of shape ({n_archers}, 2) (per archer and bow); got shape {arr.shape}"
        )
    if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
        raise ValueError("shots must hold whole numbers")
    if np.any(arr < 0):
        raise ValueError("shots must not be negative")
    counts = arr.astype(int)
    if np.any(counts.sum(axis=1) == 0):
        raise ValueError("shots: every archer must shoot at least once")
    return counts


def simulate_archers(
    n_archers: int = 3,
    shots: int | Sequence[int] | np.ndarray = 10,
    *,
    seed: int,
    mean: float = 165.0,
    bow_effect: float = -10.0,
    archer_sd: float = 23.0,
    shot_sd: float = 5.0,
    names: Sequence[str] | None = None,
    decimals: int | None = 1,
) -> ArcherExperiment:
    r"""Simulate archers shooting Northwood and Southwood bows.

    Each archer's skill :math:`\alpha_j \sim N(0, \sigma_a^2)` is drawn once; each shot adds
    independent noise :math:`N(0, \sigma_e^2)`.

    Parameters
    ----------
    n_archers
        Number of archers, at least 1.
    shots
        Shots per archer and bow: an integer (balanced design), a sequence with one count per
        archer (the same for both bows), or an ``(n_archers, 2)`` array of counts per archer
        and bow (Northwood, Southwood). Counts may be zero for one bow but not for both.
    seed
        Seed of the random generator; the same seed gives the same experiment.
    mean
        Mean distance with a Northwood bow, in metres.
    bow_effect
        Change in mean distance with a Southwood bow, in metres.
    archer_sd
        SD of archer effects, in metres (0 gives identical archers).
    shot_sd
        SD of shot-to-shot noise, in metres.
    names
        Archer names; by default drawn with :func:`archer_names` from the same seed, or
        ``"Archer 1"``, ``"Archer 2"``, ... when more archers are asked for than there are
        distinct names.
    decimals
        Round distances to this many decimals, as a measuring tape would (``None`` keeps them
        unrounded).

    Returns
    -------
    ArcherExperiment
        The data (``Distance``, ``Bow``, ``Name``; archers in order, Northwood shots first)
        and the true parameters.

    Raises
    ------
    ValueError
        For a non-positive or non-integer number of archers or shots, a negative SD,
        non-finite effects, or names that are not ``n_archers`` distinct strings.

    Examples
    --------
    >>> exp = simulate_archers(3, 10, seed=1)
    >>> exp.data.shape
    (60, 3)
    """
    n_archers = check_positive_int("n_archers", n_archers)
    counts = _shot_counts(shots, n_archers)
    mean = check_finite("mean", mean)
    bow_effect = check_finite("bow_effect", bow_effect)
    archer_sd = check_nonnegative("archer_sd", archer_sd)
    shot_sd = check_nonnegative("shot_sd", shot_sd)
    if decimals is not None:
        decimals = check_nonnegative_int("decimals", decimals)
    seed = check_seed(seed)

    if names is None:
        if n_archers <= len(_GIVEN) * len(_HOUSES):
            names = archer_names(n_archers, seed=seed)
        else:
            names = [f"Archer {j + 1}" for j in range(n_archers)]
    else:
        if isinstance(names, str):
            raise ValueError(f"names must be a sequence of {n_archers} names, not one string")
        names = [str(x) for x in names]
        if len(names) != n_archers or len(set(names)) != n_archers:
            raise ValueError(f"names must be {n_archers} distinct names, got {len(names)}")

    rng = np.random.default_rng(seed)
    effects = rng.normal(0.0, archer_sd, size=n_archers)
    rows_name: list[str] = []
    rows_bow: list[str] = []
    for j in range(n_archers):
        for b, bow in enumerate(BOWS):
            rows_name.extend([names[j]] * counts[j, b])
            rows_bow.extend([bow] * counts[j, b])
    archer_index = np.repeat(np.arange(n_archers), counts.sum(axis=1))
    southwood = np.asarray(rows_bow) == BOWS[1]
    noise = rng.normal(0.0, shot_sd, size=archer_index.size)
    distance = mean + bow_effect * southwood + effects[archer_index] + noise
    if decimals is not None:
        distance = np.round(distance, decimals)

    data = pd.DataFrame(
        {
            "Distance": distance,
            "Bow": pd.Categorical(rows_bow, categories=list(BOWS)),
            "Name": pd.Categorical(rows_name, categories=list(names)),
        }
    )
    return ArcherExperiment(
        data=data,
        archer_effects=pd.Series(effects, index=pd.Index(names, name="Name"), name="effect"),
        mean=mean,
        bow_effect=bow_effect,
        archer_sd=archer_sd,
        shot_sd=shot_sd,
        seed=int(seed),
    )


#: Seed of Jaime's first experiment (chapters 1 and 2): chosen so that, as in the story, the
#: naive analysis misses the bow effect at the 5% level (p between 0.05 and 0.10).
JAIME_SEED: int = 46
#: Seed of the fifty-archer experiment (chapters 3 onwards).
FIFTY_SEED: int = 2026


def jaimes_first_experiment() -> ArcherExperiment:
    """Return Jaime's first experiment: 3 archers, each shooting each bow 10 times."""
    return simulate_archers(3, 10, seed=JAIME_SEED)


def fifty_archers() -> ArcherExperiment:
    """Return the fifty-archer experiment: 50 archers, each shooting each bow 10 times."""
    return simulate_archers(50, 10, seed=FIFTY_SEED)
