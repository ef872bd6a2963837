# otp-service: `make run` starts the service with its embedded defaults; `make test` runs the suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint format contract bench sandbox clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## run: install, then start redis-server, the Telnyx sandbox and gunicorn on 127.0.0.1:8000
run: $(STAMP)
	exec $(BIN)/otp-service serve

## test: install, then run the whole suite (real redis-server, real HTTP); the Telnyx
## contract tests run against the sandbox here, never against a TELNYX_BASE_URL you exported
test: $(STAMP)
	env -u TELNYX_BASE_URL -u TELNYX_API_KEY $(BIN)/python -m pytest

## contract: run the Telnyx contract suite against TELNYX_BASE_URL (the sandbox if unset)
contract: $(STAMP)
	$(BIN)/python -m pytest -m contract tests/telnyx

## bench: install (with the bench extra), then measure otp-service against the stack's
## limit on loopback (bench/README.md); writes bench/results.{json,md,png}, exits 1 on a
## missed target
BENCH_STAMP := $(VENV)/.bench-installed
$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(BIN)/python -m bench.run

## sandbox: only the local Telnyx stand-in on 127.0.0.1:8001
sandbox: $(STAMP)
	exec $(BIN)/otp-service sandbox

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .data .pytest_cache
