"""OpenSLO v1 export and import: round trip, RFC 1123 names, and rejections naming document and field."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from telemetry_pipeline.core import settings
from telemetry_pipeline.core.scopes.teams import parse_teams
from telemetry_pipeline.core.slos import openslo
from telemetry_pipeline.core.slos.config import (
    DEFAULT_SLOS_FILE,
    SloConfigError,
    check_configured_owners,
    load_slos,
    parse_catalog,
)

RFC1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
CUSTOM = {"slos": [
    {"name": "release_gate", "description": "Release gates answer.", "min_sample_size": 25,
     "runbook_url": "https://runbooks.example.org/release_gate",
     "slis": [
         {"name": "error_rate", "metric": "audit_failure_rate", "comparator": "<", "target": 0.3},
         {"name": "availability", "metric": "audit_availability", "comparator": ">=", "target": 99.95},
         {"name": "latency_p95", "metric": "audit_p95_duration_ms", "comparator": ">=", "target": 12.5},
     ]},
]}


def test_default_catalog_round_trips_to_an_equal_catalog() -> None:
    catalog = load_slos()
    imported = openslo.import_catalog(openslo.render(catalog), "export.yaml")
    assert parse_catalog(imported, "imported") == catalog


def test_custom_catalog_round_trips_exactly() -> None:
    catalog = parse_catalog(CUSTOM, "custom")
    imported = parse_catalog(openslo.import_catalog(openslo.render(catalog), "x"), "imported")
    assert imported == catalog
    slo = imported.get("release_gate")
    assert (slo.min_sample_size, slo.runbook_url) == (25, "https://runbooks.example.org/release_gate")
    assert [(s.name, s.comparator, s.target) for s in slo.slis] == [
        ("error_rate", "<", 0.3), ("availability", ">=", 99.95), ("latency_p95", ">=", 12.5)]


def test_long_names_stay_rfc1123_labels_and_round_trip() -> None:
    name = "a" * 63
    catalog = parse_catalog({"slos": [{"name": name, "description": "Long.", "slis": [
        {"name": "availability", "metric": "audit_availability", "comparator": ">=", "target": 99.0}]}]}, "long")
    docs = openslo.export_documents(catalog)
    names = [d["metadata"]["name"] for d in docs] + [d["spec"]["indicator"]["metadata"]["name"]
                                                     for d in docs if d["kind"] == "SLO"]
    assert all(RFC1123.match(n) and len(n) <= 63 for n in names), names
    assert parse_catalog(openslo.import_catalog(openslo.render(catalog), "x"), "imported") == catalog


def test_export_documents_names_and_mapping() -> None:
    docs = openslo.export_documents(load_slos())
    assert all(d["apiVersion"] == "openslo/v1" for d in docs)
    assert all(RFC1123.match(d["metadata"]["name"]) for d in docs), [d["metadata"]["name"] for d in docs]
    kinds = [d["kind"] for d in docs]
    # 3 burn pairs (condition + policy each), 3 services, 9 SLOs (one per SLI)
    assert (kinds.count("AlertCondition"), kinds.count("AlertPolicy"), kinds.count("Service"),
            kinds.count("SLO")) == (3, 3, 3, 9)
    by_name = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    service = by_name[("Service", "provenance-generation")]
    assert service["metadata"]["annotations"]["telemetry-pipeline/name"] == "provenance_generation"
    availability = by_name[("SLO", "provenance-generation-availability")]["spec"]
    assert availability["objectives"] == [{"displayName": "availability", "target": 0.999}]
    assert availability["timeWindow"] == [{"duration": "30d", "isRolling": True}]
    assert set(availability["indicator"]["spec"]["ratioMetric"]) == {"counter", "good", "total"}
    error_rate = by_name[("SLO", "validation-error-rate")]["spec"]
    assert error_rate["objectives"] == [{"displayName": "error_rate", "target": 0.995}]
    assert "bad" in error_rate["indicator"]["spec"]["ratioMetric"]
    latency = by_name[("SLO", "audit-observer-latency-p95")]["spec"]
    assert latency["objectives"] == [{"displayName": "latency_p95", "op": "lt", "value": 180000.0, "target": 0.95}]
    assert latency["alertPolicies"] == []
    page = by_name[("AlertCondition", "burn-rate-page-1h-5m")]["spec"]
    assert page == {"description": "Burn rate >= 14.4x over 1h and 5m", "severity": "page",
                    "condition": {"kind": "burnrate", "op": "gte", "threshold": 14.4,
                                  "lookbackWindow": "1h", "alertAfter": "5m"}}


def _edited(edit) -> str:
    docs = openslo.export_documents(load_slos())
    edit(docs)
    return yaml.safe_dump_all(docs, sort_keys=False)


def _slo(docs: list[dict], name: str) -> dict:
    return next(d for d in docs if d["metadata"]["name"] == name and d["kind"] == "SLO")


@pytest.mark.parametrize(("edit", "message"), [
    (lambda docs: docs[0].update(apiVersion="openslo/v2alpha"),
     r"document 1 \(AlertCondition burn-rate-page-1h-5m\), field apiVersion: only openslo/v1"),
    (lambda docs: docs.append({"apiVersion": "openslo/v1", "kind": "DataSource", "metadata": {"name": "prom"},
                               "spec": {}}),
     r"document 19 \(DataSource prom\), field kind: 'DataSource' cannot be represented"),
    (lambda docs: _slo(docs, "validation-availability")["spec"].update(
        timeWindow=[{"duration": "1M", "isRolling": False, "calendar": {"startTime": "2025-01-01 00:00:00",
                                                                         "timeZone": "UTC"}}]),
     r"\(SLO validation-availability\), field spec.timeWindow: must be"),
    (lambda docs: _slo(docs, "validation-availability")["spec"].update(budgetingMethod="Timeslices"),
     r"\(SLO validation-availability\), field spec.budgetingMethod: only Occurrences"),
    (lambda docs: _slo(docs, "validation-latency-p95")["spec"]["objectives"][0].update(op="gt"),
     r"\(SLO validation-latency-p95\), field spec.objectives.0.op: must be one of lt, gte"),
    (lambda docs: _slo(docs, "validation-latency-p95")["spec"]["objectives"][0].update(target=0.99),
     r"\(SLO validation-latency-p95\), field spec.objectives.0.target: a threshold SLI is a p95 bound"),
    (lambda docs: _slo(docs, "audit-observer-availability")["spec"]["objectives"][0].update(target=1.5),
     r"\(SLO audit-observer-availability\), field spec.objectives.0.target: a ratio target"),
    (lambda docs: docs[4]["spec"]["condition"].update(threshold=10),
     r"document 5 \(AlertCondition burn-rate-ticket-3d-6h\), field spec.condition.threshold: must be 1.0"),
    (lambda docs: _slo(docs, "audit-observer-error-rate")["spec"].update(alertPolicies=[]),
     r"\(SLO audit-observer-error-rate\), field spec.alertPolicies: a ratio SLO alerts"),
    (lambda docs: _slo(docs, "audit-observer-error-rate")["spec"].update(service="nowhere"),
     r"\(SLO audit-observer-error-rate\), field spec.service: no Service document named 'nowhere'"),
    (lambda docs: _slo(docs, "audit-observer-error-rate")["spec"]["indicator"]["spec"]["ratioMetric"]["bad"]
     ["metricSource"].update(type="prometheus"),
     r"field spec.indicator.spec.ratioMetric.bad.metricSource.type: must be 'telemetry-pipeline'"),
])
def test_import_rejects_what_the_catalog_cannot_hold(edit, message: str) -> None:
    with pytest.raises(openslo.OpenSloError, match=message):
        openslo.import_catalog(_edited(edit), "in.yaml")


def test_import_applies_the_catalog_rules_naming_slo_and_field() -> None:
    def unknown_metric(docs: list[dict]) -> None:
        for side in ("good", "total"):
            _slo(docs, "validation-availability")["spec"]["indicator"]["spec"]["ratioMetric"][side][
                "metricSource"]["spec"]["metric"] = "no_such_metric"
    with pytest.raises(SloConfigError, match=r"SLO 'validation', field slis\[0\].metric: unknown metric"):
        openslo.import_catalog(_edited(unknown_metric), "in.yaml")


def test_import_accepts_documents_without_our_annotations() -> None:
    """Names come back from the RFC 1123 form ('-' -> '_') when the annotations are gone."""
    def strip(docs: list[dict]) -> None:
        for d in docs:
            d["metadata"].pop("annotations", None)
    imported = parse_catalog(openslo.import_catalog(_edited(strip), "x"), "imported")
    assert [s.name for s in imported] == ["provenance_generation", "validation", "audit_observer"]
    assert all(s.min_sample_size == 10 for s in imported)


def test_cli_export_then_import_round_trips(tmp_path: Path) -> None:
    cli = [sys.executable, "-m", "telemetry_pipeline.cli"]
    exported = subprocess.run([*cli, "slo", "export", "--format", "openslo"], check=True, capture_output=True,
                              text=True).stdout
    (tmp_path / "openslo.yaml").write_text(exported)
    subprocess.run([*cli, "slo", "import", str(tmp_path / "openslo.yaml"), "-o", str(tmp_path / "slos.yaml")],
                   check=True)
    assert load_slos(tmp_path / "slos.yaml") == load_slos()
    broken = exported.replace("budgetingMethod: Occurrences", "budgetingMethod: Timeslices", 1)
    failed = subprocess.run([*cli, "slo", "import", "-"], input=broken, capture_output=True, text=True)
    assert failed.returncode == 1
    assert "field spec.budgetingMethod: only Occurrences is supported" in failed.stderr


# --- scopes and owners -----------------------------------------------------------------------

SCOPED = {"slos": [
    {"name": "provenance_by_team", "description": "Per team.", "scope": "team", "owner": "platform",
     "slis": [{"name": "availability", "metric": "provenance_availability", "comparator": ">=", "target": 99.5},
              {"name": "latency_p95", "metric": "provenance_p95_duration_ms", "comparator": "<", "target": 300000}]},
    {"name": "validation_by_repo", "description": "Per repository.", "scope": "repository",
     "slis": [{"name": "error_rate", "metric": "validation_failure_rate", "comparator": "<", "target": 0.5}]},
    {"name": "audits", "description": "Owned, global.", "owner": "payments",
     "slis": [{"name": "availability", "metric": "audit_availability", "comparator": ">=", "target": 99.5}]},
]}
TEAMS = parse_teams({"teams": [{"name": "payments", "repositories": ["acme/pay-*"]},
                               {"name": "platform", "repositories": ["acme/*"]}]}, "teams.yaml")


def test_scopes_and_owners_are_labels_and_round_trip() -> None:
    catalog = parse_catalog(SCOPED, "scoped")
    docs = openslo.export_documents(catalog)
    labels = {(d["kind"], d["metadata"]["name"]): d["metadata"].get("labels") for d in docs
              if d["kind"] in ("Service", "SLO")}
    assert labels == {
        ("Service", "provenance-by-team"): {"scope": ["team"], "owner": ["platform"]},
        ("SLO", "provenance-by-team-availability"): {"scope": ["team"], "owner": ["platform"]},
        ("SLO", "provenance-by-team-latency-p95"): {"scope": ["team"], "owner": ["platform"]},
        ("Service", "validation-by-repo"): {"scope": ["repository"]},
        ("SLO", "validation-by-repo-error-rate"): {"scope": ["repository"]},
        ("Service", "audits"): {"owner": ["payments"]},
        ("SLO", "audits-availability"): {"owner": ["payments"]},
    }
    imported = parse_catalog(openslo.import_catalog(openslo.render(catalog), "x", TEAMS), "imported")
    assert imported == catalog
    assert [(s.name, s.scope, s.owner) for s in imported] == [
        ("provenance_by_team", "team", "platform"), ("validation_by_repo", "repository", None),
        ("audits", None, "payments")]


def test_the_packaged_catalog_with_its_scoped_slo_round_trips() -> None:
    packaged = load_slos(DEFAULT_SLOS_FILE)
    assert any(s.scope for s in packaged)
    assert parse_catalog(openslo.import_catalog(openslo.render(packaged), "x"), "imported") == packaged


def test_a_plain_string_label_value_is_accepted() -> None:
    """OpenSLO v1 allows `label: value` as well as `label: [value]`."""
    docs = openslo.export_documents(parse_catalog(SCOPED, "scoped"))
    for d in docs:
        for key, values in (d["metadata"].get("labels") or {}).items():
            d["metadata"]["labels"][key] = values[0]
    imported = parse_catalog(openslo.import_catalog(yaml.safe_dump_all(docs), "x"), "imported")
    assert imported == parse_catalog(SCOPED, "scoped")


def _scoped_edited(edit) -> str:
    docs = openslo.export_documents(parse_catalog(SCOPED, "scoped"))
    edit(docs)
    return yaml.safe_dump_all(docs, sort_keys=False)


def _doc(docs: list[dict], kind: str, name: str) -> dict:
    return next(d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name)


@pytest.mark.parametrize(("edit", "message"), [
    (lambda docs: _doc(docs, "SLO", "provenance-by-team-latency-p95")["metadata"]["labels"].update(scope=["workflow"]),
     r"\(SLO provenance-by-team-latency-p95\), field metadata.labels: must equal the labels of Service "
     r"'provenance-by-team'"),
    (lambda docs: _doc(docs, "SLO", "audits-availability")["metadata"].pop("labels"),
     r"\(SLO audits-availability\), field metadata.labels: must equal"),
    (lambda docs: _doc(docs, "Service", "audits")["metadata"]["labels"].update(owner=["payments", "platform"]),
     r"\(Service audits\), field metadata.labels.owner: must be one value"),
    (lambda docs: _doc(docs, "Service", "validation-by-repo")["metadata"]["labels"].update(scope=["cluster"]),
     r"\(Service validation-by-repo\), field metadata.labels.scope: unknown scope 'cluster'"),
    (lambda docs: _doc(docs, "Service", "audits")["metadata"]["labels"].update(owner=["Payments Team"]),
     r"field metadata.labels.owner: must name a team of the teams file"),
    (lambda docs: _doc(docs, "Service", "audits")["metadata"]["labels"].update(owner=["billing"]),
     r"\(Service audits\), field metadata.labels.owner: unknown team 'billing'; the teams file has: "
     r"payments, platform"),
    (lambda docs: _doc(docs, "Service", "audits")["metadata"]["labels"].update(tier=["1"]),
     r"field metadata.labels.tier: unknown label; slos.yaml holds scope, owner"),
])
def test_import_rejects_labels_the_catalog_cannot_hold(edit, message: str) -> None:
    with pytest.raises(openslo.OpenSloError, match=message):
        openslo.import_catalog(_scoped_edited(edit), "in.yaml", TEAMS)


def test_an_owner_must_name_a_team_of_the_teams_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SloConfigError, match=r"SLO 'audits', field owner: must be the name of a team"):
        parse_catalog({"slos": [{**SCOPED["slos"][2], "owner": "Payments"}]}, "slos.yaml")
    catalog = parse_catalog(SCOPED, "slos.yaml")
    monkeypatch.delenv(settings.TEAMS_FILE_ENV, raising=False)
    with pytest.raises(SloConfigError, match=r"slos.yaml: SLO 'provenance_by_team', field owner: unknown team "
                                             r"'platform' \(teams of TELEMETRY_TEAMS_FILE \(unset\): none"):
        check_configured_owners(catalog, "slos.yaml")
    teams = tmp_path / "teams.yaml"
    teams.write_text("teams:\n  - {name: payments, repositories: ['acme/pay-*']}\n")
    monkeypatch.setenv(settings.TEAMS_FILE_ENV, str(teams))
    with pytest.raises(SloConfigError, match=rf"'platform' \(teams of {re.escape(str(teams))}: payments\)"):
        check_configured_owners(catalog, "slos.yaml")
    teams.write_text("teams:\n  - {name: payments, repositories: ['acme/pay-*']}\n"
                     "  - {name: platform, repositories: ['acme/*']}\n")
    check_configured_owners(catalog, "slos.yaml")


def test_cli_import_checks_owners_against_the_teams_file(tmp_path: Path) -> None:
    exported = openslo.render(parse_catalog(SCOPED, "scoped"))
    teams = tmp_path / "teams.yaml"
    teams.write_text("teams:\n  - {name: payments, repositories: ['acme/pay-*']}\n")
    env = {**os.environ, settings.TEAMS_FILE_ENV: str(teams)}
    cli = [sys.executable, "-m", "telemetry_pipeline.cli", "slo", "import", "-"]
    failed = subprocess.run(cli, input=exported, capture_output=True, text=True, env=env)
    assert failed.returncode == 1
    assert ("(Service provenance-by-team), field metadata.labels.owner: unknown team 'platform'; "
            "the teams file has: payments") in failed.stderr
    env.pop(settings.TEAMS_FILE_ENV)
    done = subprocess.run([*cli, "-o", str(tmp_path / "slos.yaml")], input=exported, capture_output=True,
                          text=True, env=env, check=True)
    assert done.returncode == 0
    assert load_slos(tmp_path / "slos.yaml") == parse_catalog(SCOPED, "scoped")
