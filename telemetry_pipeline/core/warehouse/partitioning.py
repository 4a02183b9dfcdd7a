"""Monthly range partitions of the raw tables (SPEC §13): layout, creation ahead, in-place upgrade.

Why this shape:
- Monthly partitions on the row's own timestamp: an hour, day or week window reads one partition
  (two for a week straddling months), and retention drops a whole month as one cheap DDL step.
- A DEFAULT partition catches every row whose month has no partition yet (events from the past,
  far-future clocks), so no write is ever refused for a missing partition. `ensure_partitions`
  (migrate and the daily maintenance asset) gives such rows their own monthly partition: it moves
  them out of the default partition and creates the month, in one transaction.
- The upgrade of an install made before partitioning (`convert_in_place`, run by migration 0060)
  renames the old table to `<table>_legacy`, creates the partitioned table under the old name with
  the same columns, defaults and sequence, then copies the old rows month by month, each month in
  its own transaction recorded in `partition_upgrade_progress`. Interrupted, it resumes at the
  first month not recorded; new writes go to the partitioned table from the first step on.

Identifiers only ever come from `TABLES` below (our own catalog), composed with psycopg.sql.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg
from psycopg import sql

from telemetry_pipeline.core.warehouse.resource import one

#: Partitioned tables and their partition key (the row's own timestamp, SPEC §2).
TABLES: dict[str, str] = {"telemetry_events": "event_timestamp", "slsa_audit_metrics": "audited_at"}
#: Months created ahead of the current one, so the month turning over never meets a missing one.
MONTHS_AHEAD = 3
_MONTH_SUFFIX = re.compile(r"_p(\d{4})(\d{2})$")

#: Secondary indexes of each partitioned table (created on the parent, so every partition has them).
#: The timestamp indexes are ascending: an hour window's forward scan then reads the heap in the
#: order the rows were written (sql/0110 rebuilds the descending ones of earlier installs).
_INDEXES: dict[str, list[tuple[str, str]]] = {
    "telemetry_events": [
        ("idx_telemetry_events_event_type", "(event_type)"),
        ("idx_telemetry_events_event_timestamp", "(event_timestamp)"),
    ],
    "slsa_audit_metrics": [
        ("idx_slsa_audit_metrics_audited_at", "(audited_at)"),
        ("idx_slsa_audit_metrics_created_at", "(created_at)"),
    ],
}

_PROGRESS = """
    create table if not exists public.partition_upgrade_progress (
      table_name text not null,
      month date not null,
      rows_copied bigint not null,
      copied_at timestamptz not null default now(),
      primary key (table_name, month)
    )
"""


def month_start(ts: datetime) -> datetime:
    """The UTC month a timestamp falls in."""
    ts = ts.astimezone(UTC)
    return datetime(ts.year, ts.month, 1, tzinfo=UTC)


def add_months(month: datetime, n: int) -> datetime:
    index = month.year * 12 + month.month - 1 + n
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)


def partition_name(table: str, month: datetime) -> str:
    return f"{table}_p{month:%Y%m}"


def default_name(table: str) -> str:
    return f"{table}_default"


@dataclass(frozen=True)
class Partition:
    """One partition of a partitioned table; `month` is None for the DEFAULT partition."""

    table: str
    name: str
    month: datetime | None


def _ident(table: str) -> sql.Identifier:
    if table not in TABLES:
        raise ValueError(f"{table}: not a partitioned table of this warehouse ({', '.join(TABLES)})")
    return sql.Identifier("public", table)


def is_partitioned(conn: psycopg.Connection, table: str) -> bool:
    row = one(conn.execute(
        "select c.relkind from pg_class c join pg_namespace n on n.oid = c.relnamespace"
        " where n.nspname = 'public' and c.relname = %s",
        (table,),
    ))
    return row is not None and row[0] == "p"


def _exists(conn: psycopg.Connection, name: str) -> bool:
    return one(conn.execute("select to_regclass(%s) is not null", (f"public.{name}",)))[0]


def partitions(conn: psycopg.Connection, table: str) -> list[Partition]:
    """The table's partitions, months in order, the DEFAULT partition last."""
    rows = conn.execute(
        "select c.relname, pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT'"
        " from pg_inherits i join pg_class c on c.oid = i.inhrelid"
        " where i.inhparent = %s::regclass order by c.relname",
        (f"public.{table}",),
    ).fetchall()
    found: list[Partition] = []
    default: list[Partition] = []
    for name, is_default in rows:
        if is_default:
            default.append(Partition(table, name, None))
        elif match := _MONTH_SUFFIX.search(name):
            found.append(Partition(table, name, datetime(int(match[1]), int(match[2]), 1, tzinfo=UTC)))
    return found + default


