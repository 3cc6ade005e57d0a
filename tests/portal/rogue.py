"""A tiny scripted HTTP server: the 'other origin' that must never see a token, or a portal
that answers what a test needs (cross-origin pointers, redirects). Real sockets, stdlib only."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Answer = tuple[int, dict[str, str], Any]
Route = Callable[["Seen"], Answer]


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _any(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        seen = Seen(self.command, self.path, {k.lower(): v for k, v in self.headers.items()})
        with self.server.lock:
            self.server.seen.append(seen)
        status: int = 404
        headers: dict[str, str] = {}
        body: Any = {"error": {"code": "NotFound", "message": "no route"}}
        for (method, prefix), route in self.server.routes.items():
            if method == self.command and self.path.split("?")[0].startswith(prefix):
                status, headers, body = route(seen)
                break
        raw = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        if raw:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    do_GET = do_POST = do_PUT = do_DELETE = _any


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.Lock()
        self.seen: list[Seen] = []
        self.routes: dict[tuple[str, str], Route] = {}


class RogueServer:
    """Scripted routes by (method, path prefix); records every request with its headers."""

    def __init__(self) -> None:
        self._server = _Server()
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def seen(self) -> list[Seen]:
        with self._server.lock:
            return list(self._server.seen)

    def route(self, method: str, prefix: str, answer: Route) -> None:
        self._server.routes[(method, prefix)] = answer

    def start(self) -> RogueServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
