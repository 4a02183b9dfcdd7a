"""slo_status_{hourly,daily,weekly}: every SLI of the SLO catalog per KPI period, one SQL pass per run.

The assets are built from the catalog (slos.yaml) by `build_slo_assets` when the code location
loads (the `defs` function below): each SLO becomes an asset check, so a bad catalog stops the code location from
loading and a good one shows red/green per SLO on every run. Nothing is read at import time.
"""


from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
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
from telemetry_pipeline.core.slos.config import SloCatalog, load_slos
from telemetry_pipeline.core.slos.sql import SloWindowResult, Violation, replace_window
from telemetry_pipeline.defs.assets_common import KINDS, OWNERS, RETRY, beta_parameters, granularity_tags
from telemetry_pipeline.defs.partition_metadata import add_metadata_by_partition
from telemetry_pipeline.defs.partitions import partitions_for
from telemetry_pipeline.defs.resources import WarehouseResource


def check_name(slo_name: str) -> str:
    """The asset check of one SLO (SLO names are validated identifiers)."""
    return f"{slo_name}_slo_met"


def _check_specs(key: AssetKey, catalog: SloCatalog) -> list[AssetCheckSpec]:
    return [
        AssetCheckSpec(
            check_name(slo.name),
            asset=key,
            description=(
                f"{slo.description} Warns when any SLI is violated in the run's periods "
                f"(met = false with at least {slo.min_sample_size} rows in the sample): "
                + "; ".join(f"{s.name} {s.metric} {s.comparator} {s.target:g}" for s in slo.slis)
            ),
        )
        for slo in catalog
    ]


def _describe(v: Violation, granularity: str) -> str:
    return (
        f"{partition_key_for(v.period_start, granularity)} {v.sli}={v.value:g} "
        f"(target {v.comparator} {v.target:g}, n={v.sample_size})"
    )


def _check_results(key: AssetKey, catalog: SloCatalog, result: SloWindowResult) -> list[AssetCheckResult]:
    """One WARN-severity result per SLO, naming the violating periods."""
    results = []
    for slo in catalog:
        count = result.violation_counts.get(slo.name, 0)
        listed = [_describe(v, result.granularity) for v in result.violations.get(slo.name, [])]
        results.append(
            AssetCheckResult(
                asset_key=key,
                check_name=check_name(slo.name),
                passed=not count,
                severity=AssetCheckSeverity.WARN,
                metadata={
                    "violations": count,
                    "violating_periods": "\n".join(listed) if listed else "none",
                    "unmet_below_min_sample": result.small_sample_unmet.get(slo.name, 0),
                },
            )
        )
    return results


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
        check_specs=_check_specs(key, catalog),
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
            check_results=_check_results(key, catalog, result),
        )

    return _slo_status


def build_slo_assets(catalog: SloCatalog | None = None) -> list[AssetsDefinition]:
    """slo_status_hourly, _daily and _weekly; loads (and so validates) slos.yaml when not given."""
    catalog = catalog if catalog is not None else load_slos()
    with beta_parameters():
        return [build_slo_asset(granularity, catalog) for granularity in Granularity]


@definitions
def defs() -> Definitions:
    return Definitions(assets=build_slo_assets())
