# The two commands: `make run` (the platform with embedded defaults) and
# `make test` (the whole suite against real PostgreSQL and Redis).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000

.PHONY: run test test-deps lint install

$(VENV)/.installed: setup.cfg pyproject.toml sdk/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	$(PY) -m pip install -q -e ./sdk
	touch $@

install: $(VENV)/.installed

# Development/demo server: SQLite under var/, local cache, Celery tasks in-process,
# the catalog of CATALOG_DIR (examples/catalog by default) loaded.
run: install
	DEBUG=$${DEBUG:-true} $(PY) manage.py migrate --noinput
	DEBUG=$${DEBUG:-true} $(PY) manage.py ensure_admin
	-DEBUG=$${DEBUG:-true} $(PY) manage.py rescan
	DEBUG=$${DEBUG:-true} exec $(PY) manage.py runserver 127.0.0.1:$(PORT)

# System packages the tests need (Debian). Skipped when already present.
test-deps:
	@command -v redis-server >/dev/null || { \
	  apt-get update -qq && apt-get install -y -qq redis-server >/dev/null; }
	@command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
	  apt-get update -qq && apt-get install -y -qq postgresql >/dev/null; }
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
	  apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null; }

# pytest's exit code 5 ("no tests ran") is a failure here, like any other.
test: install test-deps
	tests/services.sh $(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
