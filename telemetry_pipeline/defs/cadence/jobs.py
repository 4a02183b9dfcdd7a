"""When partitions materialise on their own: one job and schedule per granularity, running by
default under `dg dev`, and the late-data sensor that re-runs periods whose rows came late.

Each granularity's job selects every asset tagged with it (defs/assets_common.py), whichever
stage defines the asset, and its schedule, built from the job's partitions, runs exactly the
period that just closed, at the time `Granularity.schedule` names:
  hourly  at HH:05 UTC         the previous hour   (raw_events, kpi_aggregations_hourly, slo_status_hourly)
  daily   at 00:10 UTC         the previous day    (kpi_aggregations_daily, slo_status_daily)
  weekly  Monday 00:20 UTC     the previous week   (kpi_aggregations_weekly, slo_status_weekly)
The audit table's observation schedule (HH:03 UTC) is the audits stage's own (defs/audits/).
The few minutes of delay let in-flight events of the closing period land first; events that
arrive later still are picked up by the late-data sensor (defs/cadence/late_data.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dagster import (
    AssetSelection,
    DefaultScheduleStatus,
    Definitions,
    ScheduleDefinition,
    build_schedule_from_partitioned_job,
    define_asset_job,
    definitions,
)

from telemetry_pipeline.core.granularity import Granularity
from telemetry_pipeline.defs.assets_common import GRANULARITY_TAG
from telemetry_pipeline.defs.cadence.late_data import build_late_data_sensor

if TYPE_CHECKING:
    from dagster._core.definitions.partitions.partitioned_schedule import (
        UnresolvedPartitionedAssetScheduleDefinition,
    )
    from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

    #: what build_schedule_from_partitioned_job returns for an asset job
    Schedule = ScheduleDefinition | UnresolvedPartitionedAssetScheduleDefinition


def selection(granularity: Granularity) -> AssetSelection:
    """The assets a granularity's job materialises: those tagged with it."""
    return AssetSelection.tag(GRANULARITY_TAG, granularity.value)


def build_job(granularity: Granularity) -> UnresolvedAssetJobDefinition:
    return define_asset_job(
        granularity.job_name,
        selection=selection(granularity),
        description=f"Materialise the {granularity} partition of every asset tagged {GRANULARITY_TAG}={granularity}.",
    )


def build_schedule(job: UnresolvedAssetJobDefinition, granularity: Granularity) -> Schedule:
    at = granularity.schedule
    return build_schedule_from_partitioned_job(
        job,
        name=granularity.schedule_name,
        default_status=DefaultScheduleStatus.RUNNING,
        minute_of_hour=at.minute_of_hour,
        hour_of_day=at.hour_of_day,
        day_of_week=at.day_of_week,
    )


def build_jobs_and_schedules() -> tuple[list[UnresolvedAssetJobDefinition], list[Schedule]]:
    """The three partitioned jobs and their schedules."""
    jobs = [build_job(g) for g in Granularity]
    return jobs, [build_schedule(job, g) for job, g in zip(jobs, Granularity, strict=True)]


@definitions
def defs() -> Definitions:
    jobs, schedules = build_jobs_and_schedules()
    return Definitions(jobs=jobs, schedules=schedules, sensors=[build_late_data_sensor(jobs)])
