#!/usr/bin/env bash
# tools/pulumi-cli/ensure.sh — make a Pulumi CLI available, built only from the Go module proxy.
#
# Usage: tools/pulumi-cli/ensure.sh [--no-path] [--rebuild] [--help]
#        BIN=$(tools/pulumi-cli/ensure.sh) && PATH="$BIN:$PATH"
#
# 1. If a `pulumi` on PATH is at least the pinned version (tools/pulumi-cli/VERSION; only
#    the numeric X.Y.Z part is compared) and pulumi-language-yaml and
#    pulumi-resource-pulumi-python are found next to the resolved `pulumi` or on PATH,
#    print the directory of the resolved `pulumi` and exit 0.
# 2. Otherwise build the pinned release from the Go module proxy into
#      ${XDG_CACHE_HOME:-$HOME/.cache}/pulumi-marketplace/pulumi-cli/<VERSION>/bin
#    (pulumi, pulumi-language-yaml, and the launcher scripts pulumi-resource-pulumi-python,
#    pulumi-resource-pulumi-nodejs, pulumi-language-python-exec), or reuse a finished build.
#    There is NO pulumi-language-python/nodejs/go: the proxy does not serve those modules.
#    Python programs run through the Automation API's inline programs (see README.md).
#
# The LAST line on stdout is the bin directory; all progress goes to stderr.
# Exit status: 0 ok, 1 nothing usable and cannot build (or build failed), 2 bad usage.
#
# Options:
#   --no-path   ignore any `pulumi` on PATH (also: PULUMI_CLI_IGNORE_PATH=1)
#   --rebuild   discard a finished build of the pinned version and build again
#   -h, --help  this text
# Environment:
#   PULUMI_CLI_CACHE_DIR   cache root (default ${XDG_CACHE_HOME:-$HOME/.cache}/pulumi-marketplace/pulumi-cli)
#   PULUMI_CLI_KEEP_FAILED=1  keep the .build-* dir of a failed build for inspection
#   GOPROXY, GOSUMDB, GOFLAGS, GOTOOLCHAIN, GOMODCACHE, GOCACHE are used as the machine has them.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

usage() { sed -n '2,28p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

no_path=${PULUMI_CLI_IGNORE_PATH:-0}
rebuild=0
for arg in "$@"; do
  case "$arg" in
    -h|--help) usage; exit 0 ;;
    --no-path) no_path=1 ;;
    --rebuild) rebuild=1 ;;
    *) echo "ensure.sh: unknown argument: $arg (see --help)" >&2; exit 2 ;;
  esac
done

log() { printf 'ensure.sh: %s\n' "$*" >&2; }
die() { printf 'ensure.sh: error: %s\n' "$*" >&2; exit 1; }

