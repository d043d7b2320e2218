# Two commands do all set-up on a fresh machine: `make run` and `make test` (see the README's
# Quick start for every package and service they install or start).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
LOCK   := requirements/lock.txt
UV     := uv==0.13.9
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: run assess-examples test lint bench lock lock-upgrade clean kb-impact

# Exactly the versions (and hashes) in the lock file, then netlm itself without its dependencies.
$(STAMP): pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

## run: the tumour-board app on the embedded store (SQLite in var/), with the example cases;
## `make run PORT=8080 HOST=0.0.0.0` to listen elsewhere
run: $(STAMP)
	scripts/system-deps.sh advise pdf
	@echo "netlm's command line is in the venv: $(BIN)/netlm --help, or '. $(BIN)/activate' and then netlm --help"
	NETLM_PUBLIC_URL="$${NETLM_PUBLIC_URL:-http://$(HOST):$(PORT)}" \
	  $(BIN)/netlm serve --demo --host $(HOST) --port $(PORT)

## assess-examples: assess every bundled example case and print the summaries
assess-examples: $(STAMP)
	$(BIN)/netlm assess examples/*.json

## test: knowledge-base check, lint, type check, then the whole test suite on two workers (Spark's
## tests on one of them, first: tests/conftest.py). PostgreSQL: the
## database in NETLM_TEST_POSTGRES_URL when set (the tests empty it), else a private cluster the
## tests start in a temporary folder and stop at the end.
test: $(STAMP)
	scripts/system-deps.sh install pdf test spark $$([ -n "$$NETLM_TEST_POSTGRES_URL" ] || echo postgres-server)
	$(BIN)/netlm kb check
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/pytest -n 2 --no-loadscope-reorder

## kb-impact: what the working tree's knowledge base changes against the last release, on the
## synthetic registry: src/netlm/knowledge/IMPACT.md (committed; a test checks that it is
## current) and var/kb-impact.html
kb-impact: $(STAMP)
	mkdir -p var
	$(BIN)/netlm kb impact --base release --registry synthetic \
	  --markdown src/netlm/knowledge/IMPACT.md --html var/kb-impact.html

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy

## bench: benchmarks (not part of `make test`)
bench: $(STAMP)
	scripts/system-deps.sh install pdf spark bench
	$(BIN)/python benchmarks/bench_assess.py
	$(BIN)/python benchmarks/bench_http.py
	$(BIN)/python benchmarks/bench_cds.py
	$(BIN)/python benchmarks/fuzz_parse.py
	$(BIN)/python benchmarks/bench_survival.py
	$(BIN)/python benchmarks/bench_registry.py

## lock: re-resolve requirements/lock.txt after a dependency in pyproject.toml changed, keeping
## every pin that still fits; lock-upgrade: every package to its newest allowed version
lock:
	test -x $(BIN)/uv || { $(PYTHON) -m venv $(VENV) && $(BIN)/python -m pip install --quiet $(UV); }
	$(BIN)/uv pip compile pyproject.toml --extra dev --extra bench --universal \
	  --python-version 3.11 --generate-hashes --quiet --custom-compile-command "make lock" \
	  $(UV_FLAGS) -o $(LOCK)

lock-upgrade:
	$(MAKE) lock UV_FLAGS=--upgrade

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
