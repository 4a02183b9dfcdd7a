"""The SLO catalog as OpenSLO v1 documents, and back (SPEC section 12).

No Python OpenSLO library exists and Sloth covers only part of v1 (no alerting), so the mapping
is written out here, for everything our catalog holds:

- a `Service` per SLO: description, min_sample_size and runbook_url (as annotations), its
  `scope` (repository | workflow | team) and `owner` (a team of the teams file) as labels when the
  SLO has them, repeated on each of its `SLO` documents (slos.yaml scopes and owns a whole SLO, so
  an SLO document whose labels differ from its Service's is rejected);
- an `SLO` per SLI with an inline indicator: ratio SLIs (availability, error_rate) are
  `ratioMetric` (good resp. bad over total) budgeted by `Occurrences` with `target` the good
  fraction; latency_p95 is a `thresholdMetric` whose objective says "95 % of occurrences
  `op` `value`" (target 0.95), which is what a p95 bound means; all over the 30-day rolling
  window of our error budgets;
- the burn-rate pairs (burn_pairs.py) as `AlertCondition`s (kind burnrate, lookbackWindow = the
  long window, alertAfter = the short one) with one `AlertPolicy` each, referenced by every
  ratio SLO.

`metadata.name` values are RFC 1123 labels (OpenSLO's validator rejects `_`): `_` becomes `-`
and the catalog's own names go to annotations, so import restores them exactly. Import rejects
whatever the catalog cannot hold, naming the document and the field.
"""

from __future__ import annotations

import hashlib
import math
import re
from typing import Any

import yaml

from telemetry_pipeline.core.scopes.teams import DIMENSIONS, UNOWNED, TeamCatalog
from telemetry_pipeline.core.slos.burn_pairs import BURN_PAIRS
from telemetry_pipeline.core.slos.config import DEFAULT_MIN_SAMPLE_SIZE, Slo, SloCatalog, parse_catalog

API_VERSION = "openslo/v1"
PREFIX = "telemetry-pipeline"
NAME = f"{PREFIX}/name"
SLO_NAME = f"{PREFIX}/slo"
SLI_NAME = f"{PREFIX}/sli"
MIN_SAMPLE = f"{PREFIX}/min-sample-size"
RUNBOOK = f"{PREFIX}/runbook-url"
SOURCE_TYPE = "telemetry-pipeline"
WINDOW = [{"duration": "30d", "isRolling": True}]
P95_TARGET = 0.95
#: OpenSLO operators of a threshold objective <-> our comparators
OPERATORS = {"lt": "<", "gte": ">="}
COMPARATOR_OPS = {v: k for k, v in OPERATORS.items()}
#: labels copied from an SLO's attributes when the catalog has them (SPEC section 10)
LABEL_ATTRIBUTES = ("scope", "owner")
_TEAM_NAME = re.compile(r"^[a-z0-9_-]+$")


class OpenSloError(ValueError):
    """An OpenSLO document the catalog cannot represent; names the document and the field."""


def rfc1123(name: str) -> str:
    """Our lowercase identifiers as RFC 1123 labels."""
    return name.replace("_", "-")


def _label(name: str) -> str:
    """At most 63 characters (an RFC 1123 label): a longer name keeps its head and a hash of the rest."""
    if len(name) <= 63:
        return name
    return f"{name[:54]}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"


def _slo_document_name(slo: str, sli: str) -> str:
    return _label(f"{rfc1123(slo)}-{rfc1123(sli)}")


# --- export ----------------------------------------------------------------------------------


def _source(metric: str, field: str) -> dict[str, Any]:
    return {"metricSource": {"type": SOURCE_TYPE,
                             "spec": {"table": "kpi_aggregations", "metric": metric, "field": field}}}


def _indicator(slo: Slo, sli_name: str) -> dict[str, Any]:
    sli = slo.sli(sli_name)
    name = _label(f"{rfc1123(slo.name)}-{rfc1123(sli.name)}-sli")
    if sli.name == "availability":
        spec = {"ratioMetric": {"counter": False, "good": _source(sli.metric, "good"),
                                "total": _source(sli.metric, "total")}}
    elif sli.name == "error_rate":
        spec = {"ratioMetric": {"counter": False, "bad": _source(sli.metric, "bad"),
                                "total": _source(sli.metric, "total")}}
    else:
        spec = {"thresholdMetric": _source(sli.metric, "value")}
    return {"metadata": {"name": name}, "spec": spec}


