"""Test helpers: a typed client for the admin API, an in-process server and a subprocess runner.

Tests, examples and benchmarks drive the emulator only through HTTP; these helpers keep that
short. Stdlib only (urllib), so importing the harness pulls in nothing else.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlencode

from .app import API_VERSION, DEFAULT_TOKEN, EmulatorOptions
from .ingestion_api import PREFIX as INGESTION_PREFIX
from .seed import parse_seed
from .server import EmulatorServer
from .throttle import ThrottleConfig

__all__ = [
    "API_VERSION",
    "DEFAULT_TOKEN",
    "AdminClient",
    "AdminError",
    "EmulatorProcess",
    "EmulatorServer",
    "EmulatorStartError",
    "RunningEmulator",
    "start_in_process",
]


class AdminError(RuntimeError):
    """An admin call answered with an error status; `status` and `body` say why."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"admin API answered {status}: {body}")
        self.status = status
        self.body = body


class AdminClient:
    """Typed client for the `/_emulator` admin routes."""

    def __init__(self, base_url: str, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def _call(
        self, method: str, path: str, body: Any = None, query: dict[str, Any] | None = None
    ) -> Any:
        url = f"{self.base_url}/_emulator{path}"
        if query:
            url += "?" + urlencode({k: v for k, v in query.items() if v is not None})
        data = None if body is None else json.dumps(body).encode("utf-8")
        req = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - http(s) only
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310
                raw = resp.read()
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                parsed = json.loads(raw)
            except ValueError:
                parsed = raw.decode("utf-8", "replace")
            raise AdminError(exc.code, parsed) from None
        return json.loads(raw) if raw else None

    # -------------------------------------------------------------- general

    def health(self) -> bool:
        """True when the emulator answers."""
        return bool(self._call("GET", "/health").get("ok"))

    def reset(self) -> None:
        """Clear offers, operations, faults, request log; restore start-up tokens/scale/throttle."""
        self._call("POST", "/reset")

    def state(self) -> dict[str, Any]:
        """Full state dump."""
        result: dict[str, Any] = self._call("GET", "/state")
        return result

    def seed(self, document: dict[str, Any]) -> None:
        """Replace all offers (and tokens, if the document has some) with a seed document."""
        self._call("PUT", "/seed", document)

    # -------------------------------------------------------------- offers

    def put_offer(self, publisher_id: str, offer_id: str, **config: Any) -> dict[str, Any]:
        """Create or replace an offer; `config` holds seed fields (state, signoff, pointer...)."""
        result: dict[str, Any] = self._call(
            "PUT", f"/offers/{quote(publisher_id)}/{quote(offer_id)}", config
        )
        return result

    def patch_offer(self, publisher_id: str, offer_id: str, **config: Any) -> dict[str, Any]:
        """Change future behaviour (outcomes, pointer, pollRetryAfter...) keeping operations."""
        result: dict[str, Any] = self._call(
            "PATCH", f"/offers/{quote(publisher_id)}/{quote(offer_id)}", config
        )
        return result

    def get_offer(self, publisher_id: str, offer_id: str) -> dict[str, Any]:
        """Dump of one offer: config, status, version, links and operations (with internals)."""
        result: dict[str, Any] = self._call(
            "GET", f"/offers/{quote(publisher_id)}/{quote(offer_id)}"
        )
        return result

    def delete_offer(self, publisher_id: str, offer_id: str) -> None:
        """Make the offer vanish (API calls for it answer 404 afterwards)."""
        self._call("DELETE", f"/offers/{quote(publisher_id)}/{quote(offer_id)}")

    def offers(self) -> list[dict[str, Any]]:
        """Dumps of every offer."""
        result: list[dict[str, Any]] = self._call("GET", "/offers")["offers"]
        return result

    def operations(self, publisher_id: str, offer_id: str) -> list[dict[str, Any]]:
        """The offer's operations, oldest first (API documents plus `internal`/`summary`)."""
        result: list[dict[str, Any]] = self.get_offer(publisher_id, offer_id)["operations"]
        return result

    # -------------------------------------------------------------- tokens

    def set_tokens(self, tokens: list[str]) -> None:
        """Replace the accepted bearer tokens."""
        self._call("PUT", "/tokens", {"tokens": list(tokens)})

    def tokens(self) -> list[str]:
        """Accepted bearer tokens."""
        result: list[str] = self._call("GET", "/tokens")["tokens"]
        return result

    # -------------------------------------------------------------- faults

    def add_fault(
        self,
        kind: str,
        path: str = "",
        method: str = "*",
        *,
        status: int | None = None,
        delay: float | None = None,
        retry_after: str | int | None = None,
        times: int | None = 1,
        skip: int = 0,
        code: str | None = None,
        message: str | None = None,
    ) -> int:
        """Add a fault (kinds: status, reset, delay, drop, malformed, nopointer, retryafter).

        `path` is a regex searched in the request path; `times=None` fires forever.
        """
        body: dict[str, Any] = {"kind": kind, "path": path, "method": method, "times": times,
                                "skip": skip}
        if status is not None:
            body["status"] = status
        if delay is not None:
            body["delay"] = delay
        if retry_after is not None:
            body["retryAfter"] = str(retry_after)
        if code is not None:
            body["code"] = code
        if message is not None:
            body["message"] = message
        return int(self._call("POST", "/faults", body)["id"])

    def faults(self) -> list[dict[str, Any]]:
        """Faults with their remaining counts and hits."""
        result: list[dict[str, Any]] = self._call("GET", "/faults")["faults"]
        return result

    def clear_faults(self) -> None:
        """Remove all faults."""
        self._call("DELETE", "/faults")

    # -------------------------------------------------------------- request log

    def requests(
        self, method: str | None = None, path: str | None = None, since: int | None = None
    ) -> list[dict[str, Any]]:
        """Logged `/api` requests in arrival order (filters: method, path regex, seq > since)."""
        result: list[dict[str, Any]] = self._call(
            "GET", "/requests", query={"method": method, "path": path, "since": since}
        )["requests"]
        return result

    def clear_requests(self) -> None:
        """Forget logged requests (sequence numbers keep increasing)."""
        self._call("DELETE", "/requests")

    def posts(self, publisher_id: str, offer_id: str, action: str) -> int:
        """How many POSTs to `.../offers/{offer}/{action}` arrived (answered or not)."""
        wanted = f"/api/publishers/{publisher_id}/offers/{offer_id}/{action}".lower()
        rows = self.requests(method="POST", path=action)
        return sum(1 for r in rows if unquote(r["path"]).rstrip("/").lower() == wanted)

    def golive_posts(self, publisher_id: str, offer_id: str) -> int:
        """How many go-live POSTs arrived for this offer: the 'exactly one per intent' check."""
        return self.posts(publisher_id, offer_id, "golive")

    # -------------------------------------------------------------- Product Ingestion

    def ingestion_products(self) -> list[dict[str, Any]]:
        """Product Ingestion dumps of every offer (product, submissions, records, jobs)."""
        result: list[dict[str, Any]] = self._call("GET", "/ingestion/products")["products"]
        return result

    @staticmethod
    def _ingestion_path(product: str | tuple[str, str]) -> str:
        """`products/<guid>` for a GUID (or `product/<guid>`), `offers/<pub>/<offer>` for a pair."""
        if isinstance(product, tuple):
            return f"/ingestion/offers/{quote(product[0])}/{quote(product[1])}"
        return f"/ingestion/products/{quote(product.split('/')[-1])}"

    def ingestion_product(self, product: str | tuple[str, str]) -> dict[str, Any]:
        """One product's dump; `product` is its GUID or `(publisher_id, offer_id)`."""
        result: dict[str, Any] = self._call("GET", self._ingestion_path(product))
        return result

    def product_guid(self, publisher_id: str, offer_id: str) -> str:
        """The product GUID the emulator serves this offer under."""
        durable: str = self.ingestion_product((publisher_id, offer_id))["product"]["id"]
        return durable.split("/")[-1]

    def ingestion_jobs(self, product: str | tuple[str, str]) -> list[dict[str, Any]]:
        """The product's configure jobs, oldest first (configure-status plus `internal`)."""
        result: list[dict[str, Any]] = self.ingestion_product(product)["jobs"]
        return result

    def ingestion_submissions(self, product: str | tuple[str, str]) -> list[dict[str, Any]]:
        """What `GET submission/<guid>` lists now."""
        result: list[dict[str, Any]] = self.ingestion_product(product)["submissions"]
        return result

    def new_preview(
        self,
        product: str | tuple[str, str],
        *,
        running: bool = False,
        errors: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """Publish a new preview submission (completed now, or starting now with `running`);
        with `errors` its publish job fails with these job `errors[]`."""
        body: dict[str, Any] = {"running": running}
        if errors is not None:
            body["errors"] = errors
        result: dict[str, Any] = self._call(
            "POST", self._ingestion_path(product) + "/preview", body
        )
        return result

    def fail_next_golive(
        self, product: str | tuple[str, str], errors: list[dict[str, Any]], times: int = 1
    ) -> dict[str, Any]:
        """Make the next `times` go-live jobs fail with these job `errors[]`."""
        result: dict[str, Any] = self._call(
            "POST",
            self._ingestion_path(product) + "/fail-next-golive",
            {"errors": errors, "times": times},
        )
        return result

    def configure_posts(self) -> int:
        """How many `POST configure` arrived (answered or not)."""
        wanted = "/" + "/".join((*INGESTION_PREFIX, "configure"))
        rows = self.requests(method="POST", path="configure")
        return sum(1 for r in rows if unquote(r["path"]).rstrip("/").lower() == wanted)

    # -------------------------------------------------------------- throttle and clock

    def set_throttle(
        self,
        max_per_second: float | None,
        burst: float | None = None,
        retry_after: str = "seconds",
        retry_after_seconds: int | None = None,
    ) -> dict[str, Any]:
        """Throttle `/api` (token bucket); `max_per_second=None` turns it off."""
        body: dict[str, Any] = {
            "maxPerSecond": max_per_second,
            "burst": burst,
            "retryAfter": retry_after,
            "retryAfterSeconds": retry_after_seconds,
        }
        result: dict[str, Any] = self._call("PUT", "/throttle", body)
        return result

    def clock(self) -> dict[str, Any]:
        """`{"now": iso, "nowEpoch": seconds, "scale": x}`."""
        result: dict[str, Any] = self._call("GET", "/clock")
        return result

    def set_clock(self, scale: float) -> dict[str, Any]:
        """Set emulated seconds per real second (0 freezes the clock)."""
        result: dict[str, Any] = self._call("PUT", "/clock", {"scale": scale})
        return result

    def advance(self, seconds: float) -> dict[str, Any]:
        """Jump emulated time ahead."""
        result: dict[str, Any] = self._call("POST", "/clock/advance", {"seconds": seconds})
        return result


@dataclass
class RunningEmulator:
    """What the test fixtures hand out: where the emulator is and how to talk to it."""

    base_url: str
    admin: AdminClient
    token: str = DEFAULT_TOKEN
    server: EmulatorServer | None = None
    process: EmulatorProcess | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def headers(self) -> dict[str, str]:
        """Authorization header for `/api` calls."""
        return {"Authorization": f"Bearer {self.token}"}

    @property
    def ingestion_base(self) -> str:
        """Base URL of the Product Ingestion routes (the real one is Graph's)."""
        return f"{self.base_url}/{'/'.join(INGESTION_PREFIX)}"

    def url(self, path: str, **query: Any) -> str:
        """Absolute URL for an `/api` path with `api-version` added (override via query)."""
        params = {"api-version": API_VERSION}
        params.update({k.replace("_", "-"): v for k, v in query.items()})
        sep = "&" if "?" in path else "?"
        return f"{self.base_url}{path}{sep}{urlencode(params)}"


def start_in_process(
    seed: dict[str, Any] | None = None,
    *,
    tokens: tuple[str, ...] = (),
    time_scale: float = 1.0,
    throttle: ThrottleConfig | None = None,
    state_file: Path | None = None,
) -> EmulatorServer:
    """Start an in-process emulator (background thread); stop it with `.stop()`."""
    options = EmulatorOptions(
        tokens=tokens,
        time_scale=time_scale,
        seed=parse_seed(seed) if seed is not None else None,
        state_file=state_file,
        throttle=throttle or ThrottleConfig(),
    )
    return EmulatorServer(options).start()


class EmulatorStartError(RuntimeError):
    """The emulator subprocess did not print its URL (bad arguments, port in use...)."""


class EmulatorProcess:
    """The emulator as a subprocess (`python -m marketplace_emulator`), as users run it.

    Starts on `port` (0 = free port), reads the URL from the first stdout line. `restart()`
    keeps the state file and tries the same port. Use as a context manager.
    """

    def __init__(
        self,
        *,
        port: int = 0,
        host: str = "127.0.0.1",
        time_scale: float = 1.0,
        seed: dict[str, Any] | str | Path | None = None,
        state_file: str | Path | None = None,
        tokens: tuple[str, ...] = (),
        throttle_rate: float | None = None,
        retry_after_form: str | None = None,
        extra_args: tuple[str, ...] = (),
        log_level: str = "INFO",
        startup_timeout: float = 20.0,
        env: dict[str, str] | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.time_scale = time_scale
        self.state_file = Path(state_file) if state_file is not None else None
        self.tokens = tokens
        self.throttle_rate = throttle_rate
        self.retry_after_form = retry_after_form
        self.extra_args = extra_args
        self.log_level = log_level
        self.startup_timeout = startup_timeout
        self.env = env
        self._tmpdir = tempfile.TemporaryDirectory(prefix="emulator-")
        self.log_path = Path(self._tmpdir.name) / "emulator.log"
        self.seed_path: Path | None
        if isinstance(seed, dict):
            self.seed_path = Path(self._tmpdir.name) / "seed.json"
            self.seed_path.write_text(json.dumps(seed), encoding="utf-8")
        else:
            self.seed_path = Path(seed) if seed is not None else None
        self.proc: subprocess.Popen[bytes] | None = None
        self.base_url = ""
        self.admin = AdminClient("http://invalid")

    @property
    def token(self) -> str:
        """A token the emulator accepts."""
        return self.tokens[0] if self.tokens else DEFAULT_TOKEN

    @property
    def pid(self) -> int | None:
        """Process id while running."""
        return self.proc.pid if self.proc else None

    def args(self, port: int | None = None) -> list[str]:
        """The command line used to start it."""
        cmd = [
            sys.executable, "-m", "marketplace_emulator",
            "--host", self.host,
            "--port", str(self.port if port is None else port),
            "--time-scale", repr(self.time_scale),
            "--log-level", self.log_level,
        ]
        if self.seed_path is not None:
            cmd += ["--seed", str(self.seed_path)]
        if self.state_file is not None:
            cmd += ["--state-file", str(self.state_file)]
        for token in self.tokens:
            cmd += ["--token", token]
        if self.throttle_rate is not None:
            cmd += ["--throttle-rate", repr(self.throttle_rate)]
        if self.retry_after_form is not None:
            cmd += ["--retry-after-form", self.retry_after_form]
        return cmd + list(self.extra_args)

    def start(self, port: int | None = None) -> EmulatorProcess:
        """Start and wait for the URL line; raises EmulatorStartError with the log on failure."""
        if self.proc is not None and self.proc.poll() is None:
            raise RuntimeError("emulator already running")
        log = open(self.log_path, "ab")  # handed to the child as its stderr
        try:
            self.proc = subprocess.Popen(
                self.args(port),
                stdout=subprocess.PIPE,
                stderr=log,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **(self.env or {})},
            )
        finally:
            log.close()
        lines: queue.Queue[bytes] = queue.Queue()
        stdout = self.proc.stdout
        assert stdout is not None
        threading.Thread(target=lambda: lines.put(stdout.readline()), daemon=True).start()
        try:
            first = lines.get(timeout=self.startup_timeout).decode().strip()
        except queue.Empty:
            self.kill()
            raise EmulatorStartError(
                f"no URL within {self.startup_timeout}s:\n{self.log_text()}"
            ) from None
        if not first.startswith(("http://", "https://")):
            code = self.proc.wait(timeout=10)
            self.proc = None
            raise EmulatorStartError(f"emulator exited ({code}) before serving:\n{self.log_text()}")
        self.base_url = first
        self.port = int(first.rsplit(":", 1)[1])
        self.admin = AdminClient(first)
        return self

    def log_text(self) -> str:
        """The emulator's stderr so far."""
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM and wait (state file saved); returns the exit code."""
        if self.proc is None:
            return None
        proc, self.proc = self.proc, None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.stdout:
            proc.stdout.close()
        return proc.returncode

    def kill(self) -> None:
        """SIGKILL (no clean shutdown: only what was already saved survives)."""
        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        proc.wait()
        if proc.stdout:
            proc.stdout.close()

    def restart(self, *, same_port: bool = True, kill: bool = False) -> EmulatorProcess:
        """Stop (or kill) and start again with the same state file, on the same port if free."""
        if kill:
            self.kill()
        else:
            self.stop()
        if not same_port:
            return self.start(port=0)
        deadline = time.monotonic() + 5.0
        while True:
            try:
                return self.start(port=self.port)
            except EmulatorStartError:
                if time.monotonic() > deadline:
                    return self.start(port=0)
                time.sleep(0.1)

    def running(self) -> RunningEmulator:
        """A fixture-style handle (base_url, admin, token)."""
        return RunningEmulator(self.base_url, self.admin, self.token, process=self)

    def __enter__(self) -> EmulatorProcess:
        if self.proc is None:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self._tmpdir.cleanup()
