"""`db migrate` converts an unpartitioned install in place: every row, id and the sequence kept,
old rows in their monthly partitions, resumable after an interruption."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest

from telemetry_pipeline.core.events.store import insert_events
from telemetry_pipeline.core.warehouse.migrate import migrate
from telemetry_pipeline.core.warehouse.partitioning import convert_in_place, partitions
from telemetry_pipeline_tests.warehouse.rows import event

EVENTS = "select * from public.telemetry_events order by id"
AUDITS = "select * from public.slsa_audit_metrics order by id"


def _old_columns(after: list, before: list) -> list:
    """The rows of `after` cut to the columns `before` had (columns added since are appended)."""
    width = len(before[0]) if before else 0
    return [tuple(row[:width]) for row in after]


def _populate(url: str) -> None:
    """~30k events over five months (2024-11 .. 2025-03) with id gaps and event_ids, and audits."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            """
            insert into public.telemetry_events (event_type, event_timestamp, run_id, tag, metadata, event_id)
            select (array['build','test','deploy','release'])[1 + g % 4],
                   timestamptz '2024-11-01 00:00Z' + (g * interval '7 minutes'),
                   g % 97, 'v' || (g % 13),
                   jsonb_build_object('status', case when g % 11 = 0 then 'failure' else 'success' end,
                                      'duration_ms', (g % 5000)::text),
                   case when g % 3 = 0 then 'evt-' || g end
            from generate_series(1, 30000) g
            """
        )
        conn.execute("delete from public.telemetry_events where id % 10 = 7")  # id gaps
        conn.execute(
            """
            insert into public.slsa_audit_metrics (run_id, tag, artifact, audited_at, status, duration_ms,
              sha256_verified, predicate_type_verified, supabase_synced)
            select g, 'v1', 'a' || g, timestamptz '2024-12-20 00:00Z' + g * interval '1 hour',
                   case when g % 9 = 0 then 'failure' else 'success' end, g, true, true, g % 2 = 0
            from generate_series(1, 2000) g
            """
        )


def _snapshot(url: str) -> tuple[list, list, int, int]:
    with psycopg.connect(url) as conn:
        events = conn.execute(EVENTS).fetchall()
        audits = conn.execute(AUDITS).fetchall()
        seq_events = conn.execute("select last_value from public.telemetry_events_id_seq").fetchone()[0]
        seq_audits = conn.execute("select last_value from public.slsa_audit_metrics_id_seq").fetchone()[0]
    return events, audits, seq_events, seq_audits


def _months_of_rows(conn: psycopg.Connection) -> list[tuple]:
    """(partition, rows, rows outside that partition's month) per partition holding rows."""
    return conn.execute(
        """
        select tableoid::regclass::text, count(*),
               count(*) filter (where tableoid::regclass::text
                                <> 'telemetry_events_p' || to_char(event_timestamp at time zone 'UTC', 'YYYYMM'))
        from public.telemetry_events group by 1 order by 1
        """
    ).fetchall()


def test_upgrade_keeps_every_row_id_and_the_sequence(old_release_url):
    url = old_release_url
    _populate(url)
    before_events, before_audits, seq_events, seq_audits = _snapshot(url)
    assert len(before_events) == 27000

    applied = migrate(url)

    assert "0060_partitioned_raw_tables" in applied
    after_events, after_audits, seq_events_after, seq_audits_after = _snapshot(url)
    # every column of every row, ids included (later migrations only append columns: sql/0070)
    assert _old_columns(after_events, before_events) == before_events
    assert _old_columns(after_audits, before_audits) == before_audits
    assert (seq_events_after, seq_audits_after) == (seq_events, seq_audits)
    with psycopg.connect(url, autocommit=True) as conn:
        kinds = dict(conn.execute(
            "select relname, relkind from pg_class where relname in"
            " ('telemetry_events', 'slsa_audit_metrics', 'telemetry_events_legacy', 'slsa_audit_metrics_legacy')"
        ).fetchall())
        assert kinds == {"telemetry_events": "p", "slsa_audit_metrics": "p"}
        by_partition = _months_of_rows(conn)
        assert [p for p, _, _ in by_partition] == [
            "telemetry_events_p202411", "telemetry_events_p202412", "telemetry_events_p202501",
            "telemetry_events_p202502", "telemetry_events_p202503",
        ]
        assert all(outside == 0 for _, _, outside in by_partition)
        assert sum(n for _, n, _ in by_partition) == 27000
        # the sequence continues; the views read the new table
        new_id = conn.execute(
            "insert into public.telemetry_events (event_type, event_timestamp) values ('build', now()) returning id"
        ).fetchone()[0]
        assert new_id == seq_events + 1
        assert conn.execute("select sum(audit_count) from public.v_ops_slsa_audit_kpi").fetchone()[0] == 2000
        # old event_ids stay idempotency keys, whatever the new event's timestamp
        replay = event("2031-05-01T00:00:00Z", "evt-3")
        fresh = event("2031-05-01T00:00:00Z", "evt-new")
        with conn.transaction():
            assert insert_events(conn, [replay, fresh]) == 1
        assert conn.execute("select count(*) from public.telemetry_events where event_id = 'evt-3'").fetchone()[0] == 1
    assert migrate(url) == []


class Interrupted(Exception):
    pass


def test_an_interrupted_upgrade_resumes_where_it_stopped(old_release_url):
    url = old_release_url
    _populate(url)
    before = _snapshot(url)
    months_done: list[datetime] = []

    def stop_after_two(month: datetime, rows: int) -> None:
        months_done.append(month)
        if len(months_done) == 2:
            raise Interrupted

    with psycopg.connect(url, autocommit=True, options="-c TimeZone=UTC") as conn:
        with pytest.raises(Interrupted):
            convert_in_place(conn, "telemetry_events", after_month=stop_after_two)
        progress = conn.execute(
            "select month::text, rows_copied from public.partition_upgrade_progress order by 1"
        ).fetchall()
        assert [m for m, _ in progress] == ["2024-11-01", "2024-12-01"]
        legacy_rows = conn.execute("select count(*) from public.telemetry_events_legacy").fetchone()[0]
        assert legacy_rows == 27000  # the old table is only read until the end
        # writes during the upgrade go to the partitioned table
        conn.execute(
            "insert into public.telemetry_events (event_type, event_timestamp, event_id)"
            " values ('build', '2025-06-01T00:00Z', 'during-upgrade')"
        )

    applied = migrate(url)

    assert applied[0] == "0060_partitioned_raw_tables"
    after = _snapshot(url)
    events = _old_columns(after[0], before[0])
    assert events[:-1] == before[0]  # every old row, once; plus the one written meanwhile
    assert events[-1][-1] == "during-upgrade" and events[-1][0] == before[2] + 1
    assert _old_columns(after[1], before[1]) == before[1]
    with psycopg.connect(url) as conn:
        assert conn.execute("select count(*) from public.partition_upgrade_progress").fetchone()[0] == 0
        assert conn.execute("select to_regclass('public.telemetry_events_legacy')").fetchone()[0] is None
        by_partition = _months_of_rows(conn)
        assert sum(n for _, n, o in by_partition if o == 0) == 27000
        assert ("telemetry_events_default", 1, 1) in by_partition  # 2025-06 has no month (yet)
        names = [p.name for p in partitions(conn, "telemetry_events")]
    assert names[-1] == "telemetry_events_default" and "telemetry_events_p202506" not in names


def test_upgrade_of_an_empty_install_creates_current_and_future_months(old_release_url):
    migrate(old_release_url)
    now = datetime.now(UTC)
    with psycopg.connect(old_release_url) as conn:
        months = [p.month for p in partitions(conn, "slsa_audit_metrics") if p.month]
    assert months[0] == datetime(now.year, now.month, 1, tzinfo=UTC)
    assert len(months) == 4
