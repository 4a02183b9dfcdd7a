"""Email recipients as an RFC 5322 address list, refusals kept per recipient, and messages that
cannot be built isolated from the rest, against the real aiosmtpd server on 127.0.0.1."""

from __future__ import annotations

import pytest

from telemetry_pipeline.defs.alerting.email import EmailAlertResource, email_from_env, parse_recipients
from telemetry_pipeline_tests.alerting.outbox_rows import outbox_rows, patch_payload, record_violations
from telemetry_pipeline_tests.alerting.slo_rows import age_retries
from telemetry_pipeline_tests.alerting.smtp_server import SmtpServer


def _mail_to(sensor, smtp: SmtpServer, recipients: str) -> None:
    sensor.resources["email"] = EmailAlertResource(
        host="127.0.0.1", port=smtp.port, sender="telemetry@example.org", recipients=recipients, timeout_seconds=2.0)


def test_semicolons_and_quoted_commas_reach_every_recipient(sensor, db, smtp):
    record_violations(db, sensor.instance, 1)
    _mail_to(sensor, smtp, '"Dev, Team" <dev@example.org>; ops@example.org,, oncall@example.org')
    sensor.tick()
    (mail,) = smtp.mails
    assert mail.rcpt_tos == ["dev@example.org", "ops@example.org", "oncall@example.org"]
    assert str(mail.message["To"]) == '"Dev, Team" <dev@example.org>, ops@example.org, oncall@example.org'


def test_a_refused_recipient_is_recorded_and_retried_alone(sensor, db, smtp, slack_api):
    first, second = record_violations(db, sensor.instance, 2)
    smtp.refuse = {"sre@example.org"}
    summary = sensor.tick()

    # both alerts went to the recipient the server accepts: a refusal is this alert's, not the channel's
    assert [m.rcpt_tos for m in smtp.mails] == [["oncall@example.org"], ["oncall@example.org"]]
    assert "deliveries: 2 sent, 2 retrying, 0 dead" in summary and "email failing" not in summary
    row = outbox_rows(db)[0]
    assert (row["state"], row["slack_state"], row["email_state"], row["attempts"]) == (
        "pending", "sent", "pending", 1)
    assert row["last_error"] == (
        f"email: SMTP 127.0.0.1:{smtp.port}: 1 of 2 recipients refused: "
        "sre@example.org (550 5.1.1 mailbox unavailable)")
    recipients = row["email_recipients"]
    assert recipients["oncall@example.org"]["state"] == "sent"
    assert recipients["sre@example.org"]["state"] == "refused"
    assert recipients["sre@example.org"]["error"] == "550 5.1.1 mailbox unavailable"

    smtp.refuse = set()
    age_retries(db)
    sensor.tick()
    # only the refused recipient is mailed again; the accepted one never gets a second copy
    assert [m.rcpt_tos for m in smtp.mails[2:]] == [["sre@example.org"], ["sre@example.org"]]
    assert {(r["state"], r["email_state"]) for r in outbox_rows(db)} == {("sent", "sent")}
    assert outbox_rows(db)[0]["email_recipients"]["sre@example.org"]["state"] == "sent"
    age_retries(db)
    sensor.tick()
    assert len(smtp.mails) == 4


def test_every_recipient_refused_keeps_the_alert_pending_for_all(sensor, db, smtp):
    record_violations(db, sensor.instance, 1)
    smtp.refuse = {"oncall@example.org", "sre@example.org"}
    sensor.tick()
    assert smtp.mails == []
    row = outbox_rows(db)[0]
    assert row["email_state"] == "pending" and "2 of 2 recipients refused" in row["last_error"]
    assert {r["state"] for r in row["email_recipients"].values()} == {"refused"}
    smtp.refuse = set()
    age_retries(db)
    sensor.tick()
    assert [m.rcpt_tos for m in smtp.mails] == [["oncall@example.org", "sre@example.org"]]


def test_crlf_in_an_slo_name_cannot_inject_headers_or_stop_the_tick(sensor, db, smtp, slack_api):
    first, _second = record_violations(db, sensor.instance, 2)
    patch_payload(db, first, slo="validation\r\nBcc: victim@example.org\r\n")
    sensor.tick()
    assert len(smtp.mails) == 2 and len(slack_api.messages) == 2
    mail = smtp.mails[0]
    assert mail.message["Bcc"] is None and "victim@example.org" not in mail.rcpt_tos
    assert " ".join(str(mail.message["Subject"]).split()) == (
        "[FIRING] SLO validation Bcc: victim@example.org / availability violated")
    assert mail.message.keys().count("Subject") == 1
    assert {r["state"] for r in outbox_rows(db)} == {"sent"}


@pytest.mark.parametrize(("raw", "expected"), [
    ("a@example.org", ["a@example.org"]),
    ("a@example.org; b@example.org", ["a@example.org", "b@example.org"]),
    ("a@example.org;b@example.org;", ["a@example.org", "b@example.org"]),
    ('"Dev, Team" <dev@example.org>', ["dev@example.org"]),
    ('"Dev; Team" <dev@example.org>, ops@x', ["dev@example.org", "ops@x"]),
    ("Dev Team <dev@example.org>, <ops@example.org>", ["dev@example.org", "ops@example.org"]),
    ("team: a@example.org, b@example.org;", ["a@example.org", "b@example.org"]),
    ("a@example.org,,  ,b@example.org", ["a@example.org", "b@example.org"]),
    ("A@example.org, a@example.org", ["A@example.org"]),
    ("(comment) a@example.org", ["a@example.org"]),
    ("   ", []),
])
def test_address_lists(raw, expected):
    assert [address for _name, address in parse_recipients(raw)] == expected


@pytest.mark.parametrize("raw", [
    "not-an-address", "a@", "@example.org", "garbage <<", "a@example.org, broken", "a b@example.org",
    "Dev <>", ";;", "\"unterminated <a@example.org>",
])
def test_an_unparsable_list_stops_start_up_naming_the_variable(monkeypatch, raw):
    monkeypatch.setenv("ALERT_EMAIL_TO", raw)
    with pytest.raises(ValueError, match=r"^ALERT_EMAIL_TO"):
        email_from_env()


def test_a_list_broken_while_running_turns_email_off_and_slack_goes_on(sensor, db, smtp, slack_api, capfd):
    record_violations(db, sensor.instance, 1)
    _mail_to(sensor, smtp, "oncall@example.org, garbage <<")
    capfd.readouterr()
    sensor.tick()
    assert len(slack_api.messages) == 1 and smtp.mails == []
    assert outbox_rows(db)[0]["email_state"] == "skipped"
    assert "email alerts are off: ALERT_EMAIL_TO: 'garbage' is not an email address" in capfd.readouterr().err
