"""Which repository and workflow a synthetic row belongs to (the scope keys of SPEC section 10).

A `Fleet` is a list of repositories, each running the same workflow names. Rows are attributed
per workflow run, not per row: the run id (runs.py) is hashed to one (repository, workflow)
pair, so the events of one run and the audits of its artifacts share repository and workflow,
and every pair gets about the same share of runs. Without a fleet rows carry neither key, as
before scopes existed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydantic import ConfigDict, field_validator
from pydantic.dataclasses import dataclass

#: Fibonacci hashing: spreads consecutive run ids evenly over the (repository, workflow) pairs.
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


@dataclass(frozen=True, config=ConfigDict(extra="forbid"))
class Fleet:
    """Repositories (`owner/name`) and the workflow names each of them runs."""

    repositories: tuple[str, ...]
    workflows: tuple[str, ...] = ("build", "release")

    @field_validator("repositories", "workflows")
    @classmethod
    def _names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("must not be empty")
        if len(set(value)) != len(value):
            raise ValueError("names must be unique")
        for name in value:
            if not name or any(c in name for c in '"\\\t\n'):
                raise ValueError(f"{name!r} is empty or has a quote, backslash, tab or newline")
        return value

    def pairs(self, run_ids: np.ndarray) -> np.ndarray:
        """Index of each run's (repository, workflow) pair: repository = i // W, workflow = i % W."""
        mixed = (run_ids.astype(np.uint64) * _GOLDEN) >> np.uint64(32)
        return (mixed % np.uint64(len(self.repositories) * len(self.workflows))).astype(np.int64)

    def repositories_of(self, run_ids: np.ndarray) -> np.ndarray:
        """The repository name of each run (object array)."""
        return np.array(self.repositories, dtype=object)[self.pairs(run_ids) // len(self.workflows)]

    def metadata_keys(self, run_ids: np.ndarray) -> list[str]:
        """`, "repository": "…", "workflow": "…"` per run, to splice into a JSON object's text."""
        keys = np.array(
            [f', "repository": "{r}", "workflow": "{w}"' for r in self.repositories for w in self.workflows],
            dtype=object,
        )
        return keys[self.pairs(run_ids)].tolist()


def numbered(repositories: int, workflows_per_repository: int, owner: str = "acme") -> Fleet:
    """A fleet of `repositories` named `<owner>/repo-NNN`, each with workflows `wf-N` (benchmarks)."""
    if repositories < 1 or workflows_per_repository < 1:
        raise ValueError(f"a fleet needs >= 1 repository and workflow, got {repositories}, {workflows_per_repository}")
    return Fleet(
        repositories=tuple(f"{owner}/repo-{i:03d}" for i in range(repositories)),
        workflows=tuple(f"wf-{j}" for j in range(workflows_per_repository)),
    )


#: The demo's 40 repositories (teams.yaml assigns 36 of them to six teams; the last four,
#: outside acme/, are `unowned`), each running a build and a release workflow.
DEMO_FLEET = Fleet(repositories=(
    # payments (acme/pay-etl also matches data's acme/*-etl: payments is listed first)
    "acme/pay-api", "acme/pay-gateway", "acme/pay-ledger", "acme/pay-etl", "acme/billing", "acme/billing-ui",
    "acme/invoices",
    # mobile: the small team of the scoped incident
    "acme/mobile-ios", "acme/mobile-android",
    # data
    "acme/data-lake", "acme/data-catalog", "acme/events-etl", "acme/metrics-etl", "acme/warehouse",
    "acme/dbt-models",
    # security
    "acme/signer", "acme/attestor", "acme/sec-scanner", "acme/sec-policies", "acme/keyvault",
    # web
    "acme/web", "acme/web-admin", "acme/web-docs", "acme/storefront", "acme/design-system", "acme/cms",
    # platform (acme/* catches what no team listed earlier claims)
    "acme/ci-templates", "acme/runners", "acme/infra", "acme/terraform-modules", "acme/k8s-manifests",
    "acme/observability", "acme/build-cache", "acme/telemetry-agent", "acme/base-images", "acme/dns",
    # unowned
    "contrib/sbom-tools", "contrib/cosign-action", "oss/slsa-verifier-fork", "acme-labs/prototype",
))

#: The teams file shipped for the demo (docs/demo-data.md says when `dev` uses it).
DEMO_TEAMS_FILE = Path(__file__).with_name("teams.yaml")
