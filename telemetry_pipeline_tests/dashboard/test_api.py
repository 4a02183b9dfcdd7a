"""The JSON API over real HTTP on the hand-made rows of rows.py (clock pinned at 2025-03-10 12:30 UTC).

Every expected number is derived by hand from the rules in rows.py's docstring.
"""

from __future__ import annotations

import gzip
import urllib.request
from pathlib import Path
from urllib.parse import quote

import plotly
import pytest

from telemetry_pipeline.apps.dashboard.app import create_app
from telemetry_pipeline.apps.dashboard.server import running
from telemetry_pipeline.core.kpis.catalog import METRICS
from telemetry_pipeline_tests.dashboard.conftest import get

ALL_METRICS = [m.name for m in METRICS]
ENDPOINTS = ("/api/kpis", "/api/slo-status", "/api/violations")


def series(body: dict, name: str) -> dict:
    return next(m for m in body["metrics"] if m["name"] == name)


def hours(*pairs: tuple[int, int]) -> list[str]:
    """ISO strings of (day of March 2025, hour) pairs."""
    return [f"2025-03-{d:02d}T{h:02d}:00:00Z" for d, h in pairs]


# --- /api/kpis -------------------------------------------------------------------------------


def test_default_view_is_last_7_days_hourly_every_metric(dashboard: str) -> None:
    status, body = get(dashboard, "/api/kpis")
    assert status == 200
    assert body["view"] == {
        "granularity": "hour",  # a 7-day span defaults to hours
        "range": "7d",
        "from": "2025-03-03T12:30:00Z",
        "to": "2025-03-10T12:30:00Z",
        "first_period": "2025-03-03T12:00:00Z",
        "metrics": ALL_METRICS,
        "slos": ["provenance_generation", "validation", "audit_observer"],
    }
    assert body["downsampled"] is False  # 169 periods < 1000
    counts = {m["name"]: len(m["points"]["value"]) for m in body["metrics"]}
    # every seeded metric has its 48 hourly rows in the week, the others none
    assert counts == {name: 48 if name in {"provenance_availability", "provenance_failure_rate",
                                           "provenance_p95_duration_ms", "audit_success_rate",
                                           "event_count"} else 0 for name in ALL_METRICS}


def test_range_24h_hourly_values_and_samples(dashboard: str) -> None:
    status, body = get(dashboard, "/api/kpis?range=24h&granularity=hour&metric=event_count")
    assert status == 200
    assert body["view"]["first_period"] == "2025-03-09T12:00:00Z"
    points = series(body, "event_count")["points"]
    # periods 2025-03-09 12:00 (k = 24) .. 2025-03-10 11:00 (k = 1); event_count = 100 + k
    assert points["period_start"] == hours(*[(9, h) for h in range(12, 24)], *[(10, h) for h in range(12)])
    assert points["value"] == [100.0 + k for k in range(24, 0, -1)]
    # k = 13 (2025-03-09 23:00, index 11) is the low-sample hour
    assert points["sample_size"] == [5 if i == 11 else 20 for i in range(24)]
    assert set(points) == {"period_start", "value", "sample_size"}  # no min/max when not downsampled


def test_slo_target_and_violating_periods_on_a_series(dashboard: str) -> None:
    _, body = get(dashboard, "/api/kpis?range=24h&granularity=hour&metric=provenance_availability")
    availability = series(body, "provenance_availability")
    assert availability["targets"] == [
        {"slo": "provenance_generation", "sli": "availability", "comparator": ">=", "target": 99.9}
    ]
    # k % 6 == 1 within k = 1..24 -> 1, 7, 13, 19; k = 13 has sample 5 < min_sample_size 10
    assert availability["violations"] == {
        "period_start": hours((9, 17), (10, 5), (10, 11)),
        "value": [99.5, 99.5, 99.5],
    }


def test_day_granularity_30d(dashboard: str) -> None:
    _, body = get(dashboard, "/api/kpis?range=30d&granularity=day&metric=provenance_availability&metric=event_count")
    assert body["view"]["first_period"] == "2025-02-08T00:00:00Z"
    event_count = series(body, "event_count")["points"]
    # days d = 30 (2025-02-08) .. 1 (2025-03-09); event_count = 2400 + d; sample 500
    assert len(event_count["value"]) == 30
    assert event_count["value"] == [2400.0 + d for d in range(30, 0, -1)]
    assert event_count["sample_size"] == [500] * 30
    # daily availability violates on d % 10 == 0: d = 30, 20, 10
    assert series(body, "provenance_availability")["violations"] == {
        "period_start": ["2025-02-08T00:00:00Z", "2025-02-18T00:00:00Z", "2025-02-28T00:00:00Z"],
        "value": [99.85, 99.85, 99.85],
    }