def writable_columns(conn: psycopg.Connection, relation: str) -> list[str]:
    """Columns a row can be written with (stored generated columns recompute themselves)."""
    return [
        r[0]
        for r in conn.execute(
            "select attname from pg_attribute where attrelid = %s::regclass and attnum > 0"
            " and not attisdropped and attgenerated = '' order by attnum",
            (f"public.{relation}",),
        )
    ]


def ensure_month(conn: psycopg.Connection, table: str, month: datetime) -> bool:
    """Create the month's partition unless it exists, moving its rows out of the DEFAULT partition.

    One transaction: a concurrent writer waits on the default partition's lock for its duration
    and then lands in the new partition. Returns whether a partition was created.
    """
    name = partition_name(table, month)
    with conn.transaction():
        if _exists(conn, name):
            return False
        column = sql.Identifier(TABLES[table])
        bounds = (month, add_months(month, 1))
        default = sql.Identifier("public", default_name(table))
        moved = 0
        if _exists(conn, default_name(table)):
            columns = sql.SQL(", ").join(map(sql.Identifier, writable_columns(conn, table)))
            conn.execute(
                sql.SQL(
                    "create temp table partition_move on commit drop as"
                    " select {cols} from {default} where {ts} >= %s and {ts} < %s"
                ).format(cols=columns, default=default, ts=column),
                bounds,
            )
            moved = conn.execute(
                sql.SQL("delete from {default} where {ts} >= %s and {ts} < %s").format(default=default, ts=column),
                bounds,
            ).rowcount
        conn.execute(
            sql.SQL("create table {part} partition of {parent} for values from ({low}) to ({high})").format(
                part=sql.Identifier("public", name), parent=_ident(table), low=sql.Literal(bounds[0]),
                high=sql.Literal(bounds[1]),
            )
        )
        if moved:
            conn.execute(
                sql.SQL("insert into {part} ({cols}) select {cols} from partition_move").format(
                    part=sql.Identifier("public", name), cols=columns
                )
            )
        if _exists(conn, default_name(table)):
            conn.execute("drop table partition_move")
    return True


def ensure_partitions(conn: psycopg.Connection, table: str, now: datetime, ahead: int = MONTHS_AHEAD) -> list[str]:
    """The current month and `ahead` months after it, plus a month for every month with rows in
    the DEFAULT partition (which is created when missing). Returns the partitions created."""
    created: list[str] = []
    if not _exists(conn, default_name(table)):
        conn.execute(
            sql.SQL("create table if not exists {part} partition of {parent} default").format(
                part=sql.Identifier("public", default_name(table)), parent=_ident(table)
            )
        )
        created.append(default_name(table))
    current = month_start(now)
    months = {add_months(current, n) for n in range(ahead + 1)}
    stray = conn.execute(
        sql.SQL("select distinct date_trunc('month', {ts}, 'UTC') from {default}").format(
            ts=sql.Identifier(TABLES[table]), default=sql.Identifier("public", default_name(table))
        )
    ).fetchall()
    months |= {month_start(r[0]) for r in stray}
    for month in sorted(months):
        if ensure_month(conn, table, month):
            created.append(partition_name(table, month))
    return created


def ensure_months(conn: psycopg.Connection, table: str, start: datetime, end: datetime) -> list[str]:
    """Every month overlapping [start, end): for loading history (demo data, benchmarks) into
    monthly partitions directly rather than through the DEFAULT partition."""
    created: list[str] = []
    month = month_start(start)
    while month < end:
        if ensure_month(conn, table, month):
            created.append(partition_name(table, month))
        month = add_months(month, 1)
    return created


def _dependent_views(conn: psycopg.Connection, table: str) -> list[tuple[str, str, str, str]]:
    """Views reading the table, directly or through other views: (schema, name, kind, definition),
    in creation order."""
    return conn.execute(
        """
        with recursive deps(oid, depth) as (
          select r.ev_class, 1 from pg_depend d join pg_rewrite r on r.oid = d.objid
          where d.classid = 'pg_rewrite'::regclass and d.refobjid = %(t)s::regclass and r.ev_class <> d.refobjid
          union
          select r.ev_class, deps.depth + 1 from deps
          join pg_depend d on d.refobjid = deps.oid and d.classid = 'pg_rewrite'::regclass
          join pg_rewrite r on r.oid = d.objid and r.ev_class <> deps.oid
          where deps.depth < 20
        )
        select n.nspname, c.relname, c.relkind, pg_get_viewdef(c.oid)
        from deps join pg_class c on c.oid = deps.oid join pg_namespace n on n.oid = c.relnamespace
        group by n.nspname, c.relname, c.oid, c.relkind order by max(deps.depth)
        """,
        {"t": f"public.{table}"},
    ).fetchall()


