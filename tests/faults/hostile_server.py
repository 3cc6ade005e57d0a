"""A raw HTTP/1.1 server on loopback that answers exactly the bytes a test scripts.

`tests/portal/rogue.py` serves well-formed JSON; this one serves what a broken or hostile portal
might: lying Content-Length, bodies cut short, megabytes of garbage, nesting deep enough to blow
a recursive parser, header values in odd encodings. Each request is answered by `answer(seen)`
(a `RawAnswer`) and recorded with its headers, so tests can also check what was sent where.
"""

from __future__ import annotations

import contextlib
import socket
import socketserver
import threading
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Seen:
    """One request as received."""

    method: str
    target: str
    headers: dict[str, str]
    body: bytes = b""

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]


@dataclass
class RawAnswer:
    """What to send back. `content_length` None means the true length; set it to lie."""

    status: int = 200
    reason: str = "OK"
    headers: list[tuple[str, str | bytes]] = field(default_factory=list)
    body: bytes = b""
    content_length: int | None = None
    close: bool = True  # close after answering (a lying Content-Length then truncates)
    send_length: bool = True  # False: no Content-Length (the body ends when the socket closes)
    raw: bytes | None = None  # send exactly these bytes instead (a broken status line...)

    def to_bytes(self) -> bytes:
        if self.raw is not None:
            return self.raw
        lines = [f"HTTP/1.1 {self.status} {self.reason}".encode("latin-1")]
        names = {name.lower() for name, _ in self.headers}
        for name, value in self.headers:
            raw = value if isinstance(value, bytes) else value.encode("utf-8", "surrogateescape")
            lines.append(name.encode("latin-1") + b": " + raw)
        if "content-length" not in names and self.send_length:
            length = len(self.body) if self.content_length is None else self.content_length
            lines.append(f"Content-Length: {length}".encode())
        if self.close:
            lines.append(b"Connection: close")
        return b"\r\n".join(lines) + b"\r\n\r\n" + self.body


Responder = Callable[[Seen], RawAnswer]


class _Handler(socketserver.StreamRequestHandler):
    server: _Server

    def handle(self) -> None:
        while True:
            seen = self._read()
            if seen is None:
                return
            with self.server.lock:
                self.server.seen.append(seen)
            try:
                answer = self.server.responder(seen)
            except Exception as exc:  # a bug in the test's responder: say so, loudly
                answer = RawAnswer(599, "Responder Failed", body=repr(exc).encode())
            with contextlib.suppress(OSError):
                self.wfile.write(answer.to_bytes())
                self.wfile.flush()
            if answer.close:
                with contextlib.suppress(OSError):
                    self.connection.shutdown(socket.SHUT_RDWR)
                return

    def _read(self) -> Seen | None:
        try:
            line = self.rfile.readline(65537)
        except OSError:
            return None
        if not line.strip():
            return None
        parts = line.decode("latin-1").split()
        if len(parts) < 2:
            return None
        headers: dict[str, str] = {}
        while True:
            h = self.rfile.readline(65537)
            if h in (b"\r\n", b"\n", b""):
                break
            name, _, value = h.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        body = b""
        length = int(headers.get("content-length") or 0)
        if length:
            body = self.rfile.read(length)
        return Seen(parts[0], parts[1], headers, body)


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, responder: Responder) -> None:
        self.lock = threading.Lock()
        self.seen: list[Seen] = []
        self.responder = responder
        super().__init__(("127.0.0.1", 0), _Handler)


class HostileServer:
    """Start with a responder; `base_url`, `seen`, `respond_with()`; use as a context manager."""

    def __init__(self, responder: Responder | None = None) -> None:
        self._server = _Server(responder or (lambda seen: RawAnswer(404, "Not Found")))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        kwargs={"poll_interval": 0.05})

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def seen(self) -> list[Seen]:
        with self._server.lock:
            return list(self._server.seen)

    def respond_with(self, responder: Responder) -> None:
        self._server.responder = responder

    def start(self) -> HostileServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> HostileServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
