# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# CPU torch first: an unpinned torch would pull a multi-GB CUDA build.
TORCH_PIN := torch==2.13.0
SHARED_DATA ?= $(or $(BIOFAB_SHARED_DATA),../shared/data)

.PHONY: install dev demo test lint typecheck pytest clean examples \
	example-dfba example-ec example-design example-reconstruct opentrons-env

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet $(TORCH_PIN)
	$(BIN)/pip install --quiet -e .
	touch $@

# pensimpy (IndPenSim, the industrial penicillin benchmark) pins numpy 1.18; its pure-Python
# integrator runs on current numpy/scipy, so it is installed without its pins.
$(VENV)/.dev-installed: $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/pip install --quiet --no-deps pensimpy==1.2.5
	touch $@

install: $(VENV)/.installed
dev: $(VENV)/.dev-installed

# The main job: a self-driving cell-free campaign on the built-in TX-TL testbed, through
# plate layouts, Echo picklists and plate-reader files (round files in report_rounds/).
demo: install
	$(BIN)/biofab demo --out report.html

# Metabolism examples: one command each, outputs under out/ (see docs/metabolism.md).
CARVEME := $(SHARED_DATA)/metabolism/carveme_benchmark
CATPRED := $(SHARED_DATA)/enzymes

example-dfba: install
	mkdir -p out/dfba
	$(BIN)/biofab gem dfba examples/dfba/hanly_henson_2011.yaml \
	  --out out/dfba/traj.csv --plot out/dfba/traj.html

example-ec: install
	mkdir -p out/ec
	$(BIN)/biofab gem kcats iJO1366 --catpred $(CATPRED)/catpred_kcat_random_test.csv \
	  --catpred $(CATPRED)/catpred_kcat_random_val.csv \
	  --proteome $(CARVEME)/fasta/Ecoli_K12_MG1655.faa --calibrate 0.7 --uptake 10 \
	  --out out/ec/kcats.csv
	$(BIN)/biofab gem ec iJO1366 --kcats out/ec/kcats.csv \
	  --proteome $(CARVEME)/fasta/Ecoli_K12_MG1655.faa --ensemble 12 --calibrate 0.7 --uptake 10 \
	  --out out/ec/ec_iJO1366.xml --plot out/ec/overflow.html

example-design: install
	mkdir -p out/design
	$(BIN)/biofab gem design textbook --target EX_succ_e --max-knockouts 3 \
	  --bound EX_o2_e=0,1000 --designs 3 --plot out/design/succinate.html

example-reconstruct: install
	mkdir -p out/reconstruct
	$(BIN)/biofab gem reconstruct $(CARVEME)/fasta/Bsubtilis_168.faa --template iJO1366 \
	  --template-proteome $(CARVEME)/fasta/Ecoli_K12_MG1655.faa --medium M9 --medium LB \
	  --media-db $(CARVEME)/media_db.tsv --out out/reconstruct/bsub_draft.xml
	$(BIN)/biofab gem essentiality out/reconstruct/bsub_draft.xml --medium LB \
	  --media-db $(CARVEME)/media_db.tsv --truth $(CARVEME)/essentiality/bsub.tsv
	$(BIN)/biofab gem biolog out/reconstruct/bsub_draft.xml --medium M9 \
	  --media-db $(CARVEME)/media_db.tsv --truth $(CARVEME)/biolog/bsub

examples: example-dfba example-ec example-design example-reconstruct

lint: dev
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: dev
	$(BIN)/mypy

# The Opentrons simulator pins numpy < 2: it gets its own environment, made once,
# as a lab runs protocols from the Opentrons App rather than from its analysis stack.
opentrons-env:
	PYTHON=$(PYTHON) bash scripts/opentrons-env.sh

pytest: dev opentrons-env
	$(BIN)/python -m pytest -n 2 --dist loadfile

test: lint typecheck pytest

clean:
	rm -rf $(VENV) .venv-opentrons build *.egg-info
