"""A TLS-intercepting HTTPS proxy on loopback: real clients reach loopback servers unchanged.

Some clients hard-code their hosts (cloudpub builds `https://graph.microsoft.com/rp/
product-ingestion` and `https://login.microsoftonline.com/...` in code, with no setting).
Every HTTP client honours the standard proxy and CA settings, though: with `HTTPS_PROXY`
pointing here and `REQUESTS_CA_BUNDLE` at `ca_pem`, the client opens a CONNECT tunnel for the
host, and this proxy answers the TLS handshake itself with a certificate for that host (from a
trustme CA) and relays the plain HTTP inside to the loopback server mapped to the host. Hosts
that are not mapped are refused (403), so no test can reach the internet through it.
"""

from __future__ import annotations

import contextlib
import select
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import trustme

Address = tuple[str, int]


class _Tunnel(BaseHTTPRequestHandler):
    server: _ProxyServer

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_CONNECT(self) -> None:
        host = self.path.rsplit(":", 1)[0].lower()
        upstream = self.server.routes.get(host)
        self.server.record(host)
        if upstream is None:
            self.send_error(403, f"host {host} is not mapped by the test proxy")
            return
        self.send_response(200, "Connection established")
        self.end_headers()
        self.close_connection = True
        try:
            tls = self.server.context.wrap_socket(self.connection, server_side=True)
        except (ssl.SSLError, OSError):
            return
        try:
            with socket.create_connection(upstream, timeout=10) as up:
                _relay(tls, up)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                tls.close()


def _relay(tls: ssl.SSLSocket, up: socket.socket) -> None:
    """Copy bytes both ways in one thread (an SSL socket must not be used from two threads)."""
    tls.settimeout(0.05)
    up.settimeout(None)
    while True:
        if tls.pending():
            ready: list[socket.socket] = [tls]
        else:
            ready, _, _ = select.select([tls, up], [], [], 30.0)
            if not ready:
                return  # idle tunnel
        for sock in ready:
            try:
                data = sock.recv(65536)
            except (TimeoutError, ssl.SSLWantReadError):
                continue  # a partial TLS record: OpenSSL keeps it
            except OSError:
                return  # reset by either side: close the other one too
            if not data:
                return
            other = up if sock is tls else tls
            try:
                if other is tls:
                    tls.settimeout(10.0)
                    tls.sendall(data)
                    tls.settimeout(0.05)
                else:
                    up.sendall(data)
            except OSError:
                return


class _ProxyServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, routes: dict[str, Address], context: ssl.SSLContext) -> None:
        super().__init__(("127.0.0.1", 0), _Tunnel)
        self.routes = routes
        self.context = context
        self._lock = threading.Lock()
        self.connects: list[str] = []

    def record(self, host: str) -> None:
        with self._lock:
            self.connects.append(host)


class InterceptingProxy:
    """`routes` maps host names (e.g. `graph.microsoft.com`) to loopback (host, port)."""

    def __init__(self, directory: Path, routes: dict[str, Address]) -> None:
        ca = trustme.CA()
        cert = ca.issue_cert(*routes)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        cert.configure_cert(context)
        self.ca_pem = directory / "intercepting-proxy-ca.pem"
        ca.cert_pem.write_to_path(str(self.ca_pem))
        self._server = _ProxyServer({h.lower(): a for h, a in routes.items()}, context)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def connects(self) -> list[str]:
        """Hosts clients opened tunnels to, in order."""
        with self._server._lock:
            return list(self._server.connects)

    @property
    def env(self) -> dict[str, str]:
        """What to set so requests-based clients go through this proxy and trust its CA."""
        return {"HTTPS_PROXY": self.url, "https_proxy": self.url,
                "REQUESTS_CA_BUNDLE": str(self.ca_pem)}

    def start(self) -> InterceptingProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> InterceptingProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
