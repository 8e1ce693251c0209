# deeprnn: `make demo` trains a small model; `make test` runs the test suite.
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
PIP     = $(PY) -m pip
# the torch CI installs and tests; pyproject.toml's floor (torch>=2.13) is this version, the
# oldest one a CI job runs: raise both together
TORCH  ?= torch==2.13.0
STAMP   = $(VENV)/.installed

.PHONY: demo test base-install lint format bench docs install clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet "$(TORCH)"
	$(PIP) install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/deeprnn demo

# the suite runs on every core (pytest-xdist; a test file stays on one worker)
WORKERS ?= auto

test: $(STAMP)
	$(PY) -m pytest -q -n $(WORKERS) --dist loadfile

# a fresh virtual environment with `pip install .` alone (no extras): the documented commands
# run, and the ones that need an extra name it (about 3 minutes; CI runs it after make test)
base-install: $(STAMP)
	TORCH="$(TORCH)" $(PY) .ci/base_install.py

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks

format: $(STAMP)
	$(VENV)/bin/ruff check --fix src tests benchmarks
	$(VENV)/bin/ruff format src tests benchmarks

bench: $(STAMP)
	$(PY) benchmarks/speed.py --readme
	$(PY) benchmarks/threads.py --readme

docs: $(STAMP)
	$(VENV)/bin/mkdocs build --strict

clean:
	rm -rf $(VENV) build dist site src/*.egg-info .pytest_cache .ruff_cache
