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

.PHONY: install test reproduce bench clean-venv

install: $(STAMP)

$(STAMP): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip setuptools wheel
	$(BIN)/pip install -q "$(TORCH)"
	$(BIN)/pip install -q -e '.[test]'
	touch $@

test: $(STAMP)
	$(BIN)/python -m distill.corpus.bible --ensure-modules
	$(BIN)/python -m pytest -q

reproduce: $(STAMP)
	QUICK=$(QUICK) DATA=$(DATA) RUNS=$(RUNS) RESULTS=$(RESULTS) scripts/reproduce_nat_distillation.sh

bench: $(STAMP)
	QUICK=$(QUICK) DATA=$(DATA) RUNS=$(RUNS) RESULTS=$(RESULTS) scripts/bench.sh

clean-venv:
	rm -rf $(VENV)
