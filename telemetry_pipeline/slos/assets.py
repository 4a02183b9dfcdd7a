"""slo_status_{hourly,daily,weekly}: every SLI of the SLO catalog per KPI period, one SQL pass per run.

The assets are built from the catalog (slos.yaml) by `build_slo_assets`, which definitions.py
calls once: each SLO becomes an asset check (slos/checks.py says what a result covers), so a bad
catalog stops the code location from loading and a good one shows a result per SLO on every run.
Nothing is read at import time.
"""


from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    BackfillPolicy,
    MaterializeResult,
    asset,
)

from telemetry_pipeline.assets_common import KINDS, OWNERS, RETRY
from telemetry_pipeline.kpis.assets import GRANULARITIES, kpi_asset_key
from telemetry_pipeline.partition_metadata import add_metadata_by_partition
from telemetry_pipeline.partitions import partition_key_for, partitions_for
from telemetry_pipeline.slos.checks import (
    check_name,
    check_results,
    check_specs,
    latest_periods,
    slos_without_rows,
)
from telemetry_pipeline.slos.config import SloCatalog, load_slos
from telemetry_pipeline.slos.sql import SloWindowResult, replace_window
from telemetry_pipeline.warehouse import WarehouseResource

__all__ = ["build_slo_asset", "build_slo_assets", "check_name", "slo_asset_key"]


def slo_asset_key(granularity: str) -> AssetKey:
    return AssetKey(f"slo_status_{GRANULARITIES[granularity]}")


def _partition_metadata(result: SloWindowResult) -> dict[str, dict[str, float]]:
    """Per partition, per SLI: value, target and (daily ratio SLIs) budget remaining, for plots."""
    by_partition: dict[str, dict[str, float]] = {}
    for period_start, slis in result.sli_values.items():
        entry: dict[str, float] = {}
        for (slo_name, sli), (value, target, budget) in slis.items():
            entry[f"{slo_name}.{sli}"] = value
            entry[f"{slo_name}.{sli}.target"] = target
            if budget is not None:
                entry[f"{slo_name}.{sli}.budget_remaining_pct"] = budget
        by_partition[partition_key_for(period_start, result.granularity)] = entry
    return by_partition


def build_slo_asset(granularity: str, catalog: SloCatalog) -> AssetsDefinition:
    """The slo_status asset of one granularity, with one asset check per SLO of `catalog`."""
    key = slo_asset_key(granularity)
    extra = {
        "hour": " Hourly rows of ratio SLIs carry burn rates over the trailing 1 h, 6 h and 3 days "
                "and the multiwindow burn alert ('page' / 'ticket').",
        "day": " Daily rows of ratio SLIs carry the 30-day rolling error budget remaining (percent) "
               "and the day's burn rate.",
        "week": "",
    }[granularity]

    @asset(
        key=key,
        partitions_def=partitions_for(granularity),
        deps=[kpi_asset_key(granularity)],
        backfill_policy=BackfillPolicy.single_run(),
        group_name="slos",
        kinds=KINDS,
        owners=OWNERS,
        retry_policy=RETRY,
        check_specs=check_specs(key, catalog),
        description=(
            f"Every SLI of the {len(catalog)} SLOs in slos.yaml evaluated per UTC {granularity} from "
            f"kpi_aggregations (table public.slo_status, aggregation_period = '{granularity}'): value, "
            "target, comparator, met, sample size. A period without the metric has no row." + extra
        ),
    )
    def _slo_status(context: AssetExecutionContext, warehouse: WarehouseResource):
        window = context.partition_time_window
        with warehouse.connect() as conn:
            result = replace_window(conn, catalog, granularity, window.start, window.end)
            latest = latest_periods(conn, catalog, granularity, slos_without_rows(catalog, result))
        add_metadata_by_partition(context, _partition_metadata(result))
        violations = sum(len(v) for v in result.violations.values())
        context.log.info(
            "%s [%s, %s): replaced %d rows with %d; %d unmet, %d violations; burn alerts %s",
            key.to_user_string(), window.start, window.end, result.deleted, result.inserted,
            result.unmet, violations, result.burn_alerts or "none",
        )
        return MaterializeResult(
            metadata={
                "rows_written": result.inserted,
                "rows_replaced": result.deleted,
                "periods_evaluated": len(result.sli_values),
                "unmet_rows": result.unmet,
                "violations": violations,
                "burn_alerts_page": result.burn_alerts.get("page", 0),
                "burn_alerts_ticket": result.burn_alerts.get("ticket", 0),
            },
            check_results=check_results(key, catalog, result, latest),
        )

    return _slo_status


def build_slo_assets(catalog: SloCatalog | None = None) -> list[AssetsDefinition]:
    """slo_status_hourly, _daily and _weekly; loads (and so validates) slos.yaml when not given."""
    catalog = catalog if catalog is not None else load_slos()
    return [build_slo_asset(granularity, catalog) for granularity in GRANULARITIES]
