"""HTTP/1.1 keep-alive server (stdlib `ThreadingHTTPServer`) in front of the `Emulator` core.

One thread per connection: ~50 keep-alive client connections are 50 threads, and each
response is written with a single send so Nagle and delayed ACKs never add latency.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import struct
import threading
import time
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import TCPServer
from typing import Any
from urllib.parse import urlsplit

from .app import Emulator, EmulatorOptions, Request, Response

log = logging.getLogger(__name__)

MAX_BODY = 10 * 1024 * 1024


class _Handler(BaseHTTPRequestHandler):
    """Turns HTTP requests into `Request`s and writes `Response`s (or resets the connection)."""

    protocol_version = "HTTP/1.1"
    server_version = "marketplace-emulator"
    sys_version = ""
    disable_nagle_algorithm = True
    timeout = 120  # idle keep-alive connections are closed after this many seconds
    error_content_type = "application/json; charset=utf-8"
    error_message_format = '{"error":{"code":"%(code)d","message":"%(message)s"}}'
    server: EmulatorHTTPServer

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def log_message(self, format: str, *args: Any) -> None:
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s " + format, self.address_string(), *args)

    def _read_body(self) -> bytes | None:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks: list[bytes] = []
            total = 0
            while True:
                line = self.rfile.readline(65537)
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                total += size
                if total > MAX_BODY:
                    return None
                chunks.append(self.rfile.read(size))
                self.rfile.readline(65537)
        length = self.headers.get("Content-Length")
        if not length:
            return b""
        n = int(length)
        if n < 0 or n > MAX_BODY:
            return None
        return self.rfile.read(n)

    def _dispatch(self) -> None:
        try:
            body = self._read_body()
        except ValueError:
            body = None
        if body is None:
            self.send_error(400, "Bad request body")
            return
        target = self.path
        if target.startswith(("http://", "https://")):
            parts = urlsplit(target)
            target = parts.path + (f"?{parts.query}" if parts.query else "")
        raw_path, _, query = target.partition("?")
        query = query.partition("#")[0]
        host = self.headers.get("Host") or self.server.authority
        req = Request(
            method=self.command,
            raw_path=raw_path or "/",
            query=query,
            headers=dict(self.headers.items()),
            body=body,
            host=host,
            scheme=self.server.scheme,
        )
        try:
            resp = self.server.emulator.handle(req)
        except Exception:
            log.exception("unhandled error for %s %s", self.command, self.path)
            resp = Response(
                500,
                {"Content-Type": "application/json; charset=utf-8"},
                b'{"error":{"code":"InternalServerError","message":"emulator bug; see its log"}}',
            )
        if resp.abort:
            self._reset()
            return
        self._write(resp)

    def _write(self, resp: Response) -> None:
        try:
            phrase = HTTPStatus(resp.status).phrase
        except ValueError:
            phrase = "Status"
        lines = [f"HTTP/1.1 {resp.status} {phrase}"]
        headers = {
            "Date": formatdate(time.time(), usegmt=True),
            "Server": self.server_version,
        }
        headers.update(resp.headers)
        headers["Content-Length"] = str(len(resp.body))
        if self.close_connection:
            headers["Connection"] = "close"
        lines.extend(f"{k}: {v}" for k, v in headers.items())
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", errors="replace")
        self.wfile.write(head + resp.body)
        self.log_request(resp.status, len(resp.body))

    def _reset(self) -> None:
        """Close with RST (SO_LINGER 0) and send nothing: what a dropped connection looks like."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
            )
        with contextlib.suppress(Exception):
            self.rfile.close()
        with contextlib.suppress(Exception):
            self.wfile.close()
        with contextlib.suppress(Exception):
            self.connection.close()


class EmulatorHTTPServer(ThreadingHTTPServer):
    """Threading server that tracks its connections so `close_connections` can end them."""

    daemon_threads = True
    request_queue_size = 1024
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        emulator: Emulator,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.emulator = emulator
        self.ssl_context = ssl_context
        self.scheme = "https" if ssl_context else "http"
        self._connections: set[socket.socket] = set()
        self._conn_lock = threading.Lock()
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        """Bind without `HTTPServer`'s reverse-DNS lookup (slow or absent in sandboxes)."""
        TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    @property
    def authority(self) -> str:
        """host:port clients use (wildcard binds are reached over loopback)."""
        host = str(self.server_address[0])
        if host in ("0.0.0.0", ""):
            host = "127.0.0.1"
        elif host == "::":
            host = "::1"
        if ":" in host:
            host = f"[{host}]"
        return f"{host}:{self.server_address[1]}"

    def get_request(self) -> tuple[Any, Any]:
        sock, addr = self.socket.accept()
        if self.ssl_context is not None:
            sock = self.ssl_context.wrap_socket(
                sock, server_side=True, do_handshake_on_connect=False
            )
        return sock, addr

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        with self._conn_lock:
            self._connections.add(request)
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._conn_lock:
                self._connections.discard(request)

    def finish_request(self, request: Any, client_address: Any) -> None:
        if isinstance(request, ssl.SSLSocket):
            try:
                request.settimeout(10.0)
                request.do_handshake()
            except (OSError, ssl.SSLError) as exc:
                log.debug("TLS handshake failed from %s: %s", client_address, exc)
                return
        super().finish_request(request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("connection error from %s", client_address, exc_info=True)

    def close_connections(self) -> None:
        """Shut down open keep-alive connections so their threads end now."""
        with self._conn_lock:
            conns = list(self._connections)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class EmulatorServer:
    """An emulator serving HTTP in a background thread (in-process; fast for tests).

    Use as a context manager or call `start()` / `stop()`. `base_url` is e.g.
    `http://127.0.0.1:41234`; `emulator` is the core object (state, clock, model).
    """

    def __init__(
        self,
        options: EmulatorOptions | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        ssl_context: ssl.SSLContext | None = None,
        poll_interval: float = 0.02,
    ) -> None:
        self.emulator = Emulator(options)
        self.httpd = EmulatorHTTPServer((host, port), self.emulator, ssl_context)
        self.poll_interval = poll_interval
        self._thread: threading.Thread | None = None
        self._stopped = False

    @property
    def base_url(self) -> str:
        """Root URL of the server (the API lives under `/api`, admin under `/_emulator`)."""
        return f"{self.httpd.scheme}://{self.httpd.authority}"

    @property
    def port(self) -> int:
        """Bound TCP port."""
        return int(self.httpd.server_address[1])

    def start(self) -> EmulatorServer:
        """Serve in a daemon thread."""
        self._thread = threading.Thread(
            target=self.httpd.serve_forever,
            kwargs={"poll_interval": self.poll_interval},
            name=f"emulator-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until `shutdown()` is called from another thread."""
        self.httpd.serve_forever(poll_interval=self.poll_interval)

    def shutdown(self) -> None:
        """Stop the serve loop (call from another thread than the one serving)."""
        self.httpd.shutdown()

    def stop(self) -> None:
        """Stop serving, end open connections, save state. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        if self._thread is not None:
            self.httpd.shutdown()
            self._thread.join(timeout=5.0)
        self.httpd.server_close()
        self.httpd.close_connections()
        self.emulator.close()

    def __enter__(self) -> EmulatorServer:
        if self._thread is None:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


__all__ = ["EmulatorHTTPServer", "EmulatorServer"]
