"""What the alerts say, and that data can never inject Slack markup (a tag `<!channel>` pings nobody)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from psycopg.types.json import Jsonb

from telemetry_pipeline.core.alerting.messages import format_value, render, slack_escape
from telemetry_pipeline_tests.alerting.slo_rows import Row, alerts, materialize, period
from telemetry_pipeline_tests.alerting.test_alert_rules import fresh

PAYLOAD = {
    "slo": "provenance_generation", "sli": "latency_p95", "metric": "provenance_p95_duration_ms",
    "granularity": "hour", "period_start": "2025-03-04T05:00:00+00:00",
    "period_end": "2025-03-04T06:00:00+00:00", "value": 312345.6, "target": 300000,
    "comparator": "<", "sample_size": 1234, "budget_remaining": -12.345,
    "runbook_url": "https://runbooks.example.org/prov", "description": "Provenance is fast.",
    "tags": ["v1.0"],
}


def test_violation_message_says_everything_needed_to_act(monkeypatch):
    monkeypatch.setenv("DAGSTER_WEBSERVER_URL", "https://dagster.example.org/")
    message = render("violation", PAYLOAD)
    assert message.subject == "[FIRING] SLO provenance_generation / latency_p95 violated"
    assert message.slack_text == (
        "[FIRING] SLO provenance_generation / latency_p95 violated: latency_p95 was 312,346 ms against "
        "a target of &lt; 300,000 ms in the hour 2025-03-04 05:00-06:00 UTC."
    )
    fields = [f["text"] for f in message.blocks[2]["fields"]]
    assert fields == [
        "*SLO*\nprovenance_generation",
        "*SLI*\nlatency_p95 (provenance_p95_duration_ms)",
        "*Observed*\n312,346 ms",
        "*Target*\n&lt; 300,000 ms",
        "*Period*\nhour 2025-03-04 05:00-06:00 UTC",
        "*Sample size*\n1,234",
        "*Error budget left (30 d)*\n-12.35 %",
        "*Releases involved*\nv1.0",
    ]
    assert message.blocks[-1]["text"]["text"] == (
        "<https://dagster.example.org/assets/slo_status_hourly?partition=2025-03-04-05:00"
        "|Open the partition in Dagster> · <https://runbooks.example.org/prov|Runbook>"
    )
    assert "Dagster: https://dagster.example.org/assets/slo_status_hourly?partition=2025-03-04-05:00" in message.text
    assert 'href="https://dagster.example.org/assets/slo_status_hourly?partition=2025-03-04-05:00"' in message.html


def test_daily_and_weekly_links_and_periods():
    daily = render("violation", {**PAYLOAD, "granularity": "day", "period_start": "2025-03-04T00:00:00+00:00",
                                 "period_end": "2025-03-05T00:00:00+00:00", "sli": "availability",
                                 "metric": "provenance_availability", "value": 99.84, "target": 99.9,
                                 "comparator": ">="})
    assert "99.84 % against a target of ≥ 99.9 % in the day 2025-03-04 (UTC)" in daily.slack_text
    assert "/assets/slo_status_daily?partition=2025-03-04|" in daily.blocks[-1]["text"]["text"]
    weekly = render("violation", {**PAYLOAD, "granularity": "week", "period_start": "2025-03-03T00:00:00+00:00",
                                  "period_end": "2025-03-10T00:00:00+00:00"})
    assert "in the week of 2025-03-03 (UTC)" in weekly.slack_text
    assert "/assets/slo_status_weekly?partition=2025-03-03|" in weekly.blocks[-1]["text"]["text"]


def test_a_runbook_url_cannot_change_its_link():
    message = render("violation", {**PAYLOAD, "runbook_url": "https://x.example/a|<!here>"})
    assert message.blocks[-1]["text"]["text"].endswith("<https://x.example/a%7C&lt;!here&gt;|Runbook>")


def test_value_formatting():
    assert format_value(97.5, "provenance_availability") == "97.5 %"
    assert format_value(99.9999, "provenance_availability") == "100 %"
    assert format_value(0.125, "validation_failure_rate") == "0.125 %"
    assert format_value(120000, "validation_p95_duration_ms") == "120,000 ms"
    assert format_value(None, "validation_p95_duration_ms") == "n/a"
    assert slack_escape("a & <b> <!channel>") == "a &amp; &lt;b&gt; &lt;!channel&gt;"


def _events(conn, start: datetime, rows: list[tuple[str, str, str, float | None]]) -> None:
    for i, (event_type, tag, status, duration) in enumerate(rows):
        metadata = {"status": status} | ({"duration_ms": duration} if duration is not None else {})
        conn.execute(
            "insert into public.telemetry_events (event_type, event_timestamp, tag, metadata) values (%s, %s, %s, %s)",
            (event_type, start + timedelta(minutes=i), tag, Jsonb(metadata)),
        )


def test_release_tags_in_alerts_are_escaped_and_ping_nobody(sensor, db, slack_api, smtp):
    hour = period("hour", 1)
    _events(db, hour, [
        *[("provenance.validation", "<!channel>", "error", 10.0)] * 3,
        ("provenance.validation", "v1.2.3&<b>", "error", 10.0),
        ("provenance.validation", "v1.2.3&<b>", "failure", 10.0),  # a failure is not an outage
        *[("provenance.validation", "v2.0", "success", 10.0)] * 5,
        ("provenance.generation", "gen-only", "error", 10.0),  # another event type
    ])
    # 4 errors of 10 validations: availability 60 %
    materialize(db, sensor.instance, [fresh(Row("validation", "availability", "hour", hour, 60.0, 10))])
    sensor.tick()

    assert alerts(db)[0]["payload"]["tags"] == ["<!channel>", "v1.2.3&<b>"]
    (message,) = slack_api.messages
    raw = json.dumps(message)
    assert "<!" not in raw and "<b>" not in raw
    assert "*Releases involved*\\n&lt;!channel&gt;, v1.2.3&amp;&lt;b&gt;" in raw
    mail = smtp.mails[0].message
    html = mail.get_body(("html",)).get_content()
    assert "&lt;!channel&gt;, v1.2.3&amp;&lt;b&gt;" in html and "<!channel>" not in html
    assert "Releases involved: <!channel>, v1.2.3&<b>" in mail.get_body(("plain",)).get_content()


def test_latency_alert_names_the_slow_releases(sensor, db, slack_api):
    day = period("day", 1)
    _events(db, day, [
        ("provenance.generation", "slow-1", "success", 400000.0),
        ("provenance.generation", "slow-1", "success", 300000.0),  # at the target: counts as slow
        ("provenance.generation", "fast", "success", 299999.0),
        ("provenance.generation", "slow-2", "error", 500000.0),
    ])
    materialize(db, sensor.instance, [
        fresh(Row("provenance_generation", "latency_p95", "day", day, 485000.0, 10))])
    sensor.tick()
    assert alerts(db)[0]["payload"]["tags"] == ["slow-1", "slow-2"]


def test_rendering_never_fails_on_sparse_payloads():
    minimal = {"slo": "x", "sli": "availability", "granularity": "hour",
               "period_start": datetime(2025, 1, 1, tzinfo=UTC).isoformat(),
               "period_end": datetime(2025, 1, 1, 1, tzinfo=UTC).isoformat()}
    for kind in ("violation", "resolved", "burn_page", "burn_ticket"):
        message = render(kind, minimal)
        assert message.subject.startswith("[RESOLVED]" if kind == "resolved" else "[FIRING]")
