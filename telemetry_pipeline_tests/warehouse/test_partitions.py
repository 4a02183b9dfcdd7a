"""Events of any month land; maintenance gives them their month; an hour reads one partition;
an event_id is stored once whatever its timestamp."""

from __future__ import annotations

import io
import json
import os
import shutil
from datetime import UTC, datetime

import psycopg
from psycopg import sql

from telemetry_pipeline.core import settings
from telemetry_pipeline.core.events.ingest import ingest_stream
from telemetry_pipeline.core.events.store import insert_events
from telemetry_pipeline.core.kpis.catalog import Source
from telemetry_pipeline.core.kpis.sql import kpi_select
from telemetry_pipeline.core.warehouse import scratch
from telemetry_pipeline.core.warehouse.maintenance import ensure_all_partitions
from telemetry_pipeline.core.warehouse.migrate import migrate
from telemetry_pipeline.core.warehouse.partitioning import partitions
from telemetry_pipeline_tests.warehouse.rows import event

WHERE = "select tableoid::regclass::text, id, event_id from public.telemetry_events order by id"


def test_past_and_far_future_events_land_and_get_their_month(warehouse):
    with warehouse.connect() as conn:
        inserted = insert_events(conn, [
            event("2019-05-03T10:00:00Z", "past"), event("2038-01-01T00:00:00Z", "future"),
            event("2019-05-04T10:00:00Z"),
        ])
        conn.commit()
        assert inserted == 3
        landed = conn.execute(WHERE).fetchall()
    assert [p for p, _, _ in landed] == ["telemetry_events_default"] * 3

    created = ensure_all_partitions(warehouse.url(), datetime(2026, 12, 1, tzinfo=UTC))

    assert {"telemetry_events_p201905", "telemetry_events_p203801"} <= set(created)
    with warehouse.connect() as conn:
        moved = conn.execute(WHERE).fetchall()
        assert moved == [
            ("telemetry_events_p201905", landed[0][1], "past"),
            ("telemetry_events_p203801", landed[1][1], "future"),
            ("telemetry_events_p201905", landed[2][1], None),
        ]
        # the moved rows keep their idempotency keys
        assert insert_events(conn, [event("2019-05-03T10:00:00Z", "past")]) == 0
    assert ensure_all_partitions(warehouse.url(), datetime(2026, 12, 1, tzinfo=UTC)) == []


def test_event_id_is_stored_once_whatever_its_timestamp(warehouse):
    with warehouse.connect() as conn:
        assert insert_events(conn, [event("2025-01-05T10:00:00Z", "k1"), event("2025-03-05T10:00:00Z", "k1")]) == 1
        assert insert_events(conn, [event("2026-07-01T00:00:00Z", "k1"), event("2026-07-01T00:00:00Z", "k2")]) == 1
        conn.commit()
    lines = [
        {"event_type": "build", "event_timestamp": ts, "metadata": {"status": "success"}, "event_id": key}
        for ts, key in [("2024-02-01T00:00:00Z", "k1"), ("2030-01-01T00:00:00Z", "k2"), ("2024-02-01T00:00:00Z", "k3")]
    ]
    with warehouse.connect(autocommit=True) as conn:
        summary = ingest_stream(conn, io.BytesIO("\n".join(map(json.dumps, lines)).encode()), source="test")
        assert (summary.accepted, summary.duplicates) == (1, 2)
        rows = conn.execute("select event_id, event_timestamp from public.telemetry_events order by id").fetchall()
    assert [(k, ts.isoformat()) for k, ts in rows] == [
        ("k1", "2025-01-05T10:00:00+00:00"), ("k2", "2026-07-01T00:00:00+00:00"), ("k3", "2024-02-01T00:00:00+00:00"),
    ]


def test_deleting_events_releases_their_keys(warehouse):
    with warehouse.connect() as conn:
        insert_events(conn, [event("2025-01-05T10:00:00Z", "gone")])
        conn.execute("delete from public.telemetry_events where event_id = 'gone'")
        assert insert_events(conn, [event("2025-01-06T10:00:00Z", "gone")]) == 1


def test_an_hour_window_reads_one_partition(warehouse):
    ensure_all_partitions(warehouse.url(), datetime(2025, 1, 1, tzinfo=UTC))
    ensure_all_partitions(warehouse.url(), datetime(2025, 6, 1, tzinfo=UTC))
    with warehouse.connect() as conn:
        assert len([p for p in partitions(conn, "telemetry_events") if p.month]) >= 9
        plan = conn.execute(
            "explain (format json) " + kpi_select(Source.EVENTS).as_string(conn),
            {"granularity": "hour", "start": datetime(2025, 3, 4, 10, tzinfo=UTC),
             "end": datetime(2025, 3, 4, 11, tzinfo=UTC), "length": "1 hour"},
        ).fetchone()[0]
    scanned = sorted(set(_relations(plan)))
    assert scanned == ["telemetry_events_p202503"]


