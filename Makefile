# Predictive Studio: `make run` starts the app, `make test` lints and runs every test (browser included);
# `make test-fast` runs the tests that train nothing and open no browser; `make lock` pins the
# versions that run and test install.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8501
UV_VERSION ?= 0.13.10
# `make lock` keeps the pins already in the locks; `make lock LOCK_ARGS=--upgrade` (or
# `--upgrade-package keras`) moves them to the newest releases the ranges allow.
LOCK_ARGS ?=
UV_COMPILE := $(VENV)/bin/uv pip compile --universal --python-version 3.11 --quiet \
	--custom-compile-command "make lock" $(LOCK_ARGS)

.PHONY: run test test-fast lint lock bench browser install dev clean

run: $(VENV)/.installed
	$(VENV)/bin/streamlit run app.py --server.port $(PORT)

test: $(VENV)/.dev-installed browser
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m pytest -q

# No training, no worker process, no browser: the marks are declared in tests/conftest.py,
# which also fails any test of this selection that starts training.
test-fast: $(VENV)/.dev-installed
	$(PY) -m pytest -q -n auto -m "not trains and not slow and not e2e"

lint: $(VENV)/.dev-installed
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

bench: $(VENV)/.installed
	PYTHONPATH=. $(PY) -m bench.tabular $(BENCH_ARGS)

install: $(VENV)/.installed
dev: $(VENV)/.dev-installed

# requirements*.txt state the ranges (for people who embed the package); the .lock files pin the
# exact versions (Linux and macOS) that `make run` and `make test` install.
lock: $(VENV)/bin/uv
	$(UV_COMPILE) requirements.txt -o requirements.lock
	$(UV_COMPILE) requirements-dev.txt -c requirements.lock -o requirements-dev.lock

$(VENV)/bin/uv:
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q uv==$(UV_VERSION)

$(VENV)/.installed: requirements.lock
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python 3.11+ is needed (set PYTHON=python3.11)")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.lock
	touch $@

$(VENV)/.dev-installed: $(VENV)/.installed requirements-dev.lock
	$(PY) -m pip install -q -r requirements-dev.lock
	touch $@

# The browser test drives Debian's chromium; install it where we can (root with apt-get).
browser:
	@if [ -x /usr/bin/chromium ]; then echo "chromium: $$(/usr/bin/chromium --version)"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; \
	else echo "chromium missing and cannot be installed here: the browser test will skip"; fi

clean:
	rm -rf $(VENV) .pytest_cache
