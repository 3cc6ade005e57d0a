# Two commands do everything: `make demo` and `make test`. Each sets itself up.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test setup lint typecheck unit e2e clean emulator

$(STAMP): pyproject.toml sdk/python-plugin/pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]' -e sdk/python-plugin
	@touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(PY) examples/demo.py

lint: $(STAMP)
	$(PY) -m ruff check provider emulator sdk tests bench examples

typecheck: $(STAMP)
	$(PY) -m mypy

unit: $(STAMP)
	$(PY) -m pytest

# The real Pulumi CLI, built once from the Go module proxy into ~/.cache (tools/pulumi-cli).
# Plain asserts: CPython 3.11's AST validation can trip after inline programs ran threads
# (python/cpython#106905), which pytest's assertion rewriting of late imports would hit.
e2e: $(STAMP)
	nice -n 10 tools/pulumi-cli/ensure.sh >/dev/null
	$(PY) -m pytest -m e2e -p no:hypothesispytest --assert=plain tests/e2e

test: lint typecheck unit e2e

# The SDKs under sdk/ (nodejs, go, python-plugin), from the plugin's schema as the real CLI reads it,
# with Pulumi's own code generators (tools/sdkgen). tests/e2e/test_sdks.py fails when they are stale.
.PHONY: sdk
sdk: $(STAMP)
	tools/sdkgen/generate.sh

emulator: $(STAMP)
	$(VENV)/bin/marketplace-emulator --port 8787

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache

# Benchmarks on the local emulator: tables on stdout, figures in bench/results/ (see bench/README.md).
.PHONY: bench bench-quick

bench: $(STAMP)
	$(PY) -m bench

bench-quick: $(STAMP)
	$(PY) -m bench --quick

# Chaos runs: seeded create/update/refresh/destroy through both providers while the emulator
# injects faults and is restarted, and providers and the CLI are killed (tests/faults/chaos.py),
# alternating between the Partner Portal and the Product Ingestion API (200 runs each).
# `make test` runs a bounded set; override e.g. `make chaos CHAOS_ARGS="--runs 20 -v"`, or
# `CHAOS_ARGS="--runs 200 --api productIngestion"` for one API.
.PHONY: chaos
CHAOS_ARGS ?= --runs 400 --api both

chaos: $(STAMP)
	$(PY) -m tests.faults.chaos $(CHAOS_ARGS)

# Many offers going live at once through one plugin process while the emulator throttles hard
# and is restarted, the provider is killed and resumed, and Ctrl-C lands mid-wait
# (tests/faults/chaos_many.py; `make test` runs one bounded run of 30 offers). Override e.g.
# `make chaos-many CHAOS_MANY_ARGS="--offers 200 --runs 1 --seed 9 -v"`.
.PHONY: chaos-many
CHAOS_MANY_ARGS ?= --runs 4 --offers 100

chaos-many: $(STAMP)
	$(PY) -m tests.faults.chaos_many $(CHAOS_MANY_ARGS)
