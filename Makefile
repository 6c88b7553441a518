# Every target sets itself up: a fresh machine needs only Python 3.10+.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
TSTAMP := $(VENV)/.installed-test

.PHONY: run test bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e .
	touch $@

$(TSTAMP): pyproject.toml $(STAMP)
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

run: $(STAMP)
	$(VENV)/bin/linclass train --model svm --dataset digits

test: $(TSTAMP)
	$(PY) -m pytest

bench: $(TSTAMP)
	$(PY) benchmarks/bench_losses.py
	$(PY) benchmarks/bench_graph.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .pytest_cache
