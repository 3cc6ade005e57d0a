"""The plugin starts every way the engine and its language host start it, printing only a port."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest
from google.protobuf import empty_pb2
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

from pulumi_marketplace_provider import __version__
from tests.enginedouble import FakeEngine
from tests.lifecycle.support import CLEAN_ENV, PLUGIN_TYPE, REPO

ENTRY_POINTS = {
    "plugin directory (PulumiPlugin.yaml + __main__.py)": [sys.executable, str(REPO)],
    "python -m pulumi.run.plugin <distribution>": [
        sys.executable,
        "-m",
        "pulumi.run.plugin",
        "pulumi-marketplace",
    ],
    "console script": [str(Path(sys.executable).parent / "pulumi-resource-marketplace")],
}


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
def test_plugin_starts_and_serves_its_schema(entry: str, tmp_path: Path) -> None:
    argv = ENTRY_POINTS[entry]
    assert shutil.which(argv[0]), argv[0]
    with FakeEngine() as engine:
        started = time.monotonic()
        process = subprocess.Popen(
            [*argv, "--logtostderr", "-v=3", "--tracing", "127.0.0.1:1", engine.address],
            stdout=subprocess.PIPE,
            stderr=(tmp_path / "stderr").open("w"),
            env={**__import__("os").environ, **CLEAN_ENV},
        )
        try:
            assert process.stdout is not None
            port = int(process.stdout.readline().decode().strip())
            stub = provider_pb2_grpc.ResourceProviderStub(
                grpc.insecure_channel(f"127.0.0.1:{port}")
            )
            info = stub.GetPluginInfo(empty_pb2.Empty(), timeout=10)
            startup = time.monotonic() - started
            schema = json.loads(stub.GetSchema(provider_pb2.GetSchemaRequest(), timeout=10).schema)
            handshake = stub.Handshake(
                provider_pb2.ProviderHandshakeRequest(engine_address=engine.address), timeout=10
            )
        finally:
            process.terminate()
            rest, _ = process.communicate(timeout=10)
    assert info.version == __version__
    assert PLUGIN_TYPE in schema["resources"]
    assert handshake.accept_secrets
    assert rest == b"", "stdout carries only the port"
    assert startup < 30
