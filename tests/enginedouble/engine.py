"""The engine double: drives a provider over gRPC in the order the Pulumi engine does.

Why: the Pulumi CLI cannot run here, yet provider tests must see the real sequences (start-up,
preview, up, refresh, import, destroy), the real state rules (partial state on
``ErrorResourceInitFailed``, pending operations, replace ordering, secrets) and a real provider
process. Each command launches the provider afresh and closes it at the end, as the CLI does;
state lives in a checkpoint-shaped JSON file between commands. See README.md for what differs.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from google.protobuf import empty_pb2
from pulumi.runtime.proto import provider_pb2

from .fake_engine import FakeEngine, LogRecord
from .launch import Launcher, ProcessStats, ProviderProcess
from .properties import (
    UNKNOWN,
    Secret,
    annotate_secrets,
    contains_unknowns,
    deep_equal_unwrapped,
    from_struct,
    to_struct,
    unwrap_secrets,
)
from .rpc import InitFailed, ProviderClient, ProviderRpcError, RpcRecord, RpcRecorder
from .state import PendingOperation, ResourceState, StackState

DIFF_UNKNOWN = provider_pb2.DiffResponse.DIFF_UNKNOWN
DIFF_NONE = provider_pb2.DiffResponse.DIFF_NONE
DIFF_SOME = provider_pb2.DiffResponse.DIFF_SOME

_DURATION_RE = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_timeout(value: str | float | int) -> float:
    """Seconds from a number or a Go duration string ("5m", "1h30m"), as the SDKs send
    customTimeouts.
    """
    if isinstance(value, int | float):
        return float(value)
    text = value.strip()
    pos, total = 0, 0.0
    for m in _DURATION_RE.finditer(text):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _DURATION_UNITS[m.group(2)]
        pos = m.end()
    if pos != len(text) or not text:
        raise ValueError(f"invalid duration {value!r}")
    return total


# --- program and results --------------------------------------------------------------------------


@dataclass
class Resource:
    """One custom resource of the program (what the SDK would send to RegisterResource)."""

    name: str
    type_token: str
    inputs: dict[str, Any]
    custom_timeouts: dict[str, str | float] | None = None  # keys: create, update, delete, read
    delete_before_replace: bool | None = None  # None: the provider's Diff decides
    ignore_changes: list[str] = field(default_factory=list)  # top-level input names
    additional_secret_outputs: list[str] = field(default_factory=list)


@dataclass
class Step:
    """A step the engine took. ``op``: create, update, same, delete, create-replacement, replace,
    delete-replaced, refresh, import, remove-pending-replace."""

    urn: str
    op: str
    preview: bool
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.urn.rsplit("::", 1)[-1]


@dataclass
class ResourceError:
    """A failed step for one resource: the gRPC status plus unpacked details."""

    urn: str
    op: str
    method: str
    code: str  # gRPC status name, or "ENGINE" for a rule the engine enforces itself
    message: str
    init_failed: InitFailed | None = None
    await_failed: bool = False

    @property
    def name(self) -> str:
        return self.urn.rsplit("::", 1)[-1]


@dataclass
class Diagnostic:
    severity: str  # "info" | "warning" | "error"
    message: str
    urn: str = ""


@dataclass
class CommandResult:
    """What a command did: steps, per-resource errors, diagnostics, RPCs, provider logs."""

    command: str
    preview: bool
    steps: list[Step] = field(default_factory=list)
    errors: list[ResourceError] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    rpc_calls: list[RpcRecord] = field(default_factory=list)
    engine_logs: list[LogRecord] = field(default_factory=list)
    cancelled: bool = False
    terminated: bool = False
    provider_stats: ProcessStats | None = None
    provider_stdout_after_port: bytes = b""
    provider_stderr: str = ""

    @property
    def failed(self) -> bool:
        return (
            bool(self.errors)
            or self.cancelled
            or self.terminated
            or any(d.severity == "error" for d in self.diagnostics)
        )

    def ops(self, name: str) -> list[str]:
        """Ops taken for the resource ``name`` (or full URN), in order."""
        return [s.op for s in self.steps if name in (s.name, s.urn)]

    def op(self, name: str) -> str | None:
        """Summary op for a resource: "replace" if replaced, else its first op."""
        ops = self.ops(name)
        if "replace" in ops:
            return "replace"
        return ops[0] if ops else None

    def error(self, name: str) -> ResourceError | None:
        for e in self.errors:
            if name in (e.name, e.urn):
                return e
        return None

    def calls(self, method: str | None = None, urn: str | None = None) -> list[RpcRecord]:
        out = self.rpc_calls
        if method is not None:
            out = [c for c in out if c.method == method]
        if urn is not None:
            out = [c for c in out if c.request.get("urn") == urn]
        return out

    def methods(self) -> list[str]:
        """The RPC method names in call order: the sequence tests assert."""
        return [c.method for c in self.rpc_calls]

    def raise_for_failure(self) -> CommandResult:
        if self.failed:
            lines = [f"{self.command} failed:"]
            lines += [
                f"  {e.name} {e.op} {e.method} {e.code}: {e.message[:2000]}" for e in self.errors
            ]
            lines += [
                f"  [{d.severity}] {d.message[:2000]}"
                for d in self.diagnostics
                if d.severity == "error"
            ]
            if self.cancelled:
                lines.append("  cancelled")
            if self.terminated:
                lines.append("  terminated")
            raise AssertionError("\n".join(lines))
        return self


@dataclass
class _Protocol:
    """Capabilities negotiated with the provider (engine ``pluginProtocol``)."""

    accept_secrets: bool = False
    accept_resources: bool = False
    supports_preview: bool = False
    handshake: bool = False


@dataclass
class _Diff:
    changes: int
    replaces: list[str] = field(default_factory=list)
    diffs: list[str] = field(default_factory=list)
    delete_before_replace: bool = False


class _StopCommand(Exception):
    """Internal: the command cannot go on (terminated, cancelled, provider start failed)."""


class EngineRuleError(Exception):
    """A rule the engine enforces on provider answers (empty id, unknowns after preview)."""


class _StepLock:
    """Serialises a command's state and result changes when steps run in parallel.

    A step holds it from start to end, except around each RPC (see ``EngineDouble._rpc``), so
    the steps' RPCs overlap while every change to state, and every save, happens one at a time,
    as the engine's step executor and snapshot manager do. Never held when steps run one at a
    time, so that path is unchanged.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._local = threading.local()

    def __enter__(self) -> _StepLock:
        self._lock.acquire()
        self._local.held = True
        return self

    def __exit__(self, *exc: object) -> None:
        self._local.held = False
        self._lock.release()

    @contextlib.contextmanager
    def released(self) -> Iterator[None]:
        """Let other steps run while this thread waits on an RPC."""
        if not getattr(self._local, "held", False):
            yield
            return
        self._local.held = False
        self._lock.release()
        try:
            yield
        finally:
            self._lock.acquire()
            self._local.held = True


