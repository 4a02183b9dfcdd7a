"""When synthetic rows happen: a weekday/hour-of-day load curve, allocated to hours, in slices.

Each stream's rows are allocated to UTC hour bins by cumulative rounding of the load curve, not
by Poisson draws, so every hour gets its share +-1 row: the demo can promise a minimum sample
per hour, which hourly SLOs need. Rows are then produced a time slice at a time (at most
CHUNK_ROWS rows, in time order) so that memory stays flat whatever the row count.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

#: most rows generated and written per slice (bounds memory: ~7 MB of COPY text)
CHUNK_ROWS = 50_000
#: lowest hour of load_curve / its mean over a week (0.527), used to size the demo's volumes
MIN_LOAD_RATIO = 0.52

US = 1_000_000
HOUR_US = 3600 * US
#: finest bin: an hour split in 512 (~7 s), the most powers of two that divide an hour in µs
_MAX_SPLITS = 512


@dataclass
class Slice:
    """Rows of one time slice, in time order: timestamp (µs since 1970), stream index, RNG."""

    ts_us: np.ndarray
    kind: np.ndarray
    rng: np.random.Generator

    @property
    def hour(self) -> np.ndarray:
        """Hours since 1970-01-01 UTC of each row."""
        return self.ts_us // HOUR_US


def load_curve(hour_starts_us: np.ndarray) -> np.ndarray:
    """Relative load of each UTC hour: a day peak at 15:00 UTC (+-35 %), weekends at 75 %."""
    hours = (hour_starts_us // HOUR_US).astype(np.int64)
    hour_of_day = hours % 24
    weekday = (hours // 24 + 3) % 7  # 1970-01-01 was a Thursday (Monday = 0)
    daily = 1.0 + 0.35 * np.cos(2 * np.pi * (hour_of_day + 0.5 - 15.0) / 24.0)
    return daily * np.where(weekday >= 5, 0.75, 1.0)


def slices(
    what: str, n: int, shares: np.ndarray, start: datetime, end: datetime, seed: int, salt: int
) -> Iterator[Slice]:
    """Time-ordered slices of at most CHUNK_ROWS rows, `n` rows in all, split by `shares`.

    Arguments are checked on the call, before the first slice is asked for, so a bad argument
    fails before any COPY starts. Each slice has its own generator seeded by (seed, salt, slice
    number); slice boundaries depend only on the arguments, so the rows are a function of them.
    """
    require_count(n, what)
    require_window(start, end, what.split(":")[0])
    return _generate(n, shares, start, end, seed, salt)


def _generate(n: int, shares: np.ndarray, start: datetime, end: datetime, seed: int, salt: int) -> Iterator[Slice]:
    if n == 0:
        return
    start_us, end_us = epoch_us(start), epoch_us(end)
    # Bins align to UTC hours (or to equal sub-hours when the rate is very high), so an hour
    # partition always holds its allocated rows and no bin exceeds a slice.
    hours = (end_us - start_us) / HOUR_US
    splits = 1
    while n / hours / splits > CHUNK_ROWS / 4 and splits < _MAX_SPLITS:
        splits *= 2
    bin_us = HOUR_US // splits
    edges = np.arange(start_us // bin_us * bin_us, end_us + bin_us, bin_us, dtype=np.int64)
    edges = np.unique(np.clip(edges, start_us, end_us))
    lo, hi = edges[:-1], edges[1:]
    weights = load_curve(lo // HOUR_US * HOUR_US) * (hi - lo)
    cum = np.cumsum(weights) / weights.sum()
    counts = np.empty((len(lo), len(shares)), dtype=np.int64)
    for k, n_k in enumerate(largest_remainder(n, shares)):
        marks = np.floor(n_k * cum + 1e-9).astype(np.int64)
        marks[-1] = n_k
        counts[:, k] = np.diff(marks, prepend=0)
    per_bin = counts.sum(axis=1)
    bin_end = 0
    chunk = 0
    while bin_end < len(lo):
        bin_start = bin_end
        total = 0
        while bin_end < len(lo) and (total == 0 or total + per_bin[bin_end] <= CHUNK_ROWS):
            total += int(per_bin[bin_end])
            bin_end += 1
        if total == 0:
            continue
        rng = np.random.default_rng([seed, salt, chunk])
        chunk += 1
        sub = counts[bin_start:bin_end]
        kinds = np.repeat(np.tile(np.arange(len(shares)), len(sub)), sub.ravel())
        bins = np.repeat(np.repeat(np.arange(bin_start, bin_end), len(shares)), sub.ravel())
        ts = lo[bins] + np.floor(rng.random(len(bins)) * (hi[bins] - lo[bins])).astype(np.int64)
        order = np.argsort(ts, kind="stable")
        yield Slice(ts_us=ts[order], kind=kinds[order], rng=rng)


def largest_remainder(n: int, shares: np.ndarray) -> np.ndarray:
    """Integer counts summing to n, proportional to shares."""
    exact = n * shares / shares.sum()
    base = np.floor(exact).astype(np.int64)
    rest = n - int(base.sum())
    if rest:
        base[np.argsort(-(exact - base), kind="stable")[:rest]] += 1
    return base


def timestamps_text(ts_us: np.ndarray) -> list[str]:
    """COPY text of timestamptz values (UTC, µs)."""
    return [f"{t}+00" for t in np.datetime_as_string(ts_us.astype("datetime64[us]"), unit="us").tolist()]


def epoch_us(ts: datetime) -> int:
    delta = ts - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * US + delta.microseconds


def iso(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def require_window(start: datetime, end: datetime, what: str) -> None:
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError(f"{what}: start and end must be timezone-aware datetimes (got {start!r}, {end!r})")
    if not start < end:
        raise ValueError(f"{what}: start {iso(start)} must be before end {iso(end)}")


def require_count(n: int, what: str) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"{what} must be a non-negative integer, got {n!r}")
