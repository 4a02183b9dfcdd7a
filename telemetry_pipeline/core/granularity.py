"""Hourly, daily and weekly partitions: UTC, half-open [start, end), weeks start Monday 00:00.

The weekly partitions start on the Monday on or before TELEMETRY_PARTITIONS_START, so the week
that contains the first day is a partition too (Dagster would otherwise begin at the first
Monday after it). The same Monday weeks as PostgreSQL's `date_trunc('week', ...)`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import cache

from dagster import DailyPartitionsDefinition, HourlyPartitionsDefinition, WeeklyPartitionsDefinition

from telemetry_pipeline.core import settings

UTC = UTC

#: granularity name as stored in kpi_aggregations.aggregation_period -> period length
PERIODS: dict[str, timedelta] = {
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
    "week": timedelta(weeks=1),
}

_MONDAY = 1  # Dagster's day_offset counts from Sunday = 0


def monday_on_or_before(day: date) -> date:
    return day - timedelta(days=day.weekday())


@cache
def hourly_partitions() -> HourlyPartitionsDefinition:
    return HourlyPartitionsDefinition(
        start_date=f"{settings.partitions_start():%Y-%m-%d}-00:00", timezone="UTC"
    )


@cache
def daily_partitions() -> DailyPartitionsDefinition:
    return DailyPartitionsDefinition(start_date=f"{settings.partitions_start():%Y-%m-%d}", timezone="UTC")


@cache
def weekly_partitions() -> WeeklyPartitionsDefinition:
    first_monday = monday_on_or_before(settings.partitions_start())
    return WeeklyPartitionsDefinition(start_date=f"{first_monday:%Y-%m-%d}", day_offset=_MONDAY, timezone="UTC")


def partitions_for(granularity: str):
    """The partitions definition of a granularity ('hour', 'day', 'week')."""
    return {"hour": hourly_partitions, "day": daily_partitions, "week": weekly_partitions}[granularity]()


def period_start_of(ts: datetime, granularity: str) -> datetime:
    """The start of the period containing `ts`, as PostgreSQL's date_trunc(granularity, ts, 'UTC')."""
    ts = ts.astimezone(UTC)
    if granularity == "hour":
        return ts.replace(minute=0, second=0, microsecond=0)
    day = ts.replace(hour=0, minute=0, second=0, microsecond=0)
    if granularity == "day":
        return day
    if granularity == "week":
        return day - timedelta(days=day.weekday())
    raise ValueError(f"unknown granularity {granularity!r}; expected one of {sorted(PERIODS)}")


def partition_key_for(period_start: datetime, granularity: str) -> str:
    """The Dagster partition key of a period (as the UI and links show it)."""
    start = period_start.astimezone(UTC)
    return start.strftime("%Y-%m-%d-%H:%M") if granularity == "hour" else start.strftime("%Y-%m-%d")