class _Command:
    """State of one running command (one provider process, one state snapshot)."""

    def __init__(
        self, name: str, preview: bool, state: StackState, continue_on_error: bool
    ) -> None:
        self.name = name
        self.preview = preview
        self.state = state
        self.continue_on_error = continue_on_error
        self.result = CommandResult(command=name, preview=preview)
        self.client: ProviderClient | None = None
        self.process: ProviderProcess | None = None
        self.protocol = _Protocol()
        self.provider_ref = ""
        self.step_lock = _StepLock()

    @property
    def stop_on_error(self) -> bool:
        return bool(self.result.errors) and not self.continue_on_error


class EngineDouble:
    """Imitates the Pulumi engine's side of the provider protocol for one stack.

    ``config`` holds the stack config with namespaced keys (``"proj:key"``, ``"<package>:key"``);
    wrap values in :class:`Secret` for ``--secret`` config. A separate ``EngineDouble`` (or
    process) per command works: state is loaded from ``state_path`` at the start of each command
    and saved after every step.
    """

    def __init__(
        self,
        launcher: Launcher,
        project: str,
        stack: str,
        config: Mapping[str, Any],
        state_path: Path,
        *,
        engine: FakeEngine | None = None,
        rpc_log_path: Path | None = None,
        work_dir: Path | None = None,
        rpc_deadline: float | None = None,
        close_grace: float = 5.0,
        export_stack_env: bool = False,
        parallel: int = 1,
    ) -> None:
        self.launcher = launcher
        self.project = project
        self.stack = stack
        self.config = dict(config)
        self.state_path = Path(state_path)
        self._owns_engine = engine is None
        self.engine = engine if engine is not None else FakeEngine().start()
        self.recorder = RpcRecorder(rpc_log_path)
        self.work_dir = Path(work_dir) if work_dir else self.state_path.parent / "enginedouble-logs"
        self.rpc_deadline = rpc_deadline
        self.close_grace = close_grace
        self.export_stack_env = export_stack_env
        #: Resource steps at once (``pulumi up/refresh --parallel N``); 1 runs them one at a time
        #: in program order.
        self.parallel = max(1, parallel)
        self.process: ProviderProcess | None = None
        #: Called with each new provider process (e.g. to start sampling memory, or to kill it).
        self.on_launch: Callable[[ProviderProcess], None] | None = None
        self._lock = threading.Lock()
        self._client: ProviderClient | None = None
        self._cancel = threading.Event()
        self._terminate = threading.Event()
        self._launches = 0

    # --- public API -----------------------------------------------------------------------------

    @property
    def records(self) -> list[RpcRecord]:
        """Every RPC made by this double, across commands."""
        return self.recorder.snapshot()

    @property
    def state(self) -> StackState:
        """The current state file, freshly loaded."""
        return StackState.load(self.state_path, self._stack_name)

    @property
    def package(self) -> str:
        return self.launcher.package

    @property
    def provider_urn(self) -> str:
        return self.urn(f"pulumi:providers:{self.package}", "default")

    def urn(self, type_token: str, name: str) -> str:
        return f"urn:pulumi:{self.stack}::{self.project}::{type_token}::{name}"

    def preview(self, program: Sequence[Resource]) -> CommandResult:
        """``pulumi preview``: Check/Diff (and Create/Update with preview=True if supported).
        Nothing saved.
        """
        return self._run("preview", True, True, lambda cmd: self._deploy(cmd, program))

    def up(self, program: Sequence[Resource], *, continue_on_error: bool = True) -> CommandResult:
        """``pulumi up``. ``continue_on_error`` (default True, like ``--continue-on-error``) keeps
        going
        after a failed resource; False stops scheduling new steps after the first error, as the CLI
        does by default."""
        return self._run("up", False, continue_on_error, lambda cmd: self._deploy(cmd, program))

    def refresh(
        self,
        *,
        preview_only: bool = False,
        clear_pending_creates: bool = False,
        import_pending_creates: Mapping[str, str] | None = None,
    ) -> CommandResult:
        """``pulumi refresh``: Read every resource; empty id removes it. Pending creates can be
        cleared
        or imported (``--clear-pending-creates``/``--import-pending-creates URN ID``)."""

        def body(cmd: _Command) -> None:
            self._refresh(cmd, clear_pending_creates, dict(import_pending_creates or {}))

        return self._run("refresh", preview_only, True, body)

    def import_(
        self, type_token: str, name: str, id: str, inputs: Mapping[str, Any] | None = None
    ) -> CommandResult:
        """Import per the implementers guide: Read(id only) -> Check(olds=read inputs,
        news=``inputs``
        or read inputs) -> Diff; any check failure or difference fails the import."""
        return self._run(
            "import", False, True, lambda cmd: self._import(cmd, type_token, name, id, inputs)
        )

    def destroy(self, *, continue_on_error: bool = True) -> CommandResult:
        """``pulumi destroy``: Configure from state, then Delete in reverse order."""
        return self._run("destroy", False, continue_on_error, self._destroy)

    def cancel(self) -> None:
        """A first Ctrl-C: send ``Cancel`` to the provider; no new steps start after the current
        ones.
        """
        self._cancel.set()
        with self._lock:
            client = self._client
        if client is not None:
            try:
                client.call("Cancel", empty_pb2.Empty())
            except ProviderRpcError:
                pass  # UNIMPLEMENTED is tolerated by the engine; other errors only get logged

    def terminate(self) -> None:
        """A second Ctrl-C (or the CLI being killed): kill the provider, write no more state.

        Whatever operation was in flight stays recorded as a pending operation in the state file.
        """
        self._terminate.set()
        self._cancel.set()
        with self._lock:
            proc = self.process
        if proc is not None:
            proc.kill()

    def close(self) -> None:
        if self._owns_engine:
            self.engine.stop()

    def __enter__(self) -> EngineDouble:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- command scaffolding -----------------------------------------------------------------

    @property
    def _stack_name(self) -> str:
        return f"organization/{self.project}/{self.stack}"

    def _run(self, name: str, preview: bool, continue_on_error: bool, body: Any) -> CommandResult:
        self._cancel.clear()
        self._terminate.clear()
        cmd = _Command(
            name, preview, StackState.load(self.state_path, self._stack_name), continue_on_error
        )
        first_record = len(self.recorder.snapshot())
        log_start = len(self.engine.logs())
        try:
            body(cmd)
        except _StopCommand:
            pass
        finally:
            self._shutdown_provider(cmd)
            if self._terminate.is_set():
                cmd.result.terminated = True
            elif self._cancel.is_set():
                cmd.result.cancelled = True
                cmd.result.diagnostics.append(Diagnostic("error", f"{name} canceled"))
            cmd.result.rpc_calls = self.recorder.snapshot()[first_record:]
            cmd.result.engine_logs = self.engine.logs()[log_start:]
        return cmd.result

    def _save(self, cmd: _Command) -> None:
        """Persist after a step, unless previewing or terminated (a killed CLI writes nothing)."""
        if cmd.preview or self._terminate.is_set():
            return
        cmd.state.save(self.state_path)

    def _check_interrupt(self, cmd: _Command) -> None:
        if self._terminate.is_set() or self._cancel.is_set():
            raise _StopCommand

    def _fail(
        self,
        cmd: _Command,
        urn: str,
        op: str,
        method: str,
        err: ProviderRpcError | EngineRuleError | str,
    ) -> ResourceError:
        if isinstance(err, ProviderRpcError):
            rerr = ResourceError(
                urn, op, method, err.code, err.message, err.init_failed, err.await_failed
            )
        else:
            rerr = ResourceError(urn, op, method, "ENGINE", str(err))
        cmd.result.errors.append(rerr)
        cmd.result.diagnostics.append(Diagnostic("error", f"{op} failed: {rerr.message}", urn))
        return rerr

    def _rpc(self, cmd: _Command, method: str, request: Any) -> Any:
        assert cmd.client is not None
        try:
            with cmd.step_lock.released():
                return cmd.client.call(method, request)
        finally:
            if self._terminate.is_set():
                raise _StopCommand

    # --- provider start-up ----------------------------------------------------------------------

    def _provider_env(self) -> dict[str, str]:
        """What the engine exports to a provider plugin: PULUMI_PROJECT and PULUMI_CONFIG."""
        ns = {}
        for key, value in self.config.items():
            namespace, _, name = key.partition(":")
            if namespace == self.package and name:
                ns[name] = _config_string(value)
        env = {"PULUMI_PROJECT": self.project, "PULUMI_CONFIG": json.dumps(ns)}
        if self.export_stack_env:
            env["PULUMI_STACK"] = self.stack
        return env

    def _provider_config_args(self) -> dict[str, Any]:
        """Provider inputs from stack config (``GetPackageConfig``); dynamic keeps full keys."""
        dynamic = self.package in ("pulumi-python", "pulumi-nodejs")
        args: dict[str, Any] = {}
        for key, value in self.config.items():
            namespace, _, name = key.partition(":")
            if not dynamic and namespace != self.package:
                continue
            plain = _config_string(value)
            args[key if dynamic else name] = Secret(plain) if isinstance(value, Secret) else plain
        return args

    def _launch(self, cmd: _Command) -> None:
        self._launches += 1
        self.work_dir.mkdir(parents=True, exist_ok=True)
        stderr_path = self.work_dir / f"provider-{os.getpid()}-{self._launches}-{cmd.name}.stderr"
        proc = self.launcher.launch(
            self.engine.address, self._provider_env(), stderr_path=stderr_path
        )
        with self._lock:
            self.process = proc
        cmd.process = proc
        if self.on_launch is not None:
            self.on_launch(proc)
        client = ProviderClient(proc.address, self.recorder, deadline=self.rpc_deadline)
        client.command = cmd.name
        cmd.client = client
        with self._lock:
            self._client = client

    def _shutdown_provider(self, cmd: _Command) -> None:
        with self._lock:
            self._client = None
        if cmd.client is not None:
            cmd.client.close()
        proc = cmd.process
        if proc is not None:
            if proc.alive:
                try:
                    cmd.result.provider_stats = proc.stats()
                except Exception:
                    cmd.result.provider_stats = None
            proc.close(grace=self.close_grace)
            cmd.result.provider_stdout_after_port = proc.stdout_after_port
            cmd.result.provider_stderr = proc.stderr_text()

    def _start_provider(self, cmd: _Command, *, from_program: bool) -> None:
        """launch -> Handshake -> GetPluginInfo -> [CheckConfig -> DiffConfig] -> Configure."""
        try:
            self._launch(cmd)
        except Exception as exc:
            cmd.result.diagnostics.append(Diagnostic("error", f"could not start provider: {exc}"))
            raise _StopCommand from exc
        assert cmd.client is not None
        root = str(self.launcher.binary_dir)
        try:
            hs = cmd.client.call(
                "Handshake",
                provider_pb2.ProviderHandshakeRequest(
                    engine_address=self.engine.address,
                    root_directory=root,
                    program_directory=root,
                    configure_with_urn=True,
                    supports_views=True,
                    supports_refresh_before_update=True,
                    invoke_with_preview=True,
                    accepts_byte_string=True,
                ),
            )
            cmd.protocol = _Protocol(
                accept_secrets=hs.accept_secrets,
                accept_resources=hs.accept_resources,
                supports_preview=True,  # the engine assumes preview support after a handshake
                handshake=True,
            )
        except ProviderRpcError as err:
            if err.code != "UNIMPLEMENTED":
                self._stop_with(cmd, f"failed to handshake with provider: {err}")
        try:
            cmd.client.call("GetPluginInfo", empty_pb2.Empty())
        except ProviderRpcError as err:
            self._stop_with(cmd, f"GetPluginInfo failed: {err}")

        prov_urn = self.provider_urn
        prov_type = f"pulumi:providers:{self.package}"
        old = cmd.state.get(prov_urn)
        if from_program:
            news = self._provider_config_args()
            inputs = self._check_config(cmd, prov_urn, prov_type, old.inputs if old else {}, news)
            changed = old is None
            if old is not None:
                changed = self._diff_config(cmd, prov_urn, prov_type, old, inputs)
        else:
            inputs = dict(old.inputs) if old else self._provider_config_args()
            changed = False
        if old is not None and old.id:
            prov_id = old.id
        else:
            prov_id = UNKNOWN if cmd.preview else str(uuid.uuid4())
        self._configure(cmd, prov_urn, prov_type, prov_id, inputs)
        cmd.provider_ref = f"{prov_urn}::{prov_id}"
        if from_program and not cmd.preview and (old is None or changed or old.inputs != inputs):
            now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            prov = ResourceState(
                urn=prov_urn,
                type=prov_type,
                id=prov_id,
                inputs=inputs,
                outputs=dict(inputs),
                created=old.created if old else now,
                modified=now,
            )
            if old is None:
                cmd.state.resources.insert(0, prov)
            else:
                cmd.state.resources[cmd.state.resources.index(old)] = prov
            self._save(cmd)

    def _stop_with(self, cmd: _Command, message: str) -> NoReturn:
        cmd.result.diagnostics.append(Diagnostic("error", message))
        raise _StopCommand

    def _check_config(
        self, cmd: _Command, urn: str, typ: str, olds: dict[str, Any], news: dict[str, Any]
    ) -> dict[str, Any]:
        # CheckConfig/DiffConfig are marshalled without KeepSecrets: secrets go as plain values.
        req = provider_pb2.CheckRequest(
            urn=urn,
            name="default",
            type=typ,
            olds=to_struct(olds, keep_secrets=False),
            news=to_struct(news, keep_secrets=False),
        )
        try:
            resp = self._rpc(cmd, "CheckConfig", req)
        except ProviderRpcError as err:
            if err.code == "UNIMPLEMENTED":
                return dict(news)
            self._stop_with(cmd, f"CheckConfig failed for {urn}: {err}")
        if resp.failures:
            reasons = "; ".join(f"{f.property}: {f.reason}" for f in resp.failures)
            self._stop_with(cmd, f"provider config check failed: {reasons}")
        inputs = from_struct(resp.inputs) if resp.HasField("inputs") else {}
        annotate_secrets(inputs, news)
        return inputs

    def _diff_config(
        self, cmd: _Command, urn: str, typ: str, old: ResourceState, news: dict[str, Any]
    ) -> bool:
        req = provider_pb2.DiffRequest(
            urn=urn,
            name="default",
            type=typ,
            id=old.id,
            old_inputs=to_struct(old.inputs, keep_secrets=False),
            olds=to_struct(old.outputs, keep_secrets=False),
            news=to_struct(news, keep_secrets=False),
        )
        try:
            resp = self._rpc(cmd, "DiffConfig", req)
        except ProviderRpcError as err:
            if err.code == "UNIMPLEMENTED":
                return not _equal(old.outputs, news)
            self._stop_with(cmd, f"DiffConfig failed for {urn}: {err}")
        if resp.changes == DIFF_UNKNOWN:
            return not _equal(old.outputs, news)
        if resp.replaces:
            cmd.result.diagnostics.append(
                Diagnostic(
                    "warning", "provider replacement is not modelled by the engine double", urn
                )
            )
        return bool(resp.changes == DIFF_SOME)

    def _configure(
        self, cmd: _Command, urn: str, typ: str, prov_id: str, inputs: dict[str, Any]
    ) -> None:
        variables = {}
        for key, value in inputs.items():
            if key == "version":
                continue
            plain = unwrap_secrets(value)
            variables[f"{self.package}:config:{key}"] = (
                plain if isinstance(plain, str) else json.dumps(plain)
            )
        req = provider_pb2.ConfigureRequest(
            variables=variables,
            args=to_struct(inputs),
            acceptSecrets=True,
            acceptResources=True,
            sends_old_inputs=True,
            sends_old_inputs_to_delete=True,
            urn=urn,
            name="default",
            type=typ,
            id=prov_id,
        )
        try:
            resp = self._rpc(cmd, "Configure", req)
        except ProviderRpcError as err:
            self._stop_with(cmd, f"configure provider '{urn}': {err}")
        if not cmd.protocol.handshake:
            cmd.protocol = _Protocol(
                accept_secrets=resp.acceptSecrets,
                accept_resources=resp.acceptResources,
                supports_preview=resp.supportsPreview,
            )

    # --- marshalling ----------------------------------------------------------------------------

    def _marshal(self, cmd: _Command, props: Mapping[str, Any], *, keep_unknowns: bool) -> Any:
        return to_struct(
            props, keep_secrets=cmd.protocol.accept_secrets, keep_unknowns=keep_unknowns
        )

    def _outputs(
        self, cmd: _Command, struct: Any, ins: Mapping[str, Any] | None, *, allow_unknowns: bool
    ) -> dict[str, Any]:
        """Unmarshal outputs (KeepSecrets); re-annotate secrets if the provider can't keep them."""
        outs = from_struct(struct)
        if not allow_unknowns and contains_unknowns(outs):
            raise EngineRuleError("provider returned unknown values outside of a preview")
        if not cmd.protocol.accept_secrets and ins is not None:
            annotate_secrets(outs, ins)
        return outs

    def _mark_secret_outputs(self, cmd: _Command, res: ResourceState) -> None:
        """Step executor rules: additionalSecretOutputs, and outputs named like a secret input."""
        for key in res.additional_secret_outputs:
            if key == "id":
                cmd.result.diagnostics.append(
                    Diagnostic("warning", "The 'id' property cannot be made secret.", res.urn)
                )
            elif key in res.outputs and not isinstance(res.outputs[key], Secret):
                res.outputs[key] = Secret(res.outputs[key])
        for key, out in list(res.outputs.items()):
            if not isinstance(out, Secret) and isinstance(res.inputs.get(key), Secret):
                res.outputs[key] = Secret(out)

    # --- resource RPCs --------------------------------------------------------------------------

    def _check(
        self, cmd: _Command, urn: str, typ: str, olds: Mapping[str, Any], news: Mapping[str, Any]
    ) -> tuple[dict[str, Any], list[str]]:
        req = provider_pb2.CheckRequest(
            urn=urn,
            name=_name(urn),
            type=typ,
            olds=self._marshal(cmd, olds, keep_unknowns=cmd.preview),
            news=self._marshal(cmd, news, keep_unknowns=cmd.preview),
            randomSeed=os.urandom(32),
        )
        resp = self._rpc(cmd, "Check", req)
        inputs = self._outputs(
            cmd, resp.inputs if resp.HasField("inputs") else None, news, allow_unknowns=cmd.preview
        )
        failures = [f"{f.property}: {f.reason}" if f.property else f.reason for f in resp.failures]
        return inputs, failures

    def _diff(
        self,
        cmd: _Command,
        res: ResourceState,
        old_inputs: Mapping[str, Any],
        old_outputs: Mapping[str, Any],
        news: Mapping[str, Any],
        ignore_changes: Sequence[str],
    ) -> _Diff:
        """Provider Diff; DIFF_UNKNOWN falls back to the engine comparing old and new inputs."""
        req = provider_pb2.DiffRequest(
            id=res.id,
            urn=res.urn,
            name=_name(res.urn),
            type=res.type,
            olds=self._marshal(cmd, old_outputs, keep_unknowns=cmd.preview),
            news=self._marshal(cmd, news, keep_unknowns=cmd.preview),
            old_inputs=self._marshal(cmd, old_inputs, keep_unknowns=cmd.preview),
            ignoreChanges=list(ignore_changes),
        )
        resp = self._rpc(cmd, "Diff", req)
        diff = _Diff(
            changes=resp.changes,
            replaces=list(resp.replaces),
            diffs=list(resp.diffs),
            delete_before_replace=resp.deleteBeforeReplace,
        )
        if diff.changes == DIFF_UNKNOWN:
            news_ic = _ignore_changes(dict(news), old_inputs, ignore_changes)
            if _equal(old_inputs, news_ic):
                diff.changes = DIFF_NONE
            else:
                diff.changes = DIFF_SOME
                diff.diffs = sorted(
                    k
                    for k in set(old_inputs) | set(news_ic)
                    if not deep_equal_unwrapped(old_inputs.get(k), news_ic.get(k))
                )
        return diff

    def _create(
        self, cmd: _Command, new: ResourceState, op: str, replacing: ResourceState | None
    ) -> bool:
        """Create (or create-replacement). Returns True if the resource now exists in state."""
        timeout = new.custom_timeouts.get("create", 0.0)
        if cmd.preview:
            if cmd.protocol.supports_preview:
                req = provider_pb2.CreateRequest(
                    urn=new.urn,
                    name=_name(new.urn),
                    type=new.type,
                    properties=self._marshal(cmd, new.inputs, keep_unknowns=True),
                    timeout=timeout,
                    preview=True,
                )
                try:
                    resp = self._rpc(cmd, "Create", req)
                    new.outputs = self._outputs(
                        cmd, resp.properties, new.inputs, allow_unknowns=True
                    )
                except ProviderRpcError as err:
                    self._fail(cmd, new.urn, op, "Create", err)
                    return False
            else:
                new.outputs = dict(new.inputs)  # the engine echoes inputs as the preview state
            self._mark_secret_outputs(cmd, new)
            cmd.result.steps.append(Step(new.urn, op, True, {"outputs": new.outputs}))
            return True

        pending = PendingOperation(new.copy(), "creating")
        cmd.state.pending_operations.append(pending)
        self._save(cmd)
        req = provider_pb2.CreateRequest(
            urn=new.urn,
            name=_name(new.urn),
            type=new.type,
            properties=self._marshal(cmd, new.inputs, keep_unknowns=False),
            timeout=timeout,
            preview=False,
        )
        init_failed: InitFailed | None = None
        error: ProviderRpcError | EngineRuleError | str | None = None
        try:
            resp = self._rpc(cmd, "Create", req)
            new.id = resp.id
            new.refresh_before_update = resp.refresh_before_update
            if not new.id:
                error = f"plugin returned empty resource.ID from create '{new.urn}'"
            else:
                try:
                    new.outputs = self._outputs(
                        cmd, resp.properties, new.inputs, allow_unknowns=False
                    )
                except EngineRuleError as exc:
                    error = exc
        except ProviderRpcError as err:
            error = err
            init_failed = err.init_failed
            if init_failed is not None and init_failed.id:
                new.id = init_failed.id
                new.outputs = dict(init_failed.properties)
                if not cmd.protocol.accept_secrets:
                    annotate_secrets(new.outputs, new.inputs)
                new.init_errors = list(init_failed.reasons)
                new.refresh_before_update = init_failed.refresh_before_update
            else:
                init_failed = None
        cmd.state.pending_operations.remove(pending)
        created = error is None or init_failed is not None
        if created:
            now = _now()
            new.created = new.modified = now
            self._mark_secret_outputs(cmd, new)
            if replacing is not None and replacing in cmd.state.resources:
                idx = cmd.state.resources.index(replacing)
                if replacing.pending_replacement:
                    cmd.state.resources[idx] = new  # delete-before-replace: old already gone
                else:
                    replacing.delete = True  # create-before-delete: old deleted at the end
                    cmd.state.resources.insert(idx + 1, new)
            else:
                cmd.state.resources.append(new)
            cmd.result.steps.append(Step(new.urn, op, False, {"id": new.id}))
        self._save(cmd)
        if error is not None:
            self._fail(cmd, new.urn, op, "Create", error)
        return created

    def _update(
        self,
        cmd: _Command,
        old: ResourceState,
        new: ResourceState,
        diff: _Diff,
        ignore_changes: Sequence[str],
    ) -> None:
        new.id = old.id
        timeout = new.custom_timeouts.get("update", 0.0)
        detail = {"diffs": diff.diffs, "init_errors": list(old.init_errors)}
        if cmd.preview:
            if cmd.protocol.supports_preview:
                req = provider_pb2.UpdateRequest(
                    id=old.id,
                    urn=old.urn,
                    name=_name(old.urn),
                    type=old.type,
                    olds=self._marshal(cmd, old.outputs, keep_unknowns=False),
                    news=self._marshal(cmd, new.inputs, keep_unknowns=True),
                    old_inputs=self._marshal(cmd, old.inputs, keep_unknowns=False),
                    timeout=timeout,
                    ignoreChanges=list(ignore_changes),
                    preview=True,
                )
                try:
                    resp = self._rpc(cmd, "Update", req)
                    new.outputs = self._outputs(
                        cmd, resp.properties, new.inputs, allow_unknowns=True
                    )
                except ProviderRpcError as err:
                    self._fail(cmd, old.urn, "update", "Update", err)
                    return
            else:
                new.outputs = dict(new.inputs)
            cmd.result.steps.append(Step(old.urn, "update", True, detail))
            return

        pending = PendingOperation(new.copy(), "updating")
        cmd.state.pending_operations.append(pending)
        self._save(cmd)
        req = provider_pb2.UpdateRequest(
            id=old.id,
            urn=old.urn,
            name=_name(old.urn),
            type=old.type,
            olds=self._marshal(cmd, old.outputs, keep_unknowns=False),
            news=self._marshal(cmd, new.inputs, keep_unknowns=False),
            old_inputs=self._marshal(cmd, old.inputs, keep_unknowns=False),
            timeout=timeout,
            ignoreChanges=list(ignore_changes),
            preview=False,
        )
        error: ProviderRpcError | EngineRuleError | str | None = None
        partial = False
        try:
            resp = self._rpc(cmd, "Update", req)
            new.outputs = self._outputs(cmd, resp.properties, new.inputs, allow_unknowns=False)
            new.refresh_before_update = resp.refresh_before_update
            new.init_errors = []
        except ProviderRpcError as err:
            error = err
            if err.init_failed is not None:
                # Partially-failed update: the engine keeps the OLD inputs with the NEW outputs.
                partial = True
                new.inputs = dict(old.inputs)
                new.outputs = dict(err.init_failed.properties)
                if not cmd.protocol.accept_secrets:
                    annotate_secrets(new.outputs, new.inputs)
                new.init_errors = list(err.init_failed.reasons)
                new.refresh_before_update = err.init_failed.refresh_before_update
        except EngineRuleError as exc:
            error = exc
        cmd.state.pending_operations.remove(pending)
        if error is None or partial:
            new.created = old.created
            new.modified = _now()
            self._mark_secret_outputs(cmd, new)
            cmd.state.resources[cmd.state.resources.index(old)] = new
            cmd.result.steps.append(Step(old.urn, "update", False, detail))
        self._save(cmd)
        if error is not None:
            self._fail(cmd, old.urn, "update", "Update", error)

    def _delete(self, cmd: _Command, res: ResourceState, op: str) -> bool:
        """Delete one resource (op: delete or delete-replaced). True when gone from the provider."""
        if cmd.preview:
            cmd.result.steps.append(Step(res.urn, op, True))
            return True
        pending = PendingOperation(res.copy(), "deleting")
        cmd.state.pending_operations.append(pending)
        self._save(cmd)
        req = provider_pb2.DeleteRequest(
            id=res.id,
            urn=res.urn,
            name=_name(res.urn),
            type=res.type,
            properties=self._marshal(cmd, res.outputs, keep_unknowns=False),
            old_inputs=self._marshal(cmd, res.inputs, keep_unknowns=False),
            timeout=res.custom_timeouts.get("delete", 0.0),
        )
        try:
            self._rpc(cmd, "Delete", req)
        except ProviderRpcError as err:
            cmd.state.pending_operations.remove(pending)
            self._save(cmd)
            self._fail(cmd, res.urn, op, "Delete", err)
            return False
        cmd.state.pending_operations.remove(pending)
        cmd.result.steps.append(Step(res.urn, op, False, {"id": res.id}))
        return True

    def _read(
        self, cmd: _Command, res: ResourceState, *, with_state: bool
    ) -> tuple[str, dict[str, Any], dict[str, Any] | None, list[str], bool]:
        """Read -> (id, outputs, inputs or None, init errors, refresh_before_update)."""
        req = provider_pb2.ReadRequest(
            id=res.id,
            urn=res.urn,
            name=_name(res.urn),
            type=res.type,
            timeout=res.custom_timeouts.get("read", 0.0),
        )
        if with_state:
            req.properties.CopyFrom(self._marshal(cmd, res.outputs, keep_unknowns=False))
            req.inputs.CopyFrom(self._marshal(cmd, res.inputs, keep_unknowns=False))
        try:
            resp = self._rpc(cmd, "Read", req)
        except ProviderRpcError as err:
            init = err.init_failed
            if init is None:
                raise
            outs = dict(init.properties)
            ins = dict(init.inputs) if init.inputs is not None else None
            if not cmd.protocol.accept_secrets and with_state:
                annotate_secrets(outs, res.outputs)
                if ins is not None:
                    annotate_secrets(ins, res.inputs)
            return init.id, outs, ins, list(init.reasons), init.refresh_before_update
        outs = self._outputs(
            cmd, resp.properties, res.outputs if with_state else None, allow_unknowns=False
        )
        ins = None
        if resp.HasField("inputs"):
            ins = self._outputs(
                cmd, resp.inputs, res.inputs if with_state else None, allow_unknowns=False
            )
        return resp.id, outs, ins, [], resp.refresh_before_update

    def _refresh_one(self, cmd: _Command, res: ResourceState) -> None:
        """RefreshStep: Read with old state; empty id deletes; then an inverted Diff classifies
        drift.
        """
        try:
            new_id, outs, ins, init_errors, rbu = self._read(cmd, res, with_state=True)
        except ProviderRpcError as err:
            self._fail(cmd, res.urn, "refresh", "Read", err)
            return
        except EngineRuleError as exc:
            self._fail(cmd, res.urn, "refresh", "Read", exc)
            return
        if init_errors:
            cmd.result.diagnostics.append(
                Diagnostic(
                    "warning",
                    "Refreshed resource is in an unhealthy state:\n* " + "\n* ".join(init_errors),
                    res.urn,
                )
            )
        if not new_id:
            cmd.state.resources.remove(res)
            cmd.result.steps.append(Step(res.urn, "refresh", cmd.preview, {"result": "deleted"}))
            self._save(cmd)
            return
        new = res.copy()
        new.id = new_id
        new.outputs = outs
        new.inputs = ins if ins is not None else dict(res.inputs)
        new.init_errors = init_errors
        new.refresh_before_update = rbu
        self._mark_secret_outputs(cmd, new)
        result = "same"
        try:
            # Inverted diff: new state as "old", old inputs as "new" (what an up would change back).
            diff = self._diff(cmd, new, new.inputs, new.outputs, res.inputs, [])
            result = "update" if diff.changes == DIFF_SOME else "same"
        except ProviderRpcError as err:
            self._fail(cmd, res.urn, "refresh", "Diff", err)
        if new.outputs != res.outputs or new.inputs != res.inputs:
            new.modified = _now()
        cmd.state.resources[cmd.state.resources.index(res)] = new
        cmd.result.steps.append(
            Step(res.urn, "refresh", cmd.preview, {"result": result, "id": new_id})
        )
        self._save(cmd)

    # --- commands -------------------------------------------------------------------------------

    def _warn_pending(self, cmd: _Command) -> None:
        ops = cmd.state.pending_operations
        if not ops:
            return
        lines = "".join(f"  * {op.resource.urn}, interrupted while {op.type}\n" for op in ops)
        cmd.result.diagnostics.append(
            Diagnostic(
                "warning",
                f"Attempting to deploy or update resources with {len(ops)} pending operations "
                f"from previous deployment.\n{lines}",
            )
        )

    def _deploy(self, cmd: _Command, program: Sequence[Resource]) -> None:
        """preview/up: provider start, refresh-before-update reads, per-resource steps, deletes."""
        urns = [self.urn(r.type_token, r.name) for r in program]
        if len(set(urns)) != len(urns):
            raise ValueError("duplicate resource URNs in program")
        if not cmd.preview:
            for r in program:
                if contains_unknowns(r.inputs):
                    raise ValueError(f"{r.name}: unknown inputs are only allowed in preview")
        self._start_provider(cmd, from_program=True)
        has_rbu = any(r.refresh_before_update for r in cmd.state.custom_resources() if r.custom)
        if not has_rbu and not cmd.preview:
            self._warn_pending(cmd)
        # Only pending creates survive into the new checkpoint; other pending ops are dropped.
        if not cmd.preview:
            cmd.state.pending_operations = [
                o for o in cmd.state.pending_operations if o.type == "creating"
            ]
        rbu = [
            res
            for res in cmd.state.custom_resources()
            if res.refresh_before_update and not res.delete and not res.pending_replacement
        ]
        self._steps(cmd, rbu, lambda res: self._refresh_one(cmd, res), stop_on_error=False)
        deferred: list[ResourceState] = []
        self._steps(
            cmd,
            list(zip(program, urns, strict=True)),
            lambda item: self._step_resource(cmd, item[0], item[1], deferred),
            stop_on_error=True,
        )
        # Deletes: replaced (create-before-delete) and removed resources, in reverse order.
        if cmd.stop_on_error:
            return
        wanted = set(urns)
        doomed = [
            res
            for res in reversed(cmd.state.custom_resources())
            if res.delete or res.urn not in wanted
        ]
        for res in doomed:
            if cmd.stop_on_error:
                break
            self._check_interrupt(cmd)
            if res.pending_replacement and res.urn not in wanted:
                if not cmd.preview:
                    cmd.state.resources.remove(res)
                cmd.result.steps.append(Step(res.urn, "remove-pending-replace", cmd.preview))
                self._save(cmd)
                continue
            op = "delete-replaced" if res.delete else "delete"
            if self._delete(cmd, res, op) and not cmd.preview:
                cmd.state.resources.remove(res)
            self._save(cmd)
        for res in deferred:  # preview only: show the delete half of create-before-delete replaces
            cmd.result.steps.append(Step(res.urn, "delete-replaced", True))

    def _step_resource(
        self, cmd: _Command, r: Resource, urn: str, deferred: list[ResourceState]
    ) -> None:
        old = cmd.state.get(urn)
        timeouts = {k: parse_timeout(v) for k, v in (r.custom_timeouts or {}).items()}
        goal = dict(r.inputs)
        if old is not None:
            goal = _ignore_changes(goal, old.inputs, r.ignore_changes)
        try:
            inputs, failures = self._check(cmd, urn, r.type_token, old.inputs if old else {}, goal)
        except ProviderRpcError as err:
            self._fail(cmd, urn, "check", "Check", err)
            return
        except EngineRuleError as exc:
            self._fail(cmd, urn, "check", "Check", exc)
            return
        if failures:
            self._fail(cmd, urn, "check", "Check", f"resource {urn} has check errors: {failures}")
            return
        new = ResourceState(
            urn=urn,
            type=r.type_token,
            inputs=inputs,
            provider=cmd.provider_ref,
            custom_timeouts=timeouts,
            additional_secret_outputs=list(r.additional_secret_outputs),
        )
        if old is None:
            self._create(cmd, new, "create", None)
            return
        try:
            diff = self._diff(cmd, old, old.inputs, old.outputs, inputs, r.ignore_changes)
        except ProviderRpcError as err:
            self._fail(cmd, urn, "diff", "Diff", err)
            return
        if diff.changes not in (DIFF_NONE, DIFF_SOME):
            self._fail(
                cmd, urn, "diff", "Diff", f"unrecognized diff state for {urn}: {diff.changes}"
            )
            return
        if diff.changes == DIFF_SOME or old.pending_replacement:
            if diff.replaces or old.pending_replacement:
                self._replace(cmd, r, old, new, diff, deferred)
            else:
                self._update(cmd, old, new, diff, r.ignore_changes)
            return
        if old.init_errors:
            # Unchanged but with init errors: an empty update to "continue" initialising.
            self._update(cmd, old, new, diff, r.ignore_changes)
            return
        # Same: new inputs, old outputs.
        new.id = old.id
        new.outputs = dict(old.outputs)
        new.created, new.modified = old.created, old.modified
        new.refresh_before_update = old.refresh_before_update
        self._mark_secret_outputs(cmd, new)
        cmd.state.resources[cmd.state.resources.index(old)] = new
        cmd.result.steps.append(Step(urn, "same", cmd.preview))
        self._save(cmd)

    def _replace(
        self,
        cmd: _Command,
        r: Resource,
        old: ResourceState,
        new: ResourceState,
        diff: _Diff,
        deferred: list[ResourceState],
    ) -> None:
        # A replacement recomputes defaults: Check again with no olds.
        try:
            inputs, failures = self._check(cmd, old.urn, r.type_token, {}, dict(r.inputs))
        except (ProviderRpcError, EngineRuleError) as err:
            self._fail(cmd, old.urn, "replace", "Check", err)
            return
        if failures:
            self._fail(
                cmd, old.urn, "replace", "Check", f"resource {old.urn} has check errors: {failures}"
            )
            return
        new.inputs = inputs
        dbr = (
            diff.delete_before_replace
            if r.delete_before_replace is None
            else r.delete_before_replace
        )
        detail = {"replaces": diff.replaces, "delete_before_replace": dbr}
        if dbr:
            if not old.pending_replacement:
                if not self._delete(cmd, old, "delete-replaced"):
                    return
                if not cmd.preview:
                    old.pending_replacement = True
                    self._save(cmd)
            cmd.result.steps.append(Step(old.urn, "replace", cmd.preview, detail))
            self._create(cmd, new, "create-replacement", old)
            return
        if self._create(cmd, new, "create-replacement", old):
            cmd.result.steps.append(Step(old.urn, "replace", cmd.preview, detail))
            if cmd.preview:
                deferred.append(old)

    def _refresh(
        self, cmd: _Command, clear_pending_creates: bool, import_pending: dict[str, str]
    ) -> None:
        state = cmd.state
        if import_pending:
            kept = []
            for op in state.pending_operations:
                if op.type == "creating" and op.resource.urn in import_pending:
                    res = op.resource.copy()
                    res.id = import_pending.pop(op.resource.urn)
                    state.resources.append(res)
                else:
                    kept.append(op)
            state.pending_operations = kept
            for urn in import_pending:
                cmd.result.diagnostics.append(
                    Diagnostic("warning", f'"{urn}" did not correspond to a pending create')
                )
        if clear_pending_creates:
            state.pending_operations = [o for o in state.pending_operations if o.type != "creating"]
        # Refresh clears other pending operations; pending creates need explicit handling.
        state.pending_operations = [o for o in state.pending_operations if o.type == "creating"]
        self._save(cmd)
        targets = [r for r in state.custom_resources() if not r.pending_replacement]
        if not targets:
            return
        self._start_provider(cmd, from_program=False)
        self._steps(cmd, targets, lambda res: self._refresh_one(cmd, res), stop_on_error=False)

    def _steps(
        self, cmd: _Command, items: Sequence[Any], step: Callable[[Any], None], *,
        stop_on_error: bool,
    ) -> None:
        """Run `step` on each item: one at a time in order, or `parallel` at once. Either way no
        step starts after Cancel (or after an error, with `stop_on_error` and
        ``continue_on_error`` off); the steps in flight finish and are recorded."""
        if self.parallel <= 1 or len(items) <= 1:
            for item in items:
                if stop_on_error and cmd.stop_on_error:
                    break
                self._check_interrupt(cmd)
                step(item)
            return

        def one(item: Any) -> None:
            with cmd.step_lock:
                if (stop_on_error and cmd.stop_on_error) or self._cancel.is_set():
                    return
                with contextlib.suppress(_StopCommand):
                    step(item)

        workers = min(self.parallel, len(items))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="step") as pool:
            for future in [pool.submit(one, item) for item in items]:
                future.result()
        self._check_interrupt(cmd)

    def _import(
        self,
        cmd: _Command,
        type_token: str,
        name: str,
        import_id: str,
        inputs: Mapping[str, Any] | None,
    ) -> None:
        urn = self.urn(type_token, name)
        if cmd.state.get(urn) is not None:
            self._fail(cmd, urn, "import", "", f"resource '{urn}' already exists")
            return
        self._start_provider(cmd, from_program=True)
        probe = ResourceState(urn=urn, type=type_token, id=import_id, provider=cmd.provider_ref)
        try:
            read_id, outs, read_inputs, init_errors, rbu = self._read(cmd, probe, with_state=False)
        except (ProviderRpcError, EngineRuleError) as err:
            self._fail(cmd, urn, "import", "Read", err)
            return
        if not read_id:
            self._fail(cmd, urn, "import", "Read", f"resource '{import_id}' does not exist")
            return
        if read_inputs is None:
            self._fail(
                cmd,
                urn,
                "import",
                "Read",
                "provider does not support importing resources; please try updating the "
                f"'{self.package}' plugin",
            )
            return
        news = dict(inputs) if inputs is not None else dict(read_inputs)
        try:
            checked, failures = self._check(cmd, urn, type_token, read_inputs, news)
        except (ProviderRpcError, EngineRuleError) as err:
            self._fail(cmd, urn, "import", "Check", err)
            return
        if failures:
            self._fail(cmd, urn, "import", "Check", f"import inputs failed to validate: {failures}")
            return
        probe.id = read_id
        try:
            diff = self._diff(cmd, probe, read_inputs, outs, checked, [])
        except ProviderRpcError as err:
            self._fail(cmd, urn, "import", "Diff", err)
            return
        if diff.changes == DIFF_SOME:
            self._fail(
                cmd,
                urn,
                "import",
                "Diff",
                "inputs to import do not match the existing resource: "
                f"{diff.diffs or diff.replaces}",
            )
            return
        now = _now()
        res = ResourceState(
            urn=urn,
            type=type_token,
            id=read_id,
            inputs=checked,
            outputs=outs,
            provider=cmd.provider_ref,
            init_errors=init_errors,
            refresh_before_update=rbu,
            created=now,
            modified=now,
        )
        self._mark_secret_outputs(cmd, res)
        cmd.state.resources.append(res)
        cmd.result.steps.append(Step(urn, "import", False, {"id": read_id}))
        self._save(cmd)

    def _destroy(self, cmd: _Command) -> None:
        state = cmd.state
        state.pending_operations = [o for o in state.pending_operations if o.type == "creating"]
        targets = list(reversed(state.custom_resources()))
        if targets:
            self._start_provider(cmd, from_program=False)
        for res in targets:
            if cmd.stop_on_error:
                return
            self._check_interrupt(cmd)
            if res.pending_replacement:
                state.resources.remove(res)
                cmd.result.steps.append(Step(res.urn, "remove-pending-replace", False))
                self._save(cmd)
                continue
            if self._delete(cmd, res, "delete"):
                state.resources.remove(res)
            self._save(cmd)
        if not state.custom_resources():
            for prov in state.providers():
                state.resources.remove(prov)
        self._save(cmd)


# --- helpers -------------------------------------------------------------------------------------


def _name(urn: str) -> str:
    return urn.rsplit("::", 1)[-1]


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _equal(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return deep_equal_unwrapped(dict(a), dict(b))


def _config_string(value: Any) -> str:
    """Stack config values are strings; structured values travel as JSON (``config.Value``)."""
    plain = value.value if isinstance(value, Secret) else value
    return plain if isinstance(plain, str) else json.dumps(plain)


def _ignore_changes(
    news: dict[str, Any], olds: Mapping[str, Any], ignore: Sequence[str]
) -> dict[str, Any]:
    """Engine ``processIgnoreChanges`` for top-level keys: keep the old value of ignored inputs."""
    out = dict(news)
    for key in ignore:
        if key in olds:
            out[key] = olds[key]
        else:
            out.pop(key, None)
    return out
