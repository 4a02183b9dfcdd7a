"""Serving the dashboard with uvicorn: in the foreground (CLI) or on a thread (tests, benchmark).

The thread variant binds its own socket first (port 0 = any free port) and waits for uvicorn's
`started` flag, so callers get a URL that already answers, with no sleeps or retries.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from starlette.applications import Starlette

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 3001


def serve(app: Starlette, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> None:
    """Run until interrupted (Ctrl-C / SIGTERM)."""
    uvicorn.run(app, host=host, port=port, log_level="info", access_log=False)


@contextmanager
def running(app: Starlette, host: str = DEFAULT_HOST, port: int = 0, timeout: float = 30.0) -> Iterator[str]:
    """Serve `app` on a background thread; yields its base URL and stops it on exit."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound_host, bound_port = sock.getsockname()[:2]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on"))
    failure: list[BaseException] = []

    def run() -> None:
        try:
            server.run(sockets=[sock])
        except BaseException as exc:  # surfaced to the caller below
            failure.append(exc)

    thread = threading.Thread(target=run, name="dashboard-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    # uvicorn offers a flag, not an event: wait for it (or the thread's death), bounded.
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError(f"dashboard server failed to start: {failure[0] if failure else 'exited'}")
        if time.monotonic() > deadline:
            server.should_exit = True
            raise TimeoutError(f"dashboard server not started within {timeout} s")
        thread.join(0.01)
    try:
        yield f"http://{bound_host}:{bound_port}"
    finally:
        server.should_exit = True
        thread.join(timeout)
        sock.close()