def _objective(sli_name: str, comparator: str, target: float) -> dict[str, Any]:
    if sli_name == "availability":
        return {"displayName": sli_name, "target": round(target / 100, 12)}
    if sli_name == "error_rate":
        return {"displayName": sli_name, "target": round(1 - target / 100, 12)}
    return {"displayName": sli_name, "op": COMPARATOR_OPS[comparator], "value": target, "target": P95_TARGET}


def _labels(slo: Slo) -> dict[str, list[str]]:
    labels: dict[str, list[str]] = {}
    for attribute in LABEL_ATTRIBUTES:
        value = getattr(slo, attribute, None)
        if value:
            labels[attribute] = [str(value)]
    return labels


def export_documents(catalog: SloCatalog) -> list[dict[str, Any]]:
    """Every OpenSLO document of the catalog, in a stable order."""
    docs: list[dict[str, Any]] = []
    for pair in BURN_PAIRS:
        docs.append({
            "apiVersion": API_VERSION, "kind": "AlertCondition",
            "metadata": {"name": pair.name},
            "spec": {
                "description": f"Burn rate >= {pair.threshold:g}x over {pair.long} and {pair.short}",
                "severity": pair.severity,
                "condition": {"kind": "burnrate", "op": "gte", "threshold": pair.threshold,
                              "lookbackWindow": pair.long, "alertAfter": pair.short},
            },
        })
        docs.append({
            "apiVersion": API_VERSION, "kind": "AlertPolicy",
            "metadata": {"name": pair.name},
            "spec": {"description": f"{pair.severity} when the error budget burns >= {pair.threshold:g}x "
                                    f"over {pair.long} and {pair.short}",
                     "alertWhenBreaching": True, "alertWhenResolved": True,
                     "conditions": [{"conditionRef": pair.name}]},
        })
    for slo in catalog:
        annotations = {NAME: slo.name, MIN_SAMPLE: str(slo.min_sample_size)}
        if slo.runbook_url:
            annotations[RUNBOOK] = slo.runbook_url
        service_meta: dict[str, Any] = {"name": rfc1123(slo.name), "displayName": slo.name,
                                        "annotations": annotations}
        if labels := _labels(slo):
            service_meta["labels"] = labels
        docs.append({"apiVersion": API_VERSION, "kind": "Service", "metadata": service_meta,
                     "spec": {"description": slo.description}})
        for sli in slo.slis:
            meta: dict[str, Any] = {
                "name": _slo_document_name(slo.name, sli.name),
                "displayName": f"{slo.name} {sli.name}",
                "annotations": {SLO_NAME: slo.name, SLI_NAME: sli.name},
            }
            if labels:
                meta["labels"] = {k: list(v) for k, v in labels.items()}  # its own copy per document
            docs.append({
                "apiVersion": API_VERSION, "kind": "SLO", "metadata": meta,
                "spec": {
                    "description": f"{sli.metric} {sli.comparator} {sli.target:g}",
                    "service": rfc1123(slo.name),
                    "indicator": _indicator(slo, sli.name),
                    "timeWindow": WINDOW,
                    "budgetingMethod": "Occurrences",
                    "objectives": [_objective(sli.name, sli.comparator, sli.target)],
                    "alertPolicies": [{"alertPolicyRef": p.name} for p in BURN_PAIRS] if sli.is_ratio else [],
                },
            })
    return docs


def render(catalog: SloCatalog) -> str:
    """The documents as one multi-document YAML stream."""
    return yaml.safe_dump_all(export_documents(catalog), sort_keys=False, width=120)


# --- import ----------------------------------------------------------------------------------


