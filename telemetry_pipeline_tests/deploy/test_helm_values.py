"""deploy/helm/values.yaml against the dagster chart's schema, and deploy/k8s against our code.

No cluster or chart repository is reachable here, so the values are checked key by key against
dagster_chart_keys.yaml (transcribed from the chart's schema source, see its header); the
manifests' commands are parsed by our own CLI, and the Secret's variable names are the ones the
code reads.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from telemetry_pipeline import cli
from telemetry_pipeline.core import settings
from telemetry_pipeline.core import settings as alert_env  # every variable is named in settings
from telemetry_pipeline.core import settings as events_env
from telemetry_pipeline.defs.dagster_tuning import DAGSTER_ENV_DEFAULTS

DEPLOY = settings.PROJECT_ROOT / "deploy"
CHART_KEYS = yaml.safe_load((Path(__file__).parent / "dagster_chart_keys.yaml").read_text())


def unknown_keys(values: Any, schema: Any, path: str = "") -> list[str]:
    """Paths in `values` the schema does not name ('*' subtrees are free-form)."""
    if schema == "*" or not isinstance(schema, dict):
        return []
    if "[]" in schema:
        if not isinstance(values, list):
            return [f"{path} (expected a list)"]
        return [p for i, item in enumerate(values) for p in unknown_keys(item, schema["[]"], f"{path}[{i}]")]
    if not isinstance(values, dict):
        return [f"{path} (expected a mapping)"]
    found = []
    for key, value in values.items():
        where = f"{path}.{key}" if path else key
        if key not in schema:
            found.append(where)
        else:
            found.extend(unknown_keys(value, schema[key], where))
    return found


@pytest.fixture(scope="module")
def values() -> dict:
    return yaml.safe_load((DEPLOY / "helm" / "values.yaml").read_text())


def manifests() -> list[dict]:
    return [doc for path in sorted((DEPLOY / "k8s").glob("*.yaml")) for doc in yaml.safe_load_all(path.read_text())
            if doc and "kind" in doc and doc["kind"] != "Kustomization"]


def containers() -> list[dict]:
    out = []
    for doc in manifests():
        if doc["kind"] in ("Deployment", "Job"):
            out.extend(doc["spec"]["template"]["spec"]["containers"])
    return out


def test_the_key_check_finds_a_misspelt_key() -> None:
    bad = {"dagsterWebserver": {"replicas": 2}, "dagster-user-deployments": {"deployments": [{"grpcArgs": []}]}}
    assert unknown_keys(bad, CHART_KEYS) == ["dagsterWebserver.replicas", "dagster-user-deployments.deployments[0].grpcArgs"]


def test_every_values_key_is_one_the_chart_schema_knows(values: dict) -> None:
    assert unknown_keys(values, CHART_KEYS) == []


def test_the_code_location_runs_our_module_on_3030(values: dict) -> None:
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    assert deployment["dagsterApiGrpcArgs"] == ["-m", "telemetry_pipeline.definitions"]
    assert deployment["port"] == 3030
    assert deployment["envSecrets"] == [{"name": "telemetry-pipeline-env"}]
    # the image's unprivileged user (deploy/Dockerfile)
    assert deployment["podSecurityContext"]["runAsUser"] == 10001
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert "USER 10001:10001" in dockerfile
    # where the chart mounts the instance config is the image's DAGSTER_HOME, writable by that user
    assert f"DAGSTER_HOME={values['global']['dagsterHome']}" in dockerfile


def test_runs_are_k8s_jobs_with_resource_requests_and_an_external_database(values: dict) -> None:
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    launcher = values["runLauncher"]["config"]["k8sRunLauncher"]
    assert set(launcher["runK8sConfig"]["containerConfig"]["resources"]["requests"]) == {"cpu", "memory"}
    assert values["postgresql"]["enabled"] is False
    assert values["generatePostgresqlPasswordSecret"] is False
    secrets = {doc["metadata"]["name"]: doc for doc in manifests() if doc["kind"] == "Secret"}
    assert "postgresql-password" in secrets[values["global"]["postgresqlSecretName"]]["stringData"]


def test_webserver_and_daemon_get_the_dagster_tuning_switches(values: dict) -> None:
    assert values["dagsterWebserver"]["env"] == DAGSTER_ENV_DEFAULTS
    assert values["dagsterDaemon"]["env"] == DAGSTER_ENV_DEFAULTS


def test_the_secret_names_the_variables_the_code_reads() -> None:
    (secret,) = [d for d in manifests() if d["kind"] == "Secret" and d["metadata"]["name"] == "telemetry-pipeline-env"]
    read_by_code = {
        settings.DATABASE_URL_ENV, "DAGSTER_PG_URL", events_env.COLLECTOR_TOKEN_ENV,
        events_env.GITHUB_WEBHOOK_SECRET_ENV, alert_env.SLACK_BOT_TOKEN, alert_env.SLACK_CHANNEL,
        alert_env.SMTP_HOST, alert_env.SMTP_PORT, alert_env.SMTP_FROM, alert_env.ALERT_EMAIL_TO,
        alert_env.SMTP_USERNAME, alert_env.SMTP_PASSWORD, alert_env.SMTP_STARTTLS,
    }
    assert set(secret["stringData"]) == read_by_code
    for container in containers():
        for var in container.get("env", []):
            ref = var.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                assert ref["key"] == var["name"]


@pytest.mark.parametrize("container", containers(), ids=lambda c: c["name"])
def test_manifest_commands_parse_with_our_cli(container: dict) -> None:
    """Each container's args are a valid `telemetry-pipeline` command line (options and all)."""
    program, *args = container["args"]
    assert program == "telemetry-pipeline"
    command: click.Command = cli.cli
    ctx = None
    while isinstance(command, click.Group):
        ctx = command.make_context(command.name, list(args), parent=ctx, resilient_parsing=False)
        name, command, args = command.resolve_command(ctx, ctx.protected_args + ctx.args)
        assert command is not None, f"unknown command {name}"
    sub = command.make_context(command.name, list(args), parent=ctx)
    if "host" in sub.params:
        # inside a pod the Service must reach the port: all interfaces, not the CLI's 127.0.0.1
        assert sub.params["host"] == "0.0.0.0"  # noqa: S104


@pytest.mark.parametrize("name", ["telemetry-collector", "telemetry-dashboard"])
def test_deployments_probe_healthz_on_their_port_behind_a_service(name: str) -> None:
    docs = {(d["kind"], d["metadata"]["name"]): d for d in manifests()}
    deployment, service = docs[("Deployment", name)], docs[("Service", name)]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/healthz"
    port = container["ports"][0]["containerPort"]
    assert str(port) == container["args"][container["args"].index("--port") + 1]
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
