"""A one-line progress display for `ingest` on a terminal (stderr, so stdout stays the summary)."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class TerminalProgress:
    """Rewrites one stderr line: lines read, percent of the file when its size is known, rate."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.started = time.monotonic()
        self.shown = False

    def __call__(self, lines: int, consumed: int, total: int | None) -> None:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        percent = f"{100 * consumed / total:5.1f}%  " if total else ""
        self.stream.write(f"\r  {percent}{lines:,} lines  {lines / elapsed:,.0f} lines/s ")
        self.stream.flush()
        self.shown = True

    def close(self) -> None:
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()
