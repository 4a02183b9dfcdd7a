"""Late data: the sensor requests exactly the affected closed partitions, through Dagster."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from dagster import DagsterInstance, RunRequest, SensorResult, build_sensor_context, instance_for_test

from telemetry_pipeline.core.granularity import Granularity
from telemetry_pipeline.defs.cadence.late_data import (
    RANGE_END_TAG,
    RANGE_START_TAG,
    SENSOR_NAME,
    ChangedHour,
    build_late_data_sensor,
    plan_runs,
)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def requested(requests: list[RunRequest]) -> set[tuple[str, str, str, str]]:
    """(job, first partition, last partition, 'all' assets of the job or 'slo' only) of each request."""
    out = set()
    for r in requests:
        first = r.partition_key or r.tags[RANGE_START_TAG]
        last = r.partition_key or r.tags[RANGE_END_TAG]
        if r.asset_selection is None:
            what = "all"
        else:
            assert [k.to_user_string() for k in r.asset_selection] == [SLO_ASSET[r.job_name]]
            what = "slo"
        out.add((r.job_name, first, last, what))
    return out


JOB_NAMES = {g.value: g.job_name for g in Granularity}
HOURLY, DAILY, WEEKLY = JOB_NAMES["hour"], JOB_NAMES["day"], JOB_NAMES["week"]
SLO_ASSET = {HOURLY: "slo_status_hourly", DAILY: "slo_status_daily", WEEKLY: "slo_status_weekly"}


def test_the_rule_requests_closed_past_schedule_periods_in_contiguous_ranges():
    now = at("2025-03-12 15:03")  # a Wednesday
    changed = [
        ChangedHour(at("2025-03-12 14:00"), 3, 10, None),  # closed 15:00, scheduled 15:05: the schedule's
        ChangedHour(at("2025-03-12 13:00"), 1, 11, None),
        ChangedHour(at("2025-03-12 12:00"), 1, 12, None),
        ChangedHour(at("2025-03-10 08:00"), 1, 13, None),  # Monday of the current week
        ChangedHour(at("2025-03-08 23:00"), 2, None, 4),   # Saturday of last week (an audit)
        ChangedHour(at("2024-12-31 23:00"), 1, 14, None),  # before the first hour and day, but in the first week
    ]
    requests = plan_runs(changed, now)
    assert requested(requests) == {
        # the changed periods, whole jobs (KPIs and SLOs)
        (HOURLY, "2025-03-08-23:00", "2025-03-08-23:00", "all"),
        (HOURLY, "2025-03-10-08:00", "2025-03-10-08:00", "all"),
        (HOURLY, "2025-03-12-12:00", "2025-03-12-13:00", "all"),  # one run for the two adjacent hours
        (DAILY, "2025-03-08", "2025-03-08", "all"),
        (DAILY, "2025-03-10", "2025-03-10", "all"),
        (WEEKLY, "2025-03-03", "2025-03-03", "all"),
        (WEEKLY, "2024-12-30", "2024-12-30", "all"),  # weeks start on the Monday on or before 2025-01-01
        # the SLO rows after them whose trailing windows include them: burn rates look back up to
        # 3 days (71 hours before the row's own), daily budgets 30 days (29 before); weekly none.
        # 2024-12-31 23:00 + 1..71 h; 2025-03-08 23:00 + 1..71 h joined with 2025-03-10 08:00 + 1..
        # up to the last due hour (13:00), minus the hours re-run whole:
        (HOURLY, "2025-01-01-00:00", "2025-01-03-22:00", "slo"),
        (HOURLY, "2025-03-09-00:00", "2025-03-10-07:00", "slo"),
        (HOURLY, "2025-03-10-09:00", "2025-03-12-11:00", "slo"),
        # 2024-12-31 + 1..29 days; 2025-03-08 and 2025-03-10 + 1.. up to the last due day (03-11):
        (DAILY, "2025-01-01", "2025-01-29", "slo"),
        (DAILY, "2025-03-09", "2025-03-09", "slo"),
        (DAILY, "2025-03-11", "2025-03-11", "slo"),
    }
    assert len(requests) == 13
    assert {r.run_key.rsplit(":", 1)[1] for r in requests} == {"e14a4"}
    assert len({r.run_key for r in requests}) == 13
    ranged = next(r for r in requests if r.partition_key is None)
    assert ranged.tags[RANGE_START_TAG] == "2025-03-12-12:00" and ranged.tags["telemetry/trigger"] == "late-data"


H14 = (HOURLY, "2025-03-12-14:00", "2025-03-12-14:00", "all")
D12 = (DAILY, "2025-03-12", "2025-03-12", "all")


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        ("2025-03-12 15:04:59", set()),
        ("2025-03-12 15:05", {H14}),
        ("2025-03-12 16:05", {H14, (HOURLY, "2025-03-12-15:00", "2025-03-12-15:00", "slo")}),
        ("2025-03-13 00:09", {H14, (HOURLY, "2025-03-12-15:00", "2025-03-12-23:00", "slo")}),
        ("2025-03-13 00:10", {H14, (HOURLY, "2025-03-12-15:00", "2025-03-12-23:00", "slo"), D12}),
        ("2025-03-17 00:20", {H14, (HOURLY, "2025-03-12-15:00", "2025-03-15-13:00", "slo"),
                              D12, (DAILY, "2025-03-13", "2025-03-16", "slo"),
                              (WEEKLY, "2025-03-10", "2025-03-10", "all")}),
    ],
)
def test_a_period_is_left_to_its_schedule_until_the_scheduled_run_is_due(now, expected):
    assert requested(plan_runs([ChangedHour(at("2025-03-12 14:00"), 1, 1, None)], at(now))) == expected


# --- the sensor, evaluated through Dagster on the test warehouse ------------------------------


@pytest.fixture(scope="module")
def instance():
    with instance_for_test() as instance:
        yield instance


@pytest.fixture(scope="module")
def sensor():
    from telemetry_pipeline.defs.cadence.jobs import build_jobs_and_schedules

    jobs, _ = build_jobs_and_schedules()
    return build_late_data_sensor(jobs)


def tick(sensor, instance: DagsterInstance, warehouse, cursor: str | None) -> SensorResult:
    context = build_sensor_context(instance=instance, cursor=cursor, resources={"warehouse": warehouse})
    return sensor(context)


def insert_event(conn: psycopg.Connection, ts: datetime) -> None:
    conn.execute(
        "insert into public.telemetry_events (event_type, event_timestamp, metadata) "
        "values ('provenance.generation', %s, '{\"status\": \"success\"}')",
        (ts,),
    )


def hour(ts: datetime) -> datetime:
    return ts.replace(minute=0, second=0, microsecond=0)


def db_now(warehouse) -> datetime:
    with warehouse.connect() as conn:
        return conn.execute("select now()").fetchone()[0]


def test_first_tick_starts_at_the_current_rows_without_rerunning_history(sensor, instance, warehouse):
    with warehouse.connect() as conn:
        insert_event(conn, db_now(warehouse) - timedelta(hours=3))
    first = tick(sensor, instance, warehouse, None)
    assert first.run_requests == [] and "first tick" in first.skip_reason.skip_message
    second = tick(sensor, instance, warehouse, first.cursor)
    assert second.run_requests == [] and second.skip_reason.skip_message == "no new rows"


def test_emptied_tables_restart_the_cursor_instead_of_hiding_new_rows(sensor, instance, warehouse):
    with warehouse.connect() as conn:
        for h in (3, 4):
            insert_event(conn, db_now(warehouse) - timedelta(hours=h))
    cursor = tick(sensor, instance, warehouse, None).cursor
    with warehouse.connect() as conn:
        conn.execute("truncate public.telemetry_events restart identity")
    restarted = tick(sensor, instance, warehouse, cursor)
    assert "ids restarted" in restarted.skip_reason.skip_message
    late = db_now(warehouse) - timedelta(hours=5)
    with warehouse.connect() as conn:
        insert_event(conn, late)
    after = tick(sensor, instance, warehouse, restarted.cursor)
    assert f"{hour(late):%Y-%m-%d-%H:%M}" in {r.partition_key for r in after.run_requests}


def test_late_rows_request_exactly_their_closed_hours_days_and_weeks(sensor, instance, warehouse):
    cursor = tick(sensor, instance, warehouse, None).cursor
    now = db_now(warehouse)
    late_hour, late_days, too_old, current, audit = (
        now - timedelta(hours=3), now - timedelta(days=2), now - timedelta(days=10), now, now - timedelta(hours=30),
    )
    with warehouse.connect() as conn:
        for ts in (late_hour, late_hour, late_days, too_old, current):
            insert_event(conn, ts)
        conn.execute(
            "insert into public.slsa_audit_metrics (audited_at, status, sha256_verified, predicate_type_verified, "
            "supabase_synced) values (%s, 'success', true, true, true)",
            (audit,),
        )
    before = db_now(warehouse)
    result = tick(sensor, instance, warehouse, cursor)
    after = db_now(warehouse)

    # The scan found exactly the hours of the new rows within the lookback (not too_old), the
    # current hour among them; which of them run is the rule tested above, at the tick's time.
    changed = [ChangedHour(hour(t), 1, None, None) for t in (late_hour, late_days, current, audit)]
    assert requested(result.run_requests) in [requested(plan_runs(changed, t)) for t in (before, after)]
    got = requested(result.run_requests)
    for t in (late_hour, late_days, audit):  # closed hours more than 5 minutes ago: always re-run
        assert (HOURLY, f"{hour(t):%Y-%m-%d-%H:%M}", f"{hour(t):%Y-%m-%d-%H:%M}", "all") in got
    runs_whole = {(job, first) for job, first, _, what in got if what == "all"}
    assert (HOURLY, f"{hour(too_old):%Y-%m-%d-%H:%M}") not in runs_whole
    assert (HOURLY, f"{hour(current):%Y-%m-%d-%H:%M}") not in runs_whole
    assert (DAILY, f"{late_days:%Y-%m-%d}") in runs_whole  # two days ago has closed
    assert tick(sensor, instance, warehouse, result.cursor).run_requests == []


def test_a_row_committed_after_a_higher_id_is_not_missed(sensor, instance, warehouse):
    """ids are taken at insert and seen at commit: a long transaction's lower ids commit late."""
    cursor = tick(sensor, instance, warehouse, None).cursor
    now = db_now(warehouse)
    slow_ts, fast_ts = now - timedelta(hours=6), now - timedelta(hours=4)
    with psycopg.connect(warehouse.url()) as slow:
        insert_event(slow, slow_ts)  # takes the lower id, stays uncommitted
        with psycopg.connect(warehouse.url(), autocommit=True) as fast:
            insert_event(fast, fast_ts)
        first = tick(sensor, instance, warehouse, cursor)
        slow.commit()
    second = tick(sensor, instance, warehouse, first.cursor)
    third = tick(sensor, instance, warehouse, second.cursor)

    def hours_of(result: SensorResult) -> set[str]:
        return {r.partition_key for r in result.run_requests if r.job_name == HOURLY and not r.asset_selection}

    assert hours_of(first) == {f"{hour(fast_ts):%Y-%m-%d-%H:%M}"}
    assert hours_of(second) == {f"{hour(slow_ts):%Y-%m-%d-%H:%M}"}
    assert third.run_requests == []
    keys = [r.run_key for r in first.run_requests + second.run_requests]
    assert len(keys) == len(set(keys))


