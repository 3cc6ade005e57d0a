#!/usr/bin/env bash
# shellcheck shell=bash
# tools/pulumi-cli/env.sh — the environment for running the Pulumi CLI offline.
#
#   source tools/pulumi-cli/env.sh [STATE_DIR [VENV]]      # bash: sets the variables in this shell
#   eval "$(tools/pulumi-cli/env.sh [STATE_DIR [VENV]])"   # any POSIX shell: prints `export` lines
#
# STATE_DIR (default ${PULUMI_MARKETPLACE_STATE_DIR:-${XDG_STATE_HOME:-$HOME/.local/state}/pulumi-marketplace})
# gets two subdirectories: home/ (PULUMI_HOME) and backend/ (the file:// state backend).
# VENV (optional): the Python virtual environment that dynamic providers of Automation API
# inline programs run in (exported as PULUMI_RUNTIME_VIRTUALENV, made absolute).
# The bin directory is $PULUMI_CLI_BIN if set, else whatever tools/pulumi-cli/ensure.sh
# prints (which builds the CLI on first use, see ensure.sh --help).
#
# Variables (each name checked in the v3.259.0 sources, file names relative to the modules):
#   PULUMI_SKIP_UPDATE_CHECK=true                     sdk/go/common/env/env.go  SkipUpdateCheck
#       no background call to the Pulumi Cloud API for "a newer version is available".
#   PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true  sdk/go/common/env/env.go  DisableAutomaticPluginAcquisition
#       a missing provider plugin fails at once instead of being downloaded.
#   PULUMI_DISABLE_REGISTRY_RESOLVE=true              sdk/go/common/env/env.go  DisableRegistryResolve
#       package names are never looked up in the Pulumi Registry.
#   PULUMI_CONFIG_PASSPHRASE=<demo value>             pkg/secrets/passphrase/manager.go
#       secrets provider of the file backend; a demo value, not a secret (kept if already set).
#   PULUMI_HOME=STATE_DIR/home                        sdk/go/common/workspace/paths.go PulumiHomeEnvVar
#       credentials.json, plugins/, workspaces/ (instead of ~/.pulumi).
#   PULUMI_BACKEND_URL=file://STATE_DIR/backend       sdk/go/common/env/env.go  BackendURL
#       local state; no Pulumi Cloud login is ever attempted.
#   PULUMI_RUNTIME_VIRTUALENV=VENV (only with VENV)   sdk/python/dist/pulumi-resource-pulumi-python
#       the launcher runs VENV/bin/python -m pulumi.dynamic. With an inline program the engine
#       runs under the `client` runtime and never sets it from Pulumi.yaml (engine/deployment.go),
#       so without it the launcher falls back to ${PULUMI_PYTHON_CMD:-python3}.
#   PATH=<bin>:$PATH                                  pulumi-language-yaml and the launcher
#       scripts are found both next to `pulumi` and on PATH, so no "using … from $PATH" warning.

_pulumi_env_main() {
  local here state bin venv=""
  here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd) || return 1
  state=${1:-${PULUMI_MARKETPLACE_STATE_DIR:-${XDG_STATE_HOME:-$HOME/.local/state}/pulumi-marketplace}}
  mkdir -p "$state/home" "$state/backend" || return 1
  state=$(cd "$state" && pwd) || return 1
  if [[ -n "${2:-}" ]]; then
    [[ -x "$2/bin/python" ]] || { echo "env.sh: '$2' is not a virtual environment (no bin/python)" >&2; return 1; }
    venv=$(cd "$2" && pwd) || return 1
  fi
  if [[ -n "${PULUMI_CLI_BIN:-}" ]]; then
    bin=$PULUMI_CLI_BIN
  else
    bin=$("$here/ensure.sh" | tail -n1) || return 1
  fi
  [[ -x "$bin/pulumi" ]] || { echo "env.sh: no pulumi in '$bin'" >&2; return 1; }
  local path=$PATH
  case ":$path:" in *":$bin:"*) ;; *) path="$bin:$path" ;; esac
  _PULUMI_ENV=(
    "PULUMI_CLI_BIN=$bin"
    "PULUMI_SKIP_UPDATE_CHECK=true"
    "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true"
    "PULUMI_DISABLE_REGISTRY_RESOLVE=true"
    "PULUMI_CONFIG_PASSPHRASE=${PULUMI_CONFIG_PASSPHRASE:-marketplace-demo-passphrase}"
    "PULUMI_HOME=$state/home"
    "PULUMI_BACKEND_URL=file://$state/backend"
    "PATH=$path"
  )
  [[ -z "$venv" ]] || _PULUMI_ENV+=("PULUMI_RUNTIME_VIRTUALENV=$venv")
}

if [[ "${BASH_SOURCE[0]}" != "$0" ]]; then
  # sourced
  if _pulumi_env_main "$@"; then
    for _pulumi_kv in "${_PULUMI_ENV[@]}"; do export "${_pulumi_kv?}"; done
    unset _pulumi_kv _PULUMI_ENV
    unset -f _pulumi_env_main
  else
    unset -f _pulumi_env_main
    return 1
  fi
else
  # executed: print export lines for eval
  set -euo pipefail
  if [[ "${1:-}" == -h || "${1:-}" == --help ]]; then sed -n '3,34p' "$0" | sed 's/^# \{0,1\}//'; exit 0; fi
  _pulumi_env_main "$@"
  for kv in "${_PULUMI_ENV[@]}"; do printf 'export %s=%q\n' "${kv%%=*}" "${kv#*=}"; done
fi
