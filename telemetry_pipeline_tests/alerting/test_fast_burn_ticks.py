"""The fast-burn sensor's evaluations as the Dagster UI shows them: ticks in the instance.

The daemon's own loop (execute_sensor_iteration) runs one tick of slo_fast_burn_sensor from an
in-process code location; the tick the instance stored (what the UI's sensor page lists) must
name every SLI's burn rates and its cursor the instant evaluated. The sensor reads the wall
clock, so the rows sit well inside the 5-minute window of any tick within the next minutes.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from dagster import DagsterInstance, instance_for_test
from dagster._core.definitions.run_request import InstigatorType
from dagster._core.remote_origin import InProcessCodeLocationOrigin
from dagster._core.scheduler.instigation import TickStatus
from dagster._core.test_utils import create_test_daemon_workspace_context
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._core.workspace.load_target import InProcessWorkspaceLoadTarget
from dagster._daemon.sensor import execute_sensor_iteration

from telemetry_pipeline.defs.alerting.fast_burn import SENSOR_NAME

LOCATION = Path(__file__).with_name("fast_burn_location.py")


@pytest.fixture
def instance() -> Iterator[DagsterInstance]:
    with instance_for_test() as inst:
        yield inst


def _tick(instance: DagsterInstance):
    target = InProcessWorkspaceLoadTarget(InProcessCodeLocationOrigin(
        LoadableTargetOrigin(python_file=str(LOCATION), attribute="defs"), location_name="fast_burn_test"))
    with create_test_daemon_workspace_context(target, instance) as workspace:
        list(execute_sensor_iteration(workspace, logging.getLogger("test_fast_burn_ticks"), None, None))
        location = next(iter(workspace.create_request_context().get_code_location_entries().values()))
        assert location.code_location is not None, location.load_error
        repo = next(iter(location.code_location.get_repositories().values()))
        sensor = repo.get_sensor(SENSOR_NAME)
        return instance.get_ticks(sensor.get_remote_origin_id(), sensor.selector_id)


def test_each_tick_shows_every_slis_burn_rates_in_the_instance(db, instance: DagsterInstance) -> None:
    # 20 successes and 20 errors of validation in the last 2 minutes: every window holds 40 rows,
    # half bad: availability 0.5 / (1/1000) = 500x, error_rate (errors are failures too) 0.5 / (1/200) = 100x
    start = datetime.now(UTC) - timedelta(minutes=2)
    for i in range(40):
        db.execute("insert into public.telemetry_events (event_type, event_timestamp, metadata) "
                   "values ('provenance.validation', %s, jsonb_build_object('status', %s::text))",
                   (start + timedelta(seconds=i), "error" if i % 2 else "success"))
    before = datetime.now(UTC).replace(microsecond=0)
    [tick] = _tick(instance)
    assert tick.instigator_type is InstigatorType.SENSOR and tick.status is TickStatus.SKIPPED
    reason = tick.skip_reason or ""
    assert "fast burn: 2 episodes opened, 0 closed" in reason
    assert "validation/availability: 5m 500x (40 rows), 30m 500x (40 rows), 1h 500x (40 rows), 6h 500x (40 rows)" in reason
    assert "validation/error_rate: 5m 100x (40 rows)" in reason
    assert "audit_observer/availability: 5m n/a (0 rows)" in reason
    evaluated = datetime.fromisoformat(tick.cursor or "")
    assert before <= evaluated <= datetime.now(UTC)
    assert reason.endswith("no data: 0 raised, 0 resolved; deliveries: 0 sent, 0 retrying, 0 dead, 2 pending")

