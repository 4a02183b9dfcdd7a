"""`telemetry-pipeline ingest | emit | collector serve`: getting events in.

Heavy imports (Starlette, uvicorn) happen inside the commands, so `emit` in a workflow step
starts as fast as the CLI itself.
"""

from __future__ import annotations

import sys
import zlib
from typing import TYPE_CHECKING

import click
import orjson

from telemetry_pipeline.core import settings
from telemetry_pipeline.core.events.validation import STATUSES

if TYPE_CHECKING:  # the ingest module is imported only by the commands that use it
    from telemetry_pipeline.core.events.ingest import IngestSummary


def _warehouse_url() -> str:
    from telemetry_pipeline.core import warehouse

    return warehouse.configured().url()


@click.command("ingest")
@click.argument("file", metavar="FILE|-")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
@click.option(
    "--progress/--no-progress", default=None, help="Progress line on stderr [default: when stderr is a terminal]."
)
@click.option(
    "--format", "fmt", default="ndjson", show_default=True,
    type=click.Choice(["ndjson", "gh-attestation", "slsa-verifier"]),
    help="gh-attestation: `gh attestation verify --format json` output or run records; slsa-verifier: "
         "run records, or a captured log with --exit-code (docs/integrations.md).",
)
@click.option("--timestamp", default=None, help="Tool formats: when the verification finished, ISO 8601 with "
              "offset [default: the record's finished_at, else now].")
@click.option("--run-id", default=None, type=int, help="Tool formats: workflow run id of the events.")
@click.option("--tag", default=None, help="Tool formats: release tag of the events.")
@click.option("--artifact", default=None, help="Tool formats: artifact name when the output does not say it.")
@click.option("--exit-code", default=None, type=int,
              help="slsa-verifier: FILE is its captured log and this its exit status.")
@click.option("--duration-ms", default=None, type=click.FloatRange(0), help="Tool formats: verification duration.")
def ingest(
    file: str, as_json: bool, progress: bool | None, fmt: str, timestamp: str | None, run_id: int | None,
    tag: str | None, artifact: str | None, exit_code: int | None, duration_ms: float | None,
) -> None:
    """Bulk-load NDJSON events from FILE ('-' = stdin; gzip recognised by its magic bytes).

    Each line is validated (SPEC section 3): valid events are stored, invalid lines go to
    public.telemetry_events_rejected with line number and reason, events whose event_id is
    already stored (or seen earlier in the file) are counted as duplicates. Blank lines are
    skipped. Memory stays constant whatever the file size.

    With --format gh-attestation or slsa-verifier, FILE is a verifier's output, turned into
    provenance.validation events first; a record that is not such output is quarantined
    (bad_tool_output) and the rest goes on.

    Exit status: 0 when the file was read to the end (whatever was rejected), 1 when the input
    or the warehouse could not be read or written.
    """
    from telemetry_pipeline.core.events.ingest import ingest_file
    from telemetry_pipeline.core.events.progress import TerminalProgress

    show = sys.stderr.isatty() if progress is None else progress
    display = TerminalProgress() if show else None
    try:
        if fmt == "ndjson":
            summary = ingest_file(_warehouse_url(), file, progress=display)
        else:
            summary = _ingest_tool_output(file, fmt, timestamp, run_id, tag, artifact, exit_code, duration_ms)
    except (OSError, EOFError, zlib.error) as exc:  # missing file, truncated or corrupt gzip
        detail = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise click.ClickException(
            f"cannot read {file}: {detail} (chunks read before the error are stored)"
        ) from None
    except Exception as exc:
        import psycopg

        if isinstance(exc, psycopg.OperationalError):
            raise  # cannot connect: the top-level CLI prints the one-line "cannot reach" message
        if isinstance(exc, psycopg.Error):
            first_line = str(exc).strip().split("\n")[0][:300]
            raise click.ClickException(f"warehouse error while ingesting {file}: {first_line}") from None
        raise
    finally:
        if display:
            display.close()
    click.echo(orjson.dumps(summary.as_dict()).decode() if as_json else summary.render())


def _ingest_tool_output(
    file: str, fmt: str, timestamp: str | None, run_id: int | None, tag: str | None, artifact: str | None,
    exit_code: int | None, duration_ms: float | None,
) -> IngestSummary:
    """`ingest --format gh-attestation|slsa-verifier` (events/supply_chain.py)."""
    from datetime import UTC, datetime

    from telemetry_pipeline.core.events.supply_chain import Context, ToolOutputError, ingest_tool_output
    from telemetry_pipeline.core.events.validation import InvalidEvent, parse_timestamp

    if exit_code is not None and fmt != "slsa-verifier":
        raise click.UsageError("--exit-code is for --format slsa-verifier (a captured log)")
    try:
        when = parse_timestamp(timestamp) if timestamp else datetime.now(UTC)
    except InvalidEvent as exc:
        raise click.BadParameter(exc.reason, param_hint="--timestamp") from None
    context = Context(when, run_id=run_id, tag=tag, artifact=artifact, exit_code=exit_code, duration_ms=duration_ms)
    try:
        return ingest_tool_output(_warehouse_url(), file, fmt, context)
    except ToolOutputError as exc:
        raise click.ClickException(str(exc)) from None


