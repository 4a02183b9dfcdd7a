"""deploy/helm/values.yaml against the dagster chart's own values.schema.json: what `helm lint` checks.

No `helm` binary can be installed here, so the chart's JSON schema (a copy stored beside the
values, deploy/helm/SCHEMA.md says which) is applied with the `jsonschema` package the way Helm
applies it, with two differences Helm's own behaviour implies:
- `required` is enforced only on list items: Helm validates our values merged over the chart's
  defaults, and that merge fills every missing mapping key but replaces lists whole, so a user
  deployment must itself carry its required `name`, `image` and `port` (keys required deeper
  inside a list item are not checked);
- the chart's references to Kubernetes object schemas (kubernetesjsonschema.dev: resources,
  probes, security contexts, env entries) resolve to an open schema; those objects are checked by
  the API server at install time, not here.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator

from telemetry_pipeline.core import settings

HELM = settings.PROJECT_ROOT / "deploy" / "helm"
SCHEMA = json.loads((HELM / "dagster-chart.values.schema.json").read_text())
KUBERNETES_SCHEMAS = "https://kubernetesjsonschema.dev/"


def schema_errors(values: Any) -> list[str]:
    """Each violation of the chart schema as '<path>: <message>', sorted."""
    validator = Draft7Validator(as_helm_applies_it(SCHEMA))
    found = []
    for error in validator.iter_errors(values):
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
        found.append(f"{where.lstrip('.') or '(top)'}: {error.message}")
    return sorted(found)


def as_helm_applies_it(schema: dict) -> dict:
    """The chart schema with the two adjustments of the module docstring.

    `required` stays only on the definitions that are list items ("items": {"$ref": ...}): a
    user deployment, an ingress path, a worker queue. Every kubernetesjsonschema.dev $ref becomes
    an open schema: the refs point into a document that is not here, and in draft 7 a $ref
    replaces its siblings, so an unresolved Kubernetes type means "anything" for this check.
    """
    list_items = {
        node["items"]["$ref"].removeprefix("#/definitions/")
        for node in _nodes(schema)
        if isinstance(node.get("items"), dict) and "$ref" in node["items"]
    }

    def walk(node: Any, keep_required: bool = False) -> Any:
        if isinstance(node, list):
            return [walk(v) for v in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(KUBERNETES_SCHEMAS):
            return {"title": node.get("title", "Kubernetes object")}
        out = {k: walk(v) for k, v in node.items() if k != "required" or keep_required}
        if "definitions" in node:
            out["definitions"] = {name: walk(d, keep_required=name in list_items)
                                  for name, d in node["definitions"].items()}
        return out

    return walk(schema)


def _nodes(node: Any) -> list[dict]:
    """Every mapping in a JSON document."""
    if isinstance(node, dict):
        return [node, *(n for v in node.values() for n in _nodes(v))]
    if isinstance(node, list):
        return [n for v in node for n in _nodes(v)]
    return []


@pytest.fixture(scope="module")
def values() -> dict:
    return yaml.safe_load((HELM / "values.yaml").read_text())


def test_our_values_satisfy_the_chart_schema(values: dict) -> None:
    assert schema_errors(values) == []


def test_the_schema_check_finds_what_helm_lint_would(values: dict) -> None:
    bad = copy.deepcopy(values)
    bad["dagsterWebserver"]["replicas"] = 2  # misspelt: the webserver's keys are closed
    bad["runLauncher"]["type"] = "K8sLauncher"  # not one of the chart's launchers
    bad["dagsterDaemon"]["runCoordinator"]["config"]["queuedRunCoordinator"]["maxConcurrentRuns"] = "3"
    (deployment,) = bad["dagster-user-deployments"]["deployments"]
    deployment["port"] = "3030"
    del deployment["image"]  # a list item gets no defaults from the chart
    del bad["dagsterDaemon"]["image"]  # a mapping key does: not an error
    assert schema_errors(bad) == [
        "dagster-user-deployments.deployments[0].port: '3030' is not of type 'integer'",
        "dagster-user-deployments.deployments[0]: 'image' is a required property",
        # (the chart allows the coordinator's config to be null, so the mismatch shows one level up)
        "dagsterDaemon.runCoordinator.config.queuedRunCoordinator: {'maxConcurrentRuns': '3'} "
        "is not valid under any of the given schemas",
        "dagsterWebserver: Additional properties are not allowed ('replicas' was unexpected)",
        "runLauncher.type: 'K8sLauncher' is not one of ['CeleryK8sRunLauncher', 'K8sRunLauncher', 'CustomRunLauncher']",
    ]