class _Doc:
    """One document being read; errors name it (position, kind, metadata.name) and the field."""

    def __init__(self, source: str, index: int, body: Any) -> None:
        self.source = source
        self.index = index
        self.body = body
        meta = body.get("metadata") if isinstance(body, dict) else None
        self.kind = body.get("kind") if isinstance(body, dict) else None
        # a str once _documents has checked metadata.name; None (or anything) before
        self.name: Any = meta.get("name") if isinstance(meta, dict) else None

    def fail(self, field: str, problem: str) -> OpenSloError:
        return OpenSloError(f"{self.source}: document {self.index + 1} ({self.kind or '?'} "
                            f"{self.name or '?'}), field {field}: {problem}")

    def get(self, path: str, kind: type | tuple[type, ...] = object, *, required: bool = True) -> Any:
        value: Any = self.body
        for part in path.split("."):
            if isinstance(value, list) and part.isdigit() and int(part) < len(value):
                value = value[int(part)]
                continue
            if not isinstance(value, dict) or part not in value:
                if required:
                    raise self.fail(path, "missing")
                return None
            value = value[part]
        if value is not None and not isinstance(value, kind):
            raise self.fail(path, f"expected {getattr(kind, '__name__', kind)}, got {type(value).__name__}")
        return value

    def annotation(self, key: str) -> str | None:
        annotations = self.get("metadata.annotations", dict, required=False) or {}
        value = annotations.get(key)
        return None if value is None else str(value)


def _documents(text: str, source: str) -> list[_Doc]:
    try:
        loaded = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        raise OpenSloError(f"{source}: not valid YAML: {exc}") from None
    flat: list[Any] = []
    for item in loaded:  # a document may also be a list of objects (as OpenSLO's examples are)
        flat.extend(item if isinstance(item, list) else [item])
    docs = [_Doc(source, i, d) for i, d in enumerate(flat)]
    for doc in docs:
        if not isinstance(doc.body, dict):
            raise doc.fail("(document)", f"expected a mapping, got {type(doc.body).__name__}")
        if doc.get("apiVersion", str) != API_VERSION:
            raise doc.fail("apiVersion", f"only {API_VERSION} is supported, got {doc.body['apiVersion']!r}")
        if doc.kind not in ("Service", "SLO", "AlertPolicy", "AlertCondition"):
            raise doc.fail("kind", f"{doc.kind!r} cannot be represented in slos.yaml "
                                   "(Service, SLO, AlertPolicy, AlertCondition are)")
        doc.get("metadata.name", str)
    return docs


def _check_alerting(docs: list[_Doc]) -> set[str]:
    """The AlertPolicy names that are exactly our burn pairs (anything else is rejected)."""
    conditions = {d.name: d for d in docs if d.kind == "AlertCondition"}
    policies: set[str] = set()
    known = {p.name: p for p in BURN_PAIRS}
    for doc in docs:
        if doc.kind == "AlertCondition":
            pair = known.get(doc.name)
            if pair is None:
                raise doc.fail("metadata.name", f"unknown alert condition; the pipeline's burn-rate pairs are "
                                                f"{', '.join(known)}")
            expected = {"kind": "burnrate", "op": "gte", "threshold": pair.threshold,
                        "lookbackWindow": pair.long, "alertAfter": pair.short}
            condition = doc.get("spec.condition", dict)
            for key, value in expected.items():
                if condition.get(key) != value:
                    raise doc.fail(f"spec.condition.{key}", f"must be {value!r} (the pipeline's fixed pair), "
                                                            f"got {condition.get(key)!r}")
            if doc.get("spec.severity", str) != pair.severity:
                raise doc.fail("spec.severity", f"must be {pair.severity!r}")
        elif doc.kind == "AlertPolicy":
            refs = doc.get("spec.conditions", list)
            if len(refs) != 1 or not isinstance(refs[0], dict) or refs[0].get("conditionRef") != doc.name:
                raise doc.fail("spec.conditions", f"must be [{{conditionRef: {doc.name}}}]: one burn-rate pair "
                                                  "per policy, defined as an AlertCondition document")
            if doc.name not in conditions:
                raise doc.fail("spec.conditions[0].conditionRef", f"no AlertCondition named {doc.name!r}")
            policies.add(doc.name)
    return policies


def _number(doc: _Doc, path: str) -> float:
    value = doc.get(path, (int, float))
    if isinstance(value, bool) or not math.isfinite(value):
        raise doc.fail(path, f"must be a finite number, got {value!r}")
    return float(value)


