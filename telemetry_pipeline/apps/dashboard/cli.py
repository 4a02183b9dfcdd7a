"""`telemetry-pipeline dashboard`: the KPI/SLO page and its JSON API on 127.0.0.1:3001."""

from __future__ import annotations

import click

from telemetry_pipeline.apps.dashboard.server import DEFAULT_HOST, DEFAULT_PORT


def pending_migrations(url: str) -> list[str]:
    """sql/ files not yet applied to the warehouse at `url` (read-only check)."""
    import psycopg

    from telemetry_pipeline.core.warehouse import one
    from telemetry_pipeline.core.warehouse.migrate import discover

    with psycopg.connect(url) as conn:
        exists = one(conn.execute("select to_regclass('public.schema_migrations') is not null"))[0]
        done = {r[0] for r in conn.execute("select version from public.schema_migrations")} if exists else set()
    return [m.name for m in discover() if m.version not in done]


@click.command("dashboard")
@click.option("--host", default=DEFAULT_HOST, show_default=True, help="Interface to listen on.")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=int, help="Port to listen on.")
def dashboard(host: str, port: int) -> None:
    """Serve the KPI dashboard (page, JSON API under /api/, Prometheus metrics at /metrics)."""
    from telemetry_pipeline.apps.dashboard.app import create_app
    from telemetry_pipeline.apps.dashboard.server import serve
    from telemetry_pipeline.core import settings, warehouse
    from telemetry_pipeline.core.scopes.teams import TeamsConfigError, load_teams
    from telemetry_pipeline.core.slos.config import SloConfigError, load_slos

    try:
        load_slos()  # a broken SLO catalog stops start-up here, naming the file and field
        load_teams()  # so does a broken teams file (/metrics exports the teams it names)
    except (SloConfigError, TeamsConfigError) as exc:
        raise click.ClickException(str(exc)) from None
    url = warehouse.configured().url()
    # The dashboard only reads; a schema behind the code would fail every request, so say it now.
    pending = pending_migrations(url)
    if pending:
        raise click.ClickException(
            f"the warehouse schema is behind this code (pending: {', '.join(pending)}); "
            "run `telemetry-pipeline db migrate` first"
        )
    click.echo(f"dashboard on http://{host}:{port} (warehouse {settings.redact_url(url)})")
    serve(create_app(url), host=host, port=port)


COMMANDS = [dashboard]
