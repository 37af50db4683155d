# Predictive Studio: `make run` starts the app, `make test` lints and runs every test (browser included).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8501

.PHONY: run test lint bench browser install dev clean

run: $(VENV)/.installed
	$(VENV)/bin/streamlit run app.py --server.port $(PORT)

test: $(VENV)/.dev-installed browser
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m pytest -q

lint: $(VENV)/.dev-installed
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

bench: $(VENV)/.installed
	PYTHONPATH=. $(PY) -m bench.tabular $(BENCH_ARGS)

install: $(VENV)/.installed
dev: $(VENV)/.dev-installed

$(VENV)/.installed: requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python 3.11+ is needed (set PYTHON=python3.11)")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	touch $@

$(VENV)/.dev-installed: $(VENV)/.installed requirements-dev.txt
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

# The browser test drives Debian's chromium; install it where we can (root with apt-get).
browser:
	@if [ -x /usr/bin/chromium ]; then echo "chromium: $$(/usr/bin/chromium --version)"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; \
	else echo "chromium missing and cannot be installed here: the browser test will skip"; fi

clean:
	rm -rf $(VENV) .pytest_cache