def _relations(node) -> list[str]:
    if isinstance(node, list):
        return [r for n in node for r in _relations(n)]
    if isinstance(node, dict):
        found = [node["Relation Name"]] if "Relation Name" in node else []
        return found + [r for v in node.values() if isinstance(v, (list, dict)) for r in _relations(v)]
    return []


_TIMESTAMP_INDEXES = """
    select c.relname, pg_get_indexdef(i.indexrelid)
    from pg_inherits h join pg_class c on c.oid = h.inhrelid
    join pg_index i on i.indrelid = c.oid
    join pg_attribute a on a.attrelid = c.oid and a.attnum = i.indkey[0]
    where h.inhparent = any(array['public.telemetry_events', 'public.slsa_audit_metrics']::regclass[])
      and i.indnatts = 1 and a.attname in ('event_timestamp', 'audited_at')
    order by 1
"""


def test_an_hour_window_walks_its_partition_forward(warehouse):
    """The timestamp index is ascending, so the hour's rows (written in time order) are read in heap
    order: the forward index scan of a descending index read them last page first (sql/0110)."""
    with warehouse.connect() as conn:
        insert_events(conn, [event(f"2025-03-04T10:{m:02d}:00Z") for m in range(60)])
        conn.execute("analyze public.telemetry_events")
        indexes = conn.execute(_TIMESTAMP_INDEXES).fetchall()
        conn.execute("set enable_seqscan = off")
        conn.execute("set enable_bitmapscan = off")
        plan = conn.execute(
            "explain (format json) " + kpi_select(Source.EVENTS).as_string(conn),
            {"granularity": "hour", "start": datetime(2025, 3, 4, 10, tzinfo=UTC),
             "end": datetime(2025, 3, 4, 11, tzinfo=UTC), "length": "1 hour"},
        ).fetchone()[0]
    assert indexes and all(" DESC" not in definition for _, definition in indexes), indexes
    assert [(n["Relation Name"], n["Scan Direction"]) for n in _nodes(plan) if n.get("Node Type") == "Index Scan"] == [
        ("telemetry_events_p202503", "Forward")
    ]


def test_the_upgrade_rebuilds_descending_timestamp_indexes(pg_server_url, tmp_path):
    """An install migrated before sql/0110 (descending indexes, rows in its months) gets ascending ones,
    rows untouched; a second `db migrate` finds nothing to do."""
    name = f"tp_test_asc_{os.getpid()}"
    url = scratch.create_database(pg_server_url, name, migrated=False)
    try:
        for path in sorted(settings.SQL_DIR.iterdir()):
            if path.suffix in (".sql", ".py") and path.name[:4] < "0110":
                shutil.copy(path, tmp_path / path.name)
        migrate(url, tmp_path)
        with psycopg.connect(url, autocommit=True) as conn:
            for index, table, column in (("idx_telemetry_events_event_timestamp", "telemetry_events", "event_timestamp"),
                                         ("idx_slsa_audit_metrics_audited_at", "slsa_audit_metrics", "audited_at")):
                conn.execute(sql.SQL("drop index {}").format(sql.Identifier("public", index)))
                conn.execute(sql.SQL("create index {} on {} ({} desc)").format(
                    sql.Identifier(index), sql.Identifier("public", table), sql.Identifier(column)))
            insert_events(conn, [event("2025-03-04T10:00:00Z", "a"), event("2025-04-04T10:00:00Z", "b")])
            before = conn.execute(_TIMESTAMP_INDEXES).fetchall()
        assert len([d for _, d in before if " DESC" in d]) == len(before) >= 4

        applied = migrate(url)
        assert applied[0] == "0110_ascending_timestamp_indexes" and all(a[:4] >= "0110" for a in applied)

        with psycopg.connect(url) as conn:
            after = conn.execute(_TIMESTAMP_INDEXES).fetchall()
            rows = conn.execute("select event_id from public.telemetry_events order by id").fetchall()
        assert [n for n, _ in after] == [n for n, _ in before]
        assert all(" DESC" not in d for _, d in after), after
        assert rows == [("a",), ("b",)]
        assert migrate(url) == []
    finally:
        scratch.drop_database(pg_server_url, name)


def _nodes(node) -> list[dict]:
    if isinstance(node, list):
        return [n for item in node for n in _nodes(item)]
    if isinstance(node, dict):
        return [node, *(n for v in node.values() if isinstance(v, (list, dict)) for n in _nodes(v))]
    return []