def _start_conversion(conn: psycopg.Connection, table: str, now: datetime) -> None:
    """Step 1, one transaction: old table -> <table>_legacy, the partitioned table in its place."""
    legacy = f"{table}_legacy"
    ts = TABLES[table]
    with conn.transaction():
        conn.execute(sql.SQL("lock table {} in access exclusive mode").format(_ident(table)))
        views = _dependent_views(conn, table)
        for schema, name, kind, _ in views:
            if kind != "v":
                raise RuntimeError(f"{schema}.{name} (a materialized view) reads {table}; drop it before upgrading")
        for schema, name, _, _ in reversed(views):
            conn.execute(sql.SQL("drop view {}").format(sql.Identifier(schema, name)))
        sequence = one(conn.execute(
            "select n.nspname, c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace"
            " where c.oid = pg_get_serial_sequence(%s, 'id')::regclass",
            (f"public.{table}",),
        ))
        conn.execute(sql.SQL("alter table {} rename to {}").format(_ident(table), sql.Identifier(legacy)))
        for (index,) in conn.execute(
            "select c.relname from pg_index i join pg_class c on c.oid = i.indexrelid"
            " where i.indrelid = %s::regclass",
            (f"public.{legacy}",),
        ).fetchall():
            conn.execute(
                sql.SQL("alter index {} rename to {}").format(
                    sql.Identifier("public", index), sql.Identifier(f"{index[:50]}_legacy")
                )
            )
        conn.execute(
            sql.SQL(
                "create table {parent} (like {legacy} including defaults including generated, primary key (id, {ts}))"
                " partition by range ({ts})"
            ).format(parent=_ident(table), legacy=sql.Identifier("public", legacy), ts=sql.Identifier(ts))
        )
        if sequence:
            conn.execute(
                sql.SQL("alter sequence {} owned by {}").format(
                    sql.Identifier(*sequence), sql.Identifier("public", table, "id")
                )
            )
        for index, columns in _INDEXES[table]:
            conn.execute(
                sql.SQL("create index {} on {} " + columns).format(sql.Identifier(index), _ident(table))
            )
        ensure_partitions(conn, table, now)
        low, high = one(conn.execute(
            sql.SQL("select min({ts}), max({ts}) from {legacy}").format(
                ts=sql.Identifier(ts), legacy=sql.Identifier("public", legacy)
            )
        ))
        if low is not None:
            ensure_months(conn, table, low, add_months(month_start(high), 1))
        for schema, name, _, definition in views:
            conn.execute(sql.SQL("create view {} as ").format(sql.Identifier(schema, name)) + sql.SQL(definition))


def convert_in_place(
    conn: psycopg.Connection,
    table: str,
    now: datetime | None = None,
    *,
    after_month: Callable[[datetime, int], None] | None = None,
) -> int:
    """Turn an unpartitioned `table` into monthly partitions, every row, id and the sequence kept.

    Idempotent and resumable (see the module docstring); `conn` must be in autocommit mode.
    `after_month(month, rows)` is called after each month commits. Returns the rows copied now.
    """
    now = now or datetime.now(UTC)
    legacy = f"{table}_legacy"
    conn.execute(_PROGRESS)
    if not is_partitioned(conn, table):
        _start_conversion(conn, table, now)
    if not _exists(conn, legacy):
        return 0
    ts = sql.Identifier(TABLES[table])
    legacy_id = sql.Identifier("public", legacy)
    columns = sql.SQL(", ").join(map(sql.Identifier, writable_columns(conn, legacy)))
    done = {
        r[0] for r in conn.execute("select month from public.partition_upgrade_progress where table_name = %s", (table,))
    }
    low, high = one(conn.execute(sql.SQL("select min({ts}), max({ts}) from {l}").format(ts=ts, l=legacy_id)))
    copied = 0
    month = month_start(low) if low is not None else None
    while month is not None and month <= high:
        if month.date() not in done:
            with conn.transaction():
                ensure_month(conn, table, month)
                rows = conn.execute(
                    sql.SQL("insert into {part} ({cols}) select {cols} from {l} where {ts} >= %s and {ts} < %s").format(
                        part=sql.Identifier("public", partition_name(table, month)), cols=columns, l=legacy_id, ts=ts
                    ),
                    (month, add_months(month, 1)),
                ).rowcount
                conn.execute(
                    "insert into public.partition_upgrade_progress (table_name, month, rows_copied) values (%s, %s, %s)",
                    (table, month.date(), rows),
                )
            copied += rows
            if after_month is not None:
                after_month(month, rows)
        month = add_months(month, 1)
    with conn.transaction():
        total = one(conn.execute(sql.SQL("select count(*) from {}").format(legacy_id)))[0]
        recorded = one(conn.execute(
            "select coalesce(sum(rows_copied), 0) from public.partition_upgrade_progress where table_name = %s",
            (table,),
        ))[0]
        if total != recorded:
            raise RuntimeError(f"{table}: {legacy} holds {total} rows but {recorded} were copied; not dropping it")
        conn.execute(sql.SQL("drop table {}").format(legacy_id))
        conn.execute("delete from public.partition_upgrade_progress where table_name = %s", (table,))
    conn.execute(sql.SQL("analyze {}").format(_ident(table)))
    return copied
