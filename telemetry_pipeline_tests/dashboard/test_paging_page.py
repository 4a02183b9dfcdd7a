"""Paging on the page, in the real browser: budget as of now, bands, the maintenance-window form.

The rows and every expected number are in paging_rows.py (an outage in the open hour of the
validation SLO); the server's clock is pinned at its NOW, and "now" moves through the view's `to`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from playwright.sync_api import Page

from telemetry_pipeline.apps.dashboard.app import create_app
from telemetry_pipeline.apps.dashboard.server import running
from telemetry_pipeline.core.slos.budgets import BURN_WINDOWS
from telemetry_pipeline_tests.dashboard import paging_rows
from telemetry_pipeline_tests.dashboard.browser import TIMEOUT_MS, open_view, wait_for_view
from telemetry_pipeline_tests.dashboard.paging_rows import NOW


@pytest.fixture(scope="module")
def outage_dashboard(warehouse_url: str) -> Iterator[str]:
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        paging_rows.seed(conn)
    with running(create_app(warehouse_url, clock=lambda: NOW)) as base:
        yield base
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        paging_rows.empty(conn)


def _cells(page: Page, slo: str, sli: str) -> dict[str, dict[str, str]]:
    return page.evaluate(
        """([slo, sli]) => Object.fromEntries([...document.querySelectorAll(
             `#slo-table tbody tr[data-slo="${slo}"][data-sli="${sli}"] td[data-field]`)].map((td) => [
             td.dataset.field, {raw: td.dataset.raw, text: td.innerText.trim(), title: td.title}]))""",
        [slo, sli],
    )


def _bands(page: Page) -> dict[str, list[tuple[str, str, str]]]:
    """metric -> (kind, x0, x1) of the paging bands Plotly drew on its chart."""
    return page.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll('.chart')].map((c) => [c.dataset.metric,
             (c.layout.shapes || []).filter((s) => s.name).map((s) => [s.name, s.x0, s.x1])]))"""
    )


def _listed(page: Page) -> list[dict[str, Any]]:
    return page.evaluate(
        """() => [...document.querySelectorAll('#paging-list li[data-kind]')].map((li) => ({
             kind: li.dataset.kind, slo: li.dataset.slo, what: li.dataset.what, from: li.dataset.from,
             to: li.dataset.to, open: li.dataset.open, text: li.innerText}))"""
    )


def test_budget_left_is_as_of_now_with_the_outage_of_the_open_hour(page: Page, outage_dashboard: str) -> None:
    open_view(page, outage_dashboard, "range=24h&granularity=hour&slo=validation")
    cells = _cells(page, "validation", "availability")
    # 100 * 76140 / 284140 = 26.7966 %, where the newest closed day still says 97.7 %
    assert float(cells["error_budget_remaining"]["raw"]) == pytest.approx(paging_rows.BUDGET_NOW)
    assert cells["error_budget_remaining"]["text"] == "26.8 %"
    assert cells["error_budget_remaining"]["title"] == "last closed day 2025-03-09: 97.7 %"
    # 5m 30/30, 30m 180/180 -> 1000x; 1h 180/360 -> 500x; 6h 180/2160 -> 83.33x (allowed 1/1000)
    assert cells["burn"]["text"] == "1,000.00× · 1,000.00× · 500.00× · 83.33×"
    # the tooltip keeps the closed hour's trailing rates, one per window of burn_windows.yaml
    closed_hour = cells["burn"]["title"].split(": ", 1)[1]
    assert [part.split(" ")[0] for part in closed_hour.split(" · ")] == [w.label for w in BURN_WINDOWS]
    assert _cells(page, "validation", "error_rate")["error_budget_remaining"]["text"] == "-774.2 %"
    assert page.locator("#paging-as-of").inner_text() == "as of 2025-03-10 12:30 UTC"

    # "now" moved by the view: 10 minutes into the outage, 100 * 196020 / 284020 = 69.0 %
    query = "granularity=hour&from=2025-03-09T12%3A10%3A00Z&to=2025-03-10T12%3A10%3A00Z&slo=validation"
    open_view(page, outage_dashboard, query)
    cells = _cells(page, "validation", "availability")
    assert float(cells["error_budget_remaining"]["raw"]) == pytest.approx(paging_rows.BUDGET_1210)
    assert cells["error_budget_remaining"]["text"] == "69.0 %"
    # 5m (12:05, 12:10] 30 of 30 bad, 30m (11:40, 12:10] 60 of 180 bad -> 333.33x
    assert cells["burn"]["text"].startswith("1,000.00× · 333.33× · ")


def test_charts_and_panel_mark_episodes_no_data_and_maintenance(page: Page, outage_dashboard: str) -> None:
    open_view(page, outage_dashboard, "range=24h&granularity=hour")
    bands = _bands(page)
    assert bands["validation_availability"] == [
        ["episode", "2025-03-10T12:01:00", "2025-03-10T12:30:00"],  # open: until now
        ["maintenance", "2025-03-10T03:00:00", "2025-03-10T04:00:00"],
    ]
    assert bands["validation_failure_rate"] == [
        ["episode", "2025-03-10T08:00:00", "2025-03-10T08:30:00"],
        ["maintenance", "2025-03-10T03:00:00", "2025-03-10T04:00:00"],
    ]
    for metric in ("audit_availability", "audit_failure_rate", "audit_p95_duration_ms"):
        assert bands[metric] == [["no_data", "2025-03-10T09:00:00", "2025-03-10T12:30:00"]]
    assert bands["provenance_availability"] == [] and bands["event_count"] == []

    listed = _listed(page)
    assert [(i["kind"], i["slo"], i["what"], i["from"], i["to"], i["open"]) for i in listed] == [
        ("episode", "validation", "error_rate", "2025-03-10T08:00:00Z", "2025-03-10T08:30:00Z", "false"),
        ("episode", "validation", "availability", "2025-03-10T12:01:00Z", "2025-03-10T12:30:00Z", "true"),
        ("no_data", "audit_observer", "audits", "2025-03-10T09:00:00Z", "2025-03-10T12:30:00Z", "true"),
        ("maintenance", "validation", "every SLI", "2025-03-10T03:00:00Z", "2025-03-10T04:00:00Z", "false"),
    ]
    assert "2025-03-10 12:01 → 2025-03-10 12:30 (as of)" in listed[1]["text"] and "1h&5m>=14.4" in listed[1]["text"]
    assert "database failover" in listed[3]["text"]
    # the no-data state is in the SLO panel too
    assert _cells(page, "audit_observer", "availability")["status"]["text"] == "no data"


def _windows_table(page: Page) -> list[list[str]]:
    return page.evaluate(
        """() => [...document.querySelectorAll('#maintenance-table tbody tr[data-id]')].map((tr) => [
             tr.dataset.slo, tr.cells[1].innerText, tr.cells[2].dataset.raw, tr.cells[3].dataset.raw])"""
    )


def _click_then_relisted(page: Page, selector: str, method: str) -> int:
    """Click `selector`, return the status of the `method` request it sends, wait for the list again."""
    before = int(page.get_attribute("#maintenance-panel", "data-loads") or 0)
    with page.expect_response(lambda r: r.request.method == method) as answered:
        page.click(selector)
    page.wait_for_function(f"() => Number(document.getElementById('maintenance-panel').dataset.loads) > {before}",
                           timeout=TIMEOUT_MS)
    return answered.value.status


def test_maintenance_window_created_on_the_page_then_listed_and_deleted(
    page: Page, outage_dashboard: str, warehouse_url: str
) -> None:
    open_view(page, outage_dashboard, "range=24h&granularity=hour")
    page.wait_for_function("() => document.getElementById('maintenance-panel').dataset.state === 'ready'",
                           timeout=TIMEOUT_MS)
    assert _windows_table(page) == []  # 03:00-04:00 has ended: the list shows current and ahead
    page.select_option("#maintenance-slo", "validation")
    page.select_option("#maintenance-sli", "availability")
    page.fill("#maintenance-from", "2025-03-10T12:15Z")
    page.fill("#maintenance-to", "+1h")
    page.fill("#maintenance-reason", "planned failover")
    assert _click_then_relisted(page, "#maintenance-submit", "POST") == 201
    assert _windows_table(page) == [["validation", "availability", "2025-03-10T12:15:00Z", "2025-03-10T13:15:00Z"]]
    with psycopg.connect(warehouse_url) as conn:
        assert conn.execute("select slo_name, sli, reason from public.slo_maintenance_windows order by id"
                            ).fetchall() == [("validation", None, "database failover"),
                                             ("validation", "availability", "planned failover")]
    # the view was drawn again: the new window shades the availability chart (12:15 .. the view's end)
    wait_for_view(page, "range=24h&granularity=hour")
    page.wait_for_function(
        "() => document.querySelector('.chart[data-metric=validation_availability]').layout.shapes"
        ".filter((s) => s.name === 'maintenance').length === 2", timeout=TIMEOUT_MS)
    assert ["maintenance", "2025-03-10T12:15:00", "2025-03-10T13:15:00"] in _bands(page)["validation_availability"]

    assert _click_then_relisted(page, "#maintenance-table button.delete", "DELETE") == 200
    assert _windows_table(page) == []
    assert page.locator("#maintenance-message").inner_text().startswith("Deleted window")
    with psycopg.connect(warehouse_url) as conn:
        assert conn.execute("select count(*) from public.slo_maintenance_windows").fetchone() == (1,)


def test_a_bad_form_field_is_a_400_naming_it(page: Page, outage_dashboard: str, warehouse_url: str) -> None:
    open_view(page, outage_dashboard, "range=24h&granularity=hour")
    page.select_option("#maintenance-slo", "validation")
    page.fill("#maintenance-from", "yesterday")
    page.fill("#maintenance-to", "+1h")
    page.fill("#maintenance-reason", "x")
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.click("#maintenance-submit")
    assert posted.value.status == 400
    assert posted.value.json()["field"] == "from"
    page.wait_for_function("() => document.getElementById('maintenance-form').dataset.state === 'error'",
                           timeout=TIMEOUT_MS)
    assert page.locator("#maintenance-message").inner_text().startswith("bad field 'from': 'yesterday' is not a time")
    assert page.get_attribute("#maintenance-from", "aria-invalid") == "true"
    with psycopg.connect(warehouse_url) as conn:
        assert conn.execute("select count(*) from public.slo_maintenance_windows").fetchone() == (1,)
