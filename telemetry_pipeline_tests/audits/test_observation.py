"""Observing slsa_audit_metrics records one data version per recently changed hour."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dagster import AssetKey, DagsterEventType, EventRecordsFilter, instance_for_test
from dagster._core.definitions.observe import observe

from telemetry_pipeline.core.granularity import partition_key_for, period_start_of
from telemetry_pipeline.defs.audits.assets import slsa_audit_metrics


def test_observation_versions_recent_hours_only(warehouse):
    hour = period_start_of(datetime.now(UTC), "hour") - timedelta(hours=2)
    with warehouse.connect() as conn:
        conn.execute(
            "insert into public.slsa_audit_metrics (audited_at, status, sha256_verified,"
            " predicate_type_verified, supabase_synced) values"
            " (%s, 'success', true, true, true), (%s, 'error', false, false, false),"
            " ('2025-01-02T03:00Z', 'success', true, true, true)",
            (hour + timedelta(minutes=1), hour + timedelta(minutes=2)),
        )
    with instance_for_test() as instance:
        assert observe([slsa_audit_metrics], resources={"warehouse": warehouse}, instance=instance).success
        records = instance.get_event_records(
            EventRecordsFilter(DagsterEventType.ASSET_OBSERVATION, asset_key=AssetKey("slsa_audit_metrics"))
        )
    observed = {r.partition_key: r.asset_observation.tags.get("dagster/data_version") for r in records}
    assert list(observed) == [partition_key_for(hour, "hour")]  # the 2025 audit is outside the lookback
    assert observed[partition_key_for(hour, "hour")].startswith("2:")  # two audits in that hour


def test_the_default_on_hourly_schedule_observes_the_audits(warehouse):
    """The code location observes slsa_audit_metrics on its own: a running schedule whose job lands it."""
    from dagster import DefaultScheduleStatus

    from telemetry_pipeline.definitions import defs

    repo = defs.get_repository_def()
    schedule = repo.get_schedule_def("slsa_audit_observation_schedule")
    assert schedule.default_status == DefaultScheduleStatus.RUNNING
    assert (schedule.cron_schedule, schedule.execution_timezone) == ("3 * * * *", "UTC")
    hour = period_start_of(datetime.now(UTC), "hour") - timedelta(hours=1)
    with warehouse.connect() as conn:
        conn.execute(
            "insert into public.slsa_audit_metrics (audited_at, status, sha256_verified,"
            " predicate_type_verified, supabase_synced) values (%s, 'success', true, true, true)",
            (hour + timedelta(minutes=4),),
        )
    job = repo.get_job(schedule.job_name)
    with instance_for_test() as instance:
        assert job.execute_in_process(instance=instance, resources={"warehouse": warehouse}).success
        records = instance.get_event_records(
            EventRecordsFilter(DagsterEventType.ASSET_OBSERVATION, asset_key=AssetKey("slsa_audit_metrics"))
        )
    assert [(r.partition_key, r.asset_observation.tags["dagster/data_version"][:2]) for r in records] == [
        (partition_key_for(hour, "hour"), "1:")
    ]
