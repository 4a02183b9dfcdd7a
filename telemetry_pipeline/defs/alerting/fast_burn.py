"""slo_fast_burn_sensor: page in minutes from the open period, and NO DATA (SPEC section 11).

Every 30 s (the daemon runs it by default) it evaluates the rolling windows ending now of
every ratio SLI from the raw rows (core/slos/fast_burn.py), opens and closes episodes
(core/alerting/episodes.py) in the slo_alerts outbox, stores the evaluation for GET /metrics
(core/slos/fast_burn_latest.py, table slo_fast_burn_latest), raises and resolves NO DATA for silent
sources (core/alerting/no_data.py), then runs the same delivery pass as
slo_alert_sensor, on the same Slack and email resources. It launches no runs; its
evaluation (every window's burn rate and rows per SLI, episodes opened and closed, NO DATA,
delivery) is the tick's skip message and the instant it evaluated is the tick's cursor, both
shown in the Dagster UI's sensor history (test_fast_burn_ticks.py reads them from the instance).
"""

import logging
from datetime import UTC, datetime

from dagster import DefaultSensorStatus, SensorEvaluationContext, SensorResult, SkipReason, sensor

from telemetry_pipeline.core.alerting.delivery import Channel, deliver
from telemetry_pipeline.core.alerting.episodes import record_episodes
from telemetry_pipeline.core.alerting.no_data import record_no_data
from telemetry_pipeline.core.slos import fast_burn_latest
from telemetry_pipeline.core.slos.config import load_slos
from telemetry_pipeline.defs.alerting.email import EmailAlertResource
from telemetry_pipeline.defs.alerting.sensor import channels_of, router_now
from telemetry_pipeline.defs.alerting.slack import SlackAlertResource
from telemetry_pipeline.defs.resources import WarehouseResource

SENSOR_NAME = "slo_fast_burn_sensor"
#: SPEC section 11 asks for at least once a minute; 30 s leaves room for a slow tick.
MINIMUM_INTERVAL_SECONDS = 30


def run_fast_burn_tick(
    warehouse: WarehouseResource,
    channels: list[Channel],
    log: logging.Logger | logging.LoggerAdapter,
    now: datetime | None = None,
) -> str:
    """One evaluation at `now` (the wall clock by default), then one delivery pass."""
    at = now or datetime.now(UTC)
    with warehouse.connect(autocommit=True) as conn:
        catalog = load_slos()
        report = record_episodes(conn, catalog, at)
        fast_burn_latest.store(conn, report.burns, at)
        silent = record_no_data(conn, catalog, at)
        delivery = deliver(conn, channels, lambda: datetime.now(UTC), log, router=router_now(log))
    return f"{report.summary()}; {silent.summary()}; {delivery.summary()}"


@sensor(
    name=SENSOR_NAME,
    minimum_interval_seconds=MINIMUM_INTERVAL_SECONDS,
    default_status=DefaultSensorStatus.RUNNING,
    description=(
        "Pages within minutes of a fast error-budget burn (SPEC section 11): the 5m/30m/1h/6h "
        "windows ending now, from the raw rows, paired as in burn_windows.yaml; one page per "
        "(SLO, SLI) episode through public.slo_alerts, one resolved message when it is over."
    ),
)
def slo_fast_burn_sensor(
    context: SensorEvaluationContext,
    warehouse: WarehouseResource,
    slack: SlackAlertResource,
    email: EmailAlertResource,
) -> SensorResult:
    at = datetime.now(UTC)
    summary = run_fast_burn_tick(warehouse, channels_of(slack, email), context.log, at)
    # the cursor is informational (nothing reads it back): the instant this tick evaluated at
    return SensorResult(skip_reason=SkipReason(summary), cursor=at.isoformat(timespec="seconds"))
