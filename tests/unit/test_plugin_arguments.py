"""The engine address is the last plain argument, whatever flags come first."""

from hypothesis import given
from hypothesis import strategies as st

from pulumi_marketplace_provider.plugin.arguments import parse_arguments


def test_engine_address_after_flags() -> None:
    args = parse_arguments(["--logtostderr", "-v=9", "127.0.0.1:5000"])
    assert args.engine_address == "127.0.0.1:5000"
    assert args.verbosity == 9
    assert args.log_to_stderr


def test_tracing_value_is_not_mistaken_for_the_engine() -> None:
    args = parse_arguments(["--logtostderr", "--tracing", "127.0.0.1:9999", "127.0.0.1:5000"])
    assert args.engine_address == "127.0.0.1:5000"
    assert args.tracing == "127.0.0.1:9999"


def test_tracing_inline_form() -> None:
    args = parse_arguments(["--tracing=http://collector:1", "localhost:7"])
    assert (args.engine_address, args.tracing) == ("localhost:7", "http://collector:1")


def test_no_address() -> None:
    assert parse_arguments(["--logtostderr"]).engine_address is None


ports = st.integers(min_value=1, max_value=65535).map(lambda p: f"127.0.0.1:{p}")


@given(
    address=ports,
    tracing=st.one_of(st.none(), ports),
    verbosity=st.integers(min_value=0, max_value=12),
)
def test_any_flag_order_finds_the_address(
    address: str, tracing: str | None, verbosity: int
) -> None:
    argv = ["--logtostderr", f"-v={verbosity}"]
    if tracing:
        argv += ["--tracing", tracing]
    args = parse_arguments([*argv, address])
    assert args.engine_address == address
    assert args.tracing == tracing


def test_help_and_version_answer_a_person_instead_of_waiting_for_an_engine() -> None:
    import subprocess
    import sys
    from pathlib import Path

    from pulumi_marketplace_provider import __version__
    from pulumi_marketplace_provider.settings import ENV_FALLBACKS

    exe = Path(sys.executable).parent / "pulumi-resource-marketplace"
    shown = subprocess.run([str(exe), "--help"], capture_output=True, text=True, timeout=60,
                           check=True).stdout
    for key, env in ENV_FALLBACKS.items():
        assert f"marketplace:{key}" in shown and env[0] in shown
    assert "productIngestion" in shown and "packages:" in shown
    version = subprocess.run([str(exe), "--version"], capture_output=True, text=True,
                             timeout=60, check=True).stdout
    assert version.strip() == __version__
