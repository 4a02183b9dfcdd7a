"""A real HTTP server on 127.0.0.1 that answers like Slack's Web API and records what it got.

It stands in for https://slack.com/api/ (SLACK_API_BASE_URL points at it). Modes:
  ok         200 {"ok": true, "ts": ...}; the message counts as posted
  error500   500 with an HTML body (Slack outage)
  ratelimit  429 with Retry-After: <retry_after> and {"ok": false, "error": "ratelimited"}
  hang       holds the request until the test releases it or the server stops (client timeout)
Only requests answered in mode ok count as posted messages. Waiting is on a condition with a
timeout, never a sleep.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class SlackRequest:
    path: str
    authorization: str
    body: dict[str, Any]
    mode: str


class SlackApiServer:
    def __init__(self) -> None:
        self.mode = "ok"
        self.retry_after = 7
        self.requests: list[SlackRequest] = []
        self.messages: list[dict[str, Any]] = []
        self._cond = threading.Condition()
        self._release = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/api/"

    def start(self) -> SlackApiServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = {"_raw": raw.decode("utf-8", "replace")}
                mode = server.mode
                request = SlackRequest(self.path, self.headers.get("Authorization", ""), body, mode)
                with server._cond:
                    server.requests.append(request)
                    if mode == "ok":
                        server.messages.append(body)
                    server._cond.notify_all()
                if mode == "ok":
                    self._answer(200, {"ok": True, "channel": body.get("channel"),
                                       "ts": f"1700000000.{len(server.messages):06d}"})
                elif mode == "ratelimit":
                    self._answer(429, {"ok": False, "error": "ratelimited"},
                                 {"Retry-After": str(server.retry_after)})
                elif mode == "hang":
                    server._release.wait(timeout=30)
                    self._answer(503, {"ok": False, "error": "released"})
                else:
                    self._answer(500, None)

            def _answer(self, status: int, payload: dict | None, headers: dict | None = None) -> None:
                data = json.dumps(payload).encode() if payload is not None else b"<html>oops</html>"
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json" if payload else "text/html")
                    self.send_header("Content-Length", str(len(data)))
                    for name, value in (headers or {}).items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the client gave up (timeout test)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def set_mode(self, mode: str, *, retry_after: int | None = None) -> None:
        assert mode in ("ok", "error500", "ratelimit", "hang")
        if retry_after is not None:
            self.retry_after = retry_after
        self.mode = mode

    def wait_for_requests(self, count: int, timeout: float = 10.0) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: len(self.requests) >= count, timeout=timeout)

    def texts(self) -> list[str]:
        return [m.get("text", "") for m in self.messages]
