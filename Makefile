# Two entry points for a fresh machine: `make reproduce` and `make test` (see README.md).
PYTHON ?= python3.11
VENV   ?= .venv
# CPU build by default; GPU users: make TORCH=torch (the registry's CUDA build).
TORCH  ?= torch==2.13.0
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DATA   ?= data
RUNS   ?= runs
RESULTS ?= results
QUICK  ?= 0
# where `make test` re-makes the committed QUICK report from scratch, to check it (removed first)
QUICK_CHECK ?= .quick-check
QUICK_REPORT := docs/results/synthetic-k3-quick

.PHONY: install test lint check-quick reproduce bench clean-venv

install: $(STAMP)

# --no-compile: pip byte-compiles no file at install (torch, sympy and the rest hold thousands that are never
# imported here); Python compiles what is imported, once, and keeps it in __pycache__. That needs the cache to be
# written, so no recipe inherits PYTHONDONTWRITEBYTECODE (docs/design.md, "The time `make test` takes")
unexport PYTHONDONTWRITEBYTECODE
$(STAMP): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip setuptools wheel
	$(BIN)/pip install -q --no-compile "$(TORCH)"
	$(BIN)/pip install -q --no-compile -e '.[test]'
	touch $@

test: $(STAMP) lint
	$(BIN)/python -m distill.corpus.bible --ensure-modules
	$(BIN)/python -m pytest -q --durations=15 -n auto --dist loadscope --no-loadscope-reorder

# ruff, configured in pyproject.toml: pyflakes, pycodestyle (120 columns), import order, bugbear, pyupgrade
lint: $(STAMP)
	$(BIN)/ruff check .

# `make reproduce QUICK=1` from scratch, every number checked against the committed report: a change that
# moves one fails here until the report is re-made (seqkd-report check says which and by how much)
check-quick: $(STAMP)
	rm -rf $(QUICK_CHECK)
	QUICK=1 DATA=$(QUICK_CHECK)/data RUNS=$(QUICK_CHECK)/runs RESULTS=$(QUICK_CHECK)/results \
	  scripts/reproduce_nat_distillation.sh > $(QUICK_CHECK).log 2>&1 || { tail -30 $(QUICK_CHECK).log; exit 1; }
	$(BIN)/seqkd-report check --expected $(QUICK_REPORT)/results.json \
	  --actual $(QUICK_CHECK)/results/synthetic-k3-quick/results.json

reproduce: $(STAMP)
	QUICK=$(QUICK) DATA=$(DATA) RUNS=$(RUNS) RESULTS=$(RESULTS) scripts/reproduce_nat_distillation.sh

bench: $(STAMP)
	QUICK=$(QUICK) DATA=$(DATA) RUNS=$(RUNS) RESULTS=$(RESULTS) scripts/bench.sh

clean-venv:
	rm -rf $(VENV)
