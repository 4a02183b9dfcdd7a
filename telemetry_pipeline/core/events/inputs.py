"""Opening an NDJSON input for `ingest`: a file or stdin ('-'), gzip recognised by its magic bytes.

The magic bytes decide, not the file name, so `curl ... | telemetry-pipeline ingest -` works for
compressed and plain streams alike. The first bytes are read once and handed back in front of the
stream, which works for pipes that cannot seek or peek reliably.
"""

from __future__ import annotations

import gzip
import io
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, BinaryIO

GZIP_MAGIC = b"\x1f\x8b"
_BUFFER = 1 << 20


@dataclass
class Input:
    """A readable binary stream of NDJSON plus what progress reporting needs."""

    name: str  # the path, or '-' for stdin
    stream: BinaryIO  # decompressed bytes
    compressed: bool
    total_bytes: int | None  # size on disk (compressed) when known
    position: Callable[[], int]  # bytes consumed on disk so far


class _Source(io.RawIOBase):
    """The raw bytes on disk or on the pipe, counting what was consumed, with peeked bytes put back."""

    def __init__(self, inner: BinaryIO) -> None:
        self._inner = inner
        self._pushed_back = b""
        self.consumed = 0

    def readable(self) -> bool:
        return True

    def peek_exact(self, n: int) -> bytes:
        """Read up to n bytes (fewer only at end of input) and push them back."""
        head = b""
        while len(head) < n:
            more = self._inner.read(n - len(head))
            if not more:
                break
            head += more
        self.consumed += len(head)
        self._pushed_back = head + self._pushed_back
        return head

    def readinto(self, buffer: Any) -> int:
        if self._pushed_back:
            data, self._pushed_back = self._pushed_back[: len(buffer)], self._pushed_back[len(buffer) :]
        else:
            data = self._inner.read(len(buffer))
            self.consumed += len(data)
        buffer[: len(data)] = data
        return len(data)


@contextmanager
def open_input(path: str) -> Iterator[Input]:
    """Open `path` ('-' = stdin) for reading NDJSON; raises OSError naming the path."""
    if path == "-":
        raw: BinaryIO = sys.stdin.buffer
        total = None
    else:
        raw = open(path, "rb")  # noqa: SIM115 - closed below
        total = os.fstat(raw.fileno()).st_size
    try:
        source = _Source(raw)
        compressed = source.peek_exact(len(GZIP_MAGIC)) == GZIP_MAGIC
        stream: BinaryIO = io.BufferedReader(source, buffer_size=_BUFFER)
        if compressed:
            stream = io.BufferedReader(gzip.GzipFile(fileobj=stream, mode="rb"), buffer_size=_BUFFER)
        yield Input(path, stream, compressed, total, lambda: source.consumed)
    finally:
        if path != "-":
            raw.close()
