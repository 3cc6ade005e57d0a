"""Token endpoints on loopback, standing in for Azure AD and the managed identity endpoint.

No test may ask Azure AD for a token, so these serve the two token protocols azure-identity
speaks in pipelines, on 127.0.0.1 only:

- `FakeAzureAD`: an HTTPS authority (certificate from a trustme CA) answering
  `POST /{tenant}/oauth2/v2.0/token`, what `WorkloadIdentityCredential` (GitHub Actions OIDC,
  Azure Pipelines workload identity federation, AKS workload identity) redeems its federated
  token at. Point `AZURE_AUTHORITY_HOST` at `authority` and trust `ca_pem`.
- `FakeAzureADv1`: the v1 client-credentials endpoint `POST /{tenant}/oauth2/token` (form with
  `resource`), answering `expires_on` as the v1 endpoint does: what cloudpub asks for a Graph
  token. Plain HTTP on loopback; put it behind `tests/intercepting_proxy.py` to serve it as
  `https://login.microsoftonline.com`.
- `FakeManagedIdentity`: the App Service style managed identity endpoint (`IDENTITY_ENDPOINT`
  with `IDENTITY_HEADER`), what `ManagedIdentityCredential` asks on hosts with an identity.

Each issues the tokens in `tokens` in turn (the last one repeats), records what it was asked,
and can be told to fail the next requests (`fail_next(status)`) or to hang (`delay`).
"""

from __future__ import annotations

import json
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import trustme


@dataclass
class TokenRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    form: dict[str, list[str]]
    headers: dict[str, str]


@dataclass
class _Behaviour:
    tokens: list[str]
    expires_in: int = 3600
    failures: list[int] = field(default_factory=list)
    delay: float = 0.0
    seen: list[TokenRequest] = field(default_factory=list)
    issued: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _answer(self) -> None:
        b = self.server.behaviour
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        parts = urlsplit(self.path)
        with b.lock:
            b.seen.append(TokenRequest(self.command, parts.path, parse_qs(parts.query),
                                       parse_qs(body), {k.lower(): v for k, v in
                                                        self.headers.items()}))
            failure = b.failures.pop(0) if b.failures else None
            delay = b.delay
        if delay:
            time.sleep(delay)
        if failure is not None:
            payload = {"error": "temporarily_unavailable" if failure >= 500 else "invalid_client",
                       "error_description": f"fake token endpoint answered {failure}"}
            self._send(failure, payload)
            return
        with b.lock:
            token = b.tokens[min(b.issued, len(b.tokens) - 1)]
            b.issued += 1
        self._send(200, self.server.token_answer(token, b.expires_in, parse_qs(body)))

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            pass  # the client gave up (a timeout test)

    do_GET = _answer
    do_POST = _answer


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, behaviour: _Behaviour, kind: str) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.behaviour = behaviour
        self.kind = kind

    def token_answer(self, token: str, expires_in: int, form: dict[str, list[str]] | None = None
                     ) -> dict[str, Any]:
        if self.kind == "aadv1":
            resource = (form or {}).get("resource", [""])[0]
            return {"token_type": "Bearer", "access_token": token,
                    "expires_in": str(expires_in), "ext_expires_in": str(expires_in),
                    "expires_on": str(int(time.time()) + expires_in), "resource": resource}
        if self.kind == "aad":
            return {"token_type": "Bearer", "access_token": token, "expires_in": expires_in,
                    "ext_expires_in": expires_in}
        return {"token_type": "Bearer", "access_token": token,
                "expires_on": str(int(time.time()) + expires_in),
                "resource": "https://cloudpartner.azure.com"}


class _FakeEndpoint:
    kind = "?"

    def __init__(self, tokens: list[str] | tuple[str, ...] = ("fake-token",)) -> None:
        self.behaviour = _Behaviour(list(tokens))
        self._server = _Server(self.behaviour, self.kind)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def seen(self) -> list[TokenRequest]:
        with self.behaviour.lock:
            return list(self.behaviour.seen)

    def set_tokens(self, *tokens: str) -> None:
        with self.behaviour.lock:
            self.behaviour.tokens = list(tokens)
            self.behaviour.issued = 0

    def fail_next(self, status: int, times: int = 1) -> None:
        with self.behaviour.lock:
            self.behaviour.failures.extend([status] * times)

    def set_delay(self, seconds: float) -> None:
        with self.behaviour.lock:
            self.behaviour.delay = seconds

    def start(self) -> _FakeEndpoint:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class FakeManagedIdentity(_FakeEndpoint):
    """`IDENTITY_ENDPOINT` + `IDENTITY_HEADER` (plain http on loopback, as on App Service)."""

    kind = "msi"
    header = "fake-identity-header"

    @property
    def env(self) -> dict[str, str]:
        return {"IDENTITY_ENDPOINT": f"http://127.0.0.1:{self.port}/msi/token",
                "IDENTITY_HEADER": self.header}


class FakeAzureAD(_FakeEndpoint):
    """An Azure AD authority over HTTPS on loopback, trusted through `ca_pem`."""

    kind = "aad"

    def __init__(self, directory: Path, tokens: list[str] | tuple[str, ...] = ("fake-token",)
                 ) -> None:
        super().__init__(tokens)
        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1", "localhost")
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        cert.configure_cert(context)
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.ca_pem = directory / "fake-aad-ca.pem"
        ca.cert_pem.write_to_path(str(self.ca_pem))

    @property
    def authority(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def env(self, tenant: str, client: str, token_file: Path) -> dict[str, str]:
        """What a pipeline with workload identity sets, pointed at this authority."""
        return {
            "AZURE_TENANT_ID": tenant,
            "AZURE_CLIENT_ID": client,
            "AZURE_FEDERATED_TOKEN_FILE": str(token_file),
            "AZURE_AUTHORITY_HOST": self.authority,
            # azure-core's requests transport reads it; the portal client passes its own.
            "REQUESTS_CA_BUNDLE": str(self.ca_pem),
        }


class FakeAzureADv1(_FakeEndpoint):
    """Azure AD's v1 token endpoint (`/{tenant}/oauth2/token`, `resource=` form), plain HTTP."""

    kind = "aadv1"

    @property
    def address(self) -> tuple[str, int]:
        return ("127.0.0.1", self.port)