def test_week_granularity_has_no_rows(dashboard: str) -> None:
    _, body = get(dashboard, "/api/kpis?range=90d&granularity=week&metric=event_count")
    assert body["view"]["first_period"] == "2024-12-09T00:00:00Z"  # Monday on or before 2024-12-10
    assert series(body, "event_count")["points"]["value"] == []


@pytest.mark.parametrize(
    ("query", "expected_first", "expected_values"),
    [
        # 2025-03-09 00:00..06:00 are k = 36..31
        ("from=2025-03-09T00:00:00Z&to=2025-03-09T06:00:00Z&granularity=hour",
         "2025-03-09T00:00:00Z", [136.0, 135.0, 134.0, 133.0, 132.0, 131.0]),
        # the same instant with a +02:00 offset, encoded, and with the '+' left unencoded (a space)
        (f"from={quote('2025-03-09T02:00:00+02:00')}&to=2025-03-09T06:00:00Z&granularity=hour",
         "2025-03-09T00:00:00Z", [136.0, 135.0, 134.0, 133.0, 132.0, 131.0]),
        ("from=2025-03-09T02:00:00+02:00&to=2025-03-09T06:00:00Z&granularity=hour",
         "2025-03-09T00:00:00Z", [136.0, 135.0, 134.0, 133.0, 132.0, 131.0]),
        # a date-time without offset is UTC; a mid-hour start shows the hour it falls in
        ("from=2025-03-09T04:30:00&to=2025-03-09T06:00:00&granularity=hour",
         "2025-03-09T04:00:00Z", [132.0, 131.0]),
        # dates are midnight UTC: days 2025-03-08 (d = 2) and 2025-03-09 (d = 1)
        ("from=2025-03-08&to=2025-03-10&granularity=day", "2025-03-08T00:00:00Z", [2402.0, 2401.0]),
        # `to` alone: the 7 days before it (2025-02-26 .. 2025-03-04 are d = 12..6)
        ("to=2025-03-05&granularity=day", "2025-02-26T00:00:00Z", [2412.0, 2411.0, 2410.0, 2409.0, 2408.0,
                                                                   2407.0, 2406.0]),
        # `from` alone: up to now (12:30); hours 09, 10, 11 are k = 3, 2, 1
        ("from=2025-03-10T09:00:00Z", "2025-03-10T09:00:00Z", [103.0, 102.0, 101.0]),
    ],
)
def test_custom_from_to(dashboard: str, query: str, expected_first: str, expected_values: list[float]) -> None:
    status, body = get(dashboard, f"/api/kpis?{query}&metric=event_count")
    assert status == 200, body
    assert body["view"]["range"] is None
    assert body["view"]["first_period"] == expected_first
    assert series(body, "event_count")["points"]["value"] == expected_values


def test_metric_filter_is_repeatable_and_keeps_catalog_order(dashboard: str) -> None:
    for query in ("metric=event_count&metric=provenance_availability", "metric=event_count,provenance_availability"):
        _, body = get(dashboard, f"/api/kpis?range=24h&{query}")
        assert [m["name"] for m in body["metrics"]] == ["provenance_availability", "event_count"]


def test_group_filter(dashboard: str) -> None:
    _, body = get(dashboard, "/api/kpis?range=24h&group=audit")
    assert [m["name"] for m in body["metrics"]] == [m.name for m in METRICS if m.group == "audit"]
    assert {m["group"] for m in body["metrics"]} == {"audit"}
    _, body = get(dashboard, "/api/kpis?range=24h&group=audit&group=operational")
    assert {m["group"] for m in body["metrics"]} == {"audit", "operational"}


def test_slo_filter_narrows_metrics_to_its_slis(dashboard: str) -> None:
    _, body = get(dashboard, "/api/kpis?range=24h&slo=provenance_generation")
    assert [m["name"] for m in body["metrics"]] == [
        "provenance_failure_rate", "provenance_availability", "provenance_p95_duration_ms",
    ]
    assert series(body, "provenance_p95_duration_ms")["targets"] == [
        {"slo": "provenance_generation", "sli": "latency_p95", "comparator": "<", "target": 300000.0}
    ]


