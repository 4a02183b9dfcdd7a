"""raw_events: the telemetry_events rows of one UTC hour, as a partitioned asset.

Events are written by ingestion (emit, collector, ingest, or a workflow's own SQL); this asset
does not copy them. Materialising a partition records what the hour holds (counts by event type
and status), which makes the hour visible, plottable and a dependency the KPI assets can follow.
"""


from collections import defaultdict
from functools import cache

from dagster import (
    AssetExecutionContext,
    AssetsDefinition,
    BackfillPolicy,
    Definitions,
    MaterializeResult,
    TimeWindowPartitionsDefinition,
    asset,
    definitions,
)

from telemetry_pipeline.core.granularity import Granularity
from telemetry_pipeline.defs.assets_common import (
    KINDS,
    OWNERS,
    RETRY,
    beta_parameters,
    granularity_tags,
    lazy_attributes,
)
from telemetry_pipeline.defs.partition_metadata import add_metadata_by_partition
from telemetry_pipeline.defs.partitions import hourly_partitions
from telemetry_pipeline.defs.resources import WarehouseResource

_COUNTS_SQL = """
    select date_trunc('hour', event_timestamp, 'UTC') as hour, event_type,
           coalesce(m_status, '(none)') as status, count(*)
    from public.telemetry_events
    where event_timestamp >= %s and event_timestamp < %s
    group by 1, 2, 3
"""


def build_raw_events() -> AssetsDefinition:
    """The asset over the configured hourly partitions (built when the code location loads)."""
    return _raw_events(hourly_partitions())


@cache
def _raw_events(partitions: TimeWindowPartitionsDefinition) -> AssetsDefinition:
    with beta_parameters():
        return asset(
            name="raw_events",
            partitions_def=partitions,
            backfill_policy=BackfillPolicy.single_run(),
            group_name="telemetry",
            kinds=KINDS,
            owners=OWNERS,
            retry_policy=RETRY,
            tags=granularity_tags(Granularity.HOUR),
            description=(
                "Telemetry events (table public.telemetry_events) whose event_timestamp lies in the UTC "
                "hour. Written by `telemetry-pipeline emit/ingest`, the collector or workflows' SQL; "
                "materialising records counts by event type and status."
            ),
        )(_materialize_raw_events)


@definitions
def defs() -> Definitions:
    return Definitions(assets=[build_raw_events()])


__getattr__ = lazy_attributes(__name__, {"raw_events": build_raw_events})


def _materialize_raw_events(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
    """Count the targeted hours' events by type and status, per partition."""
    window = context.partition_time_window
    per_hour: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    with warehouse.connect() as conn:
        for hour, event_type, status, n in conn.execute(_COUNTS_SQL, (window.start, window.end)):
            counts = per_hour[Granularity.HOUR.partition_key(hour)]
            counts["events"] += n
            counts[f"type:{event_type}"] += n
            counts[f"status:{status}"] += n
    targeted = context.partition_keys
    add_metadata_by_partition(context, {key: {"events": 0, **per_hour.get(key, {})} for key in targeted})
    total = sum(c["events"] for c in per_hour.values())
    context.log.info("raw_events: %d events in %d of %d hours", total, len(per_hour), len(targeted))
    return MaterializeResult(metadata={"window_events": total, "hours_with_events": len(per_hour)})
