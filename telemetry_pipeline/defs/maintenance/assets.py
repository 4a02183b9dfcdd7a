"""The daily warehouse_maintenance job: partitions ahead, then retention (SPEC §13).

Two unpartitioned assets on one default-on daily schedule. `raw_partitions` creates the months
ahead and gives rows that landed in a DEFAULT partition their own month; `raw_retention` then
drops the raw months past TELEMETRY_RETENTION_MONTHS whose KPI and slo_status periods are all
materialised (telemetry_pipeline/warehouse/retention.py), and says in its metadata what it
dropped and what it kept back and why. Unset retention keeps everything (and says so).
"""

from datetime import UTC, datetime

from dagster import (
    AssetExecutionContext,
    AssetSelection,
    DefaultScheduleStatus,
    Definitions,
    MaterializeResult,
    MetadataValue,
    ScheduleDefinition,
    asset,
    define_asset_job,
    definitions,
)

from telemetry_pipeline.core.warehouse import retention
from telemetry_pipeline.core.warehouse.maintenance import ensure_all_partitions
from telemetry_pipeline.defs.resources import WarehouseResource

GROUP = "maintenance"
JOB_NAME = "warehouse_maintenance"
#: 03:17 UTC: after the daily KPI and SLO runs of the previous day.
CRON = "17 3 * * *"


@asset(
    group_name=GROUP,
    kinds={"postgres"},
    owners=["team:data-platform"],
    description=(
        "Monthly partitions of public.telemetry_events and public.slsa_audit_metrics: the current "
        "month and the next ones exist, and rows that landed in a DEFAULT partition get their own month."
    ),
)
def raw_partitions(warehouse: WarehouseResource) -> MaterializeResult:
    created = ensure_all_partitions(warehouse.url(), datetime.now(UTC))
    return MaterializeResult(metadata={"created": MetadataValue.json(created), "created_count": len(created)})


@asset(
    group_name=GROUP,
    kinds={"postgres"},
    owners=["team:data-platform"],
    deps=[raw_partitions],
    description=(
        "Raw monthly partitions older than TELEMETRY_RETENTION_MONTHS, dropped once every KPI and "
        "slo_status period they feed is materialised (unset: nothing is dropped)."
    ),
)
def raw_retention(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
    months = retention.retention_months()
    decisions = retention.run(warehouse.url(), months=months, execute=True)
    for decision in decisions:
        context.log.info(decision.render())
    dropped = [d.as_dict() for d in decisions if d.dropped]
    kept = [d.as_dict() for d in decisions if not d.dropped]
    return MaterializeResult(
        metadata={
            "retention_months": months if months is not None else "unset (keep everything)",
            "dropped": MetadataValue.json(dropped),
            "dropped_count": len(dropped),
            "dropped_rows": sum(d["rows"] for d in dropped),
            "kept_back": MetadataValue.json(kept),
        }
    )


maintenance_job = define_asset_job(JOB_NAME, selection=AssetSelection.assets(raw_partitions, raw_retention))
maintenance_schedule = ScheduleDefinition(
    name=f"{JOB_NAME}_daily", job=maintenance_job, cron_schedule=CRON, execution_timezone="UTC",
    default_status=DefaultScheduleStatus.RUNNING,
)

@definitions
def defs() -> Definitions:
    """The daily maintenance job, its two assets and its schedule (loaded from the defs folder)."""
    return Definitions(
        assets=[raw_partitions, raw_retention], jobs=[maintenance_job], schedules=[maintenance_schedule]
    )
