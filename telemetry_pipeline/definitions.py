"""The Dagster code location (SPEC section 8: `telemetry_pipeline.definitions:defs`).

It assembles, nothing else: every stage's assets, checks, schedules and sensors come from the
`defs/` folder (`load_from_defs_folder`, as `dg` projects do), plus the resources and executor
every stage shares. Nothing here touches a database: loading the location is instant and
offline. Loading validates what the location reads: the environment (a malformed value stops
it, naming the variable) and the SLO catalog (naming file, SLO and field).
"""

from __future__ import annotations

from pathlib import Path

from dagster import Definitions, in_process_executor, load_from_defs_folder

from telemetry_pipeline.core import settings
from telemetry_pipeline.defs.alerting.resources import alerting_resources_from_env
from telemetry_pipeline.defs.dagster_tuning import apply_defaults
from telemetry_pipeline.defs.resources import warehouse_from_env

settings.current().validate()
# Batch Dagster's per-partition event writes in every process that loads this location (Dagster
# reads these switches only from the process environment; docs/ARCHITECTURE.md).
apply_defaults()

defs = Definitions.merge(
    load_from_defs_folder(path_within_project=Path(__file__).parent),
    Definitions(
        resources={"warehouse": warehouse_from_env(), **alerting_resources_from_env()},
        # Each run is a short chain of SQL steps; one process per step only added start-up time.
        executor=in_process_executor,
    ),
)
