"""`make demo`: the main job on the embedded default, the emulator and a local state backend.

Starts the Partner Portal emulator with a seeded offer waiting at publisher sign-off, then runs
the example stack (`examples/python`) with `pulumi up` on a file backend under `.pulumi-state/`.
Where the Pulumi CLI is missing it says so and exits non-zero: it never pretends to have deployed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "python"
SEED = ROOT / "examples" / "emulator-seed.json"
STATE_DIR = ROOT / ".pulumi-state"
TOKEN = "emulator-token"  # noqa: S105 - the emulator's seeded test token, not a credential

CLI_MISSING = """\
The Pulumi CLI is not installed, so the example stack cannot run `pulumi up` here.
The emulator part above worked: offer contoso/contoso-vm is waiting at publisher sign-off on a
local Partner Portal emulator. To run the whole demo, install the CLI with the official installer,
`curl -fsSL https://get.pulumi.com | sh` (or see https://www.pulumi.com/docs/install/), open a
new shell so `pulumi` is on PATH, and run `make demo` again. The test suite (`make test`) drives
both providers over gRPC the way the engine does and does not need the CLI."""


def start_emulator(time_scale: float) -> tuple[subprocess.Popen[str], str]:
    """Start the emulator on a free loopback port; return the process and its base URL."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "marketplace_emulator",
            "--port",
            "0",
            "--seed",
            str(SEED),
            "--time-scale",
            str(time_scale),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    base_url = proc.stdout.readline().strip()
    if not base_url.startswith("http"):
        proc.kill()
        raise SystemExit(f"demo: the emulator did not start (printed {base_url!r})")
    return proc, base_url


def show_offer(base_url: str) -> None:
    """Print the seeded offer's status the way a client sees it."""
    answer = requests.get(
        f"{base_url}/api/publishers/contoso/offers/contoso-vm/status",
        params={"api-version": "2017-10-31"},
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=10,
    )
    answer.raise_for_status()
    status = answer.json()["status"]
    print(f"demo: emulator at {base_url}; offer contoso/contoso-vm status: {status}")


def pulumi(*args: str, env: dict[str, str]) -> None:
    print(f"demo: $ pulumi {' '.join(args)}", flush=True)
    subprocess.run(["pulumi", *args], cwd=EXAMPLE, env=env, check=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        help="emulator clock speed (emulated seconds per real second); default 1",
    )
    args = parser.parse_args()
    proc, base_url = start_emulator(args.time_scale)
    try:
        show_offer(base_url)
        if shutil.which("pulumi") is None:
            print(CLI_MISSING, file=sys.stderr)
            return 1
        STATE_DIR.mkdir(exist_ok=True)
        env = dict(os.environ)
        env.update(
            PULUMI_BACKEND_URL=STATE_DIR.as_uri(),
            PULUMI_CONFIG_PASSPHRASE=env.get("PULUMI_CONFIG_PASSPHRASE", "demo"),
            PULUMI_SKIP_UPDATE_CHECK="true",
        )
        pulumi("stack", "select", "--create", "dev", env=env)
        pulumi("config", "set", "marketplace:endpoint", base_url, env=env)
        pulumi("config", "set", "--secret", "marketplace:accessToken", TOKEN, env=env)
        pulumi("up", "--yes", env=env)
        pulumi("stack", "output", env=env)
        return 0
    except subprocess.CalledProcessError as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return exc.returncode or 1
    finally:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    raise SystemExit(main())
