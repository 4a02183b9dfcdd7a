"""slo_alert_sensor: slo_status materialisations -> slo_alerts outbox -> Slack and email.

A tick has two phases, in this order, so nothing is ever sent that was not first recorded:
1. record: for every slo_status partition materialised since the cursor (plus the last few
   periods of each granularity, see RECENT_PERIODS), apply the alert rules (rules.py) in
   PostgreSQL; each page of events is one transaction, and the cursor moves only past pages
   whose alerts are committed;
2. deliver: send what is due in the outbox (delivery.py), committing each channel's result
   right after it answered.
No run is launched: the sensor only reads Dagster's event log and talks to the warehouse.
"""

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import chain

from dagster import (
    DagsterInstance,
    DefaultSensorStatus,
    SensorEvaluationContext,
    SkipReason,
    sensor,
)

from telemetry_pipeline.core.alerting.delivery import Channel, DeliveryReport, ResourceChannel, deliver
from telemetry_pipeline.core.alerting.evidence import attach_evidence
from telemetry_pipeline.core.alerting.routing import Router
from telemetry_pipeline.core.alerting.rules import BACKFILL_GRACE_PERIODS, record_alerts
from telemetry_pipeline.core.granularity import PERIODS, period_start_of
from telemetry_pipeline.core.scopes.teams import TeamsConfigError, load_teams
from telemetry_pipeline.core.slos.config import load_slos
from telemetry_pipeline.defs.alerting.changes import ChangedPeriods, MaterializationScan, parse_cursor
from telemetry_pipeline.defs.alerting.email import EmailAlertResource
from telemetry_pipeline.defs.alerting.slack import SlackAlertResource
from telemetry_pipeline.defs.resources import WarehouseResource

SENSOR_NAME = "slo_alert_sensor"
#: SPEC section 8: running by default, interval <= 30 s.
MINIMUM_INTERVAL_SECONDS = 15
#: Besides the cursor's events, each tick re-reads the periods that could still page (the
#: current one and BACKFILL_GRACE_PERIODS + 1 before it). Storage ids are assigned before
#: commit on PostgreSQL, so an event can become visible after a higher id was read; this
#: cheap re-read (a few rows, idempotent) makes sure such a late event cannot hide a page.
RECENT_PERIODS = BACKFILL_GRACE_PERIODS + 2
#: Materialisation events read per page (one transaction of rules each). Deserialised run
#: events take ~4 KB each in Python; 200 keeps a tick under ~1.5 MiB however long the backfill.
EVENT_PAGE_SIZE = 200


@dataclass
class TickReport:
    cursor: int
    events: int = 0
    periods: int = 0
    recorded_pending: int = 0
    recorded_suppressed: int = 0
    delivery: DeliveryReport = field(default_factory=DeliveryReport)

    def summary(self) -> str:
        return (
            f"{self.events} slo_status materialisations ({self.periods} periods) read; "
            f"recorded {self.recorded_pending} alerts to send, {self.recorded_suppressed} suppressed; "
            f"{self.delivery.summary()}"
        )


def recent_period_starts(now: datetime, granularity: str) -> list[datetime]:
    """The current period of a granularity and the RECENT_PERIODS - 1 before it."""
    current = period_start_of(now, granularity)
    return [current - PERIODS[granularity] * k for k in range(RECENT_PERIODS)]


def channels_of(slack: SlackAlertResource, email: EmailAlertResource) -> list[Channel]:
    return [
        ResourceChannel("slack", slack, slack.sender),
        ResourceChannel("email", email, email.sender_session),
    ]


def run_tick(
    instance: DagsterInstance,
    cursor: str | None,
    warehouse: WarehouseResource,
    channels: list[Channel],
    log: logging.Logger | logging.LoggerAdapter,
    *,
    page_size: int = EVENT_PAGE_SIZE,
) -> TickReport:
    """Record the alerts new materialisations imply, then deliver what is due."""
    catalog = load_slos()
    scan = MaterializationScan(instance, parse_cursor(cursor), page_size=page_size)
    report = TickReport(cursor=scan.after)
    now = datetime.now(UTC)
    with warehouse.connect(autocommit=True) as conn:
        recent = [ChangedPeriods(g, recent_period_starts(now, g)) for g in PERIODS]
        for changed in chain(recent, scan.pages()):
            if changed.unreadable:
                log.warning("%d %s materialisations without a partition key ignored",
                            changed.unreadable, changed.granularity)
            with conn.transaction():
                recorded = record_alerts(conn, catalog, changed.granularity, changed.period_starts)
                attach_evidence(conn, recorded.pending_ids)
            report.periods += len(changed.period_starts)
            report.recorded_pending += len(recorded.pending_ids)
            report.recorded_suppressed += recorded.suppressed
        report.events = scan.events
        report.cursor = scan.next_cursor
        report.delivery = deliver(conn, channels, lambda: datetime.now(UTC), log, router=router_now(log))
    return report


def router_now(log: logging.Logger | logging.LoggerAdapter) -> Router:
    """Routes from the teams file as it is now: an edited file applies to every pending alert.

    A file broken since start-up must not stop every alert: scoped ones go to the defaults
    (with an error in the log naming the file and field) until it is fixed.
    """
    try:
        return Router(load_teams())
    except TeamsConfigError as exc:
        log.error("teams file unusable, scoped alerts go to the default channels: %s", exc)
        return Router()


@sensor(
    name=SENSOR_NAME,
    minimum_interval_seconds=MINIMUM_INTERVAL_SECONDS,
    default_status=DefaultSensorStatus.RUNNING,
    description=(
        "Alerts Slack and email on SLO violations (SPEC section 7): reads every slo_status "
        "materialisation since its storage-id cursor, records alerts once in public.slo_alerts "
        "(backfilled periods suppressed, recoveries resolved), then delivers pending ones with "
        "retry and backoff."
    ),
)
def slo_alert_sensor(
    context: SensorEvaluationContext,
    warehouse: WarehouseResource,
    slack: SlackAlertResource,
    email: EmailAlertResource,
) -> SkipReason:
    report = run_tick(context.instance, context.cursor, warehouse, channels_of(slack, email), context.log)
    context.update_cursor(str(report.cursor))
    return SkipReason(report.summary())
