# The two commands: `make run` and `make test`. Everything else here serves them.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 5000
export FLASK_APP := marketplace.app:create_app

.PHONY: run test install lock check-latest services runtime lint test-sqlite test-postgres lane-sqlite lane-postgres lane-deploy mutation bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# Every third-party distribution comes from the lock, exact versions checked by hash (docs/operations.md,
# "Dependencies"); our own three (the platform, ./suite, ./sdk) are then installed from their folders without
# dependencies, so nothing but the lock decides a version.
$(VENV)/.installed: $(BIN)/python requirements/dev.txt pyproject.toml sdk/pyproject.toml suite/pyproject.toml
	$(BIN)/pip install -q --require-hashes --no-deps -r requirements/dev.txt
	$(BIN)/pip install -q --no-deps --no-build-isolation --config-settings editable_mode=compat -e . -e ./suite -e ./sdk
	$(BIN)/pip check
	touch $@

# The API checks' own tools, pinned: openapi-python-client in a venv of its own (requirements/openapi-client.in says
# why), Spectral and openapi-typescript from package-lock.json (npm ci, no install scripts).
OPENAPI_VENV := .venv-openapi
$(OPENAPI_VENV)/.installed: requirements/openapi-client.txt
	test -x $(OPENAPI_VENV)/bin/python || $(PYTHON) -m venv $(OPENAPI_VENV)
	$(OPENAPI_VENV)/bin/pip install -q --require-hashes --no-deps -r requirements/openapi-client.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	command -v npm >/dev/null || ./scripts/ensure-services.sh
	npm ci --no-audit --no-fund --ignore-scripts
	touch $@

install: $(VENV)/.installed $(OPENAPI_VENV)/.installed node_modules/.installed

## make lock: re-resolve the locks after a range in a pyproject.toml changed. Versions already locked stay
# unless asked: `make lock UPGRADE=rq` moves one distribution, `make lock UPGRADE=all` everything.
UV_VERSION := 0.13.9
LOCK_FLAGS := --universal --python-version 3.11 --generate-hashes --quiet \
	--no-emit-package govmarket --no-emit-package govapp-suite --no-emit-package govapp-sdk \
	$(if $(filter all,$(UPGRADE)),--upgrade,$(foreach p,$(UPGRADE),--upgrade-package $(p)))
lock:
	test -x .venv-lock/bin/uv || { $(PYTHON) -m venv .venv-lock && .venv-lock/bin/pip install -q uv==$(UV_VERSION); }
	.venv-lock/bin/uv pip compile requirements/platform.in $(LOCK_FLAGS) -o requirements/platform.txt
	.venv-lock/bin/uv pip compile requirements/dev.in $(LOCK_FLAGS) -o requirements/dev.txt
	.venv-lock/bin/uv pip compile requirements/openapi-client.in $(LOCK_FLAGS) -o requirements/openapi-client.txt

## make check-latest: the newest releases the pyproject ranges allow, in a scratch venv, against the tests that
# need no database or service. Outside CI: it tells the team about upstream drift before a user meets it.
check-latest:
	./scripts/check-latest.sh

## make run: the platform on SQLite with its demo data, at http://$(HOST):$(PORT)/
# Apps are served on their own origins, <slug>.apps.localhost:$(PORT); both follow PORT unless set.
run: export GOVMARKET_APPS_DOMAIN ?= apps.localhost:$(PORT)
run: export GOVMARKET_ISSUER ?= http://$(HOST):$(PORT)
# The demo's departments decide on a clock 8,640 times faster than real time (a day in 10 s), so a case a visitor
# submits is accepted and decided while they watch (#13); production keeps real time.
run: export GOVMARKET_DEPARTMENT_TIME_SCALE ?= 8640
# The demo's paying treasury account for the bank payout file (fictional).
run: export GOVMARKET_PAYOUT_DEBTOR_NAME ?= 示例市财政局国库存款户
run: export GOVMARKET_PAYOUT_DEBTOR_ACCOUNT ?= 110010184000530000001
run: export GOVMARKET_PAYOUT_DEBTOR_BANK_CODE ?= 011100000003
run: install runtime
	$(BIN)/govmarket db upgrade heads
	$(BIN)/govmarket demo seed --url http://$(HOST):$(PORT)
	$(BIN)/govmarket run --host $(HOST) --port $(PORT) --with-threads

