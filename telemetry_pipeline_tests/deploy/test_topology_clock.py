"""The split-topology proof's choice of tick and hour (scripts/split-topology); the proof itself
takes ~2.5 min on a shared 2-core machine, so it runs as the script, not in `make test`."""

from __future__ import annotations

from datetime import UTC, datetime

from dagster import build_schedule_context

from telemetry_pipeline.definitions import defs
from telemetry_pipeline_tests.deploy.topology import HOURLY_SCHEDULE, latest_tick


def test_latest_tick_is_the_last_hh05_at_or_before_now() -> None:
    assert latest_tick(datetime(2026, 3, 1, 11, 29, 8, tzinfo=UTC)) == datetime(2026, 3, 1, 11, 5, tzinfo=UTC)
    assert latest_tick(datetime(2026, 3, 1, 11, 5, tzinfo=UTC)) == datetime(2026, 3, 1, 11, 5, tzinfo=UTC)
    assert latest_tick(datetime(2026, 3, 1, 0, 4, 59, tzinfo=UTC)) == datetime(2026, 2, 28, 23, 5, tzinfo=UTC)


def test_that_tick_of_the_real_schedule_runs_the_hour_before_it() -> None:
    """The proof posts its events into this hour: the schedule's own run request must name it."""
    schedule = defs.resolve_schedule_def(HOURLY_SCHEDULE)
    tick = latest_tick(datetime(2026, 3, 1, 11, 29, tzinfo=UTC))
    (request,) = schedule.evaluate_tick(build_schedule_context(scheduled_execution_time=tick)).run_requests
    assert request.partition_key == "2026-03-01-10:00"