def test_downsampling_buckets_with_mean_min_max(dashboard: str) -> None:
    view = "from=2025-03-08T12:00:00Z&to=2025-03-10T12:00:00Z&granularity=hour&max_points=10"
    _, body = get(dashboard, f"/api/kpis?{view}&metric=event_count&metric=provenance_availability")
    # 48 periods over a 10-point budget -> buckets of ceil(48 / 10) = 5 hours, 10 buckets
    assert (body["downsampled"], body["bucket_periods"], body["bucket_seconds"]) == (True, 5, 5 * 3600)
    points = series(body, "event_count")["points"]
    assert len(points["value"]) == 10
    assert points["period_start"][:2] == hours((8, 12), (8, 17))
    # bucket 0 = k 48..44: values 148..144; the last bucket = 09:00..11:00 (k = 3..1)
    assert (points["value"][0], points["min"][0], points["max"][0]) == (146.0, 144.0, 148.0)
    assert (points["sample_size"][0], points["periods"][0]) == (100, 5)
    assert (points["value"][-1], points["min"][-1], points["max"][-1]) == (102.0, 101.0, 103.0)
    assert (points["sample_size"][-1], points["periods"][-1]) == (60, 3)
    # violations (k = 43, 37, 31, 25, 19, 7, 1; k = 13 is low-sample) fall in buckets
    # (48 - k) // 5 = 1, 2, 3, 4, 5, 8, 9, each marked once at its worst value
    marks = series(body, "provenance_availability")["violations"]
    # bucket b starts 5 * b hours after 2025-03-08 12:00
    assert marks["period_start"] == hours((8, 17), (8, 22), (9, 3), (9, 8), (9, 13), (10, 4), (10, 9))
    assert marks["value"] == [99.5] * 7


# --- /api/slo-status ---------------------------------------------------------------------------


def test_slo_panel_24h_hourly(dashboard: str) -> None:
    status, body = get(dashboard, "/api/slo-status?range=24h&granularity=hour")
    assert status == 200
    rows = {(r["slo_name"], r["sli"]): r for r in body["slis"]}
    assert list(rows) == [(slo, sli) for slo in ("provenance_generation", "validation", "audit_observer")
                          for sli in ("availability", "latency_p95", "error_rate")]
    availability = rows[("provenance_generation", "availability")]
    assert availability["status"] == "violated"
    latest = availability["latest"]
    # the latest hour is k = 1 (2025-03-10 11:00): 99.5 with sample 20
    assert (latest["period_start"], latest["value"], latest["target"], latest["met"], latest["sample_size"]) == (
        "2025-03-10T11:00:00Z", 99.5, 99.9, False, 20)
    assert latest["partition"] == "2025-03-10-11:00"
    # budget from the latest daily row before 12:30 (d = 1: 50 + 1 and burn 1 / 10)
    assert (availability["error_budget_remaining"], availability["burn_rate_day"],
            availability["budget_period_start"]) == (51.0, 0.1, "2025-03-09T00:00:00Z")
    assert (availability["burn_rate_1h"], availability["burn_rate_6h"], availability["burn_rate_3d"],
            availability["burn_alert"], availability["burn_alert_windows"]) == (15.0, 7.0, 2.0, "page", "1h>=14.4")
    # 24 periods; violations k = 1, 7, 19 (k = 13 is below min_sample_size)
    assert (availability["periods_in_view"], availability["violations_in_view"]) == (24, 3)

    latency = rows[("provenance_generation", "latency_p95")]
    assert (latency["status"], latency["latest"]["value"], latency["error_budget_remaining"],
            latency["burn_rate_1h"], latency["violations_in_view"]) == ("met", 1000.0, None, None, 0)
    for sli in ("availability", "latency_p95", "error_rate"):
        empty = rows[("validation", sli)]
        assert (empty["status"], empty["latest"], empty["periods_in_view"]) == ("no_data", None, 0)


def test_slo_panel_low_sample_period(dashboard: str) -> None:
    # only hour k = 13 (2025-03-09 23:00): not met, but 5 rows < min_sample_size
    _, body = get(dashboard, "/api/slo-status?from=2025-03-09T23:00:00Z&to=2025-03-10T00:00:00Z"
                             "&granularity=hour&slo=provenance_generation&metric=provenance_availability")
    (row,) = body["slis"]
    assert (row["status"], row["latest"]["met"], row["latest"]["sample_size"]) == ("low_sample", False, 5)
    assert (row["periods_in_view"], row["violations_in_view"]) == (1, 0)


