"""slo_status_{hourly,daily,weekly}: every SLI of the SLO catalog per KPI period, one SQL pass per run.

The assets are built from the catalog (slos.yaml) by `build_slo_assets` when the code location
loads (the `defs` function below): each SLO becomes an asset check (defs/slos/checks.py says what
a result covers), so a bad catalog stops the code location from loading and a good one shows a
result per SLO on every run. Nothing is read at import time.
"""


from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    BackfillPolicy,
    Definitions,
    MaterializeResult,
    asset,
    definitions,
)

from telemetry_pipeline.core.granularity import Granularity, partition_key_for
from telemetry_pipeline.core.slos.config import SloCatalog, check_configured_owners, load_slos
from telemetry_pipeline.core.slos.sql import SloWindowResult, replace_window
from telemetry_pipeline.defs.assets_common import KINDS, OWNERS, RETRY, beta_parameters, granularity_tags
from telemetry_pipeline.defs.partition_metadata import add_metadata_by_partition
from telemetry_pipeline.defs.partitions import partitions_for
from telemetry_pipeline.defs.slos.checks import (
    check_name,
    check_results,
    check_specs,
    latest_periods,
    slos_without_rows,
)

__all__ = ["build_slo_asset", "build_slo_assets", "check_name"]
from telemetry_pipeline.defs.resources import WarehouseResource


def _partition_metadata(result: SloWindowResult) -> dict[str, dict[str, float]]:
    """Per partition, per SLI: value, target and (daily ratio SLIs) budget remaining, for plots."""
    return {
        partition_key_for(period_start, result.granularity): entry
        for period_start, entry in result.period_metadata.items()
    }


def build_slo_asset(granularity: str, catalog: SloCatalog) -> AssetsDefinition:
    """The slo_status asset of one granularity, with one asset check per SLO of `catalog`."""
    g = Granularity.parse(granularity)
    key = AssetKey(g.slo_asset)
    extra = {
        "hour": " Hourly rows of ratio SLIs carry burn rates over the trailing 1 h, 6 h and 3 days "
                "and the multiwindow burn alert ('page' / 'ticket').",
        "day": " Daily rows of ratio SLIs carry the 30-day rolling error budget remaining (percent) "
               "and the day's burn rate.",
        "week": "",
    }[g]

    @asset(
        key=key,
        partitions_def=partitions_for(g),
        deps=[AssetKey(g.kpi_asset)],
        tags=granularity_tags(g),
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
    def _slo_status(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
        window = context.partition_time_window
        with warehouse.connect() as conn:
            result = replace_window(conn, catalog, granularity, window.start, window.end)
            latest = latest_periods(conn, catalog, granularity, slos_without_rows(catalog, result))
        add_metadata_by_partition(context, _partition_metadata(result))
        violations = sum(result.violation_counts.values())
        context.log.info(
            "%s [%s, %s): replaced %d rows with %d; %d unmet, %d violations; burn alerts %s",
            key.to_user_string(), window.start, window.end, result.deleted, result.inserted,
            result.unmet, violations, result.burn_alerts or "none",
        )
        return MaterializeResult(
            metadata={
                "rows_written": result.inserted,
                "rows_replaced": result.deleted,
                "periods_evaluated": len(result.period_metadata),
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
    with beta_parameters():
        return [build_slo_asset(granularity, catalog) for granularity in Granularity]


@definitions
def defs() -> Definitions:
    catalog = load_slos()
    check_configured_owners(catalog)  # an owner naming no team stops the location (file, SLO, field)
    return Definitions(assets=build_slo_assets(catalog))