def _sli(doc: _Doc, policies: set[str]) -> tuple[str, dict[str, Any]]:
    """(service name, SLI entry of slos.yaml) of one SLO document."""
    if doc.get("spec.indicatorRef", str, required=False) is not None:
        raise doc.fail("spec.indicatorRef", "only inline indicators (spec.indicator) are supported")
    if doc.get("spec.timeWindow", list) != WINDOW:
        raise doc.fail("spec.timeWindow", f"must be {WINDOW} (the pipeline's 30-day rolling budget)")
    if doc.get("spec.budgetingMethod", str) != "Occurrences":
        raise doc.fail("spec.budgetingMethod", "only Occurrences is supported")
    objectives = doc.get("spec.objectives", list)
    if len(objectives) != 1 or not isinstance(objectives[0], dict):
        raise doc.fail("spec.objectives", "exactly one objective per SLO (one SLI) is supported")
    indicator = doc.get("spec.indicator.spec", dict)
    kinds = sorted(set(indicator) & {"ratioMetric", "thresholdMetric"})
    if len(kinds) != 1 or set(indicator) - set(kinds):
        raise doc.fail("spec.indicator.spec", f"must hold one ratioMetric or thresholdMetric, got {sorted(indicator)}")
    objective = "spec.objectives.0"
    if kinds == ["ratioMetric"]:
        ratio = doc.get("spec.indicator.spec.ratioMetric", dict)
        side = "good" if "good" in ratio else "bad" if "bad" in ratio else None
        if side is None or ("good" in ratio and "bad" in ratio):
            raise doc.fail("spec.indicator.spec.ratioMetric", "needs exactly one of good or bad, and total")
        metric = _metric(doc, f"spec.indicator.spec.ratioMetric.{side}")
        if _metric(doc, "spec.indicator.spec.ratioMetric.total") != metric:
            raise doc.fail("spec.indicator.spec.ratioMetric.total", f"must read the same metric {metric!r}")
        target = _number(doc, f"{objective}.target")
        if not 0 < target < 1:
            raise doc.fail(f"{objective}.target", f"a ratio target is a fraction in (0, 1), got {target!r}")
        sli_name = "availability" if side == "good" else "error_rate"
        value = round(target * 100 if side == "good" else 100 - target * 100, 9)
        comparator = ">=" if side == "good" else "<"
        refs = doc.get("spec.alertPolicies", list)
        names = [r.get("alertPolicyRef") if isinstance(r, dict) else r for r in refs]
        if sorted(map(str, names)) != sorted(p.name for p in BURN_PAIRS) or not set(names) <= policies:
            raise doc.fail("spec.alertPolicies", "a ratio SLO alerts on the pipeline's burn-rate pairs: "
                                                 f"must reference the AlertPolicies {[p.name for p in BURN_PAIRS]}")
    else:
        metric = _metric(doc, "spec.indicator.spec.thresholdMetric")
        op = doc.get(f"{objective}.op", str)
        if op not in OPERATORS:
            raise doc.fail(f"{objective}.op", f"must be one of {', '.join(OPERATORS)}, got {op!r}")
        if _number(doc, f"{objective}.target") != P95_TARGET:
            raise doc.fail(f"{objective}.target", f"a threshold SLI is a p95 bound: target must be {P95_TARGET}")
        sli_name, comparator, value = "latency_p95", OPERATORS[op], _number(doc, f"{objective}.value")
        if doc.get("spec.alertPolicies", list, required=False):
            raise doc.fail("spec.alertPolicies", "latency SLIs have no burn-rate alerts; must be empty")
    annotated = doc.annotation(SLI_NAME)
    if annotated is not None and annotated != sli_name:
        raise doc.fail(f"metadata.annotations.{SLI_NAME}", f"says {annotated!r} but the indicator is {sli_name}")
    return doc.get("spec.service", str), {"name": sli_name, "metric": metric, "comparator": comparator,
                                          "target": value}


def _metric(doc: _Doc, path: str) -> str:
    if doc.get(f"{path}.metricSource.type", str) != SOURCE_TYPE:
        raise doc.fail(f"{path}.metricSource.type", f"must be {SOURCE_TYPE!r} (metrics of the KPI catalog)")
    return doc.get(f"{path}.metricSource.spec.metric", str)


