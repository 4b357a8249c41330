# polymm — every target bootstraps .venv on a fresh clone (python3 -m venv + pinned install).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ARGS ?=

.PHONY: help run test check lint typecheck bench soak serve clean anvil contracts

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

# Anvil (a local EVM) and the real Gnosis ConditionalTokens bytecode for the chain tests
# (tests/chain), from npm into a project-local folder; solc compiles the stand-in contracts.
TOOLS := .tools
NPM_TOOLS := @foundry-rs/anvil@1.7.1 @gnosis.pm/conditional-tokens-contracts@1.0.3 solc@0.8.37
TOOLS_STAMP := $(TOOLS)/.installed-anvil-1.7.1

$(TOOLS_STAMP):
	@if command -v npm >/dev/null 2>&1; then \
		npm install --prefix $(TOOLS) --no-audit --no-fund --loglevel=error $(NPM_TOOLS) && touch $@; \
	else echo "npm not found: Anvil is not installed and the chain tests (tests/chain) will skip"; fi

anvil: $(TOOLS_STAMP)  ## install Anvil, the Gnosis CTF and solc into .tools/ (npm; for tests/chain)

contracts: $(TOOLS_STAMP)  ## recompile the chain tests' stand-in contracts (tests/chain/contracts)
	node tests/chain/build_contracts.mjs

TEST_WORKERS ?= 2
test: $(STAMP) $(TOOLS_STAMP)  ## run the test suite (in $(TEST_WORKERS) processes, a file each at a time)
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
	rm -rf $(VENV) $(TOOLS) .pytest_cache .mypy_cache .ruff_cache
