"""Alerts recorded by the real rules, then given hostile payload text before delivery.

The rules write payloads from slo_status and slos.yaml; a test that needs a 5,000-character
release tag or a CR/LF in an SLO name records the alert as the sensor would and then edits its
payload in the outbox, so the delivery pass sees exactly what a bad catalog or tag would give.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from telemetry_pipeline.core.alerting.rules import record_alerts
from telemetry_pipeline.core.slos.config import load_slos
from telemetry_pipeline_tests.alerting.slo_rows import Row, materialize, period
from telemetry_pipeline_tests.alerting.test_alert_rules import fresh

#: Distinct hourly violations, in the outbox's delivery order (oldest period first).
VIOLATIONS = [
    ("validation", "availability", 90.0),
    ("audit_observer", "availability", 95.0),
    ("provenance_generation", "availability", 97.0),
]


def record_violations(db: psycopg.Connection, instance, count: int = 2) -> list[str]:
    """`count` hourly violations recorded as pending alerts, one period apart; their keys in order."""
    rows = [fresh(Row(slo, sli, "hour", period("hour", count - i), value, 100))
            for i, (slo, sli, value) in enumerate(VIOLATIONS[:count])]
    materialize(db, instance, rows)
    with db.transaction():
        for row in rows:
            record_alerts(db, load_slos(), "hour", [row.period_start])
    keys = [k for (k,) in db.execute("select key from public.slo_alerts order by period_start, id")]
    assert len(keys) == count
    return keys


def patch_payload(db: psycopg.Connection, key: str, **changes: Any) -> None:
    """Overwrite payload fields of one recorded alert (tags included, so none are attached later)."""
    db.execute("update public.slo_alerts set payload = payload || %s where key = %s", (Jsonb(changes), key))


def outbox_rows(db: psycopg.Connection) -> list[dict[str, Any]]:
    """The outbox with the dead-alert and per-recipient columns, oldest first."""
    cur = db.execute(
        """select key, state, slack_state, email_state, attempts, last_error, dead_error, dead_at,
                  email_recipients from public.slo_alerts order by period_start, id"""
    )
    names = [d.name for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
