"""A database at the schema of the release before partitioning (sql/ files before 0060)."""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from telemetry_pipeline.core import settings
from telemetry_pipeline.core.warehouse import scratch
from telemetry_pipeline.core.warehouse.migrate import migrate

FIRST_PARTITIONED = "0060"


@pytest.fixture
def old_release_url(pg_server_url: str, tmp_path: Path) -> Iterator[str]:
    """A fresh database migrated only up to the unpartitioned schema."""
    old_sql = tmp_path / "sql_old"
    old_sql.mkdir()
    for path in sorted(settings.SQL_DIR.iterdir()):
        if path.suffix in (".sql", ".py") and path.name[:4] < FIRST_PARTITIONED:
            shutil.copy(path, old_sql / path.name)
    name = f"tp_upgrade_{os.getpid()}_{secrets.token_hex(3)}"
    url = scratch.create_database(pg_server_url, name, migrated=False)
    migrate(url, old_sql)
    try:
        yield url
    finally:
        scratch.drop_database(pg_server_url, name)
