# Every target sets itself up: a fresh machine needs only Python 3.10+.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
TSTAMP := $(VENV)/.installed-test
DSTAMP := $(VENV)/.installed-docs

.PHONY: run test lint typecheck docs package bench bench-ooc bench-dask bench-contention bench-defaults bench-features fuzz screenshots kill-test clean

$(PY):
	@echo "creating $(VENV) (a virtual environment for linclass)..."
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(PY)
	@echo "installing linclass and its dependencies into $(VENV) (numpy, scipy, scikit-learn, matplotlib; a minute or so the first time)..."
	$(PY) -m pip install --quiet -e .
	touch $@

$(TSTAMP): pyproject.toml $(STAMP)
	@echo "installing the test tools into $(VENV) (pytest, hypothesis, dask, zarr, ...)..."
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

$(DSTAMP): pyproject.toml $(TSTAMP)
	@echo "installing the documentation tools into $(VENV) (Sphinx, numpydoc, PyData theme, MyST-NB)..."
	$(PY) -m pip install --quiet -e '.[test,docs]'
	touch $@

run: $(STAMP)
	$(VENV)/bin/linclass train --model svm --dataset digits
	@echo "linclass is installed in $(VENV): 'source $(VENV)/bin/activate' puts linclass and python on your PATH."

# Lint and format checks first (a second), then the whole suite on every core (a module's tests
# stay on one worker), with coverage of src/linclass, the processes the tests start included:
# under 95% fails ([tool.coverage] in pyproject.toml says what is left out and why).
test: lint
	$(PY) -m pytest -n auto --dist loadfile --cov --cov-report=term --cov-fail-under=95

# The documentation site into docs/_build/html, from scratch, warnings as errors (the notebooks
# run as part of it: a minute or two).
docs: $(DSTAMP)
	rm -rf docs/_build docs/generated
	$(PY) -m sphinx -b html -W --keep-going -q docs docs/_build/html
	@! grep -l "_parents" docs/_build/html/generated/*.html || \
	    (echo "a private parameter is in the API reference (docs/conf.py)"; false)
	@echo "the site is in docs/_build/html/index.html"

# The package as users get it: an sdist and a wheel built from it (python -m build), checked by
# twine, the wheel installed into a new, clean venv that then runs `linclass --help`, make run's
# job, finds the playground's page, and a user's script type-checks against it (py.typed:
# tools/typed_use.py, mypy --strict on its own settings, not the project's).
PKG := build/package
package: $(STAMP)
	rm -rf $(PKG) && mkdir -p $(PKG)
	$(PY) -m pip install --quiet build twine
	$(PY) -m build --outdir $(PKG)/dist .
	$(PY) -m twine check --strict $(PKG)/dist/*
	$(PYTHON) -m venv $(PKG)/venv
	$(PKG)/venv/bin/python -m pip install --quiet $(PKG)/dist/*.whl
	cd $(PKG) && venv/bin/linclass --help > /dev/null
	cd $(PKG) && venv/bin/linclass train --model svm --dataset digits --no-plots --quiet --out run
	cd $(PKG) && venv/bin/python -c "from importlib.resources import files; \
	    assert all(files('linclass.playground').joinpath('static', f).is_file() \
	               for f in ('index.html', 'app.js', 'circuit.js', 'style.css'))"
	$(PKG)/venv/bin/python -m pip install --quiet mypy
	cp tools/typed_use.py $(PKG)/ && printf '[mypy]\nstrict = True\n' > $(PKG)/mypy.ini
	cd $(PKG) && venv/bin/python typed_use.py && venv/bin/python -m mypy --config-file mypy.ini typed_use.py
	@echo "the sdist and the wheel in $(PKG)/dist install and run, and type-check"

# The annotations, checked by mypy ([tool.mypy] in pyproject.toml; under a minute).
typecheck: $(TSTAMP)
	$(PY) -m mypy

lint: $(TSTAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

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

# Training on a quiet and on a busy machine (another process spinning on a core), BLAS threads
# fixed or chosen per step (a few minutes); the automatic penalty on digits, MNIST and
# CIFAR-10 (about 15 minutes with CIFAR-10).
bench-contention: $(TSTAMP)
	$(PY) benchmarks/bench_contention.py

bench-defaults: $(TSTAMP)
	$(PY) benchmarks/defaults.py

# Image features on CIFAR-10 (the --features pipelines hog+color, hog+hsv, patches:1600 and
# patches:4000): test accuracy against feature time (about an hour, 10 GB of memory; one
# pipeline: PIPELINES=patches:1600, about 10 minutes).
PIPELINES ?= hog+color,hog+hsv,patches:1600,patches:4000
bench-features: $(TSTAMP)
	$(PY) benchmarks/bench_features.py --pipelines $(PIPELINES)

# Coverage-guided fuzzing of every reader (atheris), FUZZ_SECONDS each (default 60); what it
# finds lands in fuzz/findings/. `make test` replays the corpus and a bounded slice.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := idx cifar_python cifar_meta cifar_binary archive cifar_archive image model circuit

# The README's pictures of the playground (needs Chromium: apt-get install chromium).
screenshots: $(TSTAMP)
	$(PY) tools/playground_screenshots.py --out docs

fuzz: $(TSTAMP)
	$(PY) -m pip install --quiet 'atheris>=2.3'
	@mkdir -p fuzz/findings
	@for t in $(FUZZ_TARGETS); do \
		echo "== fuzz $$t ($(FUZZ_SECONDS) s)"; \
		$(PY) fuzz/run.py $$t --seconds $(FUZZ_SECONDS) > fuzz/findings/$$t.log 2>&1 \
			|| { tail -40 fuzz/findings/$$t.log; echo "FINDING in $$t: see fuzz/findings/$$t/"; exit 1; }; \
		grep -E "stat::(number_of_executed_units|new_units_added|peak_rss_mb)" fuzz/findings/$$t.log; \
	done

# Kill `train` and `save` at random moments many times (KILLS, default 100).
KILLS ?= 100
kill-test: $(TSTAMP)
	LINCLASS_KILLS=$(KILLS) $(PY) -m pytest -q tests/test_hostile_training.py -k killed

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .pytest_cache
