# The one front door. Needs only Python 3.11 (with pip) and make: uv is installed with pip when
# it is missing, and uv installs everything else from uv.lock.

PYTHON ?= python3
# uv from PATH when there is one; otherwise the copy pip installs for $(PYTHON), which
# `python3 -m uv` always finds (pip's --user scripts folder is often not on PATH).
UV ?= $(shell command -v uv >/dev/null 2>&1 && echo uv || echo "$(PYTHON) -m uv")
RUN := $(UV) run --frozen
PYTEST_ARGS ?=

.PHONY: run test lint fmt check chaos bench wrk openapi install uv

## run: install, then start PostgreSQL, Redis, the API, a worker and the sandbox (Ctrl-C stops)
run: install
	$(RUN) comms run

## test: install, then run the test suite (servers are started for it when absent)
test: install
	$(RUN) pytest $(PYTEST_ARGS)

## chaos: every fault scenario 20 times on 2,000 recipients against a whole stack; prints a table
chaos: install
	$(RUN) python -m tests.chaos $(CHAOS_ARGS)

## bench: every read/accept benchmark beside its raw baseline, on its own stack each; writes
## bench/RESULTS.md (~10 minutes on 2 quiet cores). BENCH_ARGS="--scale 10m" also runs reads and
## accepts with 10,000,000 preloaded messages (much longer). Installs wrk with apt-get if missing.
bench: install wrk
	$(RUN) python bench/suite.py $(BENCH_ARGS)

# wrk (Debian's package) drives the benchmarks' HTTP load.
wrk:
	@command -v wrk >/dev/null 2>&1 || { \
		sudo=""; if [ "$$(id -u)" -ne 0 ]; then sudo="sudo"; fi; \
		$$sudo apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends wrk; \
	}

## lint: ruff, formatting, mypy (strict) and the import layering contracts
lint: install
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy
	$(RUN) lint-imports

## fmt: format the code and apply ruff's safe fixes
fmt: install
	$(RUN) ruff check --fix .
	$(RUN) ruff format .

## check: what CI should run: lint, then test
check: lint test

## openapi: regenerate openapi/openapi.json from the app
openapi: install
	$(RUN) comms openapi

install: uv
	$(UV) sync --frozen

# pip installs uv for the user (inside a virtualenv, into it); a distribution's Python that is
# "externally managed" (PEP 668) accepts a user install only with --break-system-packages,
# which touches nothing but ~/.local.
uv:
	@$(UV) --version >/dev/null 2>&1 || { \
		echo "uv not found: installing it with pip"; \
		if $(PYTHON) -c 'import sys; sys.exit(sys.prefix != sys.base_prefix)'; then user=--user; fi; \
		pip="$(PYTHON) -m pip install --quiet --disable-pip-version-check $$user uv"; \
		$$pip 2>/dev/null || $$pip --break-system-packages; \
	}
