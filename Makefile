# polymm — every target bootstraps .venv on a fresh clone (python3 -m venv + pinned install).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ARGS ?=

.PHONY: help run test check lint typecheck bench soak serve clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	PYTHONWARNINGS=ignore $(BIN)/python -m pip install -q -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP)  ## quote the default sample market on the local exchange, with the live dashboard
	@# Ctrl+C is the normal way to stop: polymm says what the stop did and exits 130, no failure here
	@trap : INT; $(BIN)/polymm run $(ARGS) || [ $$? -eq 130 ]

serve: $(STAMP)  ## run the local exchange on its own (polymm exchange serve)
	$(BIN)/polymm exchange serve $(ARGS)

TEST_WORKERS ?= 2
test: $(STAMP)  ## run the test suite (in $(TEST_WORKERS) processes, a file each at a time)
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check polymm_cli tests bench
	$(BIN)/ruff format --check polymm_cli tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

check: lint typecheck test  ## ruff + mypy + tests

bench: $(STAMP)  ## benchmarks: print a table and write bench/results.json
	$(BIN)/python -m bench $(ARGS)

soak: $(STAMP)  ## chaos soak (30 min; ARGS="--minutes 2 --seed 3"): writes bench/soak.json
	$(BIN)/python -m bench.soak $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
