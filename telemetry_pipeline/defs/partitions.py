"""Dagster's partitions definitions, built from `core.granularity.Granularity` when asked.

They depend on TELEMETRY_PARTITIONS_START, so they are built while the code location loads
(from the `@definitions` functions of each stage), never while a module is imported: a bad
value stops the code location naming the variable, and no other command reads it.
"""

from __future__ import annotations

from datetime import date
from functools import cache

from dagster import (
    DailyPartitionsDefinition,
    HourlyPartitionsDefinition,
    TimeWindowPartitionsDefinition,
    WeeklyPartitionsDefinition,
)

from telemetry_pipeline.core import settings
from telemetry_pipeline.core.granularity import Granularity

_MONDAY = 1  # Dagster's day_offset counts from Sunday = 0


@cache
def _partitions(granularity: Granularity, first: date) -> TimeWindowPartitionsDefinition:
    if granularity is Granularity.HOUR:
        return HourlyPartitionsDefinition(start_date=f"{first:%Y-%m-%d}-00:00", timezone="UTC")
    if granularity is Granularity.DAY:
        return DailyPartitionsDefinition(start_date=f"{first:%Y-%m-%d}", timezone="UTC")
    return WeeklyPartitionsDefinition(start_date=f"{first:%Y-%m-%d}", day_offset=_MONDAY, timezone="UTC")


def partitions_for(granularity: str) -> TimeWindowPartitionsDefinition:
    """The partitions definition of a granularity, from the configured first partition date."""
    g = Granularity.parse(granularity)
    return _partitions(g, g.first_period(settings.current().partitions_start))


def hourly_partitions() -> TimeWindowPartitionsDefinition:
    return partitions_for(Granularity.HOUR)
