"""Dashboard fixtures: hand-made rows in the test database and the real app served over HTTP."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from telemetry_pipeline.apps.dashboard.app import create_app
from telemetry_pipeline.apps.dashboard.server import running
from telemetry_pipeline_tests.dashboard import rows
from telemetry_pipeline_tests.dashboard.browser import browser as browser  # the browser fixtures
from telemetry_pipeline_tests.dashboard.browser import context as context
from telemetry_pipeline_tests.dashboard.browser import page as page


@pytest.fixture(scope="module")
def seeded(warehouse_url: str) -> str:
    """The test database holding exactly the rows of rows.py (KPI and SLO tables replaced)."""
    with psycopg.connect(warehouse_url) as conn:
        rows.seed(conn)
    return warehouse_url


@pytest.fixture(scope="module")
def dashboard(seeded: str) -> Iterator[str]:
    """Base URL of the dashboard (uvicorn on 127.0.0.1, a free port), its clock pinned at rows.NOW."""
    with running(create_app(seeded, clock=lambda: rows.NOW)) as base:
        yield base


def get(base: str, path: str) -> tuple[int, Any]:
    """GET and decode JSON; returns (status, body) for errors too."""
    try:
        with urllib.request.urlopen(base + path, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())
