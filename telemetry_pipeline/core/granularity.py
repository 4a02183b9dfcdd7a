"""The three granularities (hour, day, week), named once: every stage imports this.

Periods are UTC and half-open [start, end); weeks start Monday 00:00, the same weeks as
PostgreSQL's `date_trunc('week', ...)`. A `Granularity` is a `StrEnum`, so it is stored and
compared as the plain text the tables hold (`kpi_aggregations.aggregation_period = 'hour'`).
Everything that used to be re-spelled per module hangs off it: period length, asset-key
suffix, partition-key format, schedule time and the names of its assets and job. The Dagster
partitions definitions are built from it in `telemetry_pipeline/defs/partitions.py`; nothing
here imports Dagster.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum


@dataclass(frozen=True)
class ScheduleTime:
    """When a granularity's schedule ticks after its period closes (UTC)."""

    minute_of_hour: int
    hour_of_day: int | None = None
    day_of_week: int | None = None  # 0 = Sunday, as cron and Dagster count

    def lag(self) -> timedelta:
        """How long after a period ends its scheduled run starts (the late-data sensor waits it)."""
        return timedelta(hours=self.hour_of_day or 0, minutes=self.minute_of_hour)


@dataclass(frozen=True)
class _Spec:
    length: timedelta
    suffix: str
    key_format: str
    schedule: ScheduleTime


class Granularity(StrEnum):
    """hour, day or week; the value is what the tables store in aggregation_period/granularity."""

    HOUR = "hour"
    DAY = "day"
    WEEK = "week"

    @classmethod
    def parse(cls, value: str) -> Granularity:
        """The granularity named `value`; anything else is an error listing the choices."""
        try:
            return cls(value)
        except ValueError:
            raise ValueError(f"unknown granularity {value!r}; expected one of {', '.join(cls)}") from None

    @property
    def _spec(self) -> _Spec:
        return _SPECS[self]

    @property
    def length(self) -> timedelta:
        """One period (a week is always 7 days: UTC has no daylight saving)."""
        return self._spec.length

    @property
    def suffix(self) -> str:
        """hourly / daily / weekly: the suffix of its asset keys, job and schedule names."""
        return self._spec.suffix

    @property
    def key_format(self) -> str:
        """strftime format of its Dagster partition keys, as the UI and links show them."""
        return self._spec.key_format

    @property
    def schedule(self) -> ScheduleTime:
        """When its scheduled run ticks: a few minutes after the period closes."""
        return self._spec.schedule

    @property
    def kpi_asset(self) -> str:
        """Asset key (SPEC section 8) of its KPI table partition set."""
        return f"kpi_aggregations_{self.suffix}"

    @property
    def slo_asset(self) -> str:
        """Asset key (SPEC section 8) of its SLO status partition set."""
        return f"slo_status_{self.suffix}"

    @property
    def job_name(self) -> str:
        """The partitioned job materialising its period of every stage."""
        return f"{self.suffix}_telemetry_job"

    @property
    def schedule_name(self) -> str:
        return f"{self.suffix}_telemetry_schedule"

    def period_start(self, ts: datetime) -> datetime:
        """The start of the period containing `ts`, as PostgreSQL's date_trunc(self, ts, 'UTC')."""
        ts = ts.astimezone(UTC)
        if self is Granularity.HOUR:
            return ts.replace(minute=0, second=0, microsecond=0)
        day = ts.replace(hour=0, minute=0, second=0, microsecond=0)
        return day if self is Granularity.DAY else day - timedelta(days=day.weekday())

    def partition_key(self, period_start: datetime) -> str:
        """The Dagster partition key of a period."""
        return period_start.astimezone(UTC).strftime(self.key_format)

    def first_period(self, start: date) -> date:
        """The first period's start date for partitions beginning at `start`.

        Weekly partitions start on the Monday on or before it, so the week containing the first
        day is a partition too (Dagster would otherwise begin at the first Monday after it).
        """
        return monday_on_or_before(start) if self is Granularity.WEEK else start


_SPECS: dict[Granularity, _Spec] = {
    Granularity.HOUR: _Spec(timedelta(hours=1), "hourly", "%Y-%m-%d-%H:%M", ScheduleTime(5)),
    Granularity.DAY: _Spec(timedelta(days=1), "daily", "%Y-%m-%d", ScheduleTime(10, 0)),
    Granularity.WEEK: _Spec(timedelta(weeks=1), "weekly", "%Y-%m-%d", ScheduleTime(20, 0, 1)),
}

#: granularity -> period length, for code that indexes by the stored text
PERIODS: dict[str, timedelta] = {g.value: g.length for g in Granularity}


def monday_on_or_before(day: date) -> date:
    return day - timedelta(days=day.weekday())


def period_start_of(ts: datetime, granularity: str) -> datetime:
    """The start of the period containing `ts` (see Granularity.period_start)."""
    return Granularity.parse(granularity).period_start(ts)


def partition_key_for(period_start: datetime, granularity: str) -> str:
    """The Dagster partition key of a period (see Granularity.partition_key)."""
    return Granularity.parse(granularity).partition_key(period_start)
