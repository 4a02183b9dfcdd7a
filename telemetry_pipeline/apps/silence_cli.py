"""`telemetry-pipeline slo silence | silences`: maintenance windows (SPEC section 11).

Two commands of the `slo` group (slos_cli.py adds them to it).

A window keeps an announced outage from paging: closed periods overlapping it are recorded
but not sent, and the fast-burn sensor leaves its rows out of every burn rate. Plain library
code (core/slos/maintenance.py) over the warehouse; no Dagster import.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    import psycopg


def _connect() -> psycopg.Connection:
    """An autocommit connection to the configured warehouse (psycopg imported on use)."""
    import psycopg

    from telemetry_pipeline.core import warehouse

    return psycopg.connect(warehouse.configured().url(), autocommit=True, options="-c TimeZone=UTC")


@click.command("silence")
@click.option("--slo", "slo_name", required=True, help="SLO name (slos.yaml).")
@click.option("--sli", default=None, help="Only this SLI (availability, latency_p95, error_rate); default: every SLI.")
@click.option("--from", "start", required=True, help="Start: ISO 8601 (no offset = UTC) or 'now'.")
@click.option("--to", "end", required=True, help="End: ISO 8601, 'now' or '+DURATION' after --from (+30m, +2h, +1d).")
@click.option("--reason", required=True, help="Why (shown by `slo silences`).")
def silence(slo_name: str, sli: str | None, start: str, end: str, reason: str) -> None:
    """Record a maintenance window: periods overlapping it never page.

    Closed-period violations overlapping the window are recorded as suppressed
    ('maintenance'), and rows inside it count in no fast-burn window. At most 7 days.
    """
    from telemetry_pipeline.core.slos import maintenance
    from telemetry_pipeline.core.slos.config import load_slos

    now = datetime.now(UTC)
    try:
        starts_at = maintenance.parse_instant(start, "--from", now=now)
        ends_at = maintenance.parse_instant(end, "--to", now=now, base=starts_at)
        with _connect() as conn:
            window = maintenance.add_window(conn, load_slos(), slo_name, sli, starts_at, ends_at, reason)
    except maintenance.MaintenanceError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"recorded maintenance window {window.line()}")


@click.command("silences")
@click.option("--all", "show_all", is_flag=True, help="Also list windows that have ended.")
@click.option("--delete", "delete_id", type=int, default=None, metavar="ID", help="Delete the window with this id.")
def silences(show_all: bool, delete_id: int | None) -> None:
    """List maintenance windows (current and future; --all for past ones too) or delete one.

    Columns: id, slo, sli (* = every SLI), from, to (UTC), reason.
    """
    from telemetry_pipeline.core.slos import maintenance

    with _connect() as conn:
        if delete_id is not None:
            if not maintenance.delete_window(conn, delete_id):
                raise click.ClickException(f"--delete: no maintenance window with id {delete_id}")
            click.echo(f"deleted maintenance window {delete_id}")
            return
        windows = maintenance.list_windows(conn, ending_after=None if show_all else datetime.now(UTC))
    if not windows:
        click.echo("no maintenance windows" + ("" if show_all else " now or ahead (--all lists past ones)"))
        return
    click.echo("id\tslo\tsli\tfrom\tto\treason")
    for window in windows:
        click.echo(window.line())