def test_slo_panel_daily_and_filters(dashboard: str) -> None:
    _, body = get(dashboard, "/api/slo-status?range=30d&granularity=day&slo=provenance_generation")
    assert [r["sli"] for r in body["slis"]] == ["availability", "latency_p95", "error_rate"]
    availability = body["slis"][0]
    # latest day d = 1: 99.95 met; violations d = 30, 20, 10 of 30 days
    assert (availability["latest"]["value"], availability["status"]) == (99.95, "met")
    assert (availability["periods_in_view"], availability["violations_in_view"]) == (30, 3)
    _, body = get(dashboard, "/api/slo-status?range=24h&group=audit")
    assert [(r["slo_name"], r["sli"]) for r in body["slis"]] == [
        ("audit_observer", "availability"), ("audit_observer", "latency_p95"), ("audit_observer", "error_rate")]
    _, body = get(dashboard, "/api/slo-status?range=24h&group=operational")
    assert body["slis"] == []


# --- /api/violations ---------------------------------------------------------------------------


def test_violations_newest_first_with_dagster_links(dashboard: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DAGSTER_WEBSERVER_URL", "http://dagster.example:3000/")
    _, body = get(dashboard, "/api/violations?range=24h&granularity=hour")
    assert body["total"] == 6
    # k = 1, 7, 19 for availability and error_rate, newest first, catalog SLI order within a period
    assert [(v["period_start"], v["sli"]) for v in body["violations"]] == [
        ("2025-03-10T11:00:00Z", "availability"), ("2025-03-10T11:00:00Z", "error_rate"),
        ("2025-03-10T05:00:00Z", "availability"), ("2025-03-10T05:00:00Z", "error_rate"),
        ("2025-03-09T17:00:00Z", "availability"), ("2025-03-09T17:00:00Z", "error_rate"),
    ]
    first = body["violations"][0]
    assert (first["value"], first["target"], first["comparator"], first["sample_size"], first["burn_alert"]) == (
        99.5, 99.9, ">=", 20, "page")
    assert first["slo_status_url"] == "http://dagster.example:3000/assets/slo_status_hourly?partition=2025-03-10-11%3A00"
    assert first["kpi_url"] == "http://dagster.example:3000/assets/kpi_aggregations_hourly?partition=2025-03-10-11%3A00"
    error_rate = body["violations"][1]
    assert (error_rate["metric_name"], error_rate["value"], error_rate["target"]) == ("provenance_failure_rate", 5.0, 1.0)


def test_violations_limit_metric_and_daily(dashboard: str) -> None:
    _, body = get(dashboard, "/api/violations?range=24h&granularity=hour&limit=2")
    assert (body["total"], len(body["violations"]), body["limit"]) == (6, 2, 2)
    _, body = get(dashboard, "/api/violations?range=24h&granularity=hour&metric=provenance_failure_rate")
    assert {v["sli"] for v in body["violations"]} == {"error_rate"} and body["total"] == 3
    _, body = get(dashboard, "/api/violations?range=90d&granularity=day")
    # daily availability on d = 40, 30, 20, 10 -> newest first
    assert [v["period_start"][:10] for v in body["violations"]] == ["2025-02-28", "2025-02-18", "2025-02-08",
                                                                     "2025-01-29"]
    assert body["violations"][0]["slo_status_url"].endswith("/assets/slo_status_daily?partition=2025-02-28")
    _, body = get(dashboard, "/api/violations?range=24h&slo=validation")
    assert (body["total"], body["violations"]) == (0, [])


# --- bad input -------------------------------------------------------------------------------

BAD = [
    ("granularity=minute", "granularity"),
    ("granularity=hour&granularity=day", "granularity"),
    ("range=1y", "range"),
    ("range=24h&from=2025-03-01", "range"),
    ("from=yesterday", "from"),
    ("to=2025-13-01", "to"),
    ("from=2025-03-10&to=2025-03-09", "from"),
    ("from=2025-03-10&to=2025-03-10", "from"),
    ("from=2020-01-01&to=2025-01-01", "from"),
    ("metric=no_such_metric", "metric"),
    ("metric=event_count,no_such_metric", "metric"),
    ("group=billing", "group"),
    ("slo=no_such_slo", "slo"),
    ("max_points=abc", "max_points"),
    ("max_points=5", "max_points"),
    ("max_points=1000000", "max_points"),
    ("limit=0", "limit"),
    ("limit=-3", "limit"),
    ("colour=red", "colour"),
    # the edges of the calendar: alone, with offsets past them, after the default 7-day span
    ("to=0001-01-03", "to"),
    ("from=0001-01-01", "from"),
    ("from=0001-01-01T00:30:00%2B01:00", "from"),
    ("from=9999-12-31T00:00:00Z&to=9999-12-31T23:00:00-05:00", "to"),
    ("from=9999-12-30&to=9999-12-31", "to"),
    ("to=9999-12-31T23:59:59.999999Z", "to"),
    ("from=9998-12-31T00:00:00-23:59", "from"),
    ("from=0002-01-01T00:00:00%2B00:01&to=0002-01-02", "from"),
    ("to=0001-12-31T23:59:59Z&granularity=week", "to"),
    # absurd offsets, non-ASCII digits, huge values
    ("from=2025-03-01T00:00:00%2B99:99", "from"),
    ("to=2025-03-01T00:00:00-24:00", "to"),
    ("from=%D9%A2%D9%A0%D9%A2%D9%A5-03-01", "from"),  # Arabic-Indic digits
    ("to=%EF%BC%92%EF%BC%90%EF%BC%92%EF%BC%95-03-01", "to"),  # full-width digits
    ("from=" + "2025-03-01" * 500, "from"),
    ("max_points=%EF%BC%91%EF%BC%90%EF%BC%90", "max_points"),
    ("limit=1_0", "limit"),
    ("limit=" + "9" * 5000, "limit"),
    ("from=2025-03-01T00:00:00%00", "from"),
]


def test_latest_supported_range_pads_and_aligns_without_overflow(dashboard: str) -> None:
    # the last accepted to, weekly periods, buckets of several periods: all still in the calendar
    status, body = get(dashboard, "/api/kpis?from=9996-01-05&to=9999-01-01&granularity=week&max_points=10")
    assert status == 200, body
    assert (body["view"]["from"], body["view"]["to"]) == ("9996-01-05T00:00:00Z", "9999-01-01T00:00:00Z")
    status, body = get(dashboard, "/api/kpis?from=0002-01-01&to=0002-01-02&granularity=week")
    assert status == 200, body
    assert body["view"]["first_period"] == "0001-12-31T00:00:00Z"  # the Monday before (a Tuesday), zero-padded


@pytest.mark.parametrize(("query", "param"), BAD, ids=[q[:60] for q, _ in BAD])
def test_bad_parameter_on_the_page_is_a_400_naming_it(dashboard: str, query: str, param: str) -> None:
    try:
        with urllib.request.urlopen(f"{dashboard}/?{query}", timeout=30) as response:
            status, text = response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        status, text = exc.code, exc.read().decode()
    assert status == 400
    assert f'"param": "{param}"' in text


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize(("query", "param"), BAD, ids=[q[:60] for q, _ in BAD])
def test_bad_parameter_is_a_400_naming_it(dashboard: str, endpoint: str, query: str, param: str) -> None:
    status, body = get(dashboard, f"{endpoint}?{query}")
    assert status == 400
    assert body["param"] == param
    assert f"'{param}'" in body["error"]


def test_empty_values_mean_defaults(dashboard: str) -> None:
    status, body = get(dashboard, "/api/kpis?range=&granularity=&slo=&group=")
    assert status == 200
    assert (body["view"]["range"], body["view"]["granularity"]) == ("7d", "hour")


def test_unknown_api_path_is_json_404(dashboard: str) -> None:
    status, body = get(dashboard, "/api/nothing")
    assert status == 404 and "error" in body


def test_plotly_is_served_from_the_python_package(dashboard: str) -> None:
    shipped = (Path(plotly.__file__).parent / "package_data" / "plotly.min.js").read_bytes()
    with urllib.request.urlopen(dashboard + "/static/plotly.min.js") as response:
        assert response.read() == shipped
    request = urllib.request.Request(dashboard + "/static/plotly.min.js", headers={"Accept-Encoding": "gzip"})
    with urllib.request.urlopen(request) as response:
        assert response.headers["Content-Encoding"] == "gzip"
        assert gzip.decompress(response.read()) == shipped


def test_warehouse_down_is_a_503_that_keeps_connection_details_to_the_log() -> None:
    # nothing listens on port 1: the pool never gets a connection
    app = create_app("postgresql://someuser:s3cret@127.0.0.1:1/nowhere", wait_timeout=0.5)
    with running(app) as base:
        for path in ("/api/kpis", "/api/slo-status", "/healthz"):
            status, body = get(base, path)
            assert status == 503, path
            assert body["error"].startswith("warehouse unavailable")
            assert not any(s in body["error"] for s in ("127.0.0.1", "someuser", "s3cret"))
        status, body = get(base, "/api/kpis?granularity=minute")  # parameters are checked first
        assert (status, body["param"]) == (400, "granularity")
