"""The multiwindow, multi-burn-rate alert pairs (Google SRE Workbook, 30-day budget; SPEC section 11).

Exported as Prometheus alerting rules (prometheus_rules.py) and as OpenSLO AlertConditions
(openslo.py); both read this one list. A pair fires when its long *and* its short window burn at
least `threshold` times the budget. The short windows 5m and 30m come from the fast-burn
evaluation; until slo_status carries them, a rule uses `fallback` (the shortest window stored
today), which gives exactly the rules slo_status applies now (budgets.BURN_RULES).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BurnPair:
    severity: str  # 'page' | 'ticket'
    long: str
    short: str
    threshold: float
    fallback: str | None = None  # window used while `short` is not exported

    @property
    def name(self) -> str:
        """RFC 1123 label naming the pair, e.g. 'burn-rate-page-1h-5m'."""
        return f"burn-rate-{self.severity}-{self.long}-{self.short}"


BURN_PAIRS: tuple[BurnPair, ...] = (
    BurnPair("page", "1h", "5m", 14.4, fallback="1h"),
    BurnPair("page", "6h", "30m", 6.0, fallback="1h"),
    BurnPair("ticket", "3d", "6h", 1.0),
)
