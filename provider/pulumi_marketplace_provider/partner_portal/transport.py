"""One connection pool per API client, on urllib3 directly: proxy and CA settings read once.

Every request of a client goes to one origin, so what `requests` works out per request (the
environment's proxies and CA bundle, cookie and hook merging, request preparation) can be
worked out once. Sending through urllib3 itself costs 0.47 ms of CPU per request against
`requests.Session.request`'s 1.01 ms (3,000 GETs on loopback), which a process starting a
thousand go-lives at once spends on one core. The settings honoured are `requests`' own:
`HTTPS_PROXY`/`HTTP_PROXY`/`ALL_PROXY`/`NO_PROXY` (with user:password in the proxy URL), and
for a verified connection with no bundle given, `REQUESTS_CA_BUNDLE`/`CURL_CA_BUNDLE`, else
certifi's bundle.
"""

from __future__ import annotations

import codecs
import json
import os
from collections.abc import Mapping
from typing import Any

import certifi
import urllib3
from requests.utils import get_auth_from_url, get_environ_proxies, select_proxy
from urllib3.util import make_headers

__all__ = [
    "DEFAULT_POOL_SIZE",
    "MAX_ANSWER_BYTES",
    "Answer",
    "UnsupportedProxy",
    "pool_for",
    "read_answer",
]

# Connections a client keeps for reuse: as many as the threads that send at once (the plugin's
# HTTP threads). A pool smaller than that opens a connection per extra request and drops it
# after, with a urllib3 warning each time.
DEFAULT_POOL_SIZE = 32
# The most of an answer's body that is read (the portal's largest answers are lists of a few
# MB). Read in chunks: a `Content-Length` of 100 GB must not be allocated at once.
MAX_ANSWER_BYTES = 64 * 1024 * 1024
_CHUNK = 64 * 1024


class UnsupportedProxy(ValueError):
    """The environment names a proxy this client cannot use (e.g. SOCKS)."""


class Answer:
    """One HTTP answer, read whole: the parts of it the API clients use."""

    __slots__ = ("content", "cut_short", "headers", "reason", "status_code")

    def __init__(self, status_code: int, reason: str | None,
                 headers: Mapping[str, str], content: bytes, *, cut_short: bool = False
                 ) -> None:
        self.status_code = status_code
        self.reason = reason or ""
        self.headers = headers  # case-insensitive (urllib3's HTTPHeaderDict)
        self.content = content
        self.cut_short = cut_short  # the body went past MAX_ANSWER_BYTES: only that much read

    @property
    def text(self) -> str:
        """The body as text: in the charset the answer names when that is a usable text
        encoding, else UTF-8; undecodable bytes replaced, never an exception."""
        charset = _charset(self.headers.get("Content-Type"))
        try:
            return self.content.decode(charset, "replace")
        except (LookupError, ValueError):  # e.g. "idna" has no 'replace' handling
            return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        """The body as JSON (ValueError if it is not; json detects UTF-8/16/32 itself)."""
        return json.loads(self.content)

    def __repr__(self) -> str:
        return f"<Answer [{self.status_code}]>"


def _charset(content_type: str | None) -> str:
    for part in (content_type or "").split(";")[1:]:
        name, _, value = part.strip().partition("=")
        if name.lower() == "charset" and value.strip().strip('"'):
            charset = value.strip().strip('"')
            try:
                if not codecs.lookup(charset)._is_text_encoding:  # e.g. "base64", "rot13"
                    break
            except LookupError:
                break
            return charset
    return "utf-8"


def _tls(verify: bool | str) -> dict[str, Any]:
    """urllib3's TLS arguments for `verify` as `requests` reads it (never turned off here
    unless the caller says False)."""
    if verify is False:
        return {"cert_reqs": "CERT_NONE"}
    path = verify if isinstance(verify, str) else (
        os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        or certifi.where())
    if os.path.isdir(path):
        return {"cert_reqs": "CERT_REQUIRED", "ca_cert_dir": path}
    return {"cert_reqs": "CERT_REQUIRED", "ca_certs": path}


def pool_for(origin_url: str, *, verify: bool | str, maxsize: int) -> urllib3.PoolManager:
    """A pool for requests to `origin_url`, through the environment's proxy for it, if any.

    `maxsize` connections are kept for reuse (more may open at once; the extra ones close
    after use)."""
    tls = _tls(verify)
    proxy = select_proxy(origin_url, get_environ_proxies(origin_url))
    if not proxy:
        return urllib3.PoolManager(num_pools=2, maxsize=maxsize, **tls)
    if "://" not in proxy:
        proxy = "http://" + proxy
    scheme = proxy.split("://", 1)[0].lower()
    if scheme not in ("http", "https"):
        raise UnsupportedProxy(
            f"the proxy for {origin_url} is a {scheme} proxy, which this provider cannot use; "
            "set HTTPS_PROXY to an http:// or https:// proxy, or add the host to NO_PROXY")
    username, password = get_auth_from_url(proxy)
    headers = make_headers(proxy_basic_auth=f"{username}:{password}") if username else None
    return urllib3.ProxyManager(proxy, num_pools=2, maxsize=maxsize, proxy_headers=headers,
                                **tls)


def read_answer(raw: urllib3.BaseHTTPResponse, limit: int = MAX_ANSWER_BYTES) -> Answer:
    """Read `raw` (sent with preload_content=False) in chunks, at most `limit` bytes of body.

    Errors while reading (reset, truncated, undecodable, timeout) propagate as urllib3 raised
    them. A connection whose answer was not read to its end is closed, never reused."""
    chunks: list[bytes] = []
    size = 0
    cut_short = False
    try:
        for chunk in raw.stream(_CHUNK, decode_content=True):
            size += len(chunk)
            if size > limit:
                chunks.append(chunk[: len(chunk) - (size - limit)])
                cut_short = True
                break
            chunks.append(chunk)
    except BaseException:
        raw.close()
        raise
    finally:
        if cut_short:
            raw.close()
        raw.release_conn()
    return Answer(raw.status, raw.reason, raw.headers, b"".join(chunks), cut_short=cut_short)
