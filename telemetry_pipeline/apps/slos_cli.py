"""`telemetry-pipeline slo export | import`: the SLO catalog to and from other monitoring tools.

export prints the catalog (slos.yaml, or --slos FILE) as OpenSLO v1 documents or as Prometheus
recording/alerting rules; import reads OpenSLO documents back into slos.yaml form. Neither
touches the warehouse, and neither imports Dagster. `slo silence` / `slo silences` (maintenance
windows, in the warehouse) live in silence_cli.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from telemetry_pipeline.apps.silence_cli import silence, silences

FORMATS = ("openslo", "prometheus-rules")


def _write(text: str, output: Path | None) -> None:
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")


@click.group("slo")
def slo() -> None:
    """The SLO catalog and other monitoring tools (OpenSLO, Prometheus)."""


@slo.command("export")
@click.option("--format", "fmt", required=True, type=click.Choice(FORMATS),
              help="openslo: OpenSLO v1 documents; prometheus-rules: Prometheus rule file over GET /metrics.")
@click.option("--slos", "slos_file", type=click.Path(path_type=Path, dir_okay=False),
              help="Catalog to export [default: $TELEMETRY_SLOS_FILE or the packaged slos.yaml].")
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False), help="Write here [default: stdout].")
def export(fmt: str, slos_file: Path | None, output: Path | None) -> None:
    """Print the SLO catalog as OpenSLO v1 or as Prometheus rules (docs/integrations.md)."""
    from telemetry_pipeline.core.slos.config import SloConfigError, load_slos

    try:
        catalog = load_slos(slos_file)
    except SloConfigError as exc:
        raise click.ClickException(str(exc)) from None
    if fmt == "openslo":
        from telemetry_pipeline.core.slos.openslo import render
    else:
        from telemetry_pipeline.core.slos.prometheus_rules import render
    _write(render(catalog), output)


@slo.command("import")
@click.argument("file", metavar="FILE|-")
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False),
              help="Write the slos.yaml here [default: stdout].")
def import_(file: str, output: Path | None) -> None:
    """Read OpenSLO v1 documents (FILE, '-' = stdin) and print them as slos.yaml.

    Everything the catalog holds round-trips (export then import gives an equal catalog);
    anything it cannot hold is rejected with the document and field named (exit status 1).
    With TELEMETRY_TEAMS_FILE set, an `owner` label must name one of its teams.
    """
    from telemetry_pipeline.core import settings
    from telemetry_pipeline.core.scopes.teams import TeamsConfigError, load_teams
    from telemetry_pipeline.core.slos.config import SloConfigError
    from telemetry_pipeline.core.slos.openslo import OpenSloError, import_catalog, render_catalog

    try:
        text = sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"cannot read {file}: {exc}") from None
    try:
        teams = load_teams() if settings.current().teams_file else None
        catalog = import_catalog(text, "<stdin>" if file == "-" else file, teams)
    except (OpenSloError, SloConfigError, TeamsConfigError) as exc:
        raise click.ClickException(str(exc)) from None
    _write(render_catalog(catalog), output)


slo.add_command(silence)
slo.add_command(silences)

COMMANDS = [slo]
