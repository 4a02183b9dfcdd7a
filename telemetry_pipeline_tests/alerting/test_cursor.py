"""The storage-id cursor: every materialised partition is seen, in bounded pages, on any storage."""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Iterator

import psycopg
import pytest
from dagster import instance_for_test
from psycopg import sql

from telemetry_pipeline.core.warehouse import embedded
from telemetry_pipeline.defs.alerting.changes import MaterializationScan, parse_cursor
from telemetry_pipeline.defs.alerting.sensor import channels_of, run_tick
from telemetry_pipeline_tests.alerting.conftest import Sensor, email_resource, slack_resource
from telemetry_pipeline_tests.alerting.slo_rows import (
    HOUR,
    Row,
    alerts,
    materialize,
    period,
    report_materializations,
)


def test_scan_pages_through_every_partition_and_resumes_where_it_stopped(instance):
    start = parse_cursor(str(instance.event_log_storage.get_maximum_record_id() or 0))
    base = period("hour", 400)
    hours = [Row("validation", "availability", "hour", base + HOUR * i, 100.0, 10) for i in range(25)]
    days = [Row("validation", "availability", "day", period("day", 30 + i), 100.0, 10) for i in range(3)]
    report_materializations(instance, hours + days)

    full = MaterializationScan(instance, start, page_size=10)
    pages = list(full.pages())
    assert [(p.granularity, len(p.period_starts)) for p in pages] == [("hour", 10), ("hour", 10), ("hour", 5), ("day", 3)]
    assert sorted(s for p in pages if p.granularity == "hour" for s in p.period_starts) == [r.period_start for r in hours]
    assert full.events == 28 and full.next_cursor == instance.event_log_storage.get_maximum_record_id()

    # at most two pages per key and scan: the cursor stops after the 20th hour ...
    partial = MaterializationScan(instance, start, page_size=10, max_pages=2)
    seen_hours = [s for p in partial.pages() if p.granularity == "hour" for s in p.period_starts]
    assert len(seen_hours) == 20
    # ... and the next scan reads the 5 remaining hours (and the days again, harmlessly)
    rest = MaterializationScan(instance, partial.next_cursor, page_size=10, max_pages=2)
    rest_pages = list(rest.pages())
    assert sorted(s for p in rest_pages if p.granularity == "hour" for s in p.period_starts) == [
        r.period_start for r in hours[20:]]
    assert rest.next_cursor == full.next_cursor


def test_cursor_values():
    assert parse_cursor(None) == 0 and parse_cursor("") == 0 and parse_cursor("42") == 42
    with pytest.raises(ValueError, match="slo_alert_sensor cursor 'abc' is not a storage id"):
        parse_cursor("abc")


def test_backfill_in_many_pages_records_every_violation_suppressed(sensor, db, warehouse, slack_api):
    """A long backfill read 25 events per page: all 120 hours are evaluated, none pages."""
    base = period("hour", 24 * 30)
    rows = [Row("audit_observer", "availability", "hour", base + HOUR * i, 90.0 if i % 2 else 100.0, 20)
            for i in range(120)]
    materialize(db, sensor.instance, rows)
    channels = channels_of(sensor.resources["slack"], sensor.resources["email"])
    report = run_tick(sensor.instance, None, warehouse, channels, logging.getLogger("test"), page_size=25)
    states = [(a["kind"], a["state"]) for a in alerts(db)]
    assert states == [("violation", "suppressed")] * 60
    assert report.events >= 120 and slack_api.requests == []


@pytest.fixture
def postgres_instance(pg_server_url: str) -> Iterator:
    """A Dagster instance whose run/event storage is PostgreSQL (dagster-postgres, psycopg2 URL)."""
    name = f"tp_dagster_{os.getpid()}_{secrets.token_hex(3)}"
    url = embedded.ensure_database(pg_server_url, name)
    storage_url = url.replace("postgresql://", "postgresql+psycopg2://", 1)
    try:
        with instance_for_test(overrides={"storage": {"postgres": {"postgres_url": storage_url}}}) as inst:
            yield inst
    finally:
        with psycopg.connect(pg_server_url, autocommit=True) as conn:
            conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))


def test_sensor_on_postgres_instance_storage(postgres_instance, warehouse, db, slack_api, smtp):
    sensor = Sensor(postgres_instance, {"warehouse": warehouse, "slack": slack_resource(slack_api),
                                        "email": email_resource(smtp)})
    first = Row("validation", "error_rate", "hour", period("hour", 1), 3.0, 50)
    materialize(db, postgres_instance, [first, Row("validation", "error_rate", "day", period("day", 1), 1.0, 500)])
    sensor.tick()
    assert len(slack_api.messages) == 2
    materialize(db, postgres_instance, [first])  # re-materialised
    sensor.tick()
    sensor.restart()
    sensor.tick()
    assert len(slack_api.requests) == 2 and len(smtp.mails) == 2
    assert int(sensor.cursor) == postgres_instance.event_log_storage.get_maximum_record_id()
