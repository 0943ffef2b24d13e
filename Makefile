# `make demo` and `make test` each set up the environment themselves on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed

.PHONY: demo test test-all lint bench gpu-check clean

# constraints.txt pins the tested versions (torch: the CPU build on this machine's disk);
# pyproject.toml keeps the ranges a library user installs against.
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)  ## train the default preset (25-mode grid) into runs/demo
	$(BIN)/gankit train toy-grid --out runs/demo --force

test: $(STAMP)  ## the test suite CI runs
	$(BIN)/pytest -n 2 -m "not slow"

test-all: $(STAMP)  ## everything, slow end-to-end checks included
	$(BIN)/pytest -n 2

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP)
	$(BIN)/python -m benchmarks.toy

# On a GPU machine with torch preinstalled (no venv): docs/speed.md, "The GPU check".
# Rehearsal here: make gpu-check GPU_PYTHON=.venv/bin/python GPU_CHECK_ARGS="--device cpu --tiny";
# benchmarks/gpu_bundle.sh packs the wheels and data a machine without network needs.
GPU_PYTHON ?= python3
gpu-check:  ## every CUDA path and the long protocols, in one budgeted run
	PYTHONPATH=$(CURDIR)$${PYTHONPATH:+:$$PYTHONPATH} $(GPU_PYTHON) -m benchmarks.gpu_check $(GPU_CHECK_ARGS)

clean:
	rm -rf $(VENV) runs .pytest_cache .ruff_cache *.egg-info
