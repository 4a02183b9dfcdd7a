"""Workflow run ids and release tags, derived from time so that events and audits agree.

GitHub-like run ids: RUN_ID_BASE + hours since RUN_EPOCH * 100 + run number within that hour;
one release tag v1.<minor>.<patch> per HOURS_PER_RELEASE hours of runs.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from telemetry_pipeline.core.demo.timeline import HOUR_US, epoch_us

RUN_ID_BASE = 9_000_000_000
RUN_EPOCH = datetime(2020, 1, 1, tzinfo=UTC)
HOURS_PER_RELEASE = 4
#: most runs numbered within one hour
MAX_RUNS_PER_HOUR = 100


def run_ids(hours: np.ndarray, run_no: np.ndarray) -> np.ndarray:
    """Run id of run `run_no` of each hour (`hours` since 1970)."""
    since_epoch = hours - epoch_us(RUN_EPOCH) // HOUR_US
    return RUN_ID_BASE + since_epoch * MAX_RUNS_PER_HOUR + np.minimum(run_no, MAX_RUNS_PER_HOUR - 1)


def tags(hours: np.ndarray) -> list[str]:
    """Release tag of the runs of each hour (`hours` since 1970)."""
    release = (hours - epoch_us(RUN_EPOCH) // HOUR_US) // HOURS_PER_RELEASE
    unique, inverse = np.unique(release, return_inverse=True)
    names = np.array([f"v1.{r // 20 % 1000}.{r % 20}" for r in unique.tolist()], dtype=object)
    return names[inverse].tolist()
