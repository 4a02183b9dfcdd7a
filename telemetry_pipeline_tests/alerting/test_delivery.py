"""Failed deliveries stay pending, back off, and go out exactly once when the channel is back.

Outages are real: the Slack API server answers 500, 429 with Retry-After, or holds the request
past the client's timeout; the SMTP server is stopped and started again on the same port.
"Time passing" between retries is `age_retries` (moves next_attempt_at into the past), never a
sleep.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from telemetry_pipeline.core.alerting.delivery import deliver
from telemetry_pipeline.core.alerting.outbox import backoff
from telemetry_pipeline.core.alerting.rules import record_alerts
from telemetry_pipeline.core.slos.config import load_slos
from telemetry_pipeline.defs.alerting.email import EmailAlertResource
from telemetry_pipeline.defs.alerting.sensor import channels_of
from telemetry_pipeline.defs.alerting.slack import SlackAlertResource
from telemetry_pipeline_tests.alerting.conftest import SLACK_TOKEN
from telemetry_pipeline_tests.alerting.slo_rows import Row, age_retries, alerts, materialize, period
from telemetry_pipeline_tests.alerting.test_alert_rules import fresh


def _two_violations(sensor, db) -> None:
    materialize(db, sensor.instance, [
        fresh(Row("validation", "availability", "hour", period("hour", 1), 90.0, 100)),
        fresh(Row("audit_observer", "availability", "day", period("day", 1), 95.0, 100)),
    ])


def test_backoff_schedule():
    assert [backoff(n).total_seconds() for n in range(1, 6)] == [15, 30, 60, 60, 60]


def test_slack_outage_then_recovery_loses_nothing_and_duplicates_nothing(sensor, db, slack_api, smtp):
    _two_violations(sensor, db)

    slack_api.set_mode("error500")
    summary = sensor.tick()
    # one probe request, then Slack is given up for this tick; email is independent
    assert len(slack_api.requests) == 1 and slack_api.messages == []
    assert len(smtp.mails) == 2
    assert "slack failing (Slack server error (HTTP 500))" in summary
    first = alerts(db)[0]
    assert (first["state"], first["slack_state"], first["email_state"], first["attempts"]) == (
        "pending", "pending", "sent", 1)
    assert first["last_error"] == "slack: Slack server error (HTTP 500)"
    wait = first["next_attempt_at"] - datetime.now(UTC)
    assert timedelta(seconds=10) < wait <= timedelta(seconds=15)

    sensor.tick()  # the failed alert backs off; the other one probes Slack
    assert len(slack_api.requests) == 2
    sensor.tick()  # both back off now: no request at all
    assert len(slack_api.requests) == 2

    age_retries(db)
    slack_api.set_mode("ratelimit", retry_after=42)
    sensor.tick()
    assert len(slack_api.requests) == 3
    limited = next(a for a in alerts(db) if a["attempts"] == 2)
    assert "rate limited (HTTP 429), retry after 42 s" in limited["last_error"]
    wait = limited["next_attempt_at"] - datetime.now(UTC)
    assert timedelta(seconds=38) < wait <= timedelta(seconds=42)
    # the rate limit is Slack's, not one message's: the other due alert waits too
    db.execute("update public.slo_alerts set next_attempt_at = now() - interval '1 second'")
    sensor.tick()
    assert len(slack_api.requests) == 3
    (paused_until,) = db.execute("select paused_until from public.slo_alert_channel_pauses").fetchone()
    assert abs((paused_until - limited["next_attempt_at"]).total_seconds()) < 0.01

    age_retries(db)
    slack_api.set_mode("hang")  # held past the client's 1 s timeout
    sensor.tick()
    assert len(slack_api.requests) == 4
    assert any("did not answer within 1 s" in (a["last_error"] or "") for a in alerts(db))

    age_retries(db)
    slack_api.set_mode("ok")
    sensor.tick()
    sensor.tick()
    age_retries(db)
    sensor.tick()

    assert len(slack_api.messages) == 2 and len(slack_api.requests) == 6
    assert sorted(m["text"].split(":")[0] for m in slack_api.messages) == [
        "[FIRING] SLO audit_observer / availability violated",
        "[FIRING] SLO validation / availability violated",
    ]
    assert all(r.authorization == f"Bearer {SLACK_TOKEN}" for r in slack_api.requests)
    assert len(smtp.mails) == 2  # email never re-sent during Slack's outage
    assert [(a["state"], a["slack_state"], a["email_state"]) for a in alerts(db)] == [("sent", "sent", "sent")] * 2
    assert all(SLACK_TOKEN not in (a["last_error"] or "") for a in alerts(db))


def test_smtp_down_then_up(sensor, db, slack_api, smtp):
    smtp.stop()
    _two_violations(sensor, db)
    sensor.tick()
    assert len(slack_api.messages) == 2 and smtp.mails == []
    pending = alerts(db)
    assert {(a["state"], a["slack_state"], a["email_state"]) for a in pending} == {("pending", "sent", "pending")}
    failed = [a for a in pending if a["attempts"] == 1]
    assert len(failed) == 1 and failed[0]["last_error"].startswith(f"email: SMTP 127.0.0.1:{smtp.port}: ")

    smtp.start()
    age_retries(db)
    sensor.tick()
    assert smtp.wait_for_mails(2)
    assert len(smtp.mails) == 2 and len(slack_api.requests) == 2  # Slack not sent again
    assert {a["state"] for a in alerts(db)} == {"sent"}
    mail = smtp.mails[0]
    assert mail.rcpt_tos == ["oncall@example.org", "sre@example.org"]
    assert mail.message["Auto-Submitted"] == "auto-generated"
    assert mail.message["Subject"].startswith("[FIRING] SLO ")
    assert [p.get_content_type() for p in mail.message.iter_parts()] == ["text/plain", "text/html"]


def test_resolved_waits_for_its_violation_on_each_channel(sensor, db, slack_api, smtp):
    smtp.stop()
    materialize(db, sensor.instance, [
        fresh(Row("validation", "error_rate", "hour", period("hour", 2), 9.0, 100)),
        fresh(Row("validation", "error_rate", "hour", period("hour", 1), 0.1, 100)),
    ])
    sensor.tick()
    assert [t[:10] for t in slack_api.texts()] == ["[FIRING] S", "[RESOLVED]"]
    smtp.start()
    age_retries(db)
    sensor.tick()
    assert smtp.subjects() == [
        "[FIRING] SLO validation / error_rate violated",
        "[RESOLVED] SLO validation / error_rate meets its target again",
    ]


def test_unconfigured_channels_are_skipped_with_one_log_line(sensor, db, slack_api, smtp, capfd):
    sensor.resources["slack"] = SlackAlertResource(base_url=slack_api.base_url)  # no token, no channel
    _two_violations(sensor, db)
    capfd.readouterr()
    sensor.tick()
    sensor.tick()  # nothing left to skip: no second line
    assert len(smtp.mails) == 2 and slack_api.requests == []
    assert {(a["state"], a["slack_state"], a["email_state"]) for a in alerts(db)} == {("sent", "skipped", "sent")}
    lines = [line for line in capfd.readouterr().err.splitlines() if "Slack alerts are off" in line]
    assert len(lines) == 1
    assert lines[0].endswith(
        "INFO - Slack alerts are off: SLACK_BOT_TOKEN and SLACK_CHANNEL not set; 2 pending alerts skip it")


def test_no_channel_configured_keeps_alerts_pending(sensor, db, slack_api, smtp):
    sensor.resources["slack"] = SlackAlertResource()
    sensor.resources["email"] = EmailAlertResource()
    _two_violations(sensor, db)
    summary = sensor.tick()
    assert "recorded 2 alerts to send" in summary and "2 pending" in summary
    assert {(a["state"], a["slack_state"], a["email_state"]) for a in alerts(db)} == {("pending", "pending", "pending")}
    assert slack_api.requests == [] and smtp.mails == []


def test_a_pass_reads_due_alerts_in_small_batches_and_still_resolves_in_order(sensor, db, warehouse, slack_api):
    """batch=2 over 3 violations and 3 resolves: each alert is visited once, resolves after violations."""
    rows = []
    for slo, sli in (("validation", "availability"), ("audit_observer", "availability"),
                     ("provenance_generation", "error_rate")):
        bad, good = (90.0, 100.0) if sli == "availability" else (5.0, 0.0)
        rows += [fresh(Row(slo, sli, "hour", period("hour", 2), bad, 50)),
                 fresh(Row(slo, sli, "hour", period("hour", 1), good, 50))]
    materialize(db, sensor.instance, rows)
    with warehouse.connect(autocommit=True) as conn:
        with conn.transaction():
            recorded = record_alerts(conn, load_slos(), "hour", [r.period_start for r in rows])
        assert len(recorded.pending_ids) == 6
        channels = channels_of(sensor.resources["slack"], EmailAlertResource())
        report = deliver(conn, channels, lambda: datetime.now(UTC), logging.getLogger("test"), batch=2)
    assert report.sent == {"slack": 6} and report.pending_left == 0
    texts = [t.split(":")[0] for t in slack_api.texts()]
    assert len(texts) == len(set(texts)) == 6
    for slo in ("validation", "audit_observer", "provenance_generation"):
        fired = next(i for i, t in enumerate(texts) if t.startswith(f"[FIRING] SLO {slo} "))
        resolved = next(i for i, t in enumerate(texts) if t.startswith(f"[RESOLVED] SLO {slo} "))
        assert fired < resolved