def test_the_sensor_is_in_the_code_location_running_by_default():
    from dagster import DefaultSensorStatus

    from telemetry_pipeline.definitions import defs

    sensor = next(s for s in defs.sensors if s.name == SENSOR_NAME)
    assert sensor.default_status == DefaultSensorStatus.RUNNING
    assert sensor.minimum_interval_seconds == 60
    assert {j.name for j in sensor.jobs} == set(JOB_NAMES.values())


def test_a_range_request_runs_the_hourly_job_over_exactly_its_hours(sensor, instance, warehouse):
    from telemetry_pipeline.definitions import defs

    cursor = tick(sensor, instance, warehouse, None).cursor
    start = hour(db_now(warehouse) - timedelta(hours=5))
    with warehouse.connect() as conn:
        for h in range(2):
            insert_event(conn, start + timedelta(hours=h, minutes=10))
    requests = tick(sensor, instance, warehouse, cursor).run_requests
    [request] = [r for r in requests if r.job_name == HOURLY and not r.asset_selection]
    assert request.tags[RANGE_START_TAG] == f"{start:%Y-%m-%d-%H:%M}"
    job = defs.resolve_job_def(HOURLY)
    result = job.execute_in_process(instance=instance, tags=request.tags)
    assert result.success
    with warehouse.connect() as conn:
        counted = conn.execute(
            "select period_start, metric_value from public.kpi_aggregations "
            "where metric_name = 'provenance_count' and aggregation_period = 'hour' order by 1"
        ).fetchall()
    assert counted == [(start, 1), (start + timedelta(hours=1), 1)]
    # the SLO rows after them (their burn-rate windows include these hours): the SLO asset only
    [slo] = [r for r in requests if r.job_name == HOURLY and r.asset_selection]
    assert (slo.partition_key or slo.tags[RANGE_START_TAG]) == f"{start + timedelta(hours=2):%Y-%m-%d-%H:%M}"
    where = {"partition_key": slo.partition_key} if slo.partition_key else {"tags": slo.tags}
    slo_run = job.execute_in_process(instance=instance, asset_selection=slo.asset_selection, **where)
    assert slo_run.success
    assert {e.asset_key.to_user_string() for e in slo_run.get_asset_materialization_events()} == {
        "slo_status_hourly"
    }
