# Two commands do all set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run assess-examples test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	touch $(STAMP)

## run: the tumour-board app on the embedded store (SQLite in var/), with the example cases
run: $(STAMP)
	scripts/system-deps.sh run
	NETLM_PUBLIC_URL="$${NETLM_PUBLIC_URL:-http://127.0.0.1:8000}" $(BIN)/netlm serve --demo

## assess-examples: assess every bundled example case and print the summaries
assess-examples: $(STAMP)
	$(BIN)/netlm assess examples/*.json

## test: knowledge-base check, lint, type check, then the whole test suite
test: $(STAMP)
	scripts/system-deps.sh test
	$(BIN)/netlm kb check
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy
	url=$$(scripts/services.sh) && NETLM_TEST_POSTGRES_URL=$$url $(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy

## bench: benchmarks (not part of `make test`)
bench: $(STAMP)
	scripts/system-deps.sh bench
	$(BIN)/python benchmarks/bench_assess.py
	$(BIN)/python benchmarks/bench_http.py
	$(BIN)/python benchmarks/bench_cds.py
	$(BIN)/python benchmarks/fuzz_parse.py
	$(BIN)/python benchmarks/bench_survival.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
