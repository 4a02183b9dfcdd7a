"""slsa_audit_metrics: written by the Phase 3 audit observer, observed (not produced) here.

The asset is an observable source: Dagster does not write it, it records data versions for the
hours that recently changed (row count and latest created_at), so lineage shows where audit KPIs
come from and a changed hour is visible as a new version.
"""


from datetime import timedelta

from dagster import DataVersionsByPartition, observable_source_asset
from dagster._core.definitions.external_asset import create_external_asset_from_source_asset

from telemetry_pipeline.core.granularity import hourly_partitions, partition_key_for
from telemetry_pipeline.core.warehouse import WarehouseResource
from telemetry_pipeline.defs.assets_common import KINDS, OWNERS

#: How far back an observation looks for changed hours (audits are re-run at most a day late).
OBSERVATION_LOOKBACK = timedelta(hours=48)


@observable_source_asset(
    name="slsa_audit_metrics",
    partitions_def=hourly_partitions(),
    group_name="telemetry",
    description=(
        "Audit observer results (table public.slsa_audit_metrics), one row per audit of one artifact, "
        "partitioned by the UTC hour of audited_at. Views v_ops_slsa_audit_kpi and "
        "v_ops_slsa_audit_failures read it. Observing records a data version per recently changed hour."
    ),
)
def _observe_slsa_audit_metrics(warehouse: WarehouseResource) -> DataVersionsByPartition:
    with warehouse.connect() as conn:
        rows = conn.execute(
            """
            select date_trunc('hour', audited_at, 'UTC'), count(*), max(created_at), max(id)
            from public.slsa_audit_metrics
            where audited_at >= now() - %s
            group by 1
            """,
            (OBSERVATION_LOOKBACK,),
        ).fetchall()
    keys = set(hourly_partitions().get_partition_keys())
    versions = {
        partition_key_for(hour, "hour"): f"{n}:{max_id}:{created.isoformat()}"
        for hour, n, created, max_id in rows
    }
    return DataVersionsByPartition({k: v for k, v in versions.items() if k in keys})


# A source asset carries no owners; as the external AssetsDefinition Dagster builds from it anyway,
# it gets the same owners and kinds as every other asset of the project (Dagster is pinned).
slsa_audit_metrics = create_external_asset_from_source_asset(_observe_slsa_audit_metrics).map_asset_specs(
    lambda spec: spec.replace_attributes(owners=OWNERS, kinds=KINDS)
)
