"""The collector served by uvicorn on a loopback port, hit with real HTTP requests."""

from __future__ import annotations

import gzip
import http.client
import json
import logging
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import urlsplit

import orjson
import psycopg
import pytest

from telemetry_pipeline.apps.collector import CollectorConfig, create_app
from telemetry_pipeline.apps.dashboard.server import running
from telemetry_pipeline.core.events.github import sign

TOKEN = "tok-3f9a1c77e2"
SECRET = "whsec-8d2b5e"


@pytest.fixture(scope="module")
def collector(warehouse_url: str) -> Iterator[str]:
    config = CollectorConfig(warehouse_url, TOKEN, SECRET, max_body_bytes=64 * 1024, pool_size=2)
    with running(create_app(config)) as base:
        yield base


def request(base: str, path: str, body: bytes | None = None, headers: dict | None = None, method: str = "POST"):
    """(status, decoded JSON answer) of one HTTP request."""
    req = urllib.request.Request(base + path, data=body, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def post_events(base: str, body: bytes, token: str = TOKEN, content_type: str = "application/x-ndjson"):
    return request(base, "/v1/events", body, {"Authorization": f"Bearer {token}", "Content-Type": content_type})


def event(n: int, **changes) -> dict:
    return {
        "event_type": "provenance.validation",
        "event_timestamp": f"2025-03-04T11:{n:02d}:00+00:00",
        "run_id": 500 + n,
        "metadata": {"status": "success", "duration_ms": 1000 + n},
        **changes,
    }


def query(url: str, sql: str, *params) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, params).fetchall()


def test_healthz_reports_the_warehouse(collector):
    assert request(collector, "/healthz", method="GET") == (200, {"status": "ok", "database": "ok"})


def test_one_json_event_is_stored_with_now_as_default_timestamp(collector, warehouse):
    before = datetime.now(UTC)
    status, answer = post_events(
        collector, json.dumps(event(1, event_timestamp=None), indent=2).encode(), content_type="application/json"
    )
    after = datetime.now(UTC)
    assert status == 202
    assert (answer["accepted"], answer["duplicates"], answer["rejected"], answer["reasons"]) == (1, 0, 0, [])
    [(run_id, ts, duration)] = query(
        warehouse.url(), "select run_id, event_timestamp, m_duration_ms from public.telemetry_events"
    )
    assert run_id == 501 and duration == 1001.0 and before <= ts <= after


def test_an_ndjson_batch_stores_the_valid_quarantines_the_invalid_and_counts_duplicates(collector, warehouse):
    body = b"\n".join([
        orjson.dumps(event(1, event_id="c-1")),
        orjson.dumps(event(2, event_timestamp="2025-03-04T11:02:00")),
        b"",
        orjson.dumps(event(3, event_id="c-1")),
        b"{broken",
        orjson.dumps(event(4, metadata={"status": "success", "duration_ms": "-2"})),
        orjson.dumps(event(5)),
    ]) + b"\n"
    status, answer = post_events(collector, body)
    assert status == 202
    assert (answer["accepted"], answer["duplicates"], answer["rejected"]) == (2, 1, 3)
    assert [(r["line"], r["reason"].split(":")[0]) for r in answer["reasons"]] == [
        (2, "bad_timestamp"), (5, "bad_json"), (6, "bad_metadata")
    ]
    assert answer["reasons"][0]["reason"] == "bad_timestamp: no UTC offset"
    assert query(warehouse.url(), "select run_id from public.telemetry_events order by 1") == [(501,), (505,)]
    rejected = query(
        warehouse.url(),
        "select line_number, reason_code, source, batch_id, raw from public.telemetry_events_rejected order by 1",
    )
    assert [(r[0], r[1], r[2], r[3]) for r in rejected] == [
        (2, "bad_timestamp", "collector", answer["batch_id"]),
        (5, "bad_json", "collector", answer["batch_id"]),
        (6, "bad_metadata", "collector", answer["batch_id"]),
    ]
    assert rejected[1][4] == "{broken"


