"""`telemetry-pipeline emit`: to the warehouse, to the collector, and never breaking a release."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest
from click.testing import CliRunner, Result

from telemetry_pipeline.apps.collector import CollectorConfig, create_app
from telemetry_pipeline.apps.dashboard.server import running
from telemetry_pipeline.cli import cli

TOKEN = "emit-token-51c0"
STEP = ["--type", "provenance.generation", "--status", "success"]


def emit(*args: str) -> Result:
    return CliRunner().invoke(cli, ["emit", *args])


def query(url: str, sql: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql).fetchall()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def to_warehouse(monkeypatch, warehouse):
    monkeypatch.delenv("TELEMETRY_COLLECTOR_URL", raising=False)
    return warehouse


@pytest.fixture
def to_collector(monkeypatch, warehouse) -> Iterator:
    config = CollectorConfig(warehouse.url(), TOKEN, None, pool_size=1)
    with running(create_app(config)) as base:
        monkeypatch.setenv("TELEMETRY_COLLECTOR_URL", base)
        monkeypatch.setenv("TELEMETRY_COLLECTOR_TOKEN", TOKEN)
        yield warehouse


def test_emit_writes_the_event_to_the_warehouse_and_a_repeat_is_a_duplicate(to_warehouse):
    args = [
        "--type", "provenance.generation", "--status", "failure", "--duration-ms", "183000", "--run-id", "4242",
        "--tag", "v2.0.0", "--timestamp", "2025-03-04T10:15:00+01:00", "--meta", "artifact_size_bytes=2048",
        "--meta", "builder=slsa-github-generator", "--event-id", "4242-1-provenance",
    ]
    first, second = emit(*args), emit(*args)
    assert (first.exit_code, first.stdout) == (0, "provenance.generation: recorded (warehouse)\n")
    assert (second.exit_code, second.stdout) == (0, "provenance.generation: duplicate (warehouse)\n")
    assert query(
        to_warehouse.url(),
        "select event_timestamp, run_id, tag, event_id, m_status, m_duration_ms, m_artifact_size_bytes, "
        "metadata->>'builder' from public.telemetry_events",
    ) == [(datetime(2025, 3, 4, 9, 15, tzinfo=UTC), 4242, "v2.0.0", "4242-1-provenance", "failure", 183000.0,
           2048.0, "slsa-github-generator")]


def test_emit_sends_the_event_to_the_collector_when_configured(to_collector):
    before = datetime.now(UTC)
    result = emit(*STEP, "--duration-ms", "950", "--tag", "")  # an empty tag counts as not given
    after = datetime.now(UTC)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("provenance.generation: recorded (http://127.0.0.1:")
    [(ts, tag, duration)] = query(to_collector.url(), "select event_timestamp, tag, m_duration_ms from public.telemetry_events")
    assert before <= ts <= after and tag is None and duration == 950.0


def test_an_unreachable_collector_warns_and_exits_0_unless_strict(warehouse, monkeypatch):
    monkeypatch.setenv("TELEMETRY_COLLECTOR_URL", f"http://127.0.0.1:{closed_port()}")
    relaxed = emit(*STEP, "--attempts", "2")
    strict = emit(*STEP, "--attempts", "2", "--strict")
    assert relaxed.exit_code == 0 and "collector unreachable" in relaxed.stderr
    assert "(after 2 attempts)" in relaxed.stderr and "continuing" in relaxed.stderr
    assert strict.exit_code == 1 and "collector unreachable" in strict.stderr


def test_an_unreachable_warehouse_warns_and_exits_0_unless_strict(monkeypatch):
    monkeypatch.delenv("TELEMETRY_COLLECTOR_URL", raising=False)
    monkeypatch.setenv("TELEMETRY_DATABASE_URL", f"postgresql://postgres:pw-9x@127.0.0.1:{closed_port()}/telemetry")
    relaxed = emit(*STEP, "--attempts", "1")
    strict = emit(*STEP, "--attempts", "1", "--strict")
    assert relaxed.exit_code == 0 and "warehouse unreachable" in relaxed.stderr
    assert strict.exit_code == 1
    assert "pw-9x" not in relaxed.output + strict.output


def test_a_wrong_token_is_not_retried_and_never_shown(to_collector, monkeypatch):
    monkeypatch.setenv("TELEMETRY_COLLECTOR_TOKEN", "not-the-token")
    result = emit(*STEP, "--strict")
    assert result.exit_code == 1
    assert "collector answered 401 (check TELEMETRY_COLLECTOR_TOKEN)" in result.stderr
    assert "not-the-token" not in result.output and TOKEN not in result.output


@pytest.mark.parametrize("target", ["to_warehouse", "to_collector"])
def test_an_invalid_event_is_quarantined_and_warned_about(target, request):
    warehouse = request.getfixturevalue(target)
    relaxed = emit(*STEP, "--timestamp", "2025-03-04T10:00:00")
    strict = emit(*STEP, "--duration-ms", "-5", "--strict")
    assert relaxed.exit_code == 0 and "rejected" in relaxed.stderr
    assert "bad_timestamp: no UTC offset" in relaxed.stderr
    assert strict.exit_code == 3 and "bad_metadata: duration_ms must be a number >= 0" in strict.stderr
    source = "emit" if target == "to_warehouse" else "collector"
    assert query(warehouse.url(), "select source, reason_code from public.telemetry_events_rejected order by id") == [
        (source, "bad_timestamp"), (source, "bad_metadata")
    ]
    assert query(warehouse.url(), "select count(*) from public.telemetry_events") == [(0,)]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--type", "x"], "Missing option '--status'"),
        ([*STEP, "--status", "ok"], "'ok' is not one of"),
        ([*STEP, "--meta", "no-equals-sign"], "--meta 'no-equals-sign': expected KEY=VALUE"),
        ([*STEP, "--meta", "status=error"], "use --status instead"),
    ],
)
def test_usage_errors_exit_2(to_warehouse, args, message):
    result = emit(*args)
    assert result.exit_code == 2 and message in result.output
    assert query(to_warehouse.url(), "select count(*) from public.telemetry_events") == [(0,)]


def test_help_documents_the_exit_codes():
    text = emit("--help").output
    for line in ("0  recorded or duplicate", "1  --strict and the collector", "2  usage error", "3  --strict and the event"):
        assert line in text


def test_emit_records_repository_and_workflow_defaulting_to_the_github_variables(to_warehouse, monkeypatch):
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/pay-api")
    monkeypatch.setenv("GITHUB_WORKFLOW", "release")
    assert emit(*STEP, "--event-id", "a").exit_code == 0
    assert emit(*STEP, "--event-id", "b", "--repository", "acme/web", "--workflow", "build").exit_code == 0
    monkeypatch.delenv("GITHUB_REPOSITORY")
    monkeypatch.delenv("GITHUB_WORKFLOW")
    assert emit(*STEP, "--event-id", "c").exit_code == 0
    assert emit(*STEP, "--event-id", "d", "--meta", "repository=x/y", "--meta", "workflow=w").exit_code == 0
    monkeypatch.setenv("GITHUB_WORKFLOW", "release")
    assert emit(*STEP, "--event-id", "e", "--meta", "workflow=w", "--workflow", "ci").exit_code == 0
    assert query(to_warehouse.url(), "select event_id, m_repository, m_workflow from public.telemetry_events"
                 " order by event_id") == [("a", "acme/pay-api", "release"), ("b", "acme/web", "build"),
                                           ("c", None, None), ("d", "x/y", "w"), ("e", None, "ci")]
