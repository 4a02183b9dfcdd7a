"""kpi_aggregations_{hourly,daily,weekly}: every catalog metric per period, one SQL pass per run.

The three assets are one factory: the only difference between them is the granularity. Each
reads the raw rows of its periods (so day and week percentiles are true percentiles), replaces
its window of public.kpi_aggregations in one transaction, and checks what it wrote.
"""


import time

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    BackfillPolicy,
    MaterializeResult,
    asset,
)

from telemetry_pipeline.core.granularity import partition_key_for, partitions_for
from telemetry_pipeline.core.kpis.catalog import HEADLINE_METRICS, METRICS
from telemetry_pipeline.core.kpis.sql import replace_window
from telemetry_pipeline.core.warehouse import WarehouseResource
from telemetry_pipeline.defs.assets_common import KINDS, OWNERS, RETRY
from telemetry_pipeline.defs.kpis.checks import check_specs, run_checks
from telemetry_pipeline.defs.partition_metadata import add_metadata_by_partition

#: granularity -> asset name suffix (SPEC section 8 keys)
GRANULARITIES: dict[str, str] = {"hour": "hourly", "day": "daily", "week": "weekly"}


def kpi_asset_key(granularity: str) -> AssetKey:
    return AssetKey(f"kpi_aggregations_{GRANULARITIES[granularity]}")


def build_kpi_asset(granularity: str) -> AssetsDefinition:
    """The KPI asset of one granularity."""
    key = kpi_asset_key(granularity)

    @asset(
        key=key,
        partitions_def=partitions_for(granularity),
        deps=["raw_events", "slsa_audit_metrics"],
        backfill_policy=BackfillPolicy.single_run(),
        group_name="kpis",
        kinds=KINDS,
        owners=OWNERS,
        retry_policy=RETRY,
        check_specs=check_specs(key),
        description=(
            f"All {len(METRICS)} KPIs of the metric catalog per UTC {granularity} "
            "(table public.kpi_aggregations, aggregation_period = "
            f"'{granularity}'), computed in PostgreSQL from the raw telemetry events and audit rows "
            "of each period. A metric with no sample in a period has no row."
        ),
    )
    def _kpis(context: AssetExecutionContext, warehouse: WarehouseResource):
        window = context.partition_time_window
        started = time.perf_counter()
        with warehouse.connect() as conn:
            result = replace_window(conn, granularity, window.start, window.end, HEADLINE_METRICS)
            sql_seconds = time.perf_counter() - started
            checks = run_checks(conn, key, granularity, window.start, window.end)
        check_seconds = time.perf_counter() - started - sql_seconds
        by_partition = {
            partition_key_for(period, granularity): values for period, values in result.values.items()
        }
        add_metadata_by_partition(context, by_partition)
        context.log.info(
            "%s [%s, %s): replaced %d rows with %d over %d periods",
            key.to_user_string(), window.start, window.end, result.deleted, result.inserted,
            result.periods_with_rows,
        )
        return MaterializeResult(
            metadata={
                "rows_written": result.inserted,
                "rows_replaced": result.deleted,
                "periods_with_kpis": result.periods_with_rows,
                "sql_seconds": round(sql_seconds, 3),
                "check_seconds": round(check_seconds, 3),
            },
            check_results=checks,
        )

    return _kpis


kpi_aggregations_hourly = build_kpi_asset("hour")
kpi_aggregations_daily = build_kpi_asset("day")
kpi_aggregations_weekly = build_kpi_asset("week")

KPI_ASSETS = [kpi_aggregations_hourly, kpi_aggregations_daily, kpi_aggregations_weekly]
