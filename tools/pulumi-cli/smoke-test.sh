#!/usr/bin/env bash
# tools/pulumi-cli/smoke-test.sh — end-to-end check of the CLI from ensure.sh, offline.
#
# Usage: tools/pulumi-cli/smoke-test.sh [--keep] [--no-netns]
#
# In a temp dir, with a venv made by hand (`pip install pulumi==<pin>`, the only network use:
# PyPI), three stacks go through up, stack output, refresh, destroy and stack rm:
#   1. a Python Automation API inline program exporting x=1 (no Python language host: the SDK
#      serves the program and passes --client to the CLI);
#   2. the same with a pulumi.dynamic resource (proves pulumi-resource-pulumi-python, which
#      finds the venv through PULUMI_RUNTIME_VIRTUALENV);
#   3. a YAML program (proves pulumi-language-yaml).
# When run as root with `unshare` and `ip` available, every pulumi command runs in a fresh
# network namespace that has only a loopback interface, which proves that the CLI needs no
# network at all (--no-netns turns that off).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
keep=0; netns=1
for a in "$@"; do
  case "$a" in
    --keep) keep=1 ;; --no-netns) netns=0 ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument $a" >&2; exit 2 ;;
  esac
done
VERSION=$(awk -F= '$1=="pulumi"{gsub(/[[:space:]]/, "", $2); print $2; exit}' "$here/VERSION")
BIN=$("$here/ensure.sh" | tail -n1)
work=$(mktemp -d "${TMPDIR:-/tmp}/pulumi-smoke.XXXXXX")
[[ $keep == 1 ]] || trap 'rm -rf "$work"' EXIT

echo "== python venv with pulumi==$VERSION (from PyPI)" >&2
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install -q "pulumi==$VERSION"

# shellcheck disable=SC1091  # env.sh is checked on its own
PULUMI_CLI_BIN=$BIN source "$here/env.sh" "$work/state" "$work/venv"

if [[ $netns == 1 && $(id -u) == 0 ]] && command -v unshare >/dev/null && command -v ip >/dev/null &&
   unshare -n true 2>/dev/null; then
  offline() { unshare -n -- bash -c 'ip link set lo up && exec "$@"' _ "$@"; }
  echo "== pulumi commands run in a network namespace with only loopback" >&2
else
  offline() { "$@"; }
  echo "== (no network namespace: commands run with the machine's network)" >&2
fi
p() { echo "\$ pulumi $*" >&2; offline pulumi "$@" >&2; }   # CLI output goes to stderr

echo "== bin: $BIN" >&2
p version
echo "pulumi on PATH: $(command -v pulumi)" >&2

cat >"$work/inline.py" <<'EOF'
"""Inline programs through the Automation API: argv[1] is 'plain' or 'dynamic'."""
import os
import sys

import pulumi
from pulumi import automation as auto
from pulumi.dynamic import CreateResult, Resource, ResourceProvider


class Doubler(ResourceProvider):
    def create(self, props):
        return CreateResult(id_="doubled-1", outs={"value": props["value"] * 2})


class Doubled(Resource):
    value: pulumi.Output[int]

    def __init__(self, name, value, opts=None):
        super().__init__(Doubler(), name, {"value": value}, opts)


def plain():
    pulumi.export("x", 1)


def dynamic():
    pulumi.export("doubled", Doubled("d", 21).value)


mode = sys.argv[1]
program, out, want = {"plain": (plain, "x", 1), "dynamic": (dynamic, "doubled", 42)}[mode]
work_dir = os.path.join(os.environ["SMOKE_WORK"], f"inline-{mode}")
os.makedirs(work_dir, exist_ok=True)
opts = auto.LocalWorkspaceOptions(work_dir=work_dir)  # `pulumi` from PATH (env.sh put it first)
stack = auto.create_or_select_stack("dev", project_name=f"smoke-{mode}", program=program, opts=opts)
got = stack.up(on_output=print).outputs[out].value
print(f"stack output {out} = {got}", file=sys.stderr)
assert got == want, f"{mode}: {out}={got!r}, want {want!r}"
assert stack.refresh().summary.result == "succeeded"
assert stack.destroy().summary.result == "succeeded"
stack.workspace.remove_stack("dev")
EOF

inline() {  # mode
  echo "\$ python inline.py $1" >&2
  SMOKE_WORK=$work offline "$work/venv/bin/python" "$work/inline.py" "$1" >&2
}

run_project() {  # dir, output name, expected value
  local dir=$1 out=$2 want=$3 got
  ( cd "$dir"
    p stack init dev
    p up --yes --skip-preview
    echo "\$ pulumi stack output $out" >&2
    got=$(offline pulumi stack output "$out")
    echo "stack output $out = $got" >&2
    [[ "$got" == "$want" ]] || { echo "FAIL: $dir: $out='$got', want '$want'" >&2; exit 1; }
    p refresh --yes --skip-preview
    p destroy --yes --skip-preview
    p stack rm --yes dev
  )
}

mkdir -p "$work/yaml"
cat >"$work/yaml/Pulumi.yaml" <<'EOF'
name: smoke-yaml
runtime: yaml
outputs:
  x: 1
EOF

echo "== python inline program" >&2;                  inline plain
echo "== python inline program, dynamic provider" >&2; inline dynamic
echo "== yaml program" >&2;                            run_project "$work/yaml" x 1
echo "smoke test: 3 passed, 0 failed"
