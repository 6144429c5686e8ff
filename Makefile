# The two commands: `make run` and `make test`. Everything else here serves them.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 5000
export FLASK_APP := marketplace.app:create_app

.PHONY: run test install services runtime lint test-sqlite test-postgres bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml sdk/pyproject.toml
	$(BIN)/pip install -q --config-settings editable_mode=compat -e '.[test]' -e './sdk[cli]'
	touch $@

install: $(VENV)/.installed

## make run: the platform on SQLite with its demo data, at http://$(HOST):$(PORT)/
# Apps are served on their own origins, <slug>.apps.localhost:$(PORT); both follow PORT unless set.
run: export GOVMARKET_APPS_DOMAIN ?= apps.localhost:$(PORT)
run: export GOVMARKET_ISSUER ?= http://$(HOST):$(PORT)
run: install runtime
	$(BIN)/govmarket db upgrade heads
	$(BIN)/govmarket demo seed --url http://$(HOST):$(PORT)
	$(BIN)/govmarket run --host $(HOST) --port $(PORT) --with-threads

services:
	./scripts/ensure-services.sh

## make runtime: the sandbox rootfs (cached in ~/.cache/govmarket, built once) and its Docker image
runtime: install services
	$(BIN)/govmarket sandbox build-runtime

lint: install
	$(BIN)/ruff check .

test-sqlite: install
	TEST_DATABASE=sqlite $(BIN)/pytest -q -p no:cacheprovider

# Tests that do not touch the database ran already in the SQLite pass; conftest deselects them here.
test-postgres: install
	TEST_DATABASE=postgres TEST_DB_ONLY=1 $(BIN)/pytest -q -p no:cacheprovider

## make test: installs and starts what the tests need, then the whole suite on SQLite and on PostgreSQL
test: install services runtime lint
	$(MAKE) --no-print-directory test-sqlite
	$(MAKE) --no-print-directory test-postgres

## make bench: every benchmark at a quick scale (bench/README.md gives the full-scale commands)
bench: install services runtime
	$(BIN)/python bench/mockdata_generate.py --size 100000
	$(BIN)/python bench/sandbox_start.py --repeat 5
	$(BIN)/python -m bench.billing_settlement --scale 0.01
	$(BIN)/python bench/gateway_overhead.py --requests 200 --concurrency 8

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache
