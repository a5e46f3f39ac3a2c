# The two commands of the README: `make demo` and `make test`.
# Both create or refresh .venv from setup.cfg before they run.

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export TF_CPP_MIN_LOG_LEVEL := 2
export PYTHONWARNINGS := ignore::UserWarning:tensorflow_addons

.PHONY: demo test docs bench venv clean

venv: $(STAMP)

$(STAMP): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test,docs,zoo]"
	$(BIN)/pip install --quiet --no-deps larq-zoo==2.4.0 zookeeper==1.3.3
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m larq_hsi.demo

# pytest exits with 5 when it collects no test; that must not fail CI.
# Two workers (pytest-xdist), one per core: most tests are single-threaded Python (tracing, SavedModel
# protos), so the suite used ~0.8 of 2 cores serially; --dist loadscope keeps module fixtures in one worker.
# The suite includes a --smoke run of every script in examples/ (tests/test_examples.py);
# the docs site is built last, in strict mode, so broken links fail CI too.
test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 --dist loadscope --durations=15 tests; rc=$$?; if [ $$rc -eq 5 ]; then echo "no tests collected"; rc=0; fi; \
	if [ $$rc -ne 0 ]; then exit $$rc; fi
	$(MAKE) --no-print-directory docs

# The figures are generated from the package's own code on every build, never drawn by hand.
docs: $(STAMP)
	$(BIN)/python docs/make_figures.py
	$(BIN)/mkdocs build --strict --quiet --site-dir site

# `make bench`: every benchmark in its --quick mode (each under 2 minutes, the same table shape);
# `make bench FULL=1`: the full measurements (more than an hour on 2 cores).
bench: $(STAMP)
	@for f in benchmarks/[!_]*.py; do echo "== $$f $(if $(FULL),,--quick)"; $(BIN)/python $$f $(if $(FULL),,--quick) || exit 1; done

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