def _labels_of(doc: _Doc, teams: TeamCatalog | None) -> dict[str, str]:
    """A document's labels as slos.yaml attributes; rejects what slos.yaml cannot hold.

    OpenSLO v1 label values are a string or a list of strings; an SLO has one scope and one owner.
    """
    labels = doc.get("metadata.labels", dict, required=False) or {}
    found: dict[str, str] = {}
    for key, values in labels.items():
        field = f"metadata.labels.{key}"
        if key not in LABEL_ATTRIBUTES:
            raise doc.fail(field, f"unknown label; slos.yaml holds {', '.join(LABEL_ATTRIBUTES)}")
        value = values[0] if isinstance(values, list) and len(values) == 1 else values
        if not isinstance(value, str):
            raise doc.fail(field, "must be one value (a string, or a list of one string): an SLO has one "
                                  f"{key}")
        if key == "scope" and value not in DIMENSIONS:
            raise doc.fail(field, f"unknown scope {value!r}; slos.yaml scopes are {', '.join(DIMENSIONS)}")
        if key == "owner":
            if not _TEAM_NAME.match(value) or value == UNOWNED:
                raise doc.fail(field, f"must name a team of the teams file ([a-z0-9_-]+), got {value!r}")
            if teams is not None and teams.get(value) is None:
                known = ", ".join(t.name for t in teams) or "none"
                raise doc.fail(field, f"unknown team {value!r}; the teams file has: {known}")
        found[key] = value
    return found


def import_catalog(text: str, source: str, teams: TeamCatalog | None = None) -> dict[str, Any]:
    """OpenSLO documents -> the slos.yaml mapping, validated by the catalog loader itself.

    `teams`: when given (the teams file in use), an `owner` label must name one of its teams.
    """
    docs = _documents(text, source)
    policies = _check_alerting(docs)
    services: dict[str, dict[str, Any]] = {}
    service_labels: dict[str, dict[str, str]] = {}
    for doc in docs:
        if doc.kind != "Service":
            continue
        name = doc.annotation(NAME) or doc.name.replace("-", "_")
        entry: dict[str, Any] = {"name": name, "description": doc.get("spec.description", str)}
        min_sample = doc.annotation(MIN_SAMPLE)
        try:
            entry["min_sample_size"] = int(min_sample) if min_sample is not None else DEFAULT_MIN_SAMPLE_SIZE
        except ValueError:
            raise doc.fail(f"metadata.annotations.{MIN_SAMPLE}", f"must be an integer, got {min_sample!r}") from None
        entry["runbook_url"] = doc.annotation(RUNBOOK)
        labels = _labels_of(doc, teams)
        entry.update(labels)
        entry["slis"] = []
        if doc.name in services:
            raise doc.fail("metadata.name", "duplicate Service")
        services[doc.name] = entry
        service_labels[doc.name] = labels
    for doc in docs:
        if doc.kind != "SLO":
            continue
        service, sli = _sli(doc, policies)
        if service not in services:
            raise doc.fail("spec.service", f"no Service document named {service!r}")
        labels = _labels_of(doc, teams)
        if labels != service_labels[service]:
            raise doc.fail("metadata.labels", f"must equal the labels of Service {service!r} "
                                              f"({service_labels[service] or 'none'}): slos.yaml scopes and "
                                              f"owns a whole SLO, not one SLI; got {labels or 'none'}")
        services[service]["slis"].append(sli)
    catalog = {"slos": list(services.values())}
    parse_catalog(catalog, f"{source} (imported)")  # the loader's own rules, naming SLO and field
    return catalog


def render_catalog(catalog: dict[str, Any]) -> str:
    """The imported catalog as slos.yaml text."""
    slos = []
    for slo in catalog["slos"]:
        slos.append({**slo, "slis": [dict(s) for s in slo["slis"]]})
    return ("# Imported from OpenSLO by `telemetry-pipeline slo import`; see docs/integrations.md.\n"
            + yaml.safe_dump({"slos": slos}, sort_keys=False, width=120))
