"""When partitions materialise on their own: schedules, running by default under `dagster dev`.

Each granularity has a job over its partitioned assets and a schedule built from its
partitions, so each tick runs exactly the period that just closed:
  hourly  at HH:05 UTC         the previous hour   (raw_events, kpi_aggregations_hourly, slo_status_hourly)
  daily   at 00:10 UTC         the previous day    (kpi_aggregations_daily, slo_status_daily)
  weekly  Monday 00:20 UTC     the previous week   (kpi_aggregations_weekly, slo_status_weekly)
plus `slsa_audit_observation_schedule` (HH:03 UTC, audits/assets.py) observing the audit table.
The few minutes of delay let in-flight events of the closing period land first; events that
arrive later still are picked up by the late-data sensor (events/late_data.py).
"""

from __future__ import annotations

from datetime import timedelta

from dagster import (
    AssetSelection,
    DefaultScheduleStatus,
    build_schedule_from_partitioned_job,
    define_asset_job,
)

#: Asset keys each granularity's job materialises, upstream first.
JOB_ASSETS: dict[str, list[str]] = {
    "hour": ["raw_events", "kpi_aggregations_hourly", "slo_status_hourly"],
    "day": ["kpi_aggregations_daily", "slo_status_daily"],
    "week": ["kpi_aggregations_weekly", "slo_status_weekly"],
}

JOB_NAMES = {"hour": "hourly_telemetry_job", "day": "daily_telemetry_job", "week": "weekly_telemetry_job"}

#: When each schedule ticks after its period closes (build_schedule_from_partitioned_job args).
SCHEDULE_TIMES = {
    "hour": {"minute_of_hour": 5},
    "day": {"minute_of_hour": 10, "hour_of_day": 0},
    "week": {"minute_of_hour": 20, "hour_of_day": 0, "day_of_week": 1},
}


def schedule_lag(granularity: str) -> timedelta:
    """How long after a period ends its scheduled run starts (the late-data sensor waits for it)."""
    times = SCHEDULE_TIMES[granularity]
    return timedelta(hours=times.get("hour_of_day", 0), minutes=times["minute_of_hour"])


def build_jobs_and_schedules() -> tuple[list, list]:
    """The three partitioned jobs (JOB_ASSETS), their schedules (SCHEDULE_TIMES) and the audit
    observation schedule (its job comes with it; the late-data sensor targets only the three jobs)."""
    from telemetry_pipeline.audits.assets import observation_schedule

    jobs, schedules = [], []
    for granularity, keys in JOB_ASSETS.items():
        selection = list(keys)
        job = define_asset_job(
            JOB_NAMES[granularity],
            selection=AssetSelection.assets(*selection),
            description=f"Materialise the {granularity} partition of: {', '.join(selection)}.",
        )
        jobs.append(job)
        schedules.append(
            build_schedule_from_partitioned_job(
                job,
                name=f"{JOB_NAMES[granularity].removesuffix('_job')}_schedule",
                default_status=DefaultScheduleStatus.RUNNING,
                **SCHEDULE_TIMES[granularity],
            )
        )
    schedules.append(observation_schedule)
    return jobs, schedules
