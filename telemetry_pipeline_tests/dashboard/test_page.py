"""The page in a real browser: Debian's chromium, headless, driven by playwright.

The browser is /usr/bin/chromium (scripts/ensure-chromium installs it; playwright never downloads
one). Each test waits on the page's own signal, body[data-state=ready] for the view in its URL,
then asserts on what Plotly drew and the panel shows against rows.py and the database.
"""

from __future__ import annotations

import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest
import yaml
from playwright.sync_api import Page

from telemetry_pipeline.apps.dashboard.app import create_app
from telemetry_pipeline.apps.dashboard.server import running
from telemetry_pipeline.core.kpis.catalog import METRICS
from telemetry_pipeline.core.settings import SLOS_FILE_ENV
from telemetry_pipeline.core.slos.config import DEFAULT_SLOS_FILE
from telemetry_pipeline_tests.dashboard import rows
from telemetry_pipeline_tests.dashboard.browser import open_view, wait_for_view


def charts(page: Page) -> dict[str, list[dict[str, Any]]]:
    """metric -> the traces Plotly holds for its chart (name, x, y)."""
    return page.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll('.chart')].map((c) => [
             c.dataset.metric, c.data.map((t) => ({name: t.name, x: t.x, y: t.y}))]))"""
    )


def trace(traces: list[dict[str, Any]], name: str) -> dict[str, Any] | None:
    return next((t for t in traces if t["name"] == name), None)


def test_page_draws_every_kpi_with_target_and_violations_offline(page: Page, dashboard: str) -> None:
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    open_view(page, dashboard, "range=24h&granularity=hour")

    drawn = charts(page)
    assert list(drawn) == [m.name for m in sorted(METRICS, key=lambda m: ("provenance", "audit",
                                                                         "operational").index(m.group))]
    for metric in rows.SEEDED_METRICS:
        assert len(trace(drawn[metric], metric)["x"]) == 24  # hours k = 24..1
    assert trace(drawn["event_count"], "event_count")["y"] == [100.0 + k for k in range(24, 0, -1)]
    # the SLO target is drawn across the view; violating hours (k = 19, 7, 1) are marked
    target = trace(drawn["provenance_availability"], "SLO target >= 99.9")
    assert target["y"] == [99.9, 99.9]
    assert target["x"] == ["2025-03-09T12:00:00", "2025-03-10T12:30:00"]
    marks = trace(drawn["provenance_availability"], "violations")
    assert marks["x"] == ["2025-03-09T17:00:00", "2025-03-10T05:00:00", "2025-03-10T11:00:00"]
    assert trace(drawn["provenance_p95_duration_ms"], "violations") is None  # latency always met
    # a metric without rows has an empty series and no target line
    assert len(trace(drawn["validation_availability"], "validation_availability")["x"]) == 0
    assert trace(drawn["validation_availability"], "SLO target >= 99.9") is None

    # nothing left this machine: Plotly comes from the plotly package via our own server
    origin = urlsplit(dashboard).netloc
    assert requested and all(urlsplit(u).netloc == origin for u in requested if not u.startswith("data:"))
    assert any(u.endswith("/static/plotly.min.js") for u in requested)


def test_changing_range_and_granularity_updates_url_and_charts(page: Page, dashboard: str) -> None:
    open_view(page, dashboard, "range=24h&granularity=hour")
    page.click("#range-buttons button[data-range='7d']")
    wait_for_view(page, "range=7d&granularity=hour")
    assert len(trace(charts(page)["event_count"], "event_count")["x"]) == 48  # all seeded hours

    page.click("#granularity-buttons button[data-granularity='day']")
    wait_for_view(page, "range=7d&granularity=day")
    assert page.url.endswith("/?range=7d&granularity=day")
    drawn = charts(page)
    # days 2025-03-03 .. 2025-03-09 are d = 7..1; event_count = 2400 + d
    assert trace(drawn["event_count"], "event_count")["y"] == [2407.0, 2406.0, 2405.0, 2404.0, 2403.0, 2402.0,
                                                               2401.0]
    assert page.locator("#granularity-buttons button.active").inner_text() == "Day"
    assert page.locator("#range-buttons button.active").inner_text() == "7 d"

    page.click("#range-buttons button[data-range='30d']")
    wait_for_view(page, "range=30d&granularity=day")
    drawn = charts(page)
    assert len(trace(drawn["event_count"], "event_count")["x"]) == 30
    marks = trace(drawn["provenance_availability"], "violations")
    assert marks["x"] == ["2025-02-08T00:00:00", "2025-02-18T00:00:00", "2025-02-28T00:00:00"]

    page.go_back()  # history keeps the views: back to 7 days
    wait_for_view(page, "range=7d&granularity=day")
    assert len(trace(charts(page)["event_count"], "event_count")["x"]) == 7


def _panel(page: Page) -> dict[tuple[str, str], dict[str, str]]:
    """(slo, sli) -> field -> the cell's raw value (data-raw) and its text."""
    return page.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll('#slo-table tbody tr[data-slo]')].map((tr) => [
             tr.dataset.slo + '/' + tr.dataset.sli,
             Object.fromEntries([...tr.querySelectorAll('td[data-field]')].map((td) => [
               td.dataset.field, {raw: td.dataset.raw, text: td.innerText.trim()}]))]))"""
    )


def test_slo_panel_equals_the_database(page: Page, dashboard: str, seeded: str) -> None:
    open_view(page, dashboard, "range=24h&granularity=hour")
    panel = _panel(page)
    assert len(panel) == 9
    with psycopg.connect(seeded) as conn:
        for slo, sli, _metric, _cmp, _target in [("provenance_generation", *s) for s in rows.PROVENANCE_SLIS]:
            value, target, met, start = conn.execute(
                "select value::float8, target::float8, met, period_start from public.slo_status"
                " where slo_name = %s and sli = %s and aggregation_period = 'hour'"
                " and period_start >= '2025-03-09 12:00+00' and period_start < %s"
                " order by period_start desc limit 1",
                (slo, sli, rows.NOW),
            ).fetchone()
            cells = panel[f"{slo}/{sli}"]
            assert float(cells["value"]["raw"]) == value
            assert float(cells["target"]["raw"]) == target
            assert cells["period_start"]["raw"] == start.strftime("%Y-%m-%dT%H:%M:%SZ")
            assert cells["status"]["raw"] == ("met" if met else "violated")
    # and as a person reads them (hand-derived: k = 1 -> 99.5 % vs >= 99.9 %). The budget is as of now
    # (12:30): the 29 closed days 02-09 .. 03-09 (no raw rows today): availability bad fraction 0.0005
    # on 27 days and 0.0015 on d = 10, 20 -> 8.25 bad of 14500 rows, 100 * (1 - 8.25 / 14.5) = 43.1 %;
    # error rate 0.2 % of 1.0 % allowed every day -> 80 %. No raw rows: no fast-burn rate.
    budgets = {sli: float(panel[f"provenance_generation/{sli}"]["error_budget_remaining"]["raw"] or "nan")
               for sli in ("availability", "error_rate")}
    assert budgets == pytest.approx({"availability": 100 * (1 - 8.25 / 14.5), "error_rate": 80.0})
    assert panel["provenance_generation/latency_p95"]["error_budget_remaining"]["text"] == "n/a"
    availability = panel["provenance_generation/availability"]
    assert availability["value"]["text"] == "99.500 %"
    assert availability["target"]["text"] == "≥ 99.900 %"
    assert availability["status"]["text"] == "violated"
    assert availability["error_budget_remaining"]["text"] == "43.1 %"
    assert availability["burn"]["text"].startswith("— · — · — · —")  # the closed hour's 15× is a badge
    assert "page" in availability["burn"]["text"].lower()
    assert availability["violations_in_view"]["text"] == "3 / 24"
    latency = panel["provenance_generation/latency_p95"]
    assert (latency["value"]["text"], latency["target"]["text"], latency["status"]["text"]) == (
        "1.00 s", "< 5.00 min", "met")
    assert panel["validation/availability"]["status"]["text"] == "no data"


def test_violations_table_links_to_dagster_partitions(page: Page, dashboard: str) -> None:
    open_view(page, dashboard, "range=24h&granularity=hour")
    table = page.locator("#violations-table tbody tr[data-slo]")
    assert table.count() == 6
    assert page.locator("#violations-count").inner_text() == "6"
    first = table.nth(0)
    assert first.get_attribute("data-period") == "2025-03-10T11:00:00Z"
    link = first.locator("a.partition-link").first
    assert link.inner_text() == "SLO 2025-03-10-11:00"
    assert link.get_attribute("href").endswith("/assets/slo_status_hourly?partition=2025-03-10-11%3A00")


def test_filters_live_in_the_url_and_a_shared_link_restores_them(page: Page, dashboard: str) -> None:
    shared = "range=30d&granularity=day&group=provenance&slo=provenance_generation"
    open_view(page, dashboard, shared)
    assert sorted(charts(page)) == ["provenance_availability", "provenance_failure_rate",
                                    "provenance_p95_duration_ms"]
    assert page.locator("#slo-select").input_value() == "provenance_generation"
    checked = page.locator("#group-chips input:checked")
    assert [checked.nth(i).get_attribute("value") for i in range(checked.count())] == ["provenance"]
    assert page.locator("#slo-table tbody tr[data-slo]").count() == 3

    page.select_option("#slo-select", "")  # all SLOs again
    wait_for_view(page, "range=30d&granularity=day&group=provenance")
    page.check("#group-chips input[value='audit']")
    wait_for_view(page, "range=30d&granularity=day&group=provenance&group=audit")
    groups = page.evaluate("() => [...document.querySelectorAll('#charts section.group')].map((s) => s.dataset.group)")
    assert groups == ["provenance", "audit"]


def test_custom_range_and_downsampled_view(page: Page, dashboard: str) -> None:
    open_view(page, dashboard, "range=24h&granularity=hour")
    page.click("#range-buttons button[data-range='custom']")
    page.fill("#from-input", "2025-03-09T00:00")
    page.fill("#to-input", "2025-03-09T06:00")
    page.click("#apply-custom")
    wait_for_view(page, "granularity=hour&from=2025-03-09T00%3A00%3A00Z&to=2025-03-09T06%3A00%3A00Z")
    # k = 36..31
    assert trace(charts(page)["event_count"], "event_count")["y"] == [136.0, 135.0, 134.0, 133.0, 132.0, 131.0]

    # a 10-point budget over 48 hours: 10 buckets of 5 hours with a min-max band
    open_view(page, dashboard, "from=2025-03-08T12:00:00Z&to=2025-03-10T12:00:00Z&granularity=hour&max_points=10")
    drawn = charts(page)["event_count"]
    assert len(trace(drawn, "event_count")["x"]) == 10
    assert trace(drawn, "bucket min")["y"][0] == 144.0 and trace(drawn, "bucket max")["y"][0] == 148.0
    assert "5 hours per point" in page.locator("#window-label").inner_text()


def test_bad_url_shows_the_api_error(page: Page, dashboard: str) -> None:
    page.goto(f"{dashboard}/?granularity=minute")
    wait_for_view(page, "granularity=minute", state="error")
    assert "granularity" in page.locator("#error").inner_text()


def test_screenshot(page: Page, dashboard: str, tmp_path) -> None:
    open_view(page, dashboard, "range=24h&granularity=hour")
    shot = tmp_path / "dashboard.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    height = page.evaluate("() => document.body.scrollHeight")
    assert height > 1000  # panel, three groups of charts and the violations table were laid out


HOSTILE = "Ends </script> early <!-- <script> then & &amp; \u2028 \u2029 --> ]]> \"quoted\" 'single'"


def test_hostile_slo_description_is_embedded_and_the_page_loads(
    page: Page, seeded: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    catalog = yaml.safe_load(DEFAULT_SLOS_FILE.read_text())
    catalog["slos"][0]["description"] = HOSTILE
    hostile_file = tmp_path / "slos.yaml"
    hostile_file.write_text(yaml.safe_dump(catalog, allow_unicode=True))
    monkeypatch.setenv(SLOS_FILE_ENV, str(hostile_file))
    with running(create_app(seeded, clock=lambda: rows.NOW)) as base:
        with urllib.request.urlopen(f"{base}/") as response:
            html_text = response.read().decode()
        embedded = html_text.split('<script id="bootstrap" type="application/json">', 1)[1].split("</script>", 1)[0]
        assert not any(c in embedded for c in "<>&\u2028\u2029")
        open_view(page, base, "range=24h&granularity=hour")  # the script ran: body[data-state=ready]
        boot = page.evaluate("() => JSON.parse(document.getElementById('bootstrap').textContent)")
        assert boot["slos"][0]["description"] == HOSTILE
        assert len(charts(page)) == len(METRICS)
