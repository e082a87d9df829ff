# Two commands matter: `make demo` (the network demo) and `make test` (the whole suite).
# Each creates .venv and installs what it needs on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

AXE := tests/web/node_modules/axe-core/axe.min.js

.PHONY: demo screenshots test test-fast test-slow lint typecheck unit bench clean i18n

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Bigre needs Python 3.11 or newer")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/bigre demo $(DEMO_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest -q -x tests/protocol

# axe-core for the page tests' accessibility checks, pinned by tests/web/package-lock.json
$(AXE): tests/web/package.json tests/web/package-lock.json
	npm ci --prefix tests/web --no-audit --no-fund --silent
	touch $(AXE)

test: $(STAMP) $(AXE)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/python -m scripts.i18n check
	$(BIN)/pytest -q $(PYTEST_ARGS)

# the pages' words: extract them from the templates and node/web into the catalogs (then translate the new ones)
i18n: $(STAMP)
	$(BIN)/python -m scripts.i18n extract

test-fast: $(STAMP)
	$(BIN)/pytest -q -m "not slow" $(PYTEST_ARGS)

test-slow: $(STAMP) $(AXE)
	$(BIN)/pytest -q -m slow $(PYTEST_ARGS)

# every benchmark, then the README's performance table from this one run (bench/results.jsonl, with load averages)
BENCH_RESULTS ?= bench/results.jsonl
PG_SERVER ?= postgres@127.0.0.1:5432
bench: $(STAMP)
	rm -f $(BENCH_RESULTS)
	@echo "load average: $$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)"
	BIGRE_BENCH_RESULTS=$(BENCH_RESULTS) $(BIN)/python -m bench.protocol_bench
	BIGRE_BENCH_RESULTS=$(BENCH_RESULTS) $(BIN)/python -m bench.node_bench \
		$$(pg_isready -h 127.0.0.1 -q 2>/dev/null && echo --postgres $(PG_SERVER))
	BIGRE_BENCH_RESULTS=$(BENCH_RESULTS) $(BIN)/python -m bench.federation_bench \
		$$(pg_isready -h 127.0.0.1 -q 2>/dev/null && echo --postgres $(PG_SERVER))
	BIGRE_BENCH_RESULTS=$(BENCH_RESULTS) $(BIN)/python -m bench.fanout_bench
	BIGRE_BENCH_RESULTS=$(BENCH_RESULTS) $(BIN)/python -m bench.search_bench
	BIGRE_BENCH_RESULTS=$(BENCH_RESULTS) $(BIN)/python -m bench.erasure_bench
	@! pg_isready -h 127.0.0.1 -q || BIGRE_BENCH_RESULTS=$(BENCH_RESULTS) $(BIN)/python -m bench.search_bench_pg
	@! pg_isready -h 127.0.0.1 -q || BIGRE_BENCH_RESULTS=$(BENCH_RESULTS) $(BIN)/python -m bench.workers_bench
	@echo "load average: $$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)"
	$(BIN)/python -m bench.report $(BENCH_RESULTS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

screenshots: $(STAMP)
	BIGRE_SCREENSHOTS=1 $(BIN)/pytest -q tests/web/test_screenshots.py tests/web/test_onboarding_pages.py
