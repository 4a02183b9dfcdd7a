"""Fixtures for the alerting tests: a Slack Web API server and an SMTP server on 127.0.0.1, a
Dagster instance, and a `tick` that evaluates slo_alert_sensor through Dagster."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
import pytest
from dagster import DagsterInstance, SkipReason, build_sensor_context, instance_for_test

from telemetry_pipeline.defs.alerting.email import EmailAlertResource
from telemetry_pipeline.defs.alerting.sensor import slo_alert_sensor
from telemetry_pipeline.defs.alerting.slack import SlackAlertResource
from telemetry_pipeline.defs.resources import WarehouseResource
from telemetry_pipeline_tests.alerting.slack_api_server import SlackApiServer
from telemetry_pipeline_tests.alerting.smtp_server import SmtpServer

SLACK_TOKEN = "fake-slack-test-token"


@pytest.fixture
def slack_api() -> Iterator[SlackApiServer]:
    server = SlackApiServer().start()
    yield server
    server.stop()


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def instance() -> Iterator[DagsterInstance]:
    """One Dagster instance (SQLite storage) for all alerting tests: creating one costs ~1.5 s.

    Tests stay independent: each starts its sensor without a cursor (so it also reads earlier
    tests' events, whose slo_status rows are gone, which is harmless) on an emptied warehouse.
    """
    with instance_for_test() as inst:
        yield inst


@pytest.fixture
def db(warehouse: WarehouseResource) -> Iterator[psycopg.Connection]:
    """An autocommit connection on the emptied test warehouse."""
    with warehouse.connect(autocommit=True) as conn:
        yield conn


@dataclass
class Sensor:
    """Evaluates slo_alert_sensor like the daemon does, keeping its cursor between ticks."""

    instance: DagsterInstance
    resources: dict
    cursor: str | None = None

    def tick(self) -> str:
        context = build_sensor_context(instance=self.instance, cursor=self.cursor, resources=self.resources)
        result = slo_alert_sensor(context)
        assert isinstance(result, SkipReason)
        self.cursor = context.cursor
        return result.skip_message or ""

    def restart(self) -> None:
        """A daemon restart that lost the cursor: the next tick is cursor-less."""
        self.cursor = None


def slack_resource(server: SlackApiServer, **overrides) -> SlackAlertResource:
    return SlackAlertResource(
        token=SLACK_TOKEN, channel="#slo-alerts", base_url=server.base_url, timeout_seconds=1.0, **overrides
    )


def email_resource(server: SmtpServer) -> EmailAlertResource:
    return EmailAlertResource(
        host="127.0.0.1", port=server.port, sender="telemetry@example.org",
        recipients="oncall@example.org, sre@example.org", timeout_seconds=2.0,
    )


@pytest.fixture
def sensor(
    instance: DagsterInstance, warehouse: WarehouseResource, slack_api: SlackApiServer, smtp: SmtpServer
) -> Sensor:
    return Sensor(
        instance,
        {"warehouse": warehouse, "slack": slack_resource(slack_api), "email": email_resource(smtp)},
    )
