"""slsa_audit_metrics: written by the Phase 3 audit observer, observed (not produced) here.

The asset is an observable source: Dagster does not write it, it records data versions for the
hours that recently changed (row count and latest created_at), so lineage shows where audit KPIs
come from and a changed hour is visible as a new version.

Nobody has to press "Observe": `slsa_audit_observation_schedule` (on by default) observes it every
hour at HH:03, just before the hourly KPI run, and `telemetry-pipeline dev` observes it once at
start-up, so the UI never shows "Never observed" while audits exist. The schedule belongs to this
stage, so it is defined here, beside the asset.
"""


from datetime import timedelta
from functools import cache

from dagster import (
    AssetsDefinition,
    AssetSelection,
    DataVersionsByPartition,
    DefaultScheduleStatus,
    Definitions,
    ScheduleDefinition,
    TimeWindowPartitionsDefinition,
    define_asset_job,
    definitions,
    observable_source_asset,
)
from dagster._core.definitions.external_asset import create_external_asset_from_source_asset

from telemetry_pipeline.core.granularity import Granularity
from telemetry_pipeline.defs.assets_common import KINDS, OWNERS, beta_parameters, lazy_attributes
from telemetry_pipeline.defs.partitions import hourly_partitions
from telemetry_pipeline.defs.resources import WarehouseResource

#: How far back an observation looks for changed hours (audits are re-run at most a day late).
OBSERVATION_LOOKBACK = timedelta(hours=48)


def build_slsa_audit_metrics() -> AssetsDefinition:
    """The observed asset over the configured hourly partitions (built when the code location loads)."""
    return _slsa_audit_metrics(hourly_partitions())


@cache
def _slsa_audit_metrics(partitions: TimeWindowPartitionsDefinition) -> AssetsDefinition:
    with beta_parameters():
        source = observable_source_asset(
            name="slsa_audit_metrics",
            partitions_def=partitions,
            group_name="telemetry",
            description=(
                "Audit observer results (table public.slsa_audit_metrics), one row per audit of one "
                "artifact, partitioned by the UTC hour of audited_at. Views v_ops_slsa_audit_kpi and "
                "v_ops_slsa_audit_failures read it. Observing records a data version per recently "
                "changed hour."
            ),
        )(_observe_slsa_audit_metrics)
    # A source asset carries no owners; as the external AssetsDefinition Dagster builds from it
    # anyway, it gets the same owners and kinds as every other asset of the project (Dagster is pinned).
    return create_external_asset_from_source_asset(source).map_asset_specs(
        lambda spec: spec.replace_attributes(owners=OWNERS, kinds=KINDS)
    )


OBSERVATION_JOB_NAME = "slsa_audit_observation_job"

#: HH:03 UTC: two minutes before the hourly KPI schedule (Granularity.HOUR.schedule), so the audits
#: of the hour that just closed are versioned before its KPIs are computed from them.
OBSERVATION_CRON = "3 * * * *"

observation_job = define_asset_job(
    OBSERVATION_JOB_NAME,
    selection=AssetSelection.assets("slsa_audit_metrics"),
    description="Observe slsa_audit_metrics: a data version per hour changed in the last 48 hours.",
)

observation_schedule = ScheduleDefinition(
    name="slsa_audit_observation_schedule",
    job=observation_job,
    cron_schedule=OBSERVATION_CRON,
    execution_timezone="UTC",
    default_status=DefaultScheduleStatus.RUNNING,
    description="Hourly observation of the audit observer's table (HH:03 UTC).",
)


@definitions
def defs() -> Definitions:
    return Definitions(assets=[build_slsa_audit_metrics()], schedules=[observation_schedule])


__getattr__ = lazy_attributes(__name__, {"slsa_audit_metrics": build_slsa_audit_metrics})


def _observe_slsa_audit_metrics(warehouse: WarehouseResource) -> DataVersionsByPartition:
    """Data versions of the recently changed hours: row count, newest id and created_at."""
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
        Granularity.HOUR.partition_key(hour): f"{n}:{max_id}:{created.isoformat()}"
        for hour, n, created, max_id in rows
    }
    return DataVersionsByPartition({k: v for k, v in versions.items() if k in keys})

