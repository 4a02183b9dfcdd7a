"""kpi_aggregations_{hourly,daily,weekly}: every catalog metric per period, one SQL pass per run.

The three assets are one factory: the only difference between them is the granularity. Each
reads the raw rows of its periods (so day and week percentiles are true percentiles), replaces
its window of public.kpi_aggregations in one transaction, and checks what it wrote.
"""


import time
from functools import cache, partial

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    BackfillPolicy,
    Definitions,
    MaterializeResult,
    TimeWindowPartitionsDefinition,
    asset,
    definitions,
)

from telemetry_pipeline.core import settings
from telemetry_pipeline.core.granularity import Granularity
from telemetry_pipeline.core.kpis.catalog import HEADLINE_METRICS, METRICS
from telemetry_pipeline.core.kpis.sql import replace_window
from telemetry_pipeline.core.scopes.teams import load_teams
from telemetry_pipeline.defs.assets_common import (
    KINDS,
    OWNERS,
    RETRY,
    beta_parameters,
    granularity_tags,
    lazy_attributes,
)
from telemetry_pipeline.defs.kpis.checks import check_specs, run_checks
from telemetry_pipeline.defs.partition_metadata import add_metadata_by_partition
from telemetry_pipeline.defs.partitions import partitions_for
from telemetry_pipeline.defs.resources import WarehouseResource


def build_kpi_asset(granularity: str) -> AssetsDefinition:
    """The KPI asset of one granularity, over the configured partitions."""
    g = Granularity.parse(granularity)
    with beta_parameters():
        return _build_kpi_asset(g, partitions_for(g))


@cache
def _build_kpi_asset(granularity: Granularity, partitions: TimeWindowPartitionsDefinition) -> AssetsDefinition:
    key = AssetKey(granularity.kpi_asset)

    @asset(
        key=key,
        partitions_def=partitions,
        tags=granularity_tags(granularity),
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
            "of each period. A metric with no sample in a period has no row. At the granularities of "
            "TELEMETRY_DIMENSION_GRANULARITIES (default day, week) the same pass also writes the "
            "scoped rows per repository, workflow and team (dimension / dimension_value)."
        ),
    )
    def _kpis(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
        window = context.partition_time_window
        started = time.perf_counter()
        with warehouse.connect() as conn:
            # The teams file as it is now: a re-computation applies today's mapping (SPEC section 10).
            result = replace_window(
                conn, granularity, window.start, window.end, HEADLINE_METRICS,
                teams=load_teams(), dimension_granularities=settings.current().dimension_granularities,
            )
            sql_seconds = time.perf_counter() - started
            checks = run_checks(conn, key, granularity, window.start, window.end)
        check_seconds = time.perf_counter() - started - sql_seconds
        by_partition: dict[str, dict[str, float]] = {
            granularity.partition_key(period): dict(values) for period, values in result.values.items()
        }
        for period, counts in result.scoped_by_period.items():
            by_partition.setdefault(granularity.partition_key(period), {}).update(
                {f"scoped_rows_{dimension}": n for dimension, n in counts.items()}
            )
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
                **{f"scoped_rows_{dimension}": n for dimension, n in result.scoped_rows.items()},
                "sql_seconds": round(sql_seconds, 3),
                "check_seconds": round(check_seconds, 3),
            },
            check_results=checks,
        )

    return _kpis


@definitions
def defs() -> Definitions:
    load_teams()  # validate TELEMETRY_TEAMS_FILE when the code location loads (file, team, field)
    return Definitions(assets=[build_kpi_asset(g) for g in Granularity])


__getattr__ = lazy_attributes(__name__, {g.kpi_asset: partial(build_kpi_asset, g) for g in Granularity})
