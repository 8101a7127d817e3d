r"""The simulated online service of chapter 7: many units with heavy-tailed traffic.

An observation of unit :math:`j` (optionally on device :math:`d`) is
:math:`y_{ji} = \beta + \mu^a_j + \mu^b_{d} + \varepsilon_{ji}` with normal unit and device
effects; most units are seen a handful of times, a few thousands of times. The fits and the
prediction methods compared on these data are in :mod:`analysis.models.online`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.validation import (
    check_finite,
    check_interval,
    check_nonnegative,
    check_nonnegative_int,
    check_positive,
    check_positive_int,
    check_seed,
    require_columns,
)

__all__ = [
    "OnlineSimulation",
    "simulate_online",
    "ClickSimulation",
    "simulate_clicks",
    "VisitSimulation",
    "simulate_visits",
]


@dataclass(frozen=True)
class OnlineSimulation:
    r"""A simulated online service split into training and test data, with the truth.

    Attributes
    ----------
    train
        One row per training observation: ``unit`` (int), ``device`` (int, only if the
        simulation has devices) and ``y`` (float).
    test
        The held-out observations, same columns. It holds observations of training units
        (split within units) and every observation of the unseen units.
    unit_effects
        The true unit effects :math:`\mu^a_j`, indexed by unit id (seen and unseen units).
    device_effects
        The true device effects :math:`\mu^b_d`, indexed by device id (empty without devices).
    unseen_units
        Ids of the units that appear only in ``test``.
    intercept, unit_sd, device_sd, noise_sd
        The true :math:`\beta, \sigma_a, \sigma_b, \sigma_e`.
    seed
        The seed the simulation was drawn with.
    """

    train: pd.DataFrame
    test: pd.DataFrame
    unit_effects: pd.Series
    device_effects: pd.Series
    unseen_units: np.ndarray
    intercept: float
    unit_sd: float
    device_sd: float
    noise_sd: float
    seed: int

    @property
    def penalty(self) -> float:
        r"""The true ridge penalty :math:`\lambda = \sigma_e^2 / \sigma_a^2` (inf if no units)."""
        return math.inf if self.unit_sd == 0 else self.noise_sd**2 / self.unit_sd**2

    def true_means(self, frame: pd.DataFrame) -> np.ndarray:
        """Return the true expected value of every row of ``frame`` (no noise)."""
        require_columns(frame, ["unit"], argname="frame")
        mean = self.intercept + self.unit_effects.reindex(frame["unit"]).to_numpy()
        if len(self.device_effects) and "device" in frame:
            mean = mean + self.device_effects.reindex(frame["device"]).to_numpy()
        return mean


def _check_fraction(name: str, value: object) -> float:
    return check_interval(name, value, 0.0, 1.0, closed="left")


def simulate_online(
    n_units: int = 1000,
    *,
    seed: int,
    intercept: float = 10.0,
    unit_sd: float = 1.0,
    noise_sd: float = 2.0,
    median_traffic: float = 4.0,
    traffic_spread: float = 1.5,
    max_traffic: int = 5000,
    test_fraction: float = 0.3,
    n_unseen: int = 100,
    n_devices: int = 0,
    device_sd: float = 0.0,
    traffic_effect_corr: float = 0.0,
) -> OnlineSimulation:
    r"""Simulate an online service with heavy-tailed traffic and split it into train and test.

    Every seen unit gets a total of :math:`1 + \lceil T_j \rceil` observations, with
    :math:`T_j` log-normal (median ``median_traffic``, log-scale SD ``traffic_spread``), capped
    at ``max_traffic``. Its first observation goes to training; each of the others goes to the
    test set with probability ``test_fraction``. ``n_unseen`` further units get traffic drawn
    the same way, all of it in the test set.

    Parameters
    ----------
    n_units
        Number of units seen in training.
    seed
        Seed of the random generator (keyword only, required).
    intercept, unit_sd, noise_sd
        The true :math:`\beta, \sigma_a, \sigma_e`.
    median_traffic
        Median of the log-normal traffic :math:`T_j` (must be positive).
    traffic_spread
        SD of :math:`\log T_j`; larger values give a heavier tail.
    max_traffic
        Cap on a unit's total number of observations (at least 2).
    test_fraction
        Probability that an observation beyond a unit's first is held out, in [0, 1).
    n_unseen
        Number of units that appear only in the test set.
    n_devices
        Number of levels of a second, crossed factor (0 for none).
    device_sd
        The true :math:`\sigma_b` of the device effects.
    traffic_effect_corr
        Correlation, in (-1, 1), between a unit's effect and its log-traffic: positive values
        make busy units better than quiet ones (an *informative cluster size*). At 0 (the
        default) traffic is independent of the effect and the random draws are exactly those
        of earlier versions.

    Returns
    -------
    OnlineSimulation
        The frames and the true effects.

    Raises
    ------
    ValueError
        If an argument is out of range; the message names it.
    """
    n_units = check_positive_int("n_units", n_units)
    seed = check_seed(seed)
    intercept = check_finite("intercept", intercept)
    unit_sd = check_nonnegative("unit_sd", unit_sd)
    noise_sd = check_positive("noise_sd", noise_sd)
    median_traffic = check_positive("median_traffic", median_traffic)
    traffic_spread = check_nonnegative("traffic_spread", traffic_spread)
    max_traffic = check_positive_int("max_traffic", max_traffic, minimum=2)
    test_fraction = _check_fraction("test_fraction", test_fraction)
    n_unseen = check_nonnegative_int("n_unseen", n_unseen)
    n_devices = check_nonnegative_int("n_devices", n_devices)
    device_sd = check_nonnegative("device_sd", device_sd)
    if n_devices == 0 and device_sd > 0:
        raise ValueError("device_sd must be 0 when n_devices is 0")
    rho = check_interval("traffic_effect_corr", traffic_effect_corr, -1.0, 1.0)
    if rho != 0.0 and unit_sd == 0.0:
        raise ValueError("traffic_effect_corr needs unit_sd > 0 (there is no effect to follow)")

    rng = np.random.default_rng(seed)
    n_total_units = n_units + n_unseen
    units = np.arange(n_total_units)
    unit_effects = rng.normal(0.0, unit_sd, size=n_total_units)
    if rho == 0.0:
        draws = rng.lognormal(math.log(median_traffic), traffic_spread, size=n_total_units)
    else:
        z = rho * unit_effects / unit_sd + math.sqrt(1.0 - rho**2) * rng.standard_normal(
            n_total_units
        )
        draws = np.exp(math.log(median_traffic) + traffic_spread * z)
    traffic = np.minimum(1 + np.ceil(draws).astype(np.int64), max_traffic)

    unit = np.repeat(units, traffic)
    first = np.zeros(len(unit), dtype=bool)
    first[np.concatenate([[0], np.cumsum(traffic)[:-1]])] = True
    held_out = rng.random(len(unit)) < test_fraction
    in_test = np.where(unit >= n_units, True, held_out & ~first)

    mean = intercept + unit_effects[unit]
    columns: dict[str, np.ndarray] = {"unit": unit}
    device_effects = pd.Series(dtype=float, name="device_effect")
    if n_devices > 0:
        dev_eff = rng.normal(0.0, device_sd, size=n_devices)
        share = rng.dirichlet(np.full(n_devices, 2.0))
        device = rng.choice(n_devices, size=len(unit), p=share)
        mean = mean + dev_eff[device]
        columns["device"] = device
        device_effects = pd.Series(
            dev_eff, index=pd.Index(np.arange(n_devices), name="device"), name="device_effect"
        )
    columns["y"] = mean + rng.normal(0.0, noise_sd, size=len(unit))
    frame = pd.DataFrame(columns)
    train = frame.loc[~in_test].reset_index(drop=True)
    test = frame.loc[in_test].reset_index(drop=True)
    return OnlineSimulation(
        train=train,
        test=test,
        unit_effects=pd.Series(
            unit_effects, index=pd.Index(units, name="unit"), name="unit_effect"
        ),
        device_effects=device_effects,
        unseen_units=units[n_units:],
        intercept=intercept,
        unit_sd=unit_sd,
        device_sd=device_sd,
        noise_sd=noise_sd,
        seed=seed,
    )


@dataclass(frozen=True)
class ClickSimulation:
    r"""Simulated clicks out of impressions for many advertisers, in two periods, with the truth.

    Attributes
    ----------
    data
        One row per advertiser: ``advertiser`` (str label), ``impressions`` and ``clicks`` of
        the training period, ``test_impressions`` and ``test_clicks`` of the held-out period.
    click_logit
        Each advertiser's true log-odds of a click, :math:`\beta + a_j`, indexed like ``data``.
    intercept, advertiser_sd
        The true :math:`\beta` and :math:`\sigma_a` on the log-odds scale.
    seed
        The seed the simulation was drawn with.
    """

    data: pd.DataFrame
    click_logit: pd.Series
    intercept: float
    advertiser_sd: float
    seed: int


def simulate_clicks(
    n_advertisers: int = 2000,
    *,
    seed: int,
    intercept: float = -3.5,
    advertiser_sd: float = 0.7,
    median_impressions: float = 60.0,
    impression_spread: float = 1.8,
    max_impressions: int = 200_000,
) -> ClickSimulation:
    r"""Simulate advertisers with a long tail of traffic: clicks out of impressions, two periods.

    Advertiser :math:`j` has log-odds of a click :math:`\beta + a_j`, :math:`a_j \sim N(0,
    \sigma_a^2)`, and in each period a number of impressions drawn independently from a
    log-normal distribution (median ``median_impressions``, log-scale SD ``impression_spread``,
    at least 1 and at most ``max_impressions``); its clicks are binomial. The first period is
    for fitting, the second for measuring predictions.

    Parameters
    ----------
    n_advertisers
        Number of advertisers.
    seed
        Seed of the random generator (keyword only, required).
    intercept, advertiser_sd
        The true :math:`\beta` and :math:`\sigma_a` (log-odds scale).
    median_impressions, impression_spread, max_impressions
        The traffic distribution: median, log-scale SD and cap.

    Returns
    -------
    ClickSimulation
        The data and the truth.

    Raises
    ------
    ValueError
        If an argument is out of range; the message names it.
    """
    n_advertisers = check_positive_int("n_advertisers", n_advertisers)
    seed = check_seed(seed)
    intercept = check_finite("intercept", intercept)
    advertiser_sd = check_nonnegative("advertiser_sd", advertiser_sd)
    check_positive("median_impressions", median_impressions)
    impression_spread = check_nonnegative("impression_spread", impression_spread)
    max_impressions = check_positive_int("max_impressions", max_impressions)
    rng = np.random.default_rng(seed)
    logit = intercept + rng.normal(0.0, advertiser_sd, size=n_advertisers)
    p = 1.0 / (1.0 + np.exp(-logit))

    def traffic() -> np.ndarray:
        draws = rng.lognormal(math.log(median_impressions), impression_spread, n_advertisers)
        return np.clip(np.ceil(draws), 1, max_impressions).astype(np.int64)

    impressions = traffic()
    clicks = rng.binomial(impressions, p)
    test_impressions = traffic()
    test_clicks = rng.binomial(test_impressions, p)
    width = len(str(n_advertisers))
    labels = [f"ad{j:0{width}d}" for j in range(n_advertisers)]
    data = pd.DataFrame(
        {
            "advertiser": labels,
            "impressions": impressions,
            "clicks": clicks,
            "test_impressions": test_impressions,
            "test_clicks": test_clicks,
        }
    )
    return ClickSimulation(
        data=data,
        click_logit=pd.Series(logit, index=pd.Index(labels, name="advertiser"), name="logit"),
        intercept=intercept,
        advertiser_sd=advertiser_sd,
        seed=seed,
    )


@dataclass(frozen=True)
class VisitSimulation:
    r"""Simulated counts of visits to sites over weeks, with crossed effects and the truth.

    Attributes
    ----------
    data
        One row per site and week: ``site`` and ``week`` (str labels), ``promo`` (0/1, whether
        the site ran a promotion that week), ``obs`` (a label per row) and ``visits`` (count).
    intercept, promo_effect
        The true :math:`\beta_0, \beta_1` on the log scale.
    site_sd, week_sd, extra_sd
        The true SDs of the site, week and observation-level effects (the last is the
        over-dispersion: 0 for Poisson counts).
    seed
        The seed the simulation was drawn with.
    """

    data: pd.DataFrame
    intercept: float
    promo_effect: float
    site_sd: float
    week_sd: float
    extra_sd: float
    seed: int


def simulate_visits(
    n_sites: int = 40,
    n_weeks: int = 20,
    *,
    seed: int,
    intercept: float = 1.5,
    promo_effect: float = 0.3,
    site_sd: float = 0.5,
    week_sd: float = 0.3,
    extra_sd: float = 0.5,
    promo_share: float = 0.5,
) -> VisitSimulation:
    r"""Simulate weekly visit counts of sites: crossed site and week effects, over-dispersed.

    The count of site :math:`s` in week :math:`w` is Poisson with log-mean
    :math:`\beta_0 + \beta_1\,\text{promo}_{sw} + u_s + v_w + e_{sw}`, all three effects
    normal with SDs ``site_sd``, ``week_sd`` and ``extra_sd``; each site-week runs the promotion
    with probability ``promo_share``, at random.

    Parameters
    ----------
    n_sites, n_weeks
        Levels of the two crossed factors (at least 2 each).
    seed
        Seed of the random generator (keyword only, required).
    intercept, promo_effect
        The true fixed effects (log scale).
    site_sd, week_sd, extra_sd
        The true SDs (not negative).
    promo_share
        Probability that a site-week runs the promotion, in (0, 1).

    Returns
    -------
    VisitSimulation
        The data and the truth.

    Raises
    ------
    ValueError
        If an argument is out of range; the message names it.
    """
    n_sites = check_positive_int("n_sites", n_sites, minimum=2)
    n_weeks = check_positive_int("n_weeks", n_weeks, minimum=2)
    seed = check_seed(seed)
    intercept = check_finite("intercept", intercept)
    promo_effect = check_finite("promo_effect", promo_effect)
    site_sd = check_nonnegative("site_sd", site_sd)
    week_sd = check_nonnegative("week_sd", week_sd)
    extra_sd = check_nonnegative("extra_sd", extra_sd)
    share = check_interval("promo_share", promo_share, 0.0, 1.0)
    rng = np.random.default_rng(seed)
    site = np.repeat(np.arange(n_sites), n_weeks)
    week = np.tile(np.arange(n_weeks), n_sites)
    promo = (rng.random(site.size) < share).astype(int)
    log_mean = (
        intercept
        + promo_effect * promo
        + rng.normal(0.0, site_sd, n_sites)[site]
        + rng.normal(0.0, week_sd, n_weeks)[week]
        + rng.normal(0.0, extra_sd, site.size)
    )
    visits = rng.poisson(np.exp(log_mean))
    data = pd.DataFrame(
        {
            "site": [f"site{s:0{len(str(n_sites))}d}" for s in site],
            "week": [f"week{w:0{len(str(n_weeks))}d}" for w in week],
            "promo": promo,
            "obs": [f"obs{i}" for i in range(site.size)],
            "visits": visits,
        }
    )
    return VisitSimulation(
        data=data,
        intercept=intercept,
        promo_effect=promo_effect,
        site_sd=site_sd,
        week_sd=week_sd,
        extra_sd=extra_sd,
        seed=seed,
    )
