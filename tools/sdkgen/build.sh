#!/usr/bin/env bash
# tools/sdkgen/build.sh — build tools/sdkgen against the pinned Pulumi codegen, once.
#
# Usage: tools/sdkgen/build.sh            prints the path of the sdkgen binary (last line)
#
# The Pulumi version is tools/pulumi-cli/VERSION's `pulumi=` pin (the one place it is set). The
# binary is cached under ${XDG_CACHE_HOME:-$HOME/.cache}/pulumi-marketplace/sdkgen/<pin>-<hash of
# main.go>/ (SDKGEN_CACHE_DIR overrides the root), so a second run is a no-op. A wrapper module
# requires github.com/pulumi/pulumi/pkg/v3 at the pin; `go mod tidy` fills in the rest by Go's
# minimal version selection, so every build resolves the same versions.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
log() { printf 'sdkgen/build.sh: %s\n' "$*" >&2; }
VERSION=$(sed -n 's/^pulumi=//p' "$here/../pulumi-cli/VERSION")
[[ -n "$VERSION" ]] || { log "no pulumi= line in tools/pulumi-cli/VERSION"; exit 1; }
command -v go >/dev/null 2>&1 || { log "'go' is not on PATH: install Go >= 1.25.11 from https://go.dev/dl/ (see tools/pulumi-cli/README.md)"; exit 1; }
hash=$(sha256sum "$here/main.go" | cut -c1-12)
root=${SDKGEN_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/pulumi-marketplace/sdkgen}
dest=$root/$VERSION-$hash
if [[ -x "$dest/sdkgen" ]]; then echo "$dest/sdkgen"; exit 0; fi

mkdir -p "$root"
tmp=$(mktemp -d "$root/.build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
log "building sdkgen against github.com/pulumi/pulumi/pkg/v3@v$VERSION (first run: 2-5 min on 2 cores)…"
cp "$here/main.go" "$tmp/"
(
  cd "$tmp"
  export GOWORK=off CGO_ENABLED=0 GOFLAGS=-mod=mod
  go mod init local/pulumi-marketplace-sdkgen >/dev/null 2>&1
  go mod edit -require="github.com/pulumi/pulumi/pkg/v3@v$VERSION" -require="github.com/pulumi/pulumi/sdk/v3@v$VERSION"
  go mod tidy >&2
  for m in pkg sdk; do
    got=$(go list -m -f '{{.Version}}' "github.com/pulumi/pulumi/$m/v3")
    [[ "$got" == "v$VERSION" ]] || { log "go mod tidy moved $m/v3 to $got (pin v$VERSION)"; exit 1; }
  done
  go build -trimpath -o sdkgen . >&2
)
mkdir -p "$dest"
mv "$tmp/sdkgen" "$dest/sdkgen"
log "built $dest/sdkgen"
echo "$dest/sdkgen"
