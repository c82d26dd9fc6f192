# Chainon — the two commands a newcomer needs are `make run` and `make test`.
SHELL := bash
.DEFAULT_GOAL := help
export UV_PYTHON_DOWNLOADS := never
UV := python3 -m uv
VENV := .venv
BIN := $(VENV)/bin
# chainon/domain, chainon/adapters, chainon/projections are links to the top-level folders
TYPED := chainon bench devtools

.PHONY: help install run demo test test-fast lint format postgres-up postgres-stop postgres-down \
	kafka-build kafka-up kafka-stop kafka-down dist-up dist-down clean

help:  ## List the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(BIN)/.installed: pyproject.toml uv.lock
	@python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet --disable-pip-version-check uv
	$(UV) sync --frozen
	@touch $@

install: $(BIN)/.installed  ## Install the locked dependencies into .venv

run: install  ## Start Chainon on the embedded default (SQLite under ./var, sandbox channel)
	$(BIN)/chainon serve

demo: install  ## The two-minute story, in a throw-away directory
	$(BIN)/chainon demo

lint: install  ## ruff (lint and format) and mypy --strict
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy --strict $(TYPED)

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: install lint  ## Everything: lint, unit, integration (real PostgreSQL), end to end
	bash infra/postgres/pg.sh install
	bash infra/chromium/chromium.sh install
	bash infra/kafka/kafka.sh build
	@test -d devtools/smsc/node_modules/smpp || npm ci --prefix devtools/smsc --no-audit --no-fund
	@test -d devtools/asyncapi/node_modules/@asyncapi/specs || npm ci --prefix devtools/asyncapi --no-audit --no-fund
	bash infra/deploy/tools.sh install
	$(BIN)/pytest -n 2 --dist load --maxschedchunk 2

screenshots: install  ## Regenerate docs/screenshots (the console and the phone, in Chromium)
	bash infra/chromium/chromium.sh install
	$(BIN)/pytest tests/e2e/test_console_browser.py -q
	mkdir -p docs/screenshots
	cp var/screenshots/console-queue.png var/screenshots/console-conversation.png \
		var/screenshots/phone.png docs/screenshots/

test-fast: install  ## The unit tests alone
	$(BIN)/pytest tests/unit -q

bench: install  ## Benchmarks beside this machine's raw limits (issue 8); JSON in var/bench
	bash infra/postgres/pg.sh install
	bash infra/kafka/kafka.sh build
	@test -d devtools/smsc/node_modules/smpp || npm ci --prefix devtools/smsc --no-audit --no-fund
	$(BIN)/python -m bench $(BENCH_ARGS)

bench-quick:  ## The same with smaller counts, in under five minutes
	$(MAKE) bench BENCH_ARGS="--quick $(BENCH_ARGS)"

.PHONY: bench bench-quick screenshots

# Where the targets below keep their servers' data (var/ unless CHAINON_DATA_DIR says):
# `make dist-up CHAINON_DATA_DIR=/srv/chainon`, or CHAINON_DATA_DIR in the environment.
CHAINON_DATA_DIR ?= var

postgres-up: ## A throw-away PostgreSQL in var/postgres (prints CHAINON_POSTGRES_DSN=…)
	@bash infra/postgres/pg.sh install
	@bash infra/postgres/pg.sh start $(CHAINON_DATA_DIR)/postgres >/dev/null
	@cat $(CHAINON_DATA_DIR)/postgres/env

postgres-stop: ## Stop it, keeping its data (postgres-up starts it again)
	@bash infra/postgres/pg.sh stop $(CHAINON_DATA_DIR)/postgres --keep

postgres-down: ## Stop it and delete its data
	@bash infra/postgres/pg.sh stop $(CHAINON_DATA_DIR)/postgres

kafka-build: ## Assemble the Kafka broker (Maven Central jars) into infra/kafka/lib
	bash infra/kafka/kafka.sh build

kafka-up: install kafka-build ## A throw-away Kafka broker in var/kafka (prints CHAINON_KAFKA_BOOTSTRAP=…)
	@bash infra/kafka/kafka.sh start $(CHAINON_DATA_DIR)/kafka >/dev/null
	@cat $(CHAINON_DATA_DIR)/kafka/env

kafka-stop: ## Stop the broker, keeping its data (kafka-up starts it again)
	@bash infra/kafka/kafka.sh stop $(CHAINON_DATA_DIR)/kafka --keep

kafka-down: ## Stop the broker and delete its data
	@bash infra/kafka/kafka.sh stop $(CHAINON_DATA_DIR)/kafka

dist-up: install kafka-build ## The distributed set in the background: PostgreSQL, Kafka, workers, API
	@bash infra/postgres/pg.sh install
	@bash infra/dist.sh up $(CHAINON_DATA_DIR)

dist-down: ## Stop everything dist-up started, by PID (the data stays)
	@bash infra/dist.sh down $(CHAINON_DATA_DIR)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
