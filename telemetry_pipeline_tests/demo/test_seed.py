"""Demo data: counts, determinism, hourly samples, incidents that break SLOs, odd rows, the CLI.

All tests seed 3 days ending END = Wednesday 2025-03-05 12:00 UTC with seed 7 (~24k rows, well
under a second). Expected incident windows, by the placement rule of demo_incidents for a
72-hour range: runner queue 65 h before END for 6 h, transparency-log outage 43 h before END for
4 h, audit sync outage the last 3 h.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from click.testing import CliRunner

from telemetry_pipeline.cli import cli
from telemetry_pipeline.core.demo import timeline
from telemetry_pipeline.core.demo.event_rows import EVENT_MIX
from telemetry_pipeline.core.demo.generate import Incident, copy_audits, copy_events
from telemetry_pipeline.core.demo.seed import ODD_ROWS, SeedSummary, seed_demo

END = datetime(2025, 3, 5, 12, tzinfo=UTC)
DAYS = 3
START = END - timedelta(days=DAYS)
HOURS = DAYS * 24
RUNNER_QUEUE = (datetime(2025, 3, 2, 19, tzinfo=UTC), datetime(2025, 3, 3, 1, tzinfo=UTC))
TLOG_OUTAGE = (datetime(2025, 3, 3, 17, tzinfo=UTC), datetime(2025, 3, 3, 21, tzinfo=UTC))
AUDIT_SYNC = (datetime(2025, 3, 5, 9, tzinfo=UTC), END)

#: SPEC section 5 rates per hour for the three SLO sources, and SPEC section 6 targets
HOURLY_SLIS = """
with ev as (
  select date_trunc('hour', event_timestamp, 'UTC') as hour,
         case event_type when 'provenance.generation' then 'provenance_generation' else 'validation' end as slo,
         count(*) as n,
         100.0 * (1 - count(*) filter (where m_status = 'error')::numeric / count(*)) as availability,
         100.0 * count(*) filter (where m_status in ('failure', 'error')) / count(*) as failure_rate,
         percentile_cont(0.95) within group (order by m_duration_ms) as p95,
         null::numeric as sync_rate
  from public.telemetry_events
  where event_type in ('provenance.generation', 'provenance.validation')
  group by 1, 2
), au as (
  select date_trunc('hour', audited_at, 'UTC'), 'audit_observer', count(*),
         100.0 * (1 - count(*) filter (where status = 'error')::numeric / count(*)),
         100.0 * count(*) filter (where status in ('failure', 'error')) / count(*),
         percentile_cont(0.95) within group (order by duration_ms),
         100.0 * count(*) filter (where supabase_synced) / count(*)
  from public.slsa_audit_metrics
  group by 1, 2
)
select hour, slo, n, availability, failure_rate, p95, sync_rate,
       case slo when 'provenance_generation' then availability >= 99.9 and failure_rate < 1.0 and p95 < 300000
                when 'validation' then availability >= 99.9 and failure_rate < 0.5 and p95 < 120000
                else availability >= 99.5 and failure_rate < 2.0 and p95 < 180000 end as met
from (select * from ev union all select * from au) s
order by hour, slo
"""

FINGERPRINT = """
select (select md5(string_agg(concat_ws('|', event_type, event_timestamp, run_id, tag, metadata::text),
                              ',' order by event_timestamp, event_type, metadata::text))
        from public.telemetry_events),
       (select md5(string_agg(concat_ws('|', run_id, tag, artifact, audited_at, status, duration_ms,
                                        sha256_verified, predicate_type, predicate_type_verified,
                                        supabase_synced, failure_reason, metadata::text),
                              ',' order by audited_at, artifact, run_id))
        from public.slsa_audit_metrics)
