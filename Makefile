# Two commands for everyone: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PORT   ?= 8501
ADDRESS ?= localhost

.PHONY: run prepare test test-fast lint format bench classroom install install-dev screenshots clean

$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade --quiet pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt requirements-cluster.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

## make prepare: MNIST into the cache and the default model kept (the first time ~10 s, then instant)
prepare: $(VENV)/.installed
	$(PY) -m playground.prepare

## make run: install if needed, prepare, then start the playground (ADDRESS=0.0.0.0 to serve a classroom)
run: prepare
	@$(PY) -m playground.addresses $(PORT) $(ADDRESS)
	$(PY) -m playground.serve --server.address $(ADDRESS) --server.port $(PORT)

## make test: lint and format checks, then the whole suite (unit, page, integration, browser, load smoke)
test: $(VENV)/.installed-dev lint
	$(PY) -m pytest

## make test-fast: skip the network, browser, Ray and lecture-hall tests
test-fast: $(VENV)/.installed-dev
	$(PY) -m pytest -m "not integration and not browser and not ray and not cluster"

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

## make format: rewrite the code in the project's format
format: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

## make bench: the benchmark scripts (print side-by-side ratios)
bench: $(VENV)/.installed-dev
	$(PY) -m bench.train_speed
	$(PY) -m bench.accuracy
	$(PY) -m bench.cost_model
	$(PY) -m bench.draw_latency
	$(PY) -m bench.draw_browser

## make classroom: the load benchmark, 30 simulated students and one real browser
classroom: $(VENV)/.installed-dev
	$(PY) -m bench.classroom --students 30 --browser

clean:
	rm -rf $(VENV) .pytest_cache tests/e2e/artifacts

## make screenshots: rerun the browser tests and refresh the README's pictures in docs/img
screenshots: $(VENV)/.installed-dev
	UPDATE_SCREENSHOTS=1 $(PY) -m pytest -m browser