@pytest.mark.parametrize(
    "authorization", [None, "Bearer wrong-token", f"Basic {TOKEN}", f"Bearer {TOKEN}x", "Bearer"]
)
def test_a_missing_or_wrong_token_is_401_and_stores_nothing(collector, warehouse, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    status, answer = request(collector, "/v1/events", orjson.dumps(event(1)), headers)
    assert status == 401 and TOKEN not in json.dumps(answer)
    assert query(warehouse.url(), "select count(*) from public.telemetry_events") == [(0,)]


def test_an_oversized_body_is_413_by_declared_length(collector, warehouse):
    body = b"".join(orjson.dumps(event(n % 60, tag="x" * 200)) + b"\n" for n in range(400))
    assert len(body) > 64 * 1024
    status, answer = post_events(collector, body)
    assert status == 413 and "larger than 65536 bytes" in answer["error"]
    assert query(warehouse.url(), "select count(*) from public.telemetry_events") == [(0,)]


def test_an_oversized_chunked_body_is_413_while_streaming(collector, warehouse):
    parts = urlsplit(collector)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    line = orjson.dumps(event(1, tag="y" * 500)) + b"\n"
    conn.request(
        "POST", "/v1/events", body=iter([line] * 200), encode_chunked=True,
        headers={"Authorization": f"Bearer {TOKEN}", "Transfer-Encoding": "chunked"},
    )
    response = conn.getresponse()
    assert response.status == 413
    conn.close()
    assert query(warehouse.url(), "select count(*) from public.telemetry_events") == [(0,)]


def test_a_gzip_batch_is_accepted_and_a_gzip_bomb_refused(collector, warehouse):
    body = gzip.compress(b"".join(orjson.dumps(event(n)) + b"\n" for n in range(3)))
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Encoding": "gzip"}
    status, answer = request(collector, "/v1/events", body, headers)
    assert (status, answer["accepted"]) == (202, 3)
    bomb = gzip.compress(b" " * (10 * 64 * 1024))  # 640 KiB of blanks in ~1 KiB
    assert len(bomb) < 64 * 1024
    assert request(collector, "/v1/events", bomb, headers)[0] == 413
    assert request(collector, "/v1/events", b"not gzip", headers) == (
        400, {"error": "body is not valid gzip (corrupt data)"}
    )
    status, answer = request(collector, "/v1/events", body, {**headers, "Content-Encoding": "br"})
    assert status == 415 and "'br' is not supported" in answer["error"]
    assert query(warehouse.url(), "select count(*) from public.telemetry_events") == [(3,)]


def test_every_gzip_member_is_stored_and_a_damaged_gzip_body_stores_nothing(collector, warehouse):
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Encoding": "gzip"}
    first = gzip.compress(b"".join(orjson.dumps(event(n)) + b"\n" for n in range(2)))
    second = gzip.compress(orjson.dumps(event(7)) + b"\n")
    status, answer = request(collector, "/v1/events", first + second, headers)  # cat a.gz b.gz
    assert (status, answer["accepted"], answer["rejected"]) == (202, 3, 0)
    fresh = [gzip.compress(orjson.dumps(event(n)) + b"\n") for n in (20, 21)]
    damaged = {
        "truncated": fresh[0][:-5],
        "truncated second member": fresh[0] + fresh[1][:-3],
        "trailing garbage": fresh[0] + b"garbage",
        "corrupt checksum": fresh[0][:-8] + bytes(8),
        "corrupt header of a second member": fresh[0] + b"\x1f\x8b\x00junk",
    }
    answers = {name: request(collector, "/v1/events", body, headers) for name, body in damaged.items()}
    assert {name: status for name, (status, _) in answers.items()} == dict.fromkeys(damaged, 400)
    assert answers["truncated"][1] == {"error": "body is not valid gzip (truncated)"}
    assert answers["trailing garbage"][1] == {
        "error": "body is not valid gzip (trailing bytes after the last member)"
    }
    assert query(warehouse.url(), "select run_id from public.telemetry_events order by run_id") == [
        (500,), (501,), (507,)
    ]


def test_hostile_numbers_are_quarantined_and_never_cost_the_good_events(collector, warehouse):
    good = json.dumps(event(1, metadata={"status": "success", "big": 10**40})).encode()
    lines = [
        good,
        json.dumps(event(2)).replace('"run_id": 502', '"run_id": 1e300000').encode(),
        json.dumps(event(3)).replace('"run_id": 503', '"run_id": -9223372036854775809').encode(),
        json.dumps(event(4)).replace('"duration_ms": 1004', '"duration_ms": 1004, "x": 1e200000').encode(),
        orjson.dumps(event(5, run_id=9223372036854775807)),
    ]
    status, answer = post_events(collector, b"\n".join(lines))
    assert (status, answer["accepted"], answer["rejected"]) == (202, 2, 3)
    assert [r["reason"].split(":")[0] for r in answer["reasons"]] == ["bad_run_id", "bad_run_id", "bad_metadata"]
    pretty = json.dumps(event(6), indent=2).replace('"run_id": 506', '"run_id": 1E+999999999').encode()
    status, answer = post_events(collector, pretty, content_type="application/json")  # one document
    assert (status, answer["rejected"], answer["reasons"][0]["line"]) == (202, 1, 1)
    assert answer["reasons"][0]["reason"] == "bad_run_id: out of the 64-bit integer range"
    assert request(collector, "/healthz", method="GET")[0] == 200
    assert query(warehouse.url(), "select run_id, metadata->>'big' from public.telemetry_events order by 1") == [
        (501, str(10**40)), (9223372036854775807, None)
    ]


def test_an_empty_body_is_400(collector):
    assert post_events(collector, b"  \n")[0] == 400


# --- GitHub webhooks -------------------------------------------------------------------------


def run_payload(conclusion: str = "success", action: str = "completed", **run) -> bytes:
    workflow_run = {
        "id": 987654321, "name": "release", "head_branch": "v1.2.3", "run_number": 42, "run_attempt": 1,
        "workflow_id": 7, "event": "push", "head_sha": "abc123", "status": "completed",
        "conclusion": conclusion, "run_started_at": "2025-03-04T10:00:00Z", "updated_at": "2025-03-04T10:07:30Z",
        "html_url": "https://github.com/acme/app/actions/runs/987654321", **run,
    }
    return orjson.dumps({"action": action, "workflow_run": workflow_run, "repository": {"full_name": "acme/app"}})


def deliver(base: str, body: bytes, delivery: str = "d-1", event_name: str = "workflow_run", signature: str | None = None):
    headers = {
        "X-GitHub-Event": event_name,
        "X-GitHub-Delivery": delivery,
        "X-Hub-Signature-256": signature if signature is not None else sign(SECRET, body),
        "Content-Type": "application/json",
    }
    return request(base, "/v1/github/webhook", body, headers)


def test_a_completed_workflow_run_becomes_a_workflow_run_event(collector, warehouse):
    status, answer = deliver(collector, run_payload(), delivery="72d3162e-cc78-11e3-81ab-4c9367dc0958")
    assert status == 202 and answer["accepted"] == 1
    [row] = query(
        warehouse.url(),
        "select event_type, event_timestamp, run_id, tag, event_id, m_status, m_duration_ms, metadata->>'repository',"
        " metadata->>'delivery_id' from public.telemetry_events",
    )
    assert row == (
        "workflow.run", datetime(2025, 3, 4, 10, 7, 30, tzinfo=UTC), 987654321, "v1.2.3",
        "github:workflow_run:987654321:1", "success", 450_000.0, "acme/app", "72d3162e-cc78-11e3-81ab-4c9367dc0958",
    )


def test_a_redelivery_is_stored_once(collector, warehouse):
    body = run_payload("failure")
    assert deliver(collector, body, delivery="same-guid")[1]["accepted"] == 1
    status, answer = deliver(collector, body, delivery="same-guid")
    assert status == 202 and (answer["accepted"], answer["duplicates"]) == (0, 1)
    assert query(warehouse.url(), "select count(*) from public.telemetry_events") == [(1,)]


@pytest.mark.parametrize(
    ("conclusion", "status"),
    [("success", "success"), ("failure", "failure"), ("timed_out", "error"), ("cancelled", "cancelled"),
     ("startup_failure", "error")],
)
def test_conclusions_map_to_statuses(collector, warehouse, conclusion, status):
    for event_name, body in (("workflow_run", run_payload(conclusion)), ("workflow_job", job_payload(conclusion))):
        assert deliver(collector, body, delivery=f"d-{event_name}-{conclusion}", event_name=event_name)[0] == 202
    assert query(warehouse.url(), "select event_type, m_status from public.telemetry_events order by 1") == [
        ("workflow.job", status), ("workflow.run", status)
    ]


def test_one_run_seen_by_a_repository_and_an_organisation_webhook_is_stored_once(collector, warehouse):
    answers = [
        deliver(collector, run_payload("failure"), delivery="repo-hook-guid")[1],
        deliver(collector, run_payload("failure"), delivery="org-hook-guid")[1],
        deliver(collector, job_payload("failure"), delivery="repo-job-guid", event_name="workflow_job")[1],
        deliver(collector, job_payload("failure"), delivery="org-job-guid", event_name="workflow_job")[1],
        deliver(collector, run_payload("success", run_attempt=2), delivery="re-run-guid")[1],  # a re-run
    ]
    assert [(a["accepted"], a["duplicates"]) for a in answers] == [(1, 0), (0, 1), (1, 0), (0, 1), (1, 0)]
    assert query(
        warehouse.url(),
        "select event_id, m_status, metadata->>'delivery_id' from public.telemetry_events order by event_id",
    ) == [
        ("github:workflow_job:55:1", "failure", "repo-job-guid"),
        ("github:workflow_run:987654321:1", "failure", "repo-hook-guid"),
        ("github:workflow_run:987654321:2", "success", "re-run-guid"),
    ]


@pytest.mark.parametrize(
    ("body", "event_name", "ignored"),
    [
        (run_payload(action="in_progress"), "workflow_run", "workflow_run action 'in_progress' is not recorded"),
        (run_payload("skipped"), "workflow_run", "workflow_run conclusion 'skipped' is not recorded"),
        (b'{"action": "opened"}', "pull_request", "event 'pull_request' is not recorded"),
    ],
)
def test_deliveries_without_telemetry_are_acknowledged_and_ignored(collector, warehouse, body, event_name, ignored):
    status, answer = deliver(collector, body, event_name=event_name)
    assert (status, answer["ignored"].startswith(ignored)) == (202, True)
    assert query(warehouse.url(), "select count(*) from public.telemetry_events") == [(0,)]


def job_payload(conclusion: str = "failure", **changes) -> bytes:
    job = {
        "id": 55, "run_id": 987654321, "run_attempt": 1, "name": "build", "workflow_name": "release",
        "head_branch": "main", "conclusion": conclusion, "started_at": "2025-03-04T10:01:00Z",
        "completed_at": "2025-03-04T10:01:02.500Z", "runner_name": "ubuntu-1", **changes,
    }
    return orjson.dumps({"action": "completed", "workflow_job": job})


def test_a_completed_workflow_job_becomes_a_workflow_job_event(collector, warehouse):
    body = job_payload()
    status, answer = deliver(collector, body, delivery="job-1", event_name="workflow_job")
    assert status == 202 and answer["accepted"] == 1
    assert query(
        warehouse.url(), "select event_type, run_id, m_status, m_duration_ms, metadata->>'job' from public.telemetry_events"
    ) == [("workflow.job", 987654321, "failure", 2500.0, "build")]


@pytest.mark.parametrize("signature", ["", "sha256=" + "0" * 64, "sha1=abc", sign("other-secret", run_payload())])
def test_a_bad_signature_is_401(collector, warehouse, signature):
    status, answer = deliver(collector, run_payload(), signature=signature)
    assert status == 401 and SECRET not in json.dumps(answer)
    assert query(warehouse.url(), "select count(*) from public.telemetry_events") == [(0,)]


def test_a_tampered_body_fails_the_signature(collector, warehouse):
    body = run_payload()
    tampered = body.replace(b'"success"', b'"failure"')
    assert deliver(collector, tampered, signature=sign(SECRET, body))[0] == 401
    assert query(warehouse.url(), "select count(*) from public.telemetry_events") == [(0,)]


def test_a_signed_payload_missing_times_is_quarantined(collector, warehouse):
    status, answer = deliver(collector, run_payload(run_started_at=None), delivery="no-start")
    assert status == 202 and answer["rejected"] == 1
    assert answer["reasons"][0]["reason"] == "bad_github_payload: workflow_run.run_started_at is missing"
    assert query(warehouse.url(), "select source, reason_code from public.telemetry_events_rejected") == [
        ("github", "bad_github_payload")
    ]


def test_ping_is_answered(collector):
    assert deliver(collector, b'{"zen": "Keep it logically awesome."}', event_name="ping") == (200, {"pong": True})


# --- configuration and failures --------------------------------------------------------------


def test_an_endpoint_without_its_secret_is_disabled(warehouse_url):
    with running(create_app(CollectorConfig(warehouse_url, token=None, webhook_secret=None))) as base:
        status, answer = post_events(base, orjson.dumps(event(1)))
        assert status == 503 and "TELEMETRY_COLLECTOR_TOKEN is not set" in answer["error"]
        status, answer = deliver(base, run_payload())
        assert status == 503 and "GITHUB_WEBHOOK_SECRET is not set" in answer["error"]


def test_an_unreachable_warehouse_is_503_and_secrets_stay_out_of_logs(caplog):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"postgresql://telemetry:db-pass-771@127.0.0.1:{port}/telemetry"
    caplog.set_level(logging.DEBUG)
    config = CollectorConfig(url, TOKEN, SECRET, pool_size=1, db_timeout=0.5)
    with running(create_app(config)) as base:
        assert request(base, "/healthz", method="GET") == (503, {"status": "degraded", "database": "unreachable"})
        status, answer = post_events(base, orjson.dumps(event(1)))
        assert status == 503 and answer == {"error": "warehouse unavailable, retry later"}
        post_events(base, orjson.dumps(event(1)), token="wrong")
    for secret in (TOKEN, SECRET, "db-pass-771"):
        assert secret not in caplog.text
        assert secret not in repr(config)


def test_serve_refuses_to_start_without_any_secret(monkeypatch, warehouse_url):
    from click.testing import CliRunner

    from telemetry_pipeline.cli import cli

    monkeypatch.delenv("TELEMETRY_COLLECTOR_TOKEN", raising=False)
    monkeypatch.delenv("GITHUB_WEBHOOK_SECRET", raising=False)
    result = CliRunner().invoke(cli, ["collector", "serve", "--port", "0"])
    assert result.exit_code == 1
    assert "neither TELEMETRY_COLLECTOR_TOKEN nor GITHUB_WEBHOOK_SECRET is set" in result.output
    monkeypatch.setenv("TELEMETRY_COLLECTOR_MAX_BODY_BYTES", "lots")
    monkeypatch.setenv("TELEMETRY_COLLECTOR_TOKEN", TOKEN)
    result = CliRunner().invoke(cli, ["collector", "serve", "--port", "0"])
    assert result.exit_code == 1 and "TELEMETRY_COLLECTOR_MAX_BODY_BYTES='lots' is not a positive integer" in result.output
