"""The Dagster code location: assembles the domains' assets, checks, jobs, sensors and resources.

Nothing here touches a database: loading the location is instant and offline. The one file read is
the SLO catalog (slos.yaml), validated here so a bad catalog stops the location from loading with
the file, SLO and field named.
"""

from __future__ import annotations

from dagster import Definitions, in_process_executor

from telemetry_pipeline.alerting.resources import alerting_resources_from_env
from telemetry_pipeline.alerting.sensor import slo_alert_sensor
from telemetry_pipeline.audits.assets import slsa_audit_metrics
from telemetry_pipeline.cadence import build_jobs_and_schedules
from telemetry_pipeline.dagster_tuning import apply_defaults
from telemetry_pipeline.events.assets import raw_events
from telemetry_pipeline.events.late_data import build_late_data_sensor
from telemetry_pipeline.kpis.assets import KPI_ASSETS
from telemetry_pipeline.maintenance.assets import maintenance_definitions
from telemetry_pipeline.slos.assets import build_slo_assets
from telemetry_pipeline.warehouse import warehouse_from_env

# Batch Dagster's per-partition event writes in every process that loads this location.
apply_defaults()

jobs, schedules = build_jobs_and_schedules()

defs = Definitions(
    assets=[raw_events, slsa_audit_metrics, *KPI_ASSETS, *build_slo_assets()],
    jobs=jobs,
    schedules=schedules,
    sensors=[slo_alert_sensor, build_late_data_sensor(jobs)],
    resources={"warehouse": warehouse_from_env(), **alerting_resources_from_env()},
    # Each run is a short chain of SQL steps; one process per step only added start-up time.
    executor=in_process_executor,
)
defs = Definitions.merge(defs, maintenance_definitions())
