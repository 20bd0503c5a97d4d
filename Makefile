# Two commands for everyone: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PORT   ?= 8501
ADDRESS ?= localhost

.PHONY: run test test-fast bench install install-dev screenshots clean

$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade --quiet pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

## make run: install if needed, then start the playground (ADDRESS=0.0.0.0 to serve a classroom)
run: $(VENV)/.installed
	@echo "Softmax Playground: open http://$(ADDRESS):$(PORT) in a browser (Ctrl+C stops it)"
	$(PY) -m streamlit run streamlit_app.py --server.address $(ADDRESS) --server.port $(PORT)

## make test: the whole suite (unit, page, integration and real-browser tests)
test: $(VENV)/.installed-dev
	$(PY) -m pytest

## make test-fast: skip the network and browser tests
test-fast: $(VENV)/.installed-dev
	$(PY) -m pytest -m "not integration and not browser"

## make bench: the benchmark scripts (print side-by-side ratios)
bench: $(VENV)/.installed
	$(PY) -m bench.train_speed
	$(PY) -m bench.accuracy
	$(PY) -m bench.draw_latency
	$(PY) -m bench.page_overhead

clean:
	rm -rf $(VENV) .pytest_cache tests/e2e/artifacts

## make screenshots: rerun the browser tests and refresh the README's pictures in docs/img
screenshots: $(VENV)/.installed-dev
	UPDATE_SCREENSHOTS=1 $(PY) -m pytest -m browser
