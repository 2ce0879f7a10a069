# tamer_lab: one entry point. `make demo` and `make test` do all the set-up they need on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo tour test validate notebooks bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# The CPU build of torch first: a bare "torch" requirement would pull multi-GB CUDA wheels.
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e ".[notebooks,test]"
	$(BIN)/tamer-lab assets fetch
	touch $(STAMP)

demo: $(STAMP)  ## the label-scarcity tour, CI-sized (about 2 minutes on 2 CPU cores)
	$(BIN)/tamer-lab tour --quick

tour: $(STAMP)  ## the full tour behind the published figure (about 30 minutes on 2 CPU cores; resumable)
	$(BIN)/tamer-lab tour

test: $(STAMP)  ## unit tests, theory checks and every notebook under nbval, in quick mode
	TAMER_LAB_QUICK=1 $(BIN)/python -m pytest tests
	TAMER_LAB_QUICK=1 $(BIN)/tamer-lab validate --quick --quiet
	TAMER_LAB_QUICK=1 $(BIN)/python -m pytest --nbval-lax --nbval-current-env --nbval-sanitize-with .ci/nbval_sanitize.cfg notebooks

validate: $(STAMP)  ## every theory check in full mode, with the report figures/validation.md and its figures
	$(BIN)/tamer-lab validate --report figures/validation.md

notebooks: $(STAMP)  ## re-execute every notebook in full mode, in place (the committed outputs)
	for nb in notebooks/*.ipynb; do TAMER_LAB_QUICK=0 $(BIN)/jupyter nbconvert --to notebook --execute --inplace --ExecutePreprocessor.timeout=3600 $$nb; done

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_train.py

clean:
	rm -rf $(VENV) figures .pytest_cache
