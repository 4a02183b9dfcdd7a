"""Maintenance windows (SPEC section 11): periods during which an SLO (or one SLI) never pages.

A window is a row of public.slo_maintenance_windows (sql/0081). The alert rules record a
closed-period violation overlapping one as suppressed 'maintenance' (rules.py), and the
fast-burn evaluation leaves the rows inside one out of every rate (fast_burn.py), so an
announced outage neither pages while it lasts nor opens an episode afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg

from telemetry_pipeline.core.slos.budgets import parse_span
from telemetry_pipeline.core.slos.config import SloCatalog

#: Longest window one command may record: a forgotten silence must not hide a month of pages.
MAX_WINDOW_DAYS = 7
MAX_REASON = 500


class MaintenanceError(ValueError):
    """A window that cannot be recorded; the message names the option and the problem.

    `field` is the option's bare name (slo, sli, from, to, reason): the dashboard's form uses
    the same names and answers 400 naming it.
    """

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class MaintenanceWindow:
    id: int
    slo_name: str
    sli: str | None
    starts_at: datetime
    ends_at: datetime
    reason: str
    created_at: datetime

    def line(self) -> str:
        """One line for `slo silences`."""
        return (f"{self.id}\t{self.slo_name}\t{self.sli or '*'}\t{self.starts_at:%Y-%m-%dT%H:%M:%SZ}\t"
                f"{self.ends_at:%Y-%m-%dT%H:%M:%SZ}\t{self.reason}")


def parse_instant(text: str, option: str, *, now: datetime, base: datetime | None = None) -> datetime:
    """'now', an ISO 8601 time (no offset = UTC) or, with `base`, '+2h' / '+30m' after it."""
    value = text.strip()
    if value == "now":
        return now
    if value.startswith("+") and base is not None:
        try:
            return base + parse_span(value[1:])
        except ValueError as exc:
            raise MaintenanceError(f"{option}: {exc}", option.lstrip("-")) from None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        hint = "'now', " + ("'+2h', " if base is not None else "")
        raise MaintenanceError(f"{option}: {text!r} is not a time; use {hint}or ISO 8601 like 2026-03-04T10:00Z",
                               option.lstrip("-")) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def add_window(
    conn: psycopg.Connection, catalog: SloCatalog, slo: str, sli: str | None, starts_at: datetime,
    ends_at: datetime, reason: str,
) -> MaintenanceWindow:
    """Record one window after checking it names a real SLO/SLI and a sane span."""
    try:
        entry = catalog.get(slo)
    except KeyError as exc:
        raise MaintenanceError(f"--slo: {exc.args[0]}", "slo") from None
    if sli is not None and sli not in {s.name for s in entry.slis}:
        raise MaintenanceError(f"--sli: SLO {slo!r} has no SLI {sli!r}; it has {', '.join(s.name for s in entry.slis)}",
                               "sli")
    if ends_at <= starts_at:
        raise MaintenanceError("--to must be after --from", "to")
    if (ends_at - starts_at).days >= MAX_WINDOW_DAYS:
        raise MaintenanceError(f"--from/--to: a window is at most {MAX_WINDOW_DAYS} days; record several if needed", "to")
    if not reason.strip():
        raise MaintenanceError("--reason: say why (`slo silences` shows it)", "reason")
    if len(reason) > MAX_REASON:
        raise MaintenanceError(f"--reason: at most {MAX_REASON} characters", "reason")
    row = conn.execute(
        """insert into public.slo_maintenance_windows (slo_name, sli, starts_at, ends_at, reason)
           values (%s, %s, %s, %s, %s)
           returning id, slo_name, sli, starts_at, ends_at, reason, created_at""",
        (slo, sli, starts_at, ends_at, reason.strip()),
    ).fetchone()
    assert row is not None
    return MaintenanceWindow(*row)


def list_windows(conn: psycopg.Connection, *, ending_after: datetime | None = None) -> list[MaintenanceWindow]:
    """Windows ending after `ending_after` (all when None), by start."""
    rows = conn.execute(
        """select id, slo_name, sli, starts_at, ends_at, reason, created_at
           from public.slo_maintenance_windows
           where %(after)s::timestamptz is null or ends_at > %(after)s
           order by starts_at, id""",
        {"after": ending_after},
    ).fetchall()
    return [MaintenanceWindow(*r) for r in rows]


def delete_window(conn: psycopg.Connection, window_id: int) -> bool:
    """Delete one window; False when there is none with that id."""
    return conn.execute("delete from public.slo_maintenance_windows where id = %s", (window_id,)).rowcount == 1
