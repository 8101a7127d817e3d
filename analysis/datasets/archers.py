r"""Seeded simulators for the book's experiments.

The archer experiment follows the model of chapters 1 to 5,

.. math::

    Y_{ijk} = \mu + \tau\,\mathbb{1}(i = \text{Southwood}) + \alpha_j + \varepsilon_{ijk},
    \qquad \alpha_j \sim N(0, \sigma_a^2), \quad \varepsilon_{ijk} \sim N(0, \sigma_e^2),

for bow :math:`i`, archer :math:`j` and shot :math:`k`. The random-slopes chapter lets the
bow cost each archer a different amount,

.. math::

    Y_{ijk} = \mu + (\tau + \beta_j)\,\mathbb{1}(i = \text{Southwood}) + \alpha_j
    + \varepsilon_{ijk}, \qquad
    \begin{pmatrix} \alpha_j \\ \beta_j \end{pmatrix} \sim N\left(0,
    \begin{pmatrix} \sigma_a^2 & \rho\,\sigma_a\sigma_b \\
    \rho\,\sigma_a\sigma_b & \sigma_b^2 \end{pmatrix}\right),

with :math:`\sigma_b = 0` by default, which gives exactly the data of the earlier chapters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.validation import (
    check_finite,
    check_interval,
    check_nonnegative,
    check_nonnegative_int,
    check_positive_int,
    check_seed,
    finite_array,
)

__all__ = [
    "UNBALANCED_SEED",
    "UNBALANCED_SHOT_SD",
    "UNBALANCED_MIN_SHOTS",
    "UNBALANCED_MAX_SHOTS",
    "unbalanced_shot_counts",
    "unbalanced_archers",
    "HITS_SEED",
    "HITS_DISTANCES",
    "HitMissExperiment",
    "simulate_hits",
    "BOWS",
    "ArcherExperiment",
    "archer_names",
    "simulate_archers",
    "JAIME_SEED",
    "FIFTY_SEED",
    "VARYING_COST_SEED",
    "VARYING_COST_BOW_SD",
    "VARYING_COST_CORR",
    "jaimes_first_experiment",
    "fifty_archers",
    "varying_cost_archers",
]

#: The two bows, in the order used for the ``Bow`` categorical (Northwood is the baseline).
BOWS: tuple[str, str] = ("Northwood", "Southwood")

# Invented given names and houses in the spirit of Westeros.
_GIVEN = (
    "Aldric",
    "Alyn",
    "Arwood",
    "Barrick",
    "Benjen",
    "Bryce",
    "Cedric",
    "Cley",
    "Corwin",
    "Dacey",
    "Damon",
    "Denys",
    "Donnel",
    "Edric",
    "Elmar",
    "Emmon",
    "Garth",
    "Gerold",
    "Gyles",
    "Harlan",
    "Harwin",
    "Hoster",
    "Jonos",
    "Jory",
    "Kyle",
    "Lothor",
    "Lucas",
    "Lyman",
    "Marq",
    "Merrett",
    "Morgil",
    "Osfryd",
    "Perwyn",
    "Quent",
    "Rickon",
    "Robar",
    "Rolph",
    "Tallad",
    "Symond",
    "Tion",
    "Torrhen",
    "Ulmer",
    "Vardis",
    "Walder",
    "Wendel",
    "Willam",
    "Wyl",
    "Yoren",
)
_HOUSES = (
    "Ashford",
    "Blackmont",
    "Bracken",
    "Brune",
    "Caron",
    "Cerwyn",
    "Crakehall",
    "Dayne",
    "Estermont",
    "Farwynd",
    "Flint",
    "Fossoway",
    "Goodbrook",
    "Grandison",
    "Hightower",
    "Hornwood",
    "Jordayne",
    "Kenning",
    "Lefford",
    "Mallister",
    "Marbrand",
    "Mooton",
    "Mormont",
    "Norrey",
    "Oakheart",
    "Piper",
    "Qorgyle",
    "Rowan",
    "Ryswell",
    "Sarsfield",
    "Smallwood",
    "Stokeworth",
    "Swann",
    "Tarbeck",
    "Toland",
    "Vance",
    "Waynwood",
    "Whent",
    "Woodwright",
    "Wull",
    "Yronwood",
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
    bow_sd
        The true SD of the archers' own bow effects, :math:`\sigma_b` (0: the Southwood bow
        costs every archer the same).
    skill_bow_corr
        The true correlation :math:`\rho` between an archer's skill :math:`\alpha_j` and
        their own bow effect :math:`\beta_j`.
    archer_bow_effects
        The true archer-specific bow effects :math:`\beta_j`, indexed by name (all zero when
        ``bow_sd`` is 0): archer :math:`j` gains :math:`\tau + \beta_j` with a Southwood bow.
    """

    data: pd.DataFrame
    archer_effects: pd.Series
    mean: float
    bow_effect: float
    archer_sd: float
    shot_sd: float
    seed: int
    bow_sd: float = 0.0
    skill_bow_corr: float = 0.0
    archer_bow_effects: pd.Series | None = None


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
    rng = np.random.default_rng(check_seed(seed))
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
    bow_sd: float = 0.0,
    skill_bow_corr: float = 0.0,
) -> ArcherExperiment:
    r"""Simulate archers shooting Northwood and Southwood bows.

    Each archer's skill :math:`\alpha_j \sim N(0, \sigma_a^2)` is drawn once; each shot adds
    independent noise :math:`N(0, \sigma_e^2)`. With ``bow_sd`` above zero each archer also
    gets a bow effect of their own, :math:`\beta_j`, added to every Southwood shot: normal with
    SD :math:`\sigma_b` and correlation :math:`\rho` with the archer's skill (a random slope).

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
    bow_sd
        SD of the archers' own bow effects, in metres. The default 0 gives every archer the
        same bow effect and draws nothing extra, so the data are exactly those of a call
        without this argument; the skills and shots do not depend on it either (the archers'
        bow effects are drawn last).
    skill_bow_corr
        Correlation between an archer's skill and their own bow effect, in [-1, 1]; positive
        means that better archers lose less with the Southwood bow. Must be 0 when ``bow_sd``
        is 0.

    Returns
    -------
    ArcherExperiment
        The data (``Distance``, ``Bow``, ``Name``; archers in order, Northwood shots first)
        and the true parameters.

    Raises
    ------
    ValueError
        For a non-positive or non-integer number of archers or shots, a negative SD,
        non-finite effects, a correlation outside [-1, 1] (or non-zero with ``bow_sd`` 0), or
        names that are not ``n_archers`` distinct strings.

    Examples
    --------
    >>> exp = simulate_archers(3, 10, seed=1)
    >>> exp.data.shape
    (60, 3)
    >>> varying = simulate_archers(3, 10, seed=1, bow_sd=4.0, skill_bow_corr=0.5)
    >>> varying.data["Distance"].equals(exp.data["Distance"])
    False
    """
    n_archers = check_positive_int("n_archers", n_archers)
    counts = _shot_counts(shots, n_archers)
    mean = check_finite("mean", mean)
    bow_effect = check_finite("bow_effect", bow_effect)
    archer_sd = check_nonnegative("archer_sd", archer_sd)
    shot_sd = check_nonnegative("shot_sd", shot_sd)
    bow_sd = check_nonnegative("bow_sd", bow_sd)
    skill_bow_corr = check_interval("skill_bow_corr", skill_bow_corr, -1.0, 1.0, closed="both")
    if bow_sd == 0.0 and skill_bow_corr != 0.0:
        raise ValueError(
            "skill_bow_corr must be 0 when bow_sd is 0 (a bow effect that does not vary "
            f"cannot correlate with skill), got {skill_bow_corr!r}"
        )
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
    # 0 + archer_sd * z is bit for bit what rng.normal(0.0, archer_sd) draws; keeping z lets the
    # archers' bow effects correlate with their skill even when archer_sd is 0.
    skill_z = rng.standard_normal(size=n_archers)
    effects = 0.0 + archer_sd * skill_z  # as rng.normal computes it (no -0.0)
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
    bow_effects = np.zeros(n_archers)
    if bow_sd > 0.0:  # drawn last, so that the skills and shots match the bow_sd=0 experiment
        own_z = rng.standard_normal(size=n_archers)
        bow_effects = bow_sd * (skill_bow_corr * skill_z + np.sqrt(1.0 - skill_bow_corr**2) * own_z)
        distance = distance + bow_effects[archer_index] * southwood
    if decimals is not None:
        distance = np.round(distance, decimals)

    data = pd.DataFrame(
        {
            "Distance": distance,
            "Bow": pd.Categorical(rows_bow, categories=list(BOWS)),
            "Name": pd.Categorical(rows_name, categories=list(names)),
        }
    )
    index = pd.Index(names, name="Name")
    return ArcherExperiment(
        data=data,
        archer_effects=pd.Series(effects, index=index, name="effect"),
        mean=mean,
        bow_effect=bow_effect,
        archer_sd=archer_sd,
        shot_sd=shot_sd,
        seed=int(seed),
        bow_sd=bow_sd,
        skill_bow_corr=skill_bow_corr,
        archer_bow_effects=pd.Series(bow_effects, index=index, name="bow_effect"),
    )


