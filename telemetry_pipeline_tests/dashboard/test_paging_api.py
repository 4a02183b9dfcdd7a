"""Paging in the JSON API: budget and burn as of now, episodes, NO DATA, maintenance windows.

Every expected number is derived by hand in paging_rows.py from the rows it writes.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from telemetry_pipeline.apps.dashboard.app import create_app
from telemetry_pipeline.apps.dashboard.server import running
from telemetry_pipeline.core.slos.budget_now import budgets_now
from telemetry_pipeline.core.slos.config import load_slos
from telemetry_pipeline_tests.dashboard import paging_rows
from telemetry_pipeline_tests.dashboard.conftest import get
from telemetry_pipeline_tests.dashboard.paging_rows import AT_1210, NOW


@pytest.fixture(scope="module")
def outage(warehouse_url: str) -> Iterator[str]:
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        paging_rows.seed(conn)
    yield warehouse_url
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        paging_rows.empty(conn)


@pytest.fixture(scope="module")
def base(outage: str) -> Iterator[str]:
    with running(create_app(outage, clock=lambda: NOW)) as url:
        yield url


def send(base: str, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None,
         ) -> tuple[int, Any]:
    request = urllib.request.Request(base + path, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def post_json(base: str, fields: dict[str, Any], **headers: str) -> tuple[int, Any]:
    return send(base, "POST", "/api/maintenance", json.dumps(fields).encode(),
                {"Content-Type": "application/json", **headers})


def _row(body: dict[str, Any], slo: str, sli: str) -> dict[str, Any]:
    return next(r for r in body["slis"] if r["slo_name"] == slo and r["sli"] == sli)


def test_budget_as_of_now_counts_the_open_hour(outage: str) -> None:
    with psycopg.connect(outage) as conn:
        found = {(b.slo_name, b.sli): b for b in budgets_now(conn, load_slos(), NOW)}
    avail = found[("validation", "availability")]
    assert (avail.closed_days, avail.closed_rows, avail.closed_bad) == (29, 280000, 28)
    assert (avail.open_from, avail.open_rows, avail.open_bad) == (paging_rows.D, 4140, 180)
    assert avail.remaining == pytest.approx(paging_rows.BUDGET_NOW)  # 26.7966 %
    assert {w: (b.rows, b.bad) for w, b in avail.windows.items()} == {
        "5m": (30, 30), "30m": (180, 180), "1h": (360, 180), "6h": (2160, 180)}
    assert avail.windows["1h"].rate == pytest.approx(500.0)
    errors = found[("validation", "error_rate")]
    assert (errors.closed_days, errors.open_rows, errors.open_bad) == (0, 4141, 181)
    assert errors.remaining == pytest.approx(paging_rows.ERROR_RATE_BUDGET_NOW)  # -774.19 %
    # no rows at all: no budget rather than a full one
    assert found[("audit_observer", "availability")].remaining is None


def test_slo_status_answers_as_of_now_and_as_of_the_views_end(base: str) -> None:
    status, body = get(base, "/api/slo-status?range=24h&granularity=hour&slo=validation")
    assert status == 200 and body["as_of"] == "2025-03-10T12:30:00Z"
    avail = _row(body, "validation", "availability")
    assert avail["error_budget_remaining"] == pytest.approx(97.7)  # the newest closed day, as before
    now = avail["now"]
    assert now["error_budget_remaining"] == pytest.approx(paging_rows.BUDGET_NOW)
    assert (now["window_start"], now["open_from"], now["closed_days"]) == (
        "2025-02-09T00:00:00Z", "2025-03-10T00:00:00Z", 29)
    assert {w: v["burn_rate"] for w, v in now["burn"].items()} == pytest.approx(
        {"5m": 1000.0, "30m": 1000.0, "1h": 500.0, "6h": 1000 * 180 / 2160})
    assert _row(body, "validation", "latency_p95")["now"] is None

    # "now" driven by the view: to=12:10 is 10 minutes into the outage
    status, body = get(base, f"/api/slo-status?from=2025-03-09T12:10:00Z&to={AT_1210:%Y-%m-%dT%H:%M:%SZ}&slo=validation")
    assert status == 200 and body["as_of"] == "2025-03-10T12:10:00Z"
    assert _row(body, "validation", "availability")["now"]["error_budget_remaining"] == pytest.approx(
        paging_rows.BUDGET_1210)  # 69.0163 %


def test_paging_lists_episodes_no_data_and_windows_with_their_charts(base: str) -> None:
    status, body = get(base, "/api/paging?range=24h&granularity=hour")
    assert status == 200 and body["as_of"] == "2025-03-10T12:30:00Z"
    assert body["episodes"] == [
        {"slo_name": "validation", "sli": "error_rate", "started_at": "2025-03-10T08:00:00Z",
         "ended_at": "2025-03-10T08:30:00Z", "open": False, "pair": "6h&30m>=6",
         "last_firing_at": "2025-03-10T08:20:00Z", "metrics": ["validation_failure_rate"]},
        {"slo_name": "validation", "sli": "availability", "started_at": "2025-03-10T12:01:00Z", "ended_at": None,
         "open": True, "pair": "1h&5m>=14.4", "last_firing_at": "2025-03-10T12:29:00Z",
         "metrics": ["validation_availability"]},
    ]
    assert body["no_data"] == [
        {"slo_name": "audit_observer", "source": "audits", "last_row_at": "2025-03-10T09:00:00Z",
         "raised_at": "2025-03-10T11:00:00Z", "resolved_at": None, "open": True,
         "metrics": ["audit_availability", "audit_p95_duration_ms", "audit_failure_rate"]},
    ]
    [window] = body["maintenance"]
    assert (window["slo_name"], window["sli"], window["starts_at"], window["ends_at"], window["active"]) == (
        "validation", None, "2025-03-10T03:00:00Z", "2025-03-10T04:00:00Z", False)
    assert window["metrics"] == ["validation_availability", "validation_p95_duration_ms", "validation_failure_rate"]

    # as of 08:10 the error-rate episode was still open and the NO DATA not raised yet
    status, body = get(base, "/api/paging?from=2025-03-10T00:00:00Z&to=2025-03-10T08:10:00Z")
    assert [(e["sli"], e["open"], e["ended_at"]) for e in body["episodes"]] == [("error_rate", True, None)]
    assert body["no_data"] == []
    # the SLO filter narrows all three
    assert get(base, "/api/paging?range=24h&slo=provenance_generation")[1]["episodes"] == []


def test_maintenance_window_created_listed_and_deleted(base: str, outage: str) -> None:
    status, created = post_json(base, {"slo": "validation", "sli": "availability", "from": "now", "to": "+2h",
                                       "reason": "planned failover"})
    assert status == 201
    assert (created["starts_at"], created["ends_at"], created["active"]) == (
        "2025-03-10T12:30:00Z", "2025-03-10T14:30:00Z", True)
    listed = get(base, "/api/maintenance")[1]["windows"]
    assert [(w["id"], w["reason"]) for w in listed] == [(created["id"], "planned failover")]  # 03:00-04:00 ended
    assert len(get(base, "/api/maintenance?all=1")[1]["windows"]) == 2
    # a form post from the page itself (its Origin) works as well
    status, form = send(base, "POST", "/api/maintenance",
                        b"slo=audit_observer&sli=&from=2025-03-11T00:00Z&to=2025-03-11T01:00Z&reason=upgrade",
                        {"Content-Type": "application/x-www-form-urlencoded", "Origin": base})
    assert status == 201 and form["sli"] is None and form["slo_name"] == "audit_observer"
    assert send(base, "DELETE", f"/api/maintenance/{created['id']}") == (200, {"deleted": created["id"]})
    assert send(base, "DELETE", f"/api/maintenance/{form['id']}")[0] == 200
    assert send(base, "DELETE", f"/api/maintenance/{form['id']}")[0] == 404
    with psycopg.connect(outage) as conn:
        assert conn.execute("select count(*) from public.slo_maintenance_windows").fetchone() == (1,)


@pytest.mark.parametrize(("fields", "field", "message"), [
    ({"slo": "nope", "from": "now", "to": "+1h", "reason": "x"}, "slo", "unknown SLO 'nope'"),
    ({"slo": "validation", "sli": "latency", "from": "now", "to": "+1h", "reason": "x"}, "sli", "has no SLI 'latency'"),
    ({"slo": "validation", "from": "yesterday", "to": "+1h", "reason": "x"}, "from", "'yesterday' is not a time"),
    ({"slo": "validation", "from": "2025-03-10T10:00Z", "to": "2025-03-10T09:00Z", "reason": "x"}, "to",
     "to must be after from"),
    ({"slo": "validation", "from": "now", "to": "+8d", "reason": "x"}, "to", "at most 7 days"),
    ({"slo": "validation", "from": "now", "to": "+1h", "reason": " "}, "reason", "is required"),
    ({"slo": "validation", "from": "now", "to": "+1h"}, "reason", "is required"),
    ({"slo": "validation", "from": "now", "to": "+1h", "reason": "x", "until": "1"}, "until", "unknown field"),
    ({"slo": "validation", "from": 5, "to": "+1h", "reason": "x"}, "from", "must be text"),
    ({"slo": "validation", "from": "now", "to": "+1h", "reason": "a\x00b"}, "reason", "control characters"),
    ({"slo": "validation", "from": "now", "to": "+1h", "reason": "two\nlines"}, "reason", "control characters"),
    ({"slo": "validation", "from": "now", "to": "+1h", "reason": "x" * 501}, "reason", "at most 500 characters"),
])
def test_bad_field_is_a_400_naming_it(base: str, outage: str, fields: dict[str, Any], field: str, message: str) -> None:
    status, body = post_json(base, fields)
    assert status == 400, body
    assert body["field"] == field and message in body["message"]
    assert body["error"].startswith(f"bad field {field!r}: ")
    with psycopg.connect(outage) as conn:
        assert conn.execute("select count(*) from public.slo_maintenance_windows").fetchone() == (1,)


def test_writes_a_foreign_page_could_send_are_refused(base: str) -> None:
    good = {"slo": "validation", "from": "now", "to": "+1h", "reason": "x"}
    form = b"slo=validation&from=now&to=%2B1h&reason=x"
    urlencoded = {"Content-Type": "application/x-www-form-urlencoded"}
    cases = [
        post_json(base, good, Origin="http://evil.example"),  # JSON, but from another site's page
        send(base, "POST", "/api/maintenance", form, {**urlencoded, "Origin": "http://evil.example"}),
        send(base, "POST", "/api/maintenance", form, urlencoded),  # a form without Origin or Referer
        send(base, "POST", "/api/maintenance", form, {**urlencoded, "Referer": "http://evil.example/page"}),
        send(base, "POST", "/api/maintenance", json.dumps(good).encode(), {"Content-Type": "text/plain"}),
        send(base, "DELETE", "/api/maintenance/1", None, {"Origin": "http://evil.example"}),
    ]
    assert [status for status, _body in cases] == [403] * 6
    assert "not this dashboard" in cases[0][1]["error"]
    assert "Origin or Referer" in cases[2][1]["error"]
    assert send(base, "DELETE", "/api/maintenance/abc")[0] == 400
    status, body = post_json(base, {**good, "reason": "x" * 20000})
    assert status == 400 and body["field"] == "body"  # refused by its Content-Length
    assert get(base, "/api/maintenance")[1]["windows"] == []  # nothing was recorded


def test_a_read_only_role_gets_a_403_not_a_write(outage: str) -> None:
    with psycopg.connect(outage, autocommit=True) as conn:
        conn.execute("drop role if exists dashpaging_reader")
        conn.execute("create role dashpaging_reader login")
        conn.execute("grant usage on schema public to dashpaging_reader")
        conn.execute("grant select on all tables in schema public to dashpaging_reader")
    try:
        reader = psycopg.conninfo.make_conninfo(outage, user="dashpaging_reader")
        with running(create_app(reader, clock=lambda: NOW)) as url:
            status, body = post_json(url, {"slo": "validation", "from": "now", "to": "+1h", "reason": "x"})
            assert status == 403 and "cannot write maintenance windows" in body["error"]
            assert get(url, "/api/maintenance")[0] == 200
    finally:
        with psycopg.connect(outage, autocommit=True) as conn:
            conn.execute("drop owned by dashpaging_reader")
            conn.execute("drop role dashpaging_reader")


def test_budget_is_none_as_of_a_time_with_no_rows(base: str) -> None:
    """Before any row: no budget and no burn rates, not 100 %."""
    status, body = get(base, "/api/slo-status?from=2025-01-01T00:00:00Z&to=2025-01-02T00:00:00Z&slo=validation")
    now = _row(body, "validation", "availability")["now"]
    assert status == 200 and now["error_budget_remaining"] is None and now["burn"]["1h"]["burn_rate"] is None