# ---- pins (the only place: VERSION beside this script, `name=X.Y.Z` lines) ----------------
pin() {
  local v
  v=$(awk -F= -v k="$1" '!/^[[:space:]]*#/ && $1==k {gsub(/[[:space:]\r]/, "", $2); print $2; exit}' "$here/VERSION")
  [[ "$v" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "$here/VERSION has no valid '$1=X.Y.Z' line"
  printf '%s\n' "$v"
}
VERSION=$(pin pulumi)            # e.g. 3.259.0
YAML_VERSION=$(pin pulumi-yaml)  # the pulumi-yaml release bundled with that Pulumi release
# Minimum Go: the `go` line of pkg/v3, sdk/v3 and pulumi-yaml go.mod at the pins (re-checked
# against the downloaded go.mod files before building).
GO_MIN=1.25.11
# Minimum for an existing pulumi on PATH: the pinned release, so that the pinned Python
# SDK (pulumi==VERSION) is never newer than the engine it talks to.
PULUMI_MIN=$VERSION
# Approximate cold build time on 2 cores, shown in the progress message (measured; see README.md).
COLD_MINUTES=7
# Bump when the recipe changes what ends up in bin/ (2: no vendored language hosts).
RECIPE=2

PKG=github.com/pulumi/pulumi/pkg/v3
SDK=github.com/pulumi/pulumi/sdk/v3
YAML=github.com/pulumi/pulumi-yaml
VERSION_VAR=github.com/pulumi/pulumi/sdk/v3/go/common/version.Version
YAML_VERSION_VAR=github.com/pulumi/pulumi-yaml/pkg/version.Version
# Launcher scripts of the release tarball, as paths inside the sdk/v3 module zip.
SCRIPTS=(python/dist/pulumi-resource-pulumi-python nodejs/dist/pulumi-resource-pulumi-nodejs
         python/cmd/pulumi-language-python-exec)
EXPECTED=(pulumi pulumi-language-yaml pulumi-resource-pulumi-python pulumi-resource-pulumi-nodejs
          pulumi-language-python-exec)

# version_ge A B: numeric X.Y.Z comparison (pre-release/build suffixes ignored), true if A >= B.
version_ge() {
  local a=${1#v} b=${2#v}
  a=${a%%[-+]*}; b=${b%%[-+]*}
  [[ "$a" =~ ^[0-9]+(\.[0-9]+)*$ && "$b" =~ ^[0-9]+(\.[0-9]+)*$ ]] || return 1
  [[ "$(printf '%s\n%s\n' "$b" "$a" | sort -V | head -n1)" == "$b" ]]
}

cache_root=${PULUMI_CLI_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/pulumi-marketplace/pulumi-cli}
dest=$cache_root/$VERSION
bin=$dest/bin
stamp=$dest/.complete

# What a finished build must match: the pins, this recipe and the platform. A build made by an
# older recipe (recipe=1 had vendored language hosts) has another first stamp line: rebuilt.
key="pulumi=$VERSION yaml=$YAML_VERSION recipe=$RECIPE goos=$(uname -sm | tr ' ' '-')"

cache_ok() {
  [[ -f "$stamp" ]] || return 1
  [[ "$(head -n1 "$stamp")" == "$key" ]] || return 1
  local f
  for f in "${EXPECTED[@]}"; do [[ -x "$bin/$f" ]] || return 1; done
}

# ---- 1. an existing pulumi on PATH ----------------------------------------------------
# find_beside NAME DIR: NAME on PATH or in DIR (the engine's lookup order for bundled plugins).
find_beside() {
  if [[ -x "$2/$1" ]]; then printf '%s\n' "$2/$1"; else command -v "$1" 2>/dev/null; fi
}
if [[ "$no_path" != 1 ]] && p=$(command -v pulumi 2>/dev/null); then
  real=$(readlink -f "$p")
  pdir=$(dirname "$real")
  if [[ "$pdir" == "$(readlink -f "$bin" 2>/dev/null || echo "$bin")" ]]; then
    :  # our own cached build is on PATH: fall through to the cache check below
  else
    pv=$(PULUMI_SKIP_UPDATE_CHECK=true timeout 30 "$p" version 2>/dev/null | tr -d '\r' | tail -n1 || true)
    if version_ge "$pv" "$PULUMI_MIN"; then
      missing=()
      for f in pulumi-language-yaml pulumi-resource-pulumi-python; do
        find_beside "$f" "$pdir" >/dev/null || missing+=("$f")
      done
      if [[ ${#missing[@]} -eq 0 ]]; then
        log "using pulumi $pv from PATH: $p (>= v$PULUMI_MIN, with pulumi-language-yaml and pulumi-resource-pulumi-python)"
        echo "$pdir"
        exit 0
      fi
      log "pulumi $pv on PATH ($p) lacks ${missing[*]} (neither on PATH nor next to it); not using it"
    else
      log "pulumi on PATH ($p) reports '${pv:-nothing}', older than v$PULUMI_MIN; not using it"
    fi
  fi
fi

# ---- 2. a finished build in the cache -------------------------------------------------
if [[ "$rebuild" != 1 ]] && cache_ok; then
  echo "$bin"
  exit 0
fi

# ---- 3. build it: need Go ----------------------------------------------------------------
no_toolchain() {
  local why=$1
  cat >&2 <<EOF
ensure.sh: cannot provide a Pulumi CLI: $why
  No 'pulumi' >= $PULUMI_MIN (with pulumi-language-yaml and pulumi-resource-pulumi-python)
  was found on PATH, and building Pulumi v$VERSION from the Go module proxy needs
  Go >= $GO_MIN. Install one of:
  - Go >= $GO_MIN: the tarball from https://go.dev/dl/ (put its bin/ on PATH), or your
    distribution's package if it is new enough (\`apt-get install golang\` gives only Go 1.19
    on Debian 12, too old; Go >= 1.21 can fetch the right release itself if you re-run with
    GOTOOLCHAIN=go$GO_MIN). Then re-run this script: it builds into
    $cache_root/$VERSION (about $COLD_MINUTES min on 2 cores the first time, ~4 GB of Go caches).
  - or the Pulumi CLI itself with Pulumi's installer (https://www.pulumi.com/docs/install/):
    curl -fsSL https://get.pulumi.com | sh -s -- --version $VERSION
    and put ~/.pulumi/bin on PATH.
EOF
  exit 1
}
command -v go >/dev/null 2>&1 || no_toolchain "'go' is not on PATH."
gov=$(go env GOVERSION 2>/dev/null || true)
gov_num=${gov#go}; gov_num=${gov_num%%[!0-9.]*}
version_ge "$gov_num" "$GO_MIN" || no_toolchain "the Go on PATH is ${gov:-unknown} ($(command -v go)), older than go$GO_MIN."

# ---- 4. build -----------------------------------------------------------------------------
mkdir -p "$cache_root"
if command -v flock >/dev/null 2>&1; then
  exec 9>"$cache_root/.lock"
  if ! flock -n 9; then
    log "another ensure.sh is building in $cache_root; waiting for it…"
    flock 9
  fi
  if [[ "$rebuild" != 1 ]] && cache_ok; then echo "$bin"; exit 0; fi
  # We hold the lock, so leftovers of interrupted builds are stale: remove them.
  find "$cache_root" -mindepth 1 -maxdepth 1 \( -name '.build-*' -o -name '.old-*' \) -exec rm -rf {} +
fi

export CGO_ENABLED=0 GOWORK=off
tmp=$(mktemp -d "$cache_root/.build-$VERSION.XXXXXX")
cleanup() {
  local rc=$?
  if [[ -n "${tmp:-}" && -d "$tmp" ]]; then
    if [[ $rc -ne 0 && "${PULUMI_CLI_KEEP_FAILED:-0}" == 1 ]]; then
      log "build failed; kept $tmp for inspection"
    else
      rm -rf "$tmp"
    fi
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

t_all=$SECONDS
step_t=$SECONDS
step() { log "[$1/6] $2"; step_t=$SECONDS; }
done_step() { log "      done in $((SECONDS - step_t))s"; }

# shellcheck disable=SC2054  # the comma is go build syntax
build_flags=(-trimpath -tags osusergo,grpcnotrace)
ldflags="-s -w -X $VERSION_VAR=v$VERSION"

step 1 "fetching $PKG@v$VERSION, $SDK@v$VERSION and $YAML@v$YAML_VERSION from $(go env GOPROXY) (first run: ~25 MB)…"
dl_json=$(cd "$tmp" && go mod download -json "$PKG@v$VERSION" "$SDK@v$VERSION" "$YAML@v$YAML_VERSION" 2>&1) || {
  printf '%s\n' "$dl_json" | grep -E '"(Path|Version|Error)"' >&2 || printf '%s\n' "$dl_json" >&2
  die "the Go module proxy did not serve the pinned modules; check GOPROXY, or pin another version in $here/VERSION (it must be served for pkg/v3 AND sdk/v3)."
}
# field_of MODULE FIELD: a string field of one module's object in the `go mod download -json` stream.
field_of() {
  printf '%s\n' "$dl_json" | tr -d '\t' | awk -v want="\"Path\": \"$1\"," -v f="\"$2\": \"" '
    $0==want {m=1} m && index($0, f)==1 {s=substr($0, length(f)+1); sub(/",?$/, "", s); print s; exit}'
}
pkg_gomod=$(field_of "$PKG" GoMod); sdk_gomod=$(field_of "$SDK" GoMod); yaml_gomod=$(field_of "$YAML" GoMod)
sdk_dir=$(field_of "$SDK" Dir)
[[ -f "$pkg_gomod" && -f "$sdk_gomod" && -f "$yaml_gomod" ]] || die "could not locate downloaded go.mod files"
[[ -d "$sdk_dir" ]] || die "could not locate the extracted $SDK@v$VERSION module"
for m in "$pkg_gomod" "$sdk_gomod" "$yaml_gomod"; do
  need=$(awk '$1=="go"{print $2; exit}' "$m")
  version_ge "$gov_num" "$need" || no_toolchain "$(basename "$(dirname "$(dirname "$m")")") needs go $need; the Go on PATH is $gov."
done
for s in "${SCRIPTS[@]}"; do [[ -f "$sdk_dir/$s" ]] || die "$SDK@v$VERSION has no $s (the release layout changed)"; done
done_step

step 2 "creating the wrapper module $tmp/src (requires $PKG and $SDK @v$VERSION)…"
mkdir -p "$tmp/src" "$tmp/bin"
(
  cd "$tmp/src"
  go mod init local/pulumi-cli-build 2>/dev/null
  args=(-require="$PKG@v$VERSION" -require="$SDK@v$VERSION" -tool="$PKG/cmd/pulumi")
  # Non-local replaces of pkg's go.mod (the release builds pkg as the main module, so they
  # apply there; at v3.259.0 only the atotto/clipboard fork). Local ones (=> ../sdk) are dropped.
  while read -r r; do [[ -n "$r" ]] && args+=("$r"); done < <(awk '
    { sub(/\/\/.*/, "") }
    /=>/ { s = $0; sub(/^[ \t]*replace[ \t]+/, "", s); split(s, a, "=>")
           nl = split(a[1], l, " "); nr = split(a[2], r, " ")
           if (nr == 2) { old = l[1]; if (nl == 2) old = old "@" l[2]; print "-replace=" old "=" r[1] "@" r[2] } }' "$pkg_gomod")
  go mod edit "${args[@]}"
)
done_step

step 3 "resolving and downloading all dependency modules (go mod tidy; first run: ~330 modules, ~1.5 GB in the module cache)…"
(cd "$tmp/src" && go mod tidy) ||
  die "go mod tidy failed (see above). If it is a checksum-database error for a module the proxy serves, see README.md (GONOSUMDB)."
for m in "$PKG" "$SDK"; do
  got=$(cd "$tmp/src" && go list -m -f '{{.Version}}' "$m")
  [[ "$got" == "v$VERSION" ]] || die "module resolution moved $m to $got (pinned v$VERSION)"
done
done_step

step 4 "building pulumi v$VERSION (cold: about $COLD_MINUTES min on 2 cores in all, most of it this step)…"
(cd "$tmp/src" && go build "${build_flags[@]}" -ldflags "$ldflags" -o "$tmp/bin/pulumi" "$PKG/cmd/pulumi") ||
  die "building pulumi failed (see above)"
done_step

step 5 "building pulumi-language-yaml v$YAML_VERSION (go install; its own go.mod as main module, like its release)…"
(cd "$tmp" && GOBIN="$tmp/bin" go install "${build_flags[@]}" \
   -ldflags "-s -w -X $YAML_VERSION_VAR=v$YAML_VERSION" "$YAML/cmd/pulumi-language-yaml@v$YAML_VERSION") ||
  die "building pulumi-language-yaml failed (see above)"
done_step

step 6 "installing the release's launcher scripts from the $SDK zip, checking, and moving into place…"
for s in "${SCRIPTS[@]}"; do install -m 0755 "$sdk_dir/$s" "$tmp/bin/"; done
chmod 0755 "$tmp/bin/"*
got=$(PULUMI_SKIP_UPDATE_CHECK=true "$tmp/bin/pulumi" version | tail -n1)
[[ "$got" == "v$VERSION" ]] || die "built pulumi reports '$got', expected v$VERSION"
# pulumi-language-yaml has no -version flag (and -trimpath keeps -ldflags out of the build
# info): check the module version recorded in the binary instead.
yaml_info=$(go version -m "$tmp/bin/pulumi-language-yaml")
grep -qE "^[[:space:]]+mod[[:space:]]+${YAML}[[:space:]]+v${YAML_VERSION}[[:space:]]" <<<"$yaml_info" ||
  die "pulumi-language-yaml was not built from $YAML@v$YAML_VERSION"
for f in "${EXPECTED[@]}"; do [[ -x "$tmp/bin/$f" ]] || die "missing $f"; done
{ printf '%s\n' "$key"; date -u +'built %Y-%m-%dT%H:%M:%SZ'; echo "go $gov"; } >"$tmp/.complete"
chmod 0755 "$tmp"
old=""
if [[ -e "$dest" ]]; then old="$cache_root/.old-$VERSION.$$"; mv "$dest" "$old"; fi
mv "$tmp" "$dest"
tmp=""
[[ -n "$old" ]] && rm -rf "$old"
done_step
log "built Pulumi CLI v$VERSION in $((SECONDS - t_all))s: $bin"
echo "$bin"
