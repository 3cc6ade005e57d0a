"""Loopback-only network guard for the provider processes the fault tests start.

Put this directory on a child's PYTHONPATH and Python imports it at start-up (`sitecustomize`).
It wraps `socket.getaddrinfo`, `socket.socket.connect` and `connect_ex` so that any attempt to
resolve or reach an address that is not loopback fails *before* a packet leaves, with a marker
line on stderr that the tests look for. gRPC's own C sockets (to the engine on 127.0.0.1) are
not affected; every HTTP request of the provider (requests/urllib3, azure-identity) is.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import sys
from collections.abc import Iterator
from typing import Any

MARKER = "NETGUARD-BLOCKED"
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.", "ip6-localhost"})


def is_loopback(host: object) -> bool:
    """True for localhost names and loopback addresses (127.0.0.0/8, ::1)."""
    if host is None:
        return True  # getaddrinfo(None, port): the local host
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    name = host.strip("[]").lower()
    if name in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def _refuse(what: str, host: object) -> None:
    print(f"{MARKER}: refused to {what} {host!r} (only loopback is allowed in tests)",
          file=sys.stderr, flush=True)
    raise ConnectionRefusedError(f"{MARKER}: {what} {host!r} refused by the test network guard")


_getaddrinfo = socket.getaddrinfo
_connect = socket.socket.connect
_connect_ex = socket.socket.connect_ex


def _guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    if not is_loopback(host):
        _refuse("resolve", host)
    return _getaddrinfo(host, *args, **kwargs)


def _target(sock: socket.socket, address: Any) -> object:
    if sock.family in (socket.AF_INET, socket.AF_INET6) and isinstance(address, tuple):
        return address[0]
    return None  # AF_UNIX and friends stay on this machine


def _guarded_connect(self: socket.socket, address: Any) -> None:
    host = _target(self, address)
    if not is_loopback(host):
        _refuse("connect to", host)
    _connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> int:
    host = _target(self, address)
    if not is_loopback(host):
        _refuse("connect to", host)
    return _connect_ex(self, address)


def install() -> None:
    """Refuse non-loopback resolution and connections in this process from now on."""
    socket.getaddrinfo = _guarded_getaddrinfo
    socket.socket.connect = _guarded_connect  # type: ignore[method-assign,assignment]
    socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign,assignment]


def uninstall() -> None:
    """Put the original socket functions back."""
    socket.getaddrinfo = _getaddrinfo
    socket.socket.connect = _connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _connect_ex  # type: ignore[method-assign]


@contextlib.contextmanager
def loopback_only() -> Iterator[None]:
    """The guard for the duration of a block (for fuzzing in the test process itself)."""
    install()
    try:
        yield
    finally:
        uninstall()


def installed() -> bool:
    return socket.socket.connect is _guarded_connect


if __name__ == "sitecustomize":  # imported at start-up of a guarded child process
    install()
