"""The multiwindow, multi-burn-rate alert pairs (Google SRE Workbook, 30-day budget; SPEC section 11).

Exported as Prometheus alerting rules (prometheus_rules.py) and as OpenSLO AlertConditions
(openslo.py); both read this one list. A pair fires when its long *and* its short window burn at
least `threshold` times the budget. The short windows 5m and 30m exist only in the fast-burn
evaluation (exported as granularity "rolling", not in the hourly slo_status rows the Prometheus
rules read), so a rule uses `fallback` (the shortest hourly window), which gives exactly the
rules slo_status applies (budgets.BURN_RULES).
"""

from __future__ import annotations

from dataclasses import dataclass

from telemetry_pipeline.core.slos.budgets import BURN_RULES, BURN_WINDOWS, FAST_BURN


@dataclass(frozen=True)
class BurnPair:
    severity: str  # 'page' | 'ticket'
    long: str
    short: str
    threshold: float
    fallback: str | None = None  # hourly window used when the hourly rows have no `short` window

    @property
    def name(self) -> str:
        """RFC 1123 label naming the pair, e.g. 'burn-rate-page-1h-5m'."""
        return f"burn-rate-{self.severity}-{self.long}-{self.short}"


#: The page pairs are burn_windows.yaml's fast_burn pairs (what slo_fast_burn_sensor pages on),
#: falling back to the shortest hourly window; the ticket pairs are its two-window ticket rules of
#: the hourly rows (the slow burn).
BURN_PAIRS: tuple[BurnPair, ...] = (
    *(BurnPair("page", p.long, p.short, p.threshold, fallback=BURN_WINDOWS[0].label) for p in FAST_BURN.pairs),
    *(BurnPair("ticket", r.windows[0], r.windows[1], r.threshold)
      for r in BURN_RULES if r.alert == "ticket" and len(r.windows) == 2),
)