services:
	./scripts/ensure-services.sh

## make runtime: the sandbox rootfs (cached in ~/.cache/govmarket, built once) and its Docker image
runtime: install services
	$(BIN)/govmarket sandbox build-runtime

## make lint: ruff, the layering contracts of ARCHITECTURE.md §2 (import-linter, [tool.importlinter] in pyproject.toml),
# and the REST API's OpenAPI document: openapi-spec-validator, then Spectral with the committed ruleset (.spectral.yaml)
lint: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/python scripts/openapi_document.py instance/openapi.json
	node_modules/.bin/spectral lint --ruleset .spectral.yaml --fail-severity warn instance/openapi.json

## make test-sqlite / make test-postgres: one whole pass alone, deployment tests included
test-sqlite: install
	TEST_DATABASE=sqlite $(BIN)/pytest -q -p no:cacheprovider

# Tests that do not touch the database ran already in the SQLite pass; conftest deselects them here.
test-postgres: install
	TEST_DATABASE=postgres TEST_DB_ONLY=1 $(BIN)/pytest -q -p no:cacheprovider

## make test: installs and starts what the tests need, then the whole suite on SQLite and on PostgreSQL.
# The suite runs in three lanes side by side: a pytest process keeps one core busy, the machine has two, and the
# deployment tests (tests/deploy: images, the compose stack, serving hosts) mostly wait on Docker. Each lane has its
# own Redis database; a lane's output is printed when it finishes, and make fails if any lane failed.
test: install services runtime lint
	$(MAKE) --no-print-directory -j3 --output-sync=target lane-sqlite lane-postgres lane-deploy

PYTEST := $(BIN)/pytest -q -p no:cacheprovider
lane-sqlite: install
	TEST_DATABASE=sqlite TEST_REDIS_URL=redis://127.0.0.1:6379/15 $(PYTEST) --ignore=tests/deploy
lane-postgres: install
	TEST_DATABASE=postgres TEST_DB_ONLY=1 TEST_REDIS_URL=redis://127.0.0.1:6379/14 $(PYTEST) --ignore=tests/deploy
lane-deploy: install
	TEST_DATABASE=sqlite TEST_REDIS_URL=redis://127.0.0.1:6379/13 $(PYTEST) tests/deploy
	TEST_DATABASE=postgres TEST_DB_ONLY=1 TEST_REDIS_URL=redis://127.0.0.1:6379/13 $(PYTEST) tests/deploy

## make mutation: mutation testing of money, identity and intake code (docs/testing.md). Outside CI: a full run
# takes hours on two cores; `make mutation SAMPLE=60` runs a seeded sample of 60 mutants per module,
# `make mutation MODULES=billing/formula.py` one module.
SAMPLE ?= 0
SEED   ?= 23
MODULES ?=
mutation: install
	$(BIN)/python scripts/mutation.py --sample $(SAMPLE) --seed $(SEED) $(MODULES)

## make bench: every benchmark at a quick scale (bench/README.md gives the full-scale commands)
bench: install services runtime
	$(BIN)/python bench/mockdata_generate.py --size 100000
	$(BIN)/python bench/sandbox_start.py --repeat 5
	$(BIN)/python -m bench.billing_settlement --scale 0.01
	$(BIN)/python bench/gateway_overhead.py --requests 200 --concurrency 8
	$(BIN)/python bench/app_first_load.py --repeat 2 --requests 50
	$(BIN)/python bench/gateway_overhead.py --requests 200 --concurrency 32 --server gthread --threads 16 --cache RedisCache
	$(BIN)/python bench/catalogue_page.py --scale 0.01 --repeat 10
	$(BIN)/python bench/load_test.py --users 20 --minutes 1 --out /tmp/govmarket-load-quick
	$(BIN)/python bench/rating_signals.py --seeds 1

clean:
	rm -rf $(VENV) .venv-lock $(OPENAPI_VENV) node_modules .venv-latest instance .pytest_cache .ruff_cache mutants
