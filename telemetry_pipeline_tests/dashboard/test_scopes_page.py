"""The scope picker and the ranking panel in the real browser (browser.py's chromium harness),
on rows.py + scope_rows.py; every expected number is derived in scope_rows.py's docstring."""

from __future__ import annotations

from playwright.sync_api import Page

from telemetry_pipeline_tests.dashboard import browser as harness
from telemetry_pipeline_tests.dashboard import test_scopes_api
from telemetry_pipeline_tests.dashboard.browser import open_view, wait_for_view
from telemetry_pipeline_tests.dashboard.test_page import charts, trace

# The browser fixtures come from conftest.py; the scoped dashboard from the API tests.
scoped = test_scopes_api.scoped

RANKING_DEFAULT = "range=7d&dimension=repository&metric=provenance_availability&order=worst&limit=20"


def wait_for_ranking(page: Page, query: str) -> None:
    page.wait_for_function(
        "(q) => { const p = document.getElementById('ranking-panel');"
        " return p.dataset.query === new URLSearchParams(q).toString() && p.dataset.state === 'ready'; }",
        arg=query, timeout=harness.TIMEOUT_MS,
    )


def ranking_rows(page: Page) -> list[tuple[str, str, str]]:
    """(value, metric cell text, link) per row of the ranking table."""
    found = page.evaluate(
        """() => [...document.querySelectorAll('#ranking-table tbody tr[data-value]')].map((tr) => [
             tr.dataset.value, tr.children[2].innerText.trim(), tr.querySelector('a').getAttribute('href')])"""
    )
    return [tuple(row) for row in found]


def test_picking_a_repository_draws_its_series_and_its_scoped_slo(page: Page, scoped: str) -> None:
    open_view(page, scoped, "range=7d")
    page.select_option("#scope-dimension", "repository")
    page.fill("#scope-value", "acme/w")  # the search: the datalist holds the values with that prefix
    page.wait_for_function(
        "() => document.getElementById('scope-values').dataset.prefix === 'acme/w'", timeout=harness.TIMEOUT_MS)
    options = page.eval_on_selector_all("#scope-values option", "(os) => os.map((o) => o.value)")
    assert options == ["acme/web"]
    page.fill("#scope-value", "acme/web")
    page.click("#scope-apply")
    wait_for_view(page, "range=7d&repository=acme/web")

    drawn = charts(page)["provenance_availability"]
    series = trace(drawn, "provenance_availability")
    assert series["x"] == [f"2025-03-{day:02d}T00:00:00" for day in range(3, 10)]  # per day: scoped rows
    assert series["y"] == [99.0, 100.0, 99.0, 100.0, 99.0, 100.0, 99.0]
    assert trace(drawn, "SLO target >= 99.5")["y"] == [99.5, 99.5]
    assert len(trace(drawn, "violations")["x"]) == 4
    assert "repository acme/web" in page.locator("#window-label").inner_text()
    assert page.locator("#granularity-buttons button.active").inner_text() == "Auto (day)"

    # the SLO panel is the scoped SLO's, for this repository
    panel = page.locator("#slo-table tbody tr[data-slo]")
    assert panel.count() == 1
    row = page.locator("#slo-table tr[data-slo='provenance_by_repository'][data-sli='availability']")
    assert row.locator("td[data-field='violations_in_view']").inner_text() == "4 / 7"
    assert row.locator("td[data-field='error_budget_remaining']").inner_text().strip() == "81.0 %"
    assert page.locator("#violations-count").inner_text() == "4"

    # back to the global rows
    page.select_option("#scope-dimension", "")
    wait_for_view(page, "range=7d")
    global_series = trace(charts(page)["provenance_availability"], "provenance_availability")
    assert (len(global_series["y"]), global_series["y"][-1]) == (48, 99.5)  # hourly, global: k = 1 -> 99.5 (rows.py)


def test_ranking_table_orders_by_the_metric_and_links_to_the_scoped_view(page: Page, scoped: str) -> None:
    open_view(page, scoped, "range=7d")
    wait_for_ranking(page, RANKING_DEFAULT)
    # worst first, sample-weighted over d = 7..1 (scope_rows.py)
    assert ranking_rows(page) == [
        ("acme/pay-api", "96.67 %", "/?repository=acme%2Fpay-api&granularity=day&range=7d"),
        ("beta/tool", "98.00 %", "/?repository=beta%2Ftool&granularity=day&range=7d"),
        ("acme/web", "99.429 %", "/?repository=acme%2Fweb&granularity=day&range=7d"),
        ("acme/api", "100.00 %", "/?repository=acme%2Fapi&granularity=day&range=7d"),
    ]
    assert page.locator("#ranking-count").inner_text() == "4"

    page.select_option("#ranking-order", "best")
    wait_for_ranking(page, RANKING_DEFAULT.replace("worst", "best"))
    assert [r[0] for r in ranking_rows(page)] == ["acme/api", "acme/web", "beta/tool", "acme/pay-api"]

    page.select_option("#ranking-order", "worst")
    wait_for_ranking(page, RANKING_DEFAULT)
    page.click("#ranking-table a[href*='pay-api']")
    wait_for_view(page, "repository=acme/pay-api&granularity=day&range=7d")
    assert trace(charts(page)["provenance_availability"], "provenance_availability")["y"] == [100.0] * 6 + [90.0]
    assert page.locator("#scope-dimension").input_value() == "repository"
    assert page.locator("#scope-value").input_value() == "acme/pay-api"


def test_unknown_or_two_scopes_show_the_400_naming_the_parameter(page: Page, scoped: str) -> None:
    response = page.goto(f"{scoped}/?repository=acme/nope")
    assert response is not None and response.status == 400
    wait_for_view(page, "repository=acme/nope", state="error")
    assert "bad parameter 'repository': unknown repository 'acme/nope'" in page.locator("#error").inner_text()

    response = page.goto(f"{scoped}/?repository=acme/web&team=payments")
    assert response is not None and response.status == 400
    wait_for_view(page, "repository=acme/web&team=payments", state="error")
    assert "bad parameter 'team': one scope at a time" in page.locator("#error").inner_text()
