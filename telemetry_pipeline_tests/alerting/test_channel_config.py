"""Channels configured from the environment: EnvVars resolved by Dagster, secrets never shown."""

from __future__ import annotations

import pytest

from telemetry_pipeline.defs.alerting.email import email_from_env
from telemetry_pipeline.defs.alerting.resources import alerting_resources_from_env
from telemetry_pipeline.defs.alerting.slack import DEFAULT_SLACK_API_BASE_URL, slack_from_env
from telemetry_pipeline_tests.alerting.conftest import Sensor
from telemetry_pipeline_tests.alerting.slo_rows import Row, alerts, materialize, period
from telemetry_pipeline_tests.alerting.smtp_server import SmtpServer
from telemetry_pipeline_tests.alerting.test_alert_rules import fresh

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

TOKEN = "fake-env-secret-123"
PASSWORD = "smtp-pass-456"

ALL_VARS = ("SLACK_BOT_TOKEN", "SLACK_CHANNEL", "SLACK_API_BASE_URL", "SMTP_HOST", "SMTP_PORT", "SMTP_FROM",
            "ALERT_EMAIL_TO", "SMTP_USERNAME", "SMTP_PASSWORD", "SMTP_STARTTLS")


@pytest.fixture
def clean_env(monkeypatch):
    for name in ALL_VARS:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_unset_environment_gives_unconfigured_channels(clean_env):
    slack, email = slack_from_env(), email_from_env()
    assert not slack.is_configured() and not email.is_configured()
    assert slack.base_url == DEFAULT_SLACK_API_BASE_URL
    assert email.not_configured_reason() == "email alerts are off: SMTP_HOST and SMTP_FROM and ALERT_EMAIL_TO not set"


def test_bad_values_stop_start_up_naming_the_variable(clean_env):
    clean_env.setenv("SLACK_API_BASE_URL", "slack.example.org/api")
    with pytest.raises(ValueError, match=r"SLACK_API_BASE_URL='slack.example.org/api' is not an http\(s\) URL"):
        slack_from_env()
    clean_env.setenv("SMTP_PORT", "25x")
    with pytest.raises(ValueError, match=r"SMTP_PORT='25x' is not a TCP port"):
        email_from_env()
    clean_env.setenv("SMTP_PORT", "2525")
    clean_env.setenv("SMTP_STARTTLS", "maybe")
    with pytest.raises(ValueError, match=r"SMTP_STARTTLS='maybe' is not a boolean"):
        email_from_env()


def test_environment_configures_both_channels_secrets_stay_envvars(clean_env, instance, warehouse, db,
                                                                   slack_api, capfd):
    smtp = SmtpServer(credentials=("alerts", PASSWORD)).start()
    try:
        for name, value in {
            "SLACK_BOT_TOKEN": TOKEN, "SLACK_CHANNEL": "C0ALERTS", "SLACK_API_BASE_URL": slack_api.base_url,
            "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp.port), "SMTP_FROM": "tp@example.org",
            "ALERT_EMAIL_TO": "a@example.org,b@example.org", "SMTP_USERNAME": "alerts",
            "SMTP_PASSWORD": "wrong-" + PASSWORD, "SMTP_STARTTLS": "false",
        }.items():
            clean_env.setenv(name, value)
        resources = alerting_resources_from_env()
        assert TOKEN not in repr(resources) and PASSWORD not in repr(resources)
        sensor = Sensor(instance, {"warehouse": warehouse, **resources})
        materialize(db, instance, [fresh(Row("validation", "availability", "hour", period("hour", 1), 90.0, 100))])
        sensor.tick()  # wrong SMTP password: email fails, Slack goes out
        (request,) = slack_api.requests
        assert request.authorization == f"Bearer {TOKEN}" and request.body["channel"] == "C0ALERTS"
        (alert,) = alerts(db)
        assert alert["email_state"] == "pending" and alert["last_error"].startswith(
            f"email: SMTP 127.0.0.1:{smtp.port}: SMTPAuthenticationError: 535")

        clean_env.setenv("SMTP_PASSWORD", PASSWORD)  # fixed; EnvVar is read again on the next tick
        db.execute("update public.slo_alerts set next_attempt_at = now()")
        sensor.tick()
        assert smtp.wait_for_mails(1)
        assert smtp.mails[0].rcpt_tos == ["a@example.org", "b@example.org"]
        logged = capfd.readouterr()
        for secret in (TOKEN, PASSWORD):
            assert secret not in logged.out + logged.err
            assert all(secret not in str(a) for a in alerts(db))
    finally:
        smtp.stop()
