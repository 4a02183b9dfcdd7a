"""Writing validated events and quarantined lines to the warehouse (collector and emit; ingest
uses the same quarantine writer and its own COPY path for the events).

Both writes are one set-based statement each, inside the caller's transaction, so a request's
accepted events and its rejected lines are committed together or not at all. Duplicates by
event_id are skipped, also within one batch: the first of a batch is kept, and one whose id is in
telemetry_event_ids (sql/0061) is not stored again. A concurrent writer storing the same id at the
same moment makes the key table's trigger refuse the statement (unique_violation) rather than
store it twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import psycopg

from telemetry_pipeline.core.events.validation import Event, InvalidEvent

_INSERT_EVENTS = """
    insert into public.telemetry_events (event_type, event_timestamp, run_id, tag, metadata, event_id)
    select event_type, event_timestamp, run_id, tag, metadata, event_id
    from (
      select b.*, row_number() over (partition by b.event_id order by b.n) as nth
      from unnest(%s::text[], %s::timestamptz[], %s::bigint[], %s::text[], %s::jsonb[], %s::text[])
        with ordinality as b (event_type, event_timestamp, run_id, tag, metadata, event_id, n)
    ) batch
    where event_id is null
       or (nth = 1 and not exists (select 1 from public.telemetry_event_ids k where k.event_id = batch.event_id))
    order by n
"""

COPY_REJECTED = (
    "copy public.telemetry_events_rejected (source, batch_id, line_number, reason_code, reason, raw) "
    "from stdin"
)


@dataclass(frozen=True, slots=True)
class Rejected:
    """One line that broke a rule, as it goes to public.telemetry_events_rejected."""

    line_number: int | None
    reason_code: str
    reason: str
    raw: str

    @classmethod
    def of(cls, line_number: int | None, error: InvalidEvent, raw: bytes | str) -> Rejected:
        return cls(line_number, error.code, error.reason, raw_text(raw))


def raw_text(raw: bytes | str) -> str:
    """The raw line as storable text: UTF-8 with undecodable bytes and NUL shown as U+FFFD."""
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
    if not text.isascii():
        text = text.encode("utf-8", errors="replace").decode("utf-8")  # lone surrogates
    return text.replace("\x00", "\ufffd")


def insert_events(conn: psycopg.Connection, events: Sequence[Event]) -> int:
    """Insert events in one statement; returns how many were new (the rest were duplicates)."""
    if not events:
        return 0
    columns: tuple[list, ...] = ([], [], [], [], [], [])
    for event in events:
        columns[0].append(event.event_type)
        columns[1].append(event.event_timestamp)
        columns[2].append(event.run_id)
        columns[3].append(event.tag)
        columns[4].append(event.metadata_json.decode("utf-8"))
        columns[5].append(event.event_id)
    cursor = conn.execute(_INSERT_EVENTS, columns)
    return cursor.rowcount


def quarantine(
    conn: psycopg.Connection, rejects: Iterable[Rejected], *, source: str, batch_id: str | None
) -> int:
    """COPY rejected lines into the quarantine table; returns how many were written."""
    written = 0
    with conn.cursor() as cursor, cursor.copy(COPY_REJECTED) as copy:
        for reject in rejects:
            copy.write_row((source, batch_id, reject.line_number, reject.reason_code, reject.reason, reject.raw))
            written += 1
    return written