#: Seed of Jaime's first experiment (chapters 1 and 2): chosen so that, as in the story, the
#: naive analysis misses the bow effect at the 5% level (p between 0.05 and 0.10).
JAIME_SEED: int = 46
#: Seed of the fifty-archer experiment (chapters 3 onwards).
FIFTY_SEED: int = 2026
#: Seed of the random-slopes chapter's experiment, in which the bow costs each archer a
#: different amount. It is the fifty-archer seed: the same archers and the same shots, with
#: the archers' own bow effects added.
VARYING_COST_SEED: int = FIFTY_SEED
#: True SD of the archers' own bow effects in that experiment, in metres.
VARYING_COST_BOW_SD: float = 4.0
#: True correlation between skill and own bow effect in that experiment.
VARYING_COST_CORR: float = 0.5


def jaimes_first_experiment() -> ArcherExperiment:
    """Return Jaime's first experiment: 3 archers, each shooting each bow 10 times."""
    return simulate_archers(3, 10, seed=JAIME_SEED)


def fifty_archers() -> ArcherExperiment:
    """Return the fifty-archer experiment: 50 archers, each shooting each bow 10 times."""
    return simulate_archers(50, 10, seed=FIFTY_SEED)


def varying_cost_archers() -> ArcherExperiment:
    """Return the random-slopes chapter's experiment: the bow costs each archer differently.

    The fifty archers of :func:`fifty_archers`, with the same skills and shots, but each
    losing a different distance with the Southwood bow (SD :data:`VARYING_COST_BOW_SD` m,
    correlation :data:`VARYING_COST_CORR` with skill: better archers lose less).
    """
    return simulate_archers(
        50,
        10,
        seed=VARYING_COST_SEED,
        bow_sd=VARYING_COST_BOW_SD,
        skill_bow_corr=VARYING_COST_CORR,
    )


