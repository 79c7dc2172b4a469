# Two commands do all the set-up: `make demo` runs the demo, `make test` runs every test.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin

.PHONY: setup test quick lint demo diagram mutation screenshots

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

# Four test processes on two cores: much of a real-server test's time is spent waiting for
# its processes, and the waits overlap. tests/order.py puts the longest first; handing the
# tests out one at a time keeps a process from queueing work behind the soak.
TEST_PROCESSES ?= 4

test: setup
	$(BIN)/pytest --numprocesses $(TEST_PROCESSES) --dist load --maxschedchunk 1

# The quick tier for the inner loop: no real server, worker, form or browser (tests/tiers.py).
quick: setup
	$(BIN)/pytest --numprocesses 2 -m "not real_server and not browser and not soak"

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

# The whole demo: the dev server (UI on 8080), the worker and the form (8000). Options go in
# ARGS, for example: make demo ARGS="--db-filename --reset-ledger"
demo: setup
	$(BIN)/python run_demo.py $(ARGS)

# The saga diagram in README, from its Graphviz source (needs `dot`: apt-get install graphviz).
diagram: static/booking-saga.png

static/booking-saga.png: static/booking-saga.dot tools/render_diagram.py
	$(PYTHON) tools/render_diagram.py

# Mutation testing of the saga core (a tool, not part of `make test`): prints the score and the
# surviving mutants. ARGS="--fresh" tests every mutant again, ARGS="--report" only reports.
mutation: $(VENV)/.mutation-installed
	nice -n 15 $(BIN)/python tools/mutation.py $(ARGS)

$(VENV)/.mutation-installed: $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[mutation]'
	touch $@

# The presenter's guide's pictures (docs/screenshots/), taken from real runs: a dev server with
# its Web UI, a worker, the form and headless Chromium, on free ports; about a minute.
screenshots: setup
	$(BIN)/python tools/screenshots.py