"""


def _seed(warehouse, seed: int = 7) -> SeedSummary:
    return seed_demo(warehouse.url(), days=DAYS, seed=seed, end=END)


def _count(conn, table: str) -> int:
    return conn.execute(f"select count(*) from public.{table}").fetchone()[0]  # noqa: S608 - fixed names


def test_counts_window_and_summary(warehouse) -> None:
    summary = _seed(warehouse)
    # 300 events and 36 audits per hour on average, plus the 5 odd rows
    assert summary.events == HOURS * 300 + len(ODD_ROWS) == 21_605
    assert summary.audits == HOURS * 36 == 2_592
    assert (summary.start, summary.end) == (START, END)
    assert [(i.kind, i.start, i.end) for i in summary.incidents] == [
        ("runner_queue", *RUNNER_QUEUE), ("tlog_outage", *TLOG_OUTAGE), ("audit_sync_outage", *AUDIT_SYNC),
    ]
    line = str(summary)
    assert "\n" not in line
    assert "21,605 events and 2,592 audits" in line and "rows/s" in line and "tlog_outage [2025-03-03T17:00:00Z" in line
    with warehouse.connect() as conn:
        assert _count(conn, "telemetry_events") == summary.events
        assert _count(conn, "slsa_audit_metrics") == summary.audits
        lo, hi = conn.execute("select min(event_timestamp), max(event_timestamp) from public.telemetry_events").fetchone()
        assert START <= lo < START + timedelta(minutes=5) and END - timedelta(minutes=5) < hi < END
        lo, hi = conn.execute("select min(audited_at), max(audited_at) from public.slsa_audit_metrics").fetchone()
        assert START <= lo and hi < END
        mix = dict(conn.execute("select event_type, count(*) from public.telemetry_events group by 1"))
    # EVENT_MIX shares of 21,600 (largest remainder), plus the odd rows of each type
    assert mix == {
        "provenance.generation": 5184 + 2, "provenance.validation": 5184 + 1, "workflow.run": 1296 + 1,
        "api.request": 8208 + 1, "artifact.upload": 864, "sbom.generation": 432, "cache.restore": 324,
        "release.publish": 108,
    }


def test_same_arguments_give_identical_rows_and_reseeding_replaces(warehouse) -> None:
    _seed(warehouse)
    with warehouse.connect() as conn:
        first = conn.execute(FINGERPRINT).fetchone()
    _seed(warehouse)  # replaces its window: same rows, not twice as many
    with warehouse.connect() as conn:
        assert conn.execute(FINGERPRINT).fetchone() == first
        assert _count(conn, "telemetry_events") == 21_605
    _seed(warehouse, seed=8)
    with warehouse.connect() as conn:
        other = conn.execute(FINGERPRINT).fetchone()
    assert other[0] != first[0] and other[1] != first[1]


def test_every_hour_has_enough_samples_for_hourly_slos(warehouse) -> None:
    _seed(warehouse)
    with warehouse.connect() as conn:
        rows = conn.execute(
            """
            with hours as (select generate_series(%(s)s::timestamptz, %(e)s::timestamptz - interval '1 hour',
                                                  interval '1 hour') as hour)
            select h.hour,
                   (select count(*) from public.telemetry_events where event_type = 'provenance.generation'
                      and event_timestamp >= h.hour and event_timestamp < h.hour + interval '1 hour'),
                   (select count(*) from public.telemetry_events where event_type = 'provenance.validation'
                      and event_timestamp >= h.hour and event_timestamp < h.hour + interval '1 hour'),
                   (select count(*) from public.slsa_audit_metrics
                      where audited_at >= h.hour and audited_at < h.hour + interval '1 hour')
            from hours h
            """,
            {"s": START, "e": END},
        ).fetchall()
    assert len(rows) == HOURS
    generations, validations, audits = (np.array([r[i] for r in rows]) for i in (1, 2, 3))
    assert generations.min() >= 30 and validations.min() >= 30 and audits.min() >= 15
    # the load curve is visible: busiest hour ~2.5x the quietest (weekend night vs weekday afternoon)
    assert generations.max() / generations.min() > 2


def _in(hour: datetime, window: tuple[datetime, datetime]) -> bool:
    return window[0] <= hour < window[1]


def test_incident_hours_violate_and_other_hours_nearly_always_meet(warehouse) -> None:
    _seed(warehouse)
    with warehouse.connect() as conn:
        rows = conn.execute(HOURLY_SLIS).fetchall()
    incident = {"provenance_generation": RUNNER_QUEUE, "validation": TLOG_OUTAGE, "audit_observer": AUDIT_SYNC}
    for slo, window in incident.items():
        hits = [r for r in rows if r[1] == slo and _in(r[0], window)]
        assert len(hits) == (window[1] - window[0]) / timedelta(hours=1)
        assert not any(r[7] for r in hits), f"{slo}: an incident hour met its SLO"
        others = [r for r in rows if r[1] == slo and not _in(r[0], window)]
        assert len(others) == HOURS - len(hits)
        met_share = sum(r[7] for r in others) / len(others)
        assert met_share >= 0.95, f"{slo}: only {met_share:.1%} of ordinary hours meet"
    for hour, slo, _n, availability, failure_rate, p95, sync_rate, _met in rows:
        if slo == "provenance_generation" and _in(hour, RUNNER_QUEUE):
            assert p95 > 300_000 and availability == 100  # slow, not broken
        if slo == "validation" and _in(hour, TLOG_OUTAGE):
            assert availability < 50 and failure_rate > 50
        if slo == "audit_observer" and _in(hour, AUDIT_SYNC):
            assert availability < 50 and sync_rate == 0


def test_realistic_distributions_and_odd_rows(warehouse) -> None:
    _seed(warehouse)
    with warehouse.connect() as conn:
        gen = conn.execute(
            """
            select min(m_duration_ms), max(m_duration_ms), min(m_artifact_size_bytes), count(*) filter (where
                   jsonb_typeof(metadata -> 'duration_ms') = 'string' and m_duration_ms is not null)::float / count(*)
            from public.telemetry_events
            where event_type = 'provenance.generation' and not (event_timestamp >= %s and event_timestamp < %s)
            """,
            RUNNER_QUEUE,
        ).fetchone()
        # ~20 s-3 min of build plus at most a minute of queue; ~10 % sent as numeric strings
        assert 20_000 <= gen[0] and gen[1] <= 240_000 and gen[2] >= 2_000
        assert 0.07 < gen[3] < 0.13
        val_p50, val_max = conn.execute(
            "select percentile_cont(0.5) within group (order by m_duration_ms), max(m_duration_ms)"
            " from public.telemetry_events where event_type = 'provenance.validation' and m_status = 'success'"
        ).fetchone()
        assert 1_000 < val_p50 < 10_000 and val_max <= 60_000
        audit_p50 = conn.execute(
            "select percentile_cont(0.5) within group (order by duration_ms) from public.slsa_audit_metrics"
        ).fetchone()[0]
        assert 10_000 < audit_p50 < 100_000
        bad_api = conn.execute(
            """
            select count(*) from public.telemetry_events where event_type = 'api.request'
              and metadata ? 'status_code' and not (
                  (m_status = 'success' and (metadata ->> 'status_code')::int < 400)
               or (m_status = 'failure' and (metadata ->> 'status_code')::int between 400 and 499)
               or (m_status = 'error' and (metadata ->> 'status_code')::int >= 500))
            """
        ).fetchone()[0]
        assert bad_api == 0
        untagged = conn.execute(
            "select count(*) from public.telemetry_events"
            " where run_id is null or tag is null or tag !~ '^v1\\.[0-9]+\\.[0-9]+$'"
        ).fetchone()[0]
        assert untagged == len(ODD_ROWS)
        # the odd rows: a duration that is there but not a number reads as absent
        unreadable = conn.execute(
            "select count(*) from public.telemetry_events"
            " where metadata ? 'duration_ms' and m_duration_ms is null"
        ).fetchone()[0]
        assert unreadable == len(ODD_ROWS)
        assert conn.execute(
            "select count(*) from public.telemetry_events where metadata ? 'artifact_size_bytes'"
            " and m_artifact_size_bytes is null"
        ).fetchone()[0] == 1
        inconsistent_audits = conn.execute(
            """
            select count(*) from public.slsa_audit_metrics
            where (status = 'success') <> (failure_reason is null)
               or (status = 'success' and not (sha256_verified and predicate_type_verified))
            """
        ).fetchone()[0]
        assert inconsistent_audits == 0


def test_copy_events_exact_count_and_window_for_unaligned_bounds(warehouse) -> None:
    start = datetime(2025, 1, 6, 10, 17, 3, 500_000, tzinfo=UTC)
    end = datetime(2025, 1, 6, 13, 2, tzinfo=UTC)
    incidents = (Incident("tlog_outage", datetime(2025, 1, 6, 11, tzinfo=UTC), datetime(2025, 1, 6, 12, tzinfo=UTC)),)
    with warehouse.connect() as conn:
        assert copy_events(conn, 1_001, start, end, seed=3, incidents=incidents) == 1_001
        assert copy_audits(conn, 97, start, end, seed=3) == 97
        assert copy_events(conn, 0, start, end, seed=3) == 0
    with warehouse.connect() as conn:
        assert conn.execute(
            "select count(*), min(event_timestamp) >= %s, max(event_timestamp) < %s from public.telemetry_events",
            (start, end),
        ).fetchone() == (1_001, True, True)
        assert conn.execute(
            "select count(*), min(audited_at) >= %s, max(audited_at) < %s from public.slsa_audit_metrics",
            (start, end),
        ).fetchone() == (97, True, True)
        errors = dict(conn.execute(
            "select date_trunc('hour', event_timestamp, 'UTC') = %s, count(*) filter (where m_status = 'error')"
            " from public.telemetry_events where event_type = 'provenance.validation' group by 1",
            (datetime(2025, 1, 6, 11, tzinfo=UTC),),
        ))
    assert errors[True] > 20 and errors[False] <= 1  # the outage hour only


def test_slices_stay_bounded_whatever_the_volume() -> None:
    """Memory is flat: 600k rows in one hour still arrive in slices of at most CHUNK_ROWS, in time order."""
    start = datetime(2025, 1, 6, 10, tzinfo=UTC)
    shares = np.array(list(EVENT_MIX.values()))
    sizes, last = [], None
    for rows in timeline.slices("n", 600_000, shares, start, start + timedelta(hours=1), 1, salt=1):
        sizes.append(len(rows.ts_us))
        assert last is None or rows.ts_us[0] >= last
        last = rows.ts_us[-1]
    assert sum(sizes) == 600_000 and max(sizes) <= timeline.CHUNK_ROWS and len(sizes) >= 12


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: copy_events(None, 5, datetime(2025, 1, 1), datetime(2025, 1, 2), 1), "timezone-aware"),
        (lambda: copy_events(None, -1, START, END, 1), "n_events must be a non-negative integer"),
        (lambda: copy_audits(None, 5, END, START, 1), "must be before end"),
        (lambda: seed_demo("postgresql://unused", days=0), "days must be a whole number >= 1"),
        (lambda: seed_demo("postgresql://unused", end=datetime(2025, 1, 1)), "has no UTC offset"),
        (lambda: Incident("meteor", START, END), "Incident.kind 'meteor'"),
    ],
)
def test_bad_arguments_are_named(call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


def test_cli_seeds_refuses_to_overwrite_and_replaces(warehouse) -> None:
    runner = CliRunner()
    args = ["demo", "seed", "--days", "1", "--seed", "7", "--end", "2025-03-05T12:00:00Z"]
    with warehouse.connect() as conn:  # a row outside the range, which only --replace removes
        conn.execute(
            "insert into public.telemetry_events (event_type, event_timestamp, metadata)"
            " values ('workflow.run', '2024-01-01T00:00:00Z', '{\"status\": \"success\"}')"
        )
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "seeded 7,205 events and 864 audits over [2025-03-04T12:00:00Z, 2025-03-05T12:00:00Z)" in result.output
    with warehouse.connect() as conn:
        fingerprint = conn.execute(FINGERPRINT).fetchone()

    refused = runner.invoke(cli, args)
    assert refused.exit_code == 1
    assert "already holds 7,205 rows in [2025-03-04T12:00:00Z, 2025-03-05T12:00:00Z)" in refused.output
    assert "--replace" in refused.output
    with warehouse.connect() as conn:
        assert conn.execute(FINGERPRINT).fetchone() == fingerprint

    replaced = runner.invoke(cli, [*args, "--replace"])
    assert replaced.exit_code == 0, replaced.output
    with warehouse.connect() as conn:
        assert _count(conn, "telemetry_events") == 7_205  # the 2024 row is gone
        assert _count(conn, "slsa_audit_metrics") == 864

    bad = runner.invoke(cli, ["demo", "seed", "--end", "2025-03-05T12:00"])
    assert bad.exit_code == 2 and "has no UTC offset" in bad.output


def test_cli_end_defaults_to_the_current_hour(warehouse) -> None:
    before = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    result = CliRunner().invoke(cli, ["demo", "seed", "--days", "1"])
    assert result.exit_code == 0, result.output
    with warehouse.connect() as conn:
        hi = conn.execute("select max(event_timestamp) from public.telemetry_events").fetchone()[0]
    after = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    assert before - timedelta(minutes=10) < hi < after