#: Seed of the unbalanced fifty-archer experiment of chapter 5.
UNBALANCED_SEED: int = 2027
#: Shot-to-shot SD of the unbalanced experiment (a windy season at the long range), metres.
UNBALANCED_SHOT_SD: float = 25.0
#: Fewest and most shots per bow an archer takes in the unbalanced experiment.
UNBALANCED_MIN_SHOTS, UNBALANCED_MAX_SHOTS = 1, 40


def unbalanced_shot_counts(n_archers: int = 50, seed: int = UNBALANCED_SEED) -> np.ndarray:
    """Shots per bow for each archer of the unbalanced experiment, drawn reproducibly.

    Counts are spread over two orders of magnitude: a log-uniform draw between
    :data:`UNBALANCED_MIN_SHOTS` and :data:`UNBALANCED_MAX_SHOTS` shots per bow, rounded to
    whole shots.

    Parameters
    ----------
    n_archers
        Number of archers.
    seed
        Seed of the random generator.

    Returns
    -------
    numpy.ndarray
        Integer counts, one per archer (the same for both bows).
    """
    rng = np.random.default_rng(check_seed(seed))
    low, high = np.log(UNBALANCED_MIN_SHOTS), np.log(UNBALANCED_MAX_SHOTS)
    return np.rint(np.exp(rng.uniform(low, high, size=n_archers))).astype(int)


def unbalanced_archers() -> ArcherExperiment:
    """Return the unbalanced fifty-archer experiment of chapter 5.

    Fifty archers shoot each bow between 1 and 40 times (:func:`unbalanced_shot_counts`)
    on a windy range, so shots are noisier (SD :data:`UNBALANCED_SHOT_SD`) than in the
    balanced experiment; the other parameters are the simulator's defaults.
    """
    counts = unbalanced_shot_counts(50, seed=UNBALANCED_SEED)
    return simulate_archers(50, counts, seed=UNBALANCED_SEED, shot_sd=UNBALANCED_SHOT_SD)


# ---------------------------------------------------------------------------------------------
# Hits and misses: the archers at a target (the generalized linear mixed models of issue 26)

#: Seed of the hit/miss experiment.
HITS_SEED: int = 2031
#: Target distances of the hit/miss experiment, in metres.
HITS_DISTANCES: tuple[float, ...] = (20.0, 30.0, 40.0, 50.0, 60.0)


@dataclass(frozen=True)
class HitMissExperiment:
    r"""A simulated hit/miss experiment and the truth behind it.

    Attributes
    ----------
    data
        One row per shot: ``hit`` (0 or 1), ``Bow`` (categorical, Northwood then Southwood),
        ``distance`` (metres to the target) and ``Name`` (categorical).
    intercept
        True log-odds of a hit with a Northwood bow at distance 0, :math:`\beta_0`.
    bow_effect
        True change in log-odds with a Southwood bow, :math:`\tau`.
    distance_slope
        True change in log-odds per metre, :math:`\delta`.
    archer_sd
        True SD of the archers' log-odds of a hit, :math:`\sigma_a`.
    bow_sd
        True SD of the archers' own bow effects, :math:`\sigma_b`.
    skill_bow_corr
        True correlation :math:`\rho` between the two.
    archer_effects
        The archers' effects, one row per archer: columns ``skill`` and ``bow``.
    seed
        The seed the experiment was drawn with.
    """

    data: pd.DataFrame
    intercept: float
    bow_effect: float
    distance_slope: float
    archer_sd: float
    bow_sd: float
    skill_bow_corr: float
    archer_effects: pd.DataFrame
    seed: int


