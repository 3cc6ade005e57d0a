"""The emulator core, independent of the HTTP server: options, shared state and the pipeline
every request goes through (faults, throttle, auth, routing, logging, persistence)."""

from __future__ import annotations

import json
import logging
import math
import threading
import time
import uuid
from dataclasses import dataclass, field
from email.utils import formatdate
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote

from .clock import Clock
from .faults import FaultSet
from .ingestion_model import IngestionModel
from .model import ApiError, Model
from .requestlog import RequestLog
from .seed import Seed, parse_tokens
from .store import StateStore
from .throttle import Throttle, ThrottleConfig, parse_throttle

log = logging.getLogger(__name__)

API_VERSION = "2017-10-31"
DEFAULT_TOKEN = "emulator-token"  # noqa: S105 - a well-known test token, not a secret
ADMIN_PREFIX = "/_emulator"


@dataclass
class Request:
    """An HTTP request as the emulator sees it (no server specifics)."""

    method: str
    raw_path: str
    query: str
    headers: dict[str, str]
    body: bytes = b""
    host: str = "127.0.0.1"
    scheme: str = "http"
    params: dict[str, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.params and self.query:
            self.params = parse_qs(self.query, keep_blank_values=True)
        self._lower = {k.lower(): v for k, v in self.headers.items()}

    def header(self, name: str) -> str | None:
        """Case-insensitive header lookup."""
        return self._lower.get(name.lower())

    def param(self, name: str) -> str | None:
        """First value of a query parameter."""
        values = self.params.get(name)
        return values[0] if values else None

    def segments(self) -> list[str]:
        """Path segments, each percent-decoded (so `%24` reads as `$`); no trailing empty one."""
        parts = [unquote(p) for p in self.raw_path.split("/")[1:]]
        while parts and parts[-1] == "":
            parts.pop()
        return parts


@dataclass
class Response:
    """What to answer; `abort` means reset the connection instead (nothing is sent)."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    abort: bool = False


def json_response(
    status: int, data: Any, headers: dict[str, str] | None = None
) -> Response:
    """A JSON answer."""
    body = json.dumps(data, separators=(",", ":")).encode("utf-8")
    hdrs = {"Content-Type": "application/json; charset=utf-8"}
    hdrs.update(headers or {})
    return Response(status, hdrs, body)


def error_response(err: ApiError) -> Response:
    """The documented error shape."""
    return json_response(err.status, err.body(), err.headers)


def retry_after_value(seconds: float, form: str) -> str:
    """Retry-After as delta-seconds or as an HTTP-date (rounded up: never earlier than meant)."""
    seconds = max(0.0, seconds)
    if form == "http-date":
        return formatdate(math.ceil(time.time() + seconds), usegmt=True)
    return str(math.ceil(seconds))


@dataclass
class EmulatorOptions:
    """Start-up settings; `reset` returns tokens, clock scale and throttle to these."""

    tokens: tuple[str, ...] = ()
    time_scale: float = 1.0
    seed: Seed | None = None
    state_file: Path | None = None
    throttle: ThrottleConfig = field(default_factory=ThrottleConfig)
    request_log_limit: int = 100_000


class Emulator:
    """All emulator state plus the request pipeline."""

    def __init__(self, options: EmulatorOptions | None = None) -> None:
        from .admin import Admin  # local imports: these modules use Emulator's types
        from .api import Api
        from .ingestion_api import IngestionApi

        self.options = options or EmulatorOptions()
        seed_tokens = self.options.seed.tokens if self.options.seed else None
        startup = tuple(dict.fromkeys((*self.options.tokens, *(seed_tokens or ()))))
        self.startup_tokens: tuple[str, ...] = startup or (DEFAULT_TOKEN,)
        self.tokens: set[str] = set(self.startup_tokens)
        self.clock = Clock(self.options.time_scale)
        self.model = Model(self.clock.now)
        self.ingestion = IngestionModel(self.model)  # the Product Ingestion view of the offers
        self.faults = FaultSet()
        self.throttle = Throttle(self.options.throttle)
        self.lock = threading.RLock()
        state_path = self.options.state_file
        sidecar = Path(f"{state_path}.requests.jsonl") if state_path else None
        self.requests = RequestLog(self.options.request_log_limit, sidecar)
        self.store = StateStore(state_path, self.snapshot)
        saved = self.store.load()
        if saved is not None:
            self.restore(saved)
            log.info("resumed state from %s", state_path)
        elif self.options.seed is not None:
            self.apply_seed(self.options.seed)
        if state_path is not None:
            self.store.write_now()
        self.api = Api(self)
        self.ingestion_api = IngestionApi(self)
        self.admin = Admin(self)

    # ------------------------------------------------------------ state

    def apply_seed(self, seed: Seed) -> None:
        """Replace all offers (and the tokens, when the seed names some)."""
        with self.model.lock:
            self.model.clear()
            self.ingestion.clear()
            for cfg in seed.offers:
                self.model.put_offer(cfg)
        if seed.tokens is not None:
            self.tokens = set(seed.tokens)

    def reset(self) -> None:
        """Back to an empty emulator with the start-up tokens, clock scale and throttle."""
        self.model.clear()
        self.ingestion.clear()
        self.faults.clear()
        self.requests.clear()
        self.throttle.configure(self.options.throttle)
        self.tokens = set(self.startup_tokens)
        self.clock.set_scale(self.options.time_scale)

    def snapshot(self) -> dict[str, Any]:
        """Everything the state file keeps."""
        return {
            "clock": self.clock.to_dict(),
            "tokens": sorted(self.tokens),
            "offers": self.model.to_state(),
            "ingestion": self.ingestion.to_state(),
            "faults": self.faults.to_state(),
            "throttle": self.throttle.config.to_dict(),
            "requestSeq": self.requests.seq,
        }

    def restore(self, data: dict[str, Any]) -> None:
        """Load what `snapshot` saved."""
        self.clock.restore(data["clock"])
        self.tokens = set(parse_tokens(data.get("tokens", list(self.startup_tokens))))
        self.model.load_state(data.get("offers", []))
        self.ingestion.load_state(data.get("ingestion", []))
        self.faults.load_state(data.get("faults", {}))
        throttle = data.get("throttle") or {}
        self.throttle.configure(parse_throttle(throttle, ThrottleConfig()))
        self.requests.bump_seq(int(data.get("requestSeq", 0)))

    def commit(self) -> None:
        """Persist after a mutation (returns once saved; no-op without a state file)."""
        self.store.commit()

    def close(self) -> None:
        """Final save; close files."""
        self.store.close()
        self.requests.close()

    # ------------------------------------------------------------ pipeline

    def handle(self, req: Request) -> Response:
        """Answer one request: admin routes directly, API routes through faults and throttle."""
        if req.raw_path == ADMIN_PREFIX or req.raw_path.startswith(ADMIN_PREFIX + "/"):
            resp = self.admin.handle(req)
            return self._stamp(req, resp)
        entry = self.requests.begin(
            req.method, req.raw_path, req.query, dict(req.headers), self.clock.now()
        )
        resp = self._handle_api(req, entry)
        if not resp.abort:
            resp = self._stamp(req, resp)
        entry["status"] = None if resp.abort else resp.status
        self.requests.finish(entry)
        return resp

    def _handle_api(self, req: Request, entry: dict[str, Any]) -> Response:
        from .ingestion_api import as_ingestion_error, owns

        ingestion = owns(req.raw_path)
        shape = as_ingestion_error if ingestion else _same_error
        fault = self.faults.match(req.method, (req.raw_path, unquote(req.raw_path)))
        if fault is not None:
            entry["fault"] = fault.kind
            self.commit()  # a fault's remaining count changed
            if fault.kind == "reset":
                return Response(abort=True)
            if fault.kind == "status":
                try:
                    phrase = HTTPStatus(fault.status).phrase.replace(" ", "")
                except ValueError:
                    phrase = "InjectedFault"
                err = ApiError(
                    fault.status,
                    fault.code or phrase,
                    fault.message or f"Injected fault {fault.id}: HTTP {fault.status}.",
                    {"Retry-After": fault.retry_after} if fault.retry_after else None,
                )
                return error_response(shape(err))
            if fault.kind == "delay" and fault.delay > 0:
                time.sleep(fault.delay)
        wait = self.throttle.take()
        if wait is not None:
            entry["fault"] = entry["fault"] or "throttle"
            cfg = self.throttle.config
            seconds = cfg.retry_after_seconds if cfg.retry_after_seconds is not None else wait
            return error_response(
                shape(
                    ApiError(
                        429,
                        "TooManyRequests",
                        "Rate limit exceeded; retry after the time in the Retry-After header.",
                        {"Retry-After": retry_after_value(seconds, cfg.retry_after_form)},
                    )
                )
            )
        entry["applied"] = True
        try:
            resp = self.ingestion_api.handle(req) if ingestion else self.api.handle(req)
        except ApiError as err:
            resp = error_response(err)
        if fault is None:
            return resp
        if fault.kind == "drop":
            return Response(abort=True)
        if fault.kind == "malformed":
            body = resp.body
            cut = body[: max(1, len(body) // 2)] if body else b'{"status": "runn'
            resp.body = cut
            resp.headers["Content-Type"] = "application/json; charset=utf-8"
        elif fault.kind == "nopointer":
            resp.headers.pop("Location", None)
            resp.headers.pop("Operation-Location", None)
        elif fault.kind == "retryafter" and fault.retry_after is not None:
            resp.headers["Retry-After"] = fault.retry_after
        return resp

    def _stamp(self, req: Request, resp: Response) -> Response:
        resp.headers.setdefault("x-ms-request-id", str(uuid.uuid4()))
        resp.headers.setdefault(
            "x-ms-correlation-id", req.header("x-ms-correlation-id") or str(uuid.uuid4())
        )
        return resp


def _same_error(err: ApiError) -> ApiError:
    """CPP routes keep the pipeline's errors as they are."""
    return err
