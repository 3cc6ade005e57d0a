#!/usr/bin/env bash
# tools/sdkgen/generate.sh — regenerate the committed SDKs from the plugin's schema (`make sdk`).
#
# Usage: tools/sdkgen/generate.sh [OUT]      (OUT defaults to the repository's sdk/)
#
# 1. the real Pulumi CLI (tools/pulumi-cli/ensure.sh) asks the plugin for its schema:
#    `pulumi package get-schema <.venv/bin/pulumi-resource-marketplace>` → build/schema.json;
# 2. tools/sdkgen (Pulumi's own code generators, built by build.sh) writes OUT/nodejs, OUT/go
#    and OUT/python-plugin from it.
# Needs the project's .venv (`make setup`). Nothing but the Go module proxy and loopback is used.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
out=${1:-$repo/sdk}
plugin=$repo/.venv/bin/pulumi-resource-marketplace
[[ -x "$plugin" ]] || { echo "generate.sh: $plugin is missing: run \`make setup\` first" >&2; exit 1; }
bin=$("$repo/tools/pulumi-cli/ensure.sh" | tail -n1)
sdkgen=$("$here/build.sh" | tail -n1)
state=$(mktemp -d)
trap 'rm -rf "$state"' EXIT
# shellcheck source=../pulumi-cli/env.sh
PULUMI_CLI_BIN=$bin source "$repo/tools/pulumi-cli/env.sh" "$state" >/dev/null
mkdir -p "$repo/build"
"$bin/pulumi" package get-schema "$plugin" > "$repo/build/schema.json"
"$sdkgen" -schema "$repo/build/schema.json" -out "$out"