def simulate_hits(
    n_archers: int = 50,
    shots: int = 4,
    *,
    seed: int = HITS_SEED,
    distances: Sequence[float] = HITS_DISTANCES,
    intercept: float = 3.0,
    bow_effect: float = -0.5,
    distance_slope: float = -0.06,
    archer_sd: float = 0.8,
    bow_sd: float = 0.5,
    skill_bow_corr: float = 0.3,
) -> HitMissExperiment:
    r"""Simulate archers shooting at a target: hit or miss, by bow and distance.

    Archer :math:`j` hits with probability :math:`\operatorname{logit}^{-1}(\beta_0 +
    (\tau + b_j)\,\mathbb{1}(\text{Southwood}) + \delta\,d + a_j)`, where
    :math:`(a_j, b_j)` is bivariate normal with SDs :math:`\sigma_a, \sigma_b` and correlation
    :math:`\rho`: the model ``hit ~ Bow + distance + (1 + Bow | Name)``.

    Parameters
    ----------
    n_archers
        Number of archers, at least 1.
    shots
        Shots per archer, bow and distance, at least 1.
    seed
        Seed of the random generator.
    distances
        Target distances in metres (finite, not negative, at least one).
    intercept, bow_effect, distance_slope
        True fixed effects on the log-odds scale (finite).
    archer_sd, bow_sd
        True SDs of the archer effects (not negative).
    skill_bow_corr
        True correlation of the two archer effects, in [-1, 1].

    Returns
    -------
    HitMissExperiment
        The data (archers in order; per archer Northwood shots first, distances in the given
        order) and the truth.

    Raises
    ------
    ValueError
        For a non-positive or non-integer count, a negative SD or distance, a non-finite
        effect or a correlation outside [-1, 1].

    Examples
    --------
    >>> exp = simulate_hits(3, 2, seed=1)
    >>> exp.data.shape
    (60, 4)
    >>> sorted(exp.data["hit"].unique())
    [0, 1]
    """
    n_archers = check_positive_int("n_archers", n_archers)
    shots = check_positive_int("shots", shots)
    seed = check_seed(seed)
    dist = finite_array("distances", distances)
    if np.any(dist < 0):
        raise ValueError(f"distances must not be negative, got {dist[dist < 0][0]:g}")
    intercept = check_finite("intercept", intercept)
    bow_effect = check_finite("bow_effect", bow_effect)
    distance_slope = check_finite("distance_slope", distance_slope)
    archer_sd = check_nonnegative("archer_sd", archer_sd)
    bow_sd = check_nonnegative("bow_sd", bow_sd)
    skill_bow_corr = check_interval("skill_bow_corr", skill_bow_corr, -1.0, 1.0, closed="both")
    names = (
        archer_names(n_archers, seed=seed)
        if n_archers <= len(_GIVEN) * len(_HOUSES)
        else [f"Archer {j + 1}" for j in range(n_archers)]
    )
    rng = np.random.default_rng(seed)
    z = rng.standard_normal(size=(n_archers, 2))
    skill = archer_sd * z[:, 0]
    own = bow_sd * (skill_bow_corr * z[:, 0] + np.sqrt(1.0 - skill_bow_corr**2) * z[:, 1])
    per_archer = len(BOWS) * dist.size * shots
    archer = np.repeat(np.arange(n_archers), per_archer)
    bow = np.tile(np.repeat(np.arange(len(BOWS)), dist.size * shots), n_archers)
    distance = np.tile(np.repeat(dist, shots), n_archers * len(BOWS))
    eta = intercept + (bow_effect + own[archer]) * bow + distance_slope * distance + skill[archer]
    hit = (rng.uniform(size=eta.size) < 1.0 / (1.0 + np.exp(-eta))).astype(int)
    data = pd.DataFrame(
        {
            "hit": hit,
            "Bow": pd.Categorical.from_codes(bow, categories=list(BOWS)),
            "distance": distance,
            "Name": pd.Categorical.from_codes(archer, categories=list(names)),
        }
    )
    effects = pd.DataFrame({"skill": skill, "bow": own}, index=pd.Index(names, name="Name"))
    return HitMissExperiment(
        data=data,
        intercept=intercept,
        bow_effect=bow_effect,
        distance_slope=distance_slope,
        archer_sd=archer_sd,
        bow_sd=bow_sd,
        skill_bow_corr=skill_bow_corr,
        archer_effects=effects,
        seed=int(seed),
    )
