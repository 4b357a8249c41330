"""The quality table's statistics over seeds: 95% intervals and the P&L per unit of inventory risk.

- A mean's interval is the t-interval: mean +/- t(0.975, n - 1) x s / sqrt(n), s the sample standard
  deviation (n - 1); the seeds are independent sessions of the same flow.
- P&L per unit of inventory risk = mean hourly P&L / standard deviation of hourly P&L. Sessions last
  m minutes: a session's hourly P&L is its P&L x 60 / m; the variance of P&L grows with the
  session's length (independent increments), so the standard deviation of hourly P&L is the sample
  standard deviation of session P&L x sqrt(60 / m). The ratio is then mean / sd of session P&L x
  sqrt(60 / m) (exact for one-hour sessions). None when every session made the same P&L.
- A ratio's interval is a percentile bootstrap: the seeds resampled with replacement `BOOTSTRAP`
  times (a fixed random seed, so a table is reproducible), the 2.5th and 97.5th percentiles.

Pure: stdlib only.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Callable, Sequence

BOOTSTRAP = 2000
_Z = statistics.NormalDist().inv_cdf(0.975)


_T_SMALL = (12.706205, 4.302653, 3.182446, 2.776445, 2.570582, 2.446912, 2.364624, 2.306004)


def t_quantile(df: int) -> float:
    """The 97.5% quantile of Student's t with `df` degrees of freedom: tabulated up to 8, then the
    Cornish-Fisher expansion about the normal (within 3e-4 at df = 9, 1e-7 at df = 49)."""
    if df <= len(_T_SMALL):
        return _T_SMALL[df - 1]
    z, v = _Z, float(df)
    return (
        z
        + (z**3 + z) / (4 * v)
        + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * v**2)
        + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * v**3)
    )


def mean_interval(values: Sequence[float]) -> tuple[float, float, float]:
    """(mean, low, high): the mean and its 95% t-interval (the mean itself twice with one value)."""
    mean = statistics.fmean(values)
    if len(values) < 2:
        return mean, mean, mean
    half = t_quantile(len(values) - 1) * statistics.stdev(values) / math.sqrt(len(values))
    return mean, mean - half, mean + half


def risk_ratio(pnls: Sequence[float], minutes: float) -> float | None:
    """Mean hourly P&L / standard deviation of hourly P&L (see the module); None without spread."""
    if len(pnls) < 2:
        return None
    sd = statistics.stdev(pnls)
    if sd <= 1e-12:
        return None
    return statistics.fmean(pnls) / sd * math.sqrt(60.0 / minutes)


def risk_ratio_interval(
    pnls: Sequence[float], minutes: float
) -> tuple[float | None, float | None, float | None]:
    """(ratio, low, high): the ratio and its 95% percentile-bootstrap interval over the seeds."""
    return _bootstrapped(lambda picks: risk_ratio([pnls[i] for i in picks], minutes), len(pnls))


def _bootstrapped(
    ratio_of: Callable[[Sequence[int]], float | None], n: int
) -> tuple[float | None, float | None, float | None]:
    """(ratio of all n sessions, low, high): `ratio_of` a resample of session indices, `BOOTSTRAP`
    resamples with replacement (a fixed random seed), the 2.5th and 97.5th percentiles."""
    ratio = ratio_of(range(n))
    if ratio is None:
        return None, None, None
    rng = random.Random(0)
    draws = sorted(
        value
        for value in (ratio_of(rng.choices(range(n), k=n)) for _ in range(BOOTSTRAP))
        if value is not None
    )
    if not draws:
        return ratio, None, None
    return ratio, draws[int(0.025 * (len(draws) - 1))], draws[int(0.975 * (len(draws) - 1))]


def risk_ratio_mixed(pnls: Sequence[float], minutes: Sequence[float]) -> float | None:
    """`risk_ratio` for sessions of different lengths (recorded captures are not cut to one length).

    With independent increments a session of m_i minutes has mean mu m_i and variance s^2 m_i
    (per-minute mu, s): mu = sum P&L / sum m, s^2 = sum (P&L_i - mu m_i)^2 / m_i / (n - 1), and the
    ratio is mu / s x sqrt(60). With equal lengths this is exactly `risk_ratio`."""
    if len(pnls) < 2:
        return None
    rate = math.fsum(pnls) / math.fsum(minutes)
    variance = math.fsum((p - rate * m) ** 2 / m for p, m in zip(pnls, minutes, strict=True)) / (
        len(pnls) - 1
    )
    if variance <= 1e-24:
        return None
    return rate / math.sqrt(variance) * math.sqrt(60.0)


def risk_ratio_mixed_interval(
    pnls: Sequence[float], minutes: Sequence[float]
) -> tuple[float | None, float | None, float | None]:
    """(ratio, low, high) of `risk_ratio_mixed`: sessions (P&L with its length) resampled as pairs,
    the same percentile bootstrap as `risk_ratio_interval`."""
    return _bootstrapped(
        lambda picks: risk_ratio_mixed([pnls[i] for i in picks], [minutes[i] for i in picks]), len(pnls)
    )
