"""The dead-alerts panel and /api/dead-alerts, over real HTTP and in the real browser.

Rows are written to public.slo_alerts as the delivery pass leaves them (docs/alerting.md): two
dead alerts, one alive on email with Slack dead, one delivered (never listed).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from playwright.sync_api import Page

from telemetry_pipeline.apps.dashboard.app import create_app
from telemetry_pipeline.apps.dashboard.server import running
from telemetry_pipeline_tests.dashboard import rows
from telemetry_pipeline_tests.dashboard.browser import TIMEOUT_MS
from telemetry_pipeline_tests.dashboard.conftest import get

START = datetime(2025, 3, 9, 10, tzinfo=UTC)
HOSTILE_ERROR = "slack: Slack rejected the message (HTTP 200): invalid_blocks <img src=x onerror=alert(1)>"
ALERTS = [
    # key suffix, state, slack, email, dead_error, dead_at (minutes after START)
    ("a", "dead", "dead", "sent", HOSTILE_ERROR, 70),
    ("b", "pending", "dead", "pending", "slack: Slack rejected the message (HTTP 200): channel_not_found", 90),
    ("c", "sent", "sent", "sent", None, None),
]


@pytest.fixture(scope="module")
def dead_dashboard(seeded: str) -> Iterator[str]:
    with psycopg.connect(seeded, autocommit=True) as conn:
        for i, (suffix, state, slack, email, error, minutes) in enumerate(ALERTS):
            start = START + timedelta(hours=i)
            conn.execute(
                """insert into public.slo_alerts (key, kind, state, slo_name, sli, aggregation_period,
                     period_start, period_end, slack_state, email_state, dead_error, dead_at)
                   values (%s, 'violation', %s, 'validation', 'availability', 'hour', %s, %s, %s, %s, %s, %s)""",
                (f"dead-test-{suffix}", state, start, start + timedelta(hours=1), slack, email, error,
                 START + timedelta(minutes=minutes) if minutes is not None else None),
            )
        try:
            with running(create_app(seeded, clock=lambda: rows.NOW)) as base:
                yield base
        finally:
            conn.execute("delete from public.slo_alerts where key like 'dead-test-%'")


def test_api_lists_dead_alerts_newest_first_with_their_errors(dead_dashboard: str) -> None:
    status, body = get(dead_dashboard, "/api/dead-alerts")
    assert status == 200 and body["total"] == 2 and body["limit"] == 50
    assert [(a["key"], a["state"], a["slack_state"], a["email_state"], a["dead_at"]) for a in body["dead_alerts"]] == [
        ("dead-test-b", "pending", "dead", "pending", "2025-03-09T11:30:00Z"),
        ("dead-test-a", "dead", "dead", "sent", "2025-03-09T11:10:00Z"),
    ]
    newest = body["dead_alerts"][0]
    assert newest["error"] == "slack: Slack rejected the message (HTTP 200): channel_not_found"
    assert (newest["slo_name"], newest["sli"], newest["kind"], newest["period_start"]) == (
        "validation", "availability", "violation", "2025-03-09T11:00:00Z")
    assert newest["partition"] == "2025-03-09-11:00"


def test_panel_shows_dead_alerts_as_text(page: Page, dead_dashboard: str) -> None:  # noqa: F811
    page.goto(dead_dashboard + "/")
    page.wait_for_selector("#dead-alerts-panel[data-state=ready]", timeout=TIMEOUT_MS)
    assert page.locator("#dead-alerts-count").inner_text() == "2"
    table = page.locator("#dead-alerts-table tbody tr[data-key]")
    assert table.count() == 2
    assert table.nth(0).get_attribute("data-key") == "dead-test-b"
    assert table.nth(1).locator("[data-field=error]").inner_text() == HOSTILE_ERROR
    assert table.nth(1).locator("img").count() == 0  # the error is text, never markup
    assert table.nth(0).locator("[data-field=slack]").inner_text() == "dead"
