# Two commands set everything up on a fresh machine with only Python >= 3.11 and make:
#   make compare   creates .venv, installs, runs the main job on the embedded database
#   make test      same set-up, runs the test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ARGS ?=

.PHONY: compare test lint bench install clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is required (found %s)" % sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -qq --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install -qq --disable-pip-version-check -e '.[dev]'
	# Apache Otava's change-point detector (harness history) needs only numpy and scipy, but the
	# package pins numpy 2.2.0 and pulls in BigQuery, Postgres and Slack clients: its code alone.
	$(BIN)/python -m pip install -qq --disable-pip-version-check --no-deps 'apache-otava==0.8.0'
	@touch $@

install: $(STAMP)

compare: $(STAMP)
	$(BIN)/harness compare $(ARGS)

# Lint first: a formatting slip fails in seconds, not after the suite. Then three parts:
# 1. the tests that put no load on the machine share both cores (pytest-xdist, a module's tests on
#    one worker, in their order, with their module fixtures made once);
# 2. the load tests that measure nothing (faults, the shared compare and distributed runs, soak):
#    unpinned, three at a time (their runs mostly wait), each worker taking the next test when
#    it is free; a run several tests read is made once (tests/shared_runs.py), and its first
#    reader is put early (tests/conftest.py);
# 3. the load tests that measure, one at a time, alone on the machine.
# All parts always run, so one CI run shows every failure. ARGS (paths, -k, -x) go to each;
# exit 5 is "none selected in this part".
test: lint
	status=0; \
	$(BIN)/python -m pytest -m "not load" -n 2 --dist loadfile $(ARGS) || [ $$? -eq 5 ] || status=1; \
	$(BIN)/python -m pytest -m "load and shares_machine" -n 3 --dist load --maxschedchunk 1 $(ARGS) || [ $$? -eq 5 ] || status=1; \
	$(BIN)/python -m pytest -m "load and not shares_machine" $(ARGS) || [ $$? -eq 5 ] || status=1; \
	exit $$status

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Micro-benchmarks of the hot path (pytest-benchmark); never part of `make test`'s pass/fail.
bench: $(STAMP)
	$(BIN)/python -m pytest tests/benchmarks --benchmark-enable --benchmark-only $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .benchmarks
