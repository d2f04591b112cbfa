# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# CPU torch first: an unpinned torch would pull a multi-GB CUDA build.
TORCH_PIN := torch==2.13.0
SHARED_DATA ?= $(or $(BIOFAB_SHARED_DATA),../shared/data)
BORKOWSKI := $(wildcard $(SHARED_DATA)/cellfree/borkowski2020)

.PHONY: install dev demo test lint typecheck pytest clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet $(TORCH_PIN)
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.dev-installed: $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed
dev: $(VENV)/.dev-installed

# The main job: a multi-round campaign on a built-in testbed (replay of the
# Borkowski 2020 cell-free data when it is on disk, a synthetic surface otherwise).
demo: install
	$(BIN)/biofab demo $(if $(BORKOWSKI),--data $(BORKOWSKI),) --out report.html

lint: dev
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: dev
	$(BIN)/mypy

pytest: dev
	$(BIN)/python -m pytest -n 2 --dist loadfile

test: lint typecheck pytest

clean:
	rm -rf $(VENV) build *.egg-info