@click.command("emit")
@click.option("--type", "event_type", required=True, help="event_type, e.g. provenance.generation.")
@click.option(
    "--status", required=True, type=click.Choice(STATUSES),
    help="success: the step did its job; failure: it gave a negative result; error: it could not run; "
    "cancelled: it was stopped before a result (counted in event_count only).",
)
@click.option("--duration-ms", default=None, help="Step duration in milliseconds (number >= 0).")
@click.option("--run-id", default=None, help="Workflow run id (integer), e.g. ${{ github.run_id }}.")
@click.option("--tag", default=None, help="Release tag.")
@click.option("--timestamp", default=None, help="When the step finished, ISO 8601 with offset [default: now].")
@click.option("--meta", multiple=True, metavar="KEY=VALUE", help="Extra metadata (repeatable); values are strings.")
@click.option("--event-id", default=None, help="Idempotency key: a second event with it is not stored again.")
@click.option("--repository", default=None,
              help="Repository (owner/name) the step ran in [default: $GITHUB_REPOSITORY].")
@click.option("--workflow", default=None, help="The workflow's name [default: $GITHUB_WORKFLOW].")
@click.option("--strict", is_flag=True, help="Fail (exit 1 / 3) instead of warning when not recorded.")
@click.option("--attempts", default=3, show_default=True, type=click.IntRange(1, 10), help="Delivery attempts.")
@click.option("--timeout", default=5.0, show_default=True, type=click.FloatRange(0.1, 60), help="Seconds per attempt.")
def emit(
    event_type: str, status: str, duration_ms: str | None, run_id: str | None, tag: str | None,
    timestamp: str | None, meta: tuple[str, ...], event_id: str | None, repository: str | None,
    workflow: str | None, strict: bool, attempts: int, timeout: float,
) -> None:
    """Record one event from a workflow step.

    Sent to the collector when TELEMETRY_COLLECTOR_URL is set (with TELEMETRY_COLLECTOR_TOKEN),
    else written to the warehouse (TELEMETRY_DATABASE_URL). An unreachable target is retried
    briefly; then a warning is printed and the step goes on.

    \b
    Exit status:
      0  recorded or duplicate; without --strict also not delivered / rejected (with a warning)
      1  --strict and the collector/warehouse could not be reached or refused the request
      2  usage error (unknown option, missing --type/--status, --meta without '=')
      3  --strict and the event broke a rule (it is quarantined with the reason)
    """
    from telemetry_pipeline.apps.emit import EXIT_REJECTED, EXIT_UNDELIVERED, build_event
    from telemetry_pipeline.apps.emit import emit as deliver

    try:
        event = build_event(
            event_type=event_type, status=status, duration_ms=duration_ms, run_id=run_id, tag=tag,
            timestamp=timestamp, meta=meta, event_id=event_id, repository=repository, workflow=workflow,
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    outcome = deliver(event, attempts=attempts, timeout=timeout)
    if outcome.result in ("recorded", "duplicate"):
        click.echo(f"{event_type}: {outcome.result} ({outcome.target})")
        return
    what = "rejected" if outcome.result == "rejected" else "not recorded"
    click.echo(f"warning: {event_type} event {what} ({outcome.target}): {outcome.detail}", err=True)
    if strict:
        sys.exit(EXIT_REJECTED if outcome.result == "rejected" else EXIT_UNDELIVERED)
    click.echo("warning: continuing; telemetry never fails the step (use --strict to fail)", err=True)


@click.group("collector")
def collector() -> None:
    """HTTP collector for events and GitHub webhooks."""


@collector.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--port", default=8080, show_default=True, type=int, help="Port to bind.")
@click.option(
    "--max-body-bytes", default=None, type=click.IntRange(1024),
    help=f"Largest request body [default: ${settings.COLLECTOR_MAX_BODY_ENV} or {settings.DEFAULT_MAX_BODY_BYTES}].",
)
@click.option("--pool-size", default=8, show_default=True, type=click.IntRange(1, 100), help="Database connections.")
def serve(host: str, port: int, max_body_bytes: int | None, pool_size: int) -> None:
    """Serve POST /v1/events, POST /v1/github/webhook and GET /healthz.

    Needs TELEMETRY_COLLECTOR_TOKEN (bearer token of /v1/events) and/or GITHUB_WEBHOOK_SECRET
    (signature secret of /v1/github/webhook); an endpoint whose secret is unset answers 503.
    """
    from telemetry_pipeline.apps.collector import CollectorConfig
    from telemetry_pipeline.apps.collector import serve as run

    try:
        config = CollectorConfig.from_env(max_body_bytes=max_body_bytes, pool_size=pool_size)
        run(config, host=host, port=port)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None


COMMANDS = [ingest, emit, collector]
