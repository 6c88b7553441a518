# Every target sets itself up: a fresh machine needs only Python 3.10+.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
TSTAMP := $(VENV)/.installed-test

.PHONY: run test bench bench-ooc bench-dask clean

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

# Out of core and Dask on the real CIFAR-10 in ../shared/data (minutes; 6 GB of disk for the
# out-of-core run). They prepare their data into /tmp first.
CIFAR := folder:../shared/data/cifar10/cifar10-jpg.tar.gz

/tmp/linclass-c10/meta.json: $(STAMP)
	rm -rf /tmp/linclass-c10
	$(VENV)/bin/linclass prepare $(CIFAR) --val-size 1000 --out /tmp/linclass-c10

/tmp/linclass-c10x10/meta.json: $(STAMP)
	rm -rf /tmp/linclass-c10x10
	$(VENV)/bin/linclass prepare $(CIFAR) --val-size 1000 --repeat 10 --out /tmp/linclass-c10x10

bench-ooc: $(TSTAMP) /tmp/linclass-c10x10/meta.json
	$(PY) benchmarks/bench_outofcore.py --prepared /tmp/linclass-c10x10 --cold

bench-dask: $(TSTAMP) /tmp/linclass-c10/meta.json
	$(PY) -m pip install --quiet dask-ml
	$(PY) benchmarks/bench_dask.py --prepared /tmp/linclass-c10

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .pytest_cache
