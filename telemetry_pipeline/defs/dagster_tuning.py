"""Environment switches that make Dagster's per-partition bookkeeping affordable.

Dagster reads these only from the environment of the process that creates or executes a run.
`definitions.py` applies them for every process that loads the code location (run workers,
`dagster asset materialize`), `telemetry-pipeline dev/env` exports them for the webserver and
daemon (which create runs outside the code location), and benchmarks apply them too.
Measured on a year of hourly partitions: docs/ARCHITECTURE.md, docs/benchmarks.md.
"""

from __future__ import annotations

import os

DAGSTER_ENV_DEFAULTS: dict[str, str] = {
    # Write per-partition materialisation events in batches instead of one insert each.
    "DAGSTER_EVENT_BATCH_SIZE": "1000",
    # One "materialization planned" event holding the partition subset of a single-run range,
    # instead of one per partition written over its own connection (~100 s for a year of hours).
    # Dagster's trade-off: if such a run fails, its partitions are not marked failed (they keep
    # their previous state); re-running the range repairs them.
    "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS": "1",
}


def apply_defaults() -> None:
    """Set each switch unless the environment already chose a value."""
    for name, value in DAGSTER_ENV_DEFAULTS.items():
        os.environ.setdefault(name, value)
