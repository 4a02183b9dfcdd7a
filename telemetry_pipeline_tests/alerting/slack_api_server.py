"""A real HTTP server on 127.0.0.1 that answers like Slack's Web API and records what it got.

It stands in for https://slack.com/api/ (SLACK_API_BASE_URL points at it). Modes:
  ok         200 {"ok": true, "ts": ...}; the message counts as posted
  error500   500 with an HTML body (Slack outage)
  ratelimit  429 with Retry-After: <retry_after> and {"ok": false, "error": "ratelimited"}
  hang       holds the request until the test releases it or the server stops (client timeout)
Only requests answered in mode ok count as posted messages. Waiting is on a condition with a
timeout, never a sleep.

Like Slack, mode ok checks Block Kit's documented limits (`block_kit_errors`) and answers
200 {"ok": false, "error": "invalid_blocks"} for a message over one. `reject` maps a text
fragment to a Slack error: a message whose fallback text contains it gets that error, so one
alert can be refused while the others go through. `fail_channels`: posts to these channels get
the 500 of mode error500 while the others are answered as the mode says (one team's channel down).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

#: Block Kit limits (api.slack.com/reference/block-kit), counted in UTF-16 code units: never
#: less than Slack's own character count, so a message within them is within Slack's.
LIMITS = {"section": 3000, "field": 2000, "header": 150, "context": 3000, "fields": 10, "blocks": 50}


def _units(text: str) -> int:
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def block_kit_errors(body: dict[str, Any]) -> list[str]:
    """What Slack would refuse in a chat.postMessage body (empty: acceptable)."""
    errors: list[str] = []

    def check(text: Any, limit: int, where: str) -> None:
        if not isinstance(text, str) or not text:
            errors.append(f"{where}: missing text")
        elif _units(text) > limit:
            errors.append(f"{where}: {_units(text)} > {limit}")
        elif any(0xD800 <= ord(ch) <= 0xDFFF for ch in text):
            errors.append(f"{where}: lone surrogate")

    blocks = body.get("blocks") or []
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    if len(blocks) > LIMITS["blocks"]:
        errors.append(f"{len(blocks)} blocks > {LIMITS['blocks']}")
    for i, block in enumerate(blocks):
        kind = block.get("type")
        if kind == "header":
            check(block["text"]["text"], LIMITS["header"], f"blocks[{i}].header")
        elif kind == "context":
            for j, element in enumerate(block.get("elements", [])):
                check(element.get("text"), LIMITS["context"], f"blocks[{i}].elements[{j}]")
        elif kind == "section":
            if "text" in block:
                check(block["text"]["text"], LIMITS["section"], f"blocks[{i}].text")
            fields = block.get("fields", [])
            if len(fields) > LIMITS["fields"]:
                errors.append(f"blocks[{i}]: {len(fields)} fields > {LIMITS['fields']}")
            for j, f in enumerate(fields):
                check(f.get("text"), LIMITS["field"], f"blocks[{i}].fields[{j}]")
    return errors


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
        self.reject: dict[str, str] = {}  # text fragment -> Slack error code (HTTP 200, ok false)
        self.fail_channels: set[str] = set()  # channels answered 500
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
                mode = "error500" if body.get("channel") in server.fail_channels else server.mode
                error = None
                if mode == "ok":
                    text = str(body.get("text", ""))
                    error = next((e for frag, e in server.reject.items() if frag in text), None)
                    if error is None and block_kit_errors(body):
                        error = "invalid_blocks"
                request = SlackRequest(self.path, self.headers.get("Authorization", ""), body,
                                       f"error:{error}" if error else mode)
                with server._cond:
                    server.requests.append(request)
                    if mode == "ok" and error is None:
                        server.messages.append(body)
                    server._cond.notify_all()
                if error is not None:
                    self._answer(200, {"ok": False, "error": error})
                elif mode == "ok":
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
