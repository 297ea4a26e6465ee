# kcgateway developer commands. `make test` and `make run` set everything up on a fresh machine.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: install chromium run sim test coverage test-core-coverage lint format typecheck imports secrets check bench bench-readme clean openapi

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -U pip
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

## run: start kcgateway on its embedded default (SQLite, local KEK, simulator as the exchange)
run: $(STAMP)
	$(BIN)/kcgateway serve

sim: run

## chromium: the browser the console tests drive (Debian's package; Playwright's download is not used)
CHROMIUM ?= /usr/bin/chromium
chromium:
	@test -x $(CHROMIUM) || scripts/install_chromium.sh

## test: the whole suite, then the 100% coverage gate on the protocol core. The suite runs
## without coverage: tracing every line of it (greenlets and threads included) took about 10 of
## CI's 30 minutes on two cores; `make coverage` gives the whole-suite report.
## --tb=native: Python 3.11's ast.parse, which pytest's own traceback format calls, can fail
## with "AST constructor recursion depth mismatch" after greenlet switches (Playwright): the
## run then ends in INTERNALERROR and loses its failure summary (seen in CI).
test: $(STAMP) chromium
	$(BIN)/python -m pytest -q -p no:cacheprovider --tb=native $(PYTEST_ARGS)
	$(MAKE) --no-print-directory test-core-coverage

## coverage: the whole suite with branch coverage and its report (slower than `make test`)
coverage: $(STAMP) chromium
	$(BIN)/python -m pytest -q -p no:cacheprovider --cov --cov-report=term $(PYTEST_ARGS)

test-core-coverage: $(STAMP) chromium
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/kcgateway/kucoin tests/kcgateway/test_errors.py \
		--cov=kcgateway.kucoin --cov=kcgateway.errors --cov-branch --cov-report=term-missing \
		--cov-fail-under=100 -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts

format: $(STAMP)
	$(BIN)/ruff format src tests bench scripts
	$(BIN)/ruff check --fix src tests bench scripts

typecheck: $(STAMP)
	$(BIN)/mypy --strict src scripts

imports: $(STAMP)
	$(BIN)/lint-imports

secrets: $(STAMP)
	$(BIN)/python .ci/secrets_gate.py

## check: every gate, then the tests
check: lint typecheck imports secrets test

## openapi: regenerate the committed docs/openapi.json from the routes (a test checks it)
openapi: $(STAMP)
	$(BIN)/python -m kcgateway.web.openapi docs/openapi.json

## bench: every bench/bench_*.py (all of them, whatever happens); fails if one fails or is unmet
BENCH_RESULTS ?= bench/results.jsonl
bench: $(STAMP)
	$(BIN)/python scripts/bench_table.py run --out $(BENCH_RESULTS)

## bench-readme: write README's benchmark table from the JSON lines of the last `make bench`
bench-readme: $(STAMP)
	$(BIN)/python scripts/bench_table.py readme --results $(BENCH_RESULTS)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .coverage htmlcov
