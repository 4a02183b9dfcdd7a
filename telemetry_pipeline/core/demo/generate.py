"""Synthetic telemetry and audits streamed into PostgreSQL with COPY (the demo and the benchmarks).

`copy_events` and `copy_audits` are the entry points: numpy draws a time slice of rows at a
time (timeline.py), the row modules format it as COPY text (event_rows.py, audit_rows.py), and
one COPY streams all slices while a worker thread prepares the next, so PostgreSQL and Python
work at the same time and memory stays flat whatever the row count. Slices go in time order,
so the timestamp indexes grow at one end instead of being hit at random. Everything is
deterministic for given arguments and seed. Incidents (incidents.py) change the distributions
of the rows inside their windows.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import TypeVar

import numpy as np
import psycopg

from telemetry_pipeline.core.demo.audit_rows import audit_lines
from telemetry_pipeline.core.demo.event_rows import EVENT_MIX, event_lines
from telemetry_pipeline.core.demo.fleet import Fleet
from telemetry_pipeline.core.demo.incidents import (
    AUDIT_SYNC_OUTAGE,
    INCIDENT_KINDS,
    RUNNER_QUEUE,
    TLOG_OUTAGE,
    Incident,
)
from telemetry_pipeline.core.demo.timeline import CHUNK_ROWS, MIN_LOAD_RATIO, load_curve, slices

_T = TypeVar("_T")

_EVENTS_COPY = "copy public.telemetry_events (event_type, event_timestamp, run_id, tag, metadata) from stdin"
_AUDITS_COPY = (
    "copy public.slsa_audit_metrics (run_id, tag, artifact, audited_at, status, duration_ms,"
    " sha256_verified, predicate_type, predicate_type_verified, supabase_synced, failure_reason,"
    " metadata) from stdin"
)


def copy_events(
    conn: psycopg.Connection,
    n_events: int,
    start: datetime,
    end: datetime,
    seed: int,
    *,
    incidents: Sequence[Incident] = (),
    fleet: Fleet | None = None,
) -> int:
    """COPY `n_events` synthetic telemetry_events spread over [start, end); return rows written.

    With a `fleet`, every row's metadata names its run's repository and workflow (fleet.py).
    Runs in the caller's transaction (nothing is committed here).
    """
    shares = np.array(list(EVENT_MIX.values()))
    rows = slices("copy_events: n_events", n_events, shares, start, end, seed, salt=1)
    return _copy(conn, _EVENTS_COPY, (event_lines(r, incidents, fleet) for r in rows))


def copy_audits(
    conn: psycopg.Connection,
    n_audits: int,
    start: datetime,
    end: datetime,
    seed: int,
    *,
    incidents: Sequence[Incident] = (),
    fleet: Fleet | None = None,
) -> int:
    """COPY `n_audits` synthetic slsa_audit_metrics rows with audited_at in [start, end).

    With a `fleet`, each audit's metadata names the audited run's repository and workflow.
    Runs in the caller's transaction (nothing is committed here).
    """
    rows = slices("copy_audits: n_audits", n_audits, np.array([1.0]), start, end, seed, salt=2)
    return _copy(conn, _AUDITS_COPY, (audit_lines(r, incidents, fleet) for r in rows))


def _copy(conn: psycopg.Connection, statement: str, texts: Iterator[tuple[str, int]]) -> int:
    """Stream (COPY text, row count) slices through one COPY; return the rows written."""
    written = 0
    with conn.cursor() as cur, cur.copy(statement) as copy:
        for text, n in _prefetched(texts):
            copy.write(text)
            written += n
    return written


def _prefetched(items: Iterator[_T]) -> Iterator[_T]:
    """Produce the next item in a worker thread while the caller consumes this one.

    PostgreSQL parses and indexes a slice while numpy and Python format the next one (waiting
    on the socket releases the GIL). At most two slices exist at once, so memory stays flat.
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="demo-generate") as pool:
        pending = pool.submit(next, items, None)
        while (item := pending.result()) is not None:
            pending = pool.submit(next, items, None)
            yield item


__all__ = [
    "AUDIT_SYNC_OUTAGE",
    "CHUNK_ROWS",
    "EVENT_MIX",
    "Fleet",
    "INCIDENT_KINDS",
    "MIN_LOAD_RATIO",
    "RUNNER_QUEUE",
    "TLOG_OUTAGE",
    "Incident",
    "copy_audits",
    "copy_events",
    "load_curve",
]
