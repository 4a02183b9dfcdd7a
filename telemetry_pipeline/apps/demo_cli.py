"""`telemetry-pipeline demo seed`: load synthetic telemetry with incidents into the warehouse."""

from __future__ import annotations

from datetime import UTC, datetime

import click
import psycopg

from telemetry_pipeline.core import settings, warehouse
from telemetry_pipeline.core.warehouse import one
from telemetry_pipeline.core.warehouse.migrate import migrate


@click.group("demo")
def demo() -> None:
    """Synthetic demo telemetry (realistic volumes, a small failure mix, SLO-breaking incidents)."""


def _parse_end(ctx: click.Context, param: click.Parameter, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 timestamp (e.g. 2025-03-01T00:00:00Z)") from None
    if parsed.tzinfo is None:
        raise click.BadParameter(f"{value!r} has no UTC offset; add Z or +00:00")
    return parsed.astimezone(UTC)


@demo.command("seed")
@click.option("--days", default=90, show_default=True, type=click.IntRange(min=1), help="Days of telemetry.")
@click.option("--seed", "seed", default=7, show_default=True, type=int, help="Random seed (same seed, same rows).")
@click.option(
    "--end", callback=_parse_end, metavar="ISO8601",
    help="End of the range (exclusive), with UTC offset. Default: start of the current UTC hour.",
)
@click.option(
    "--replace", is_flag=True,
    help="Truncate telemetry_events and slsa_audit_metrics first (all rows, not only the range).",
)
def seed_cmd(days: int, seed: int, end: datetime | None, replace: bool) -> None:
    """Write [END - DAYS, END) of telemetry events and audits, with three incidents."""
    from telemetry_pipeline.core.demo.seed import seed_into, seed_window

    url = warehouse.configured().url()
    migrate(url)
    start, end = seed_window(days, end)
    with psycopg.connect(url, options="-c TimeZone=UTC") as conn:
        if replace:
            conn.execute("truncate public.telemetry_events, public.slsa_audit_metrics")
        else:
            existing = one(conn.execute(
                "select count(*) from public.telemetry_events where event_timestamp >= %s and event_timestamp < %s",
                (start, end),
            ))[0]
            if existing:
                raise click.ClickException(
                    f"telemetry_events in {settings.redact_url(url)} already holds {existing:,} rows in "
                    f"[{start:%Y-%m-%dT%H:%M:%SZ}, {end:%Y-%m-%dT%H:%M:%SZ}); nothing was written. "
                    "Re-run with --replace to truncate telemetry_events and slsa_audit_metrics first."
                )
        summary = seed_into(conn, days=days, seed=seed, end=end)
    click.echo(f"seeded {summary}")
    if replace:
        click.echo("KPIs already materialised for this range are stale: re-materialise (backfill) them.")


COMMANDS = [demo]
