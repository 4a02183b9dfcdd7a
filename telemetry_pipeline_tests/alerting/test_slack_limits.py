"""Slack's Block Kit limits and permanent rejections, against the loopback Slack API server.

The server refuses a message over any documented limit with `invalid_blocks`, as Slack does,
so a message that gets through here is one Slack accepts. A permanent rejection makes the alert
dead on Slack (recorded, never retried) and never holds up the alerts behind it.
"""

from __future__ import annotations

import pytest

from telemetry_pipeline.core.alerting.messages import ELLIPSIS
from telemetry_pipeline_tests.alerting.outbox_rows import outbox_rows, patch_payload, record_violations
from telemetry_pipeline_tests.alerting.slack_api_server import block_kit_errors
from telemetry_pipeline_tests.alerting.slo_rows import age_retries

HUGE_TAG = "release-" + "9" * 4000
HUGE_DESCRIPTION = "Deploys & rollbacks <always> " * 400  # ~11,600 characters, '&' '<' '>' escaped
HUGE_RUNBOOK = "https://runbooks.example.org/" + "a" * 5000


def test_huge_tag_description_and_runbook_url_still_reach_slack(sensor, db, slack_api, smtp):
    (key,) = record_violations(db, sensor.instance, 1)
    patch_payload(db, key, tags=[HUGE_TAG, "v2"], description=HUGE_DESCRIPTION, runbook_url=HUGE_RUNBOOK)
    summary = sensor.tick()

    assert [r.mode for r in slack_api.requests] == ["ok"] and len(slack_api.messages) == 1
    assert "deliveries: 2 sent, 0 retrying, 0 dead" in summary
    blocks = slack_api.messages[0]["blocks"]
    assert block_kit_errors(slack_api.messages[0]) == []
    releases = blocks[2]["fields"][-1]["text"]
    assert releases.startswith("*Releases involved*\nrelease-999") and releases.endswith(ELLIPSIS)
    assert len(releases) == 2000
    context = blocks[3]["elements"][0]["text"]
    assert context.startswith("Deploys &amp; rollbacks &lt;always&gt;") and context.endswith(ELLIPSIS)
    assert len(context) <= 3000 and "&" not in context[-6:-1].replace("&amp;", "").replace("&gt;", "")
    links = blocks[4]["text"]["text"]
    assert links.endswith("Runbook (URL too long for Slack; see the email)") and HUGE_RUNBOOK not in links
    assert outbox_rows(db)[0]["state"] == "sent"
    mail = smtp.mails[0].message.get_body(("plain",)).get_content()
    assert f"Runbook: {HUGE_RUNBOOK}" in mail  # the email keeps everything


@pytest.mark.parametrize("error", ["invalid_blocks", "channel_not_found", "not_in_channel", "invalid_auth"])
def test_a_permanent_rejection_is_dead_and_never_delays_the_next_alert(sensor, db, slack_api, smtp, error):
    first, second = record_violations(db, sensor.instance, 2)
    slack_api.reject = {"SLO validation / availability": error}
    summary = sensor.tick()

    # the rejected alert comes first in the outbox; the next one still goes out in the same tick
    assert [r.mode for r in slack_api.requests] == [f"error:{error}", "ok"]
    assert slack_api.texts()[0].startswith("[FIRING] SLO audit_observer / availability violated")
    assert "deliveries: 3 sent, 0 retrying, 1 dead" in summary and "slack failing" not in summary
    rows = {r["key"]: r for r in outbox_rows(db)}
    dead = rows[first]
    assert (dead["state"], dead["slack_state"], dead["email_state"]) == ("dead", "dead", "sent")
    assert dead["dead_error"] == f"slack: Slack rejected the message (HTTP 200): {error}"
    assert dead["dead_at"] is not None and dead["attempts"] == 0
    assert (rows[second]["state"], rows[second]["slack_state"]) == ("sent", "sent")

    age_retries(db)
    db.execute("update public.slo_alerts set next_attempt_at = now() - interval '1 hour'")
    summary = sensor.tick()  # a dead alert is never retried
    assert len(slack_api.requests) == 2 and len(smtp.mails) == 2
    assert "deliveries: 0 sent, 0 retrying, 0 dead" in summary


def test_a_transient_slack_error_still_backs_off_the_channel(sensor, db, slack_api, smtp):
    record_violations(db, sensor.instance, 2)
    slack_api.reject = {"SLO validation / availability": "internal_error"}
    summary = sensor.tick()
    assert [r.mode for r in slack_api.requests] == ["error:internal_error"]  # Slack given up for the tick
    assert "deliveries: 2 sent, 1 retrying, 0 dead" in summary
    assert [r["slack_state"] for r in outbox_rows(db)] == ["pending", "pending"]
    assert outbox_rows(db)[0]["last_error"] == "slack: Slack API error (HTTP 200): internal_error"


def test_an_alert_whose_payload_cannot_be_rendered_is_dead_and_the_tick_goes_on(sensor, db, slack_api, smtp):
    first, second = record_violations(db, sensor.instance, 2)
    patch_payload(db, first, period_start="not a time")
    summary = sensor.tick()
    assert slack_api.texts()[0].startswith("[FIRING] SLO audit_observer / availability")
    assert len(smtp.mails) == 1 and "deliveries: 2 sent, 0 retrying, 2 dead" in summary
    dead = outbox_rows(db)[0]
    assert (dead["state"], dead["slack_state"], dead["email_state"]) == ("dead", "dead", "dead")
    assert dead["dead_error"] == (
        "slack: message could not be built: ValueError: Invalid isoformat string: 'not a time'; "
        "email: message could not be built: ValueError: Invalid isoformat string: 'not a time'"
    )
