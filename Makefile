# The two commands: `make run` (the platform with embedded defaults) and
# `make test` (the whole suite against real PostgreSQL, Redis and Docker engines).
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

# Development/demo server: SQLite under var/, local cache, the catalog of
# CATALOG_DIR (examples/catalog by default) loaded, the local Docker socket as
# node `local` when one answers. Background tasks go to a Celery worker (with
# beat) beside the dev server, through a broker of files under var/celery; the
# worker stops with the server.
RUN_ENV := DEBUG=$${DEBUG:-true} CELERY_BROKER_URL=$${CELERY_BROKER_URL:-filesystem://}
run: install
	$(RUN_ENV) $(PY) manage.py migrate --noinput
	$(RUN_ENV) $(PY) manage.py ensure_admin
	-$(RUN_ENV) $(PY) manage.py node local
	-$(RUN_ENV) $(PY) manage.py rescan
	$(RUN_ENV) $(PY) -m celery -A ctfplatform worker --beat --pool threads \
	  --concurrency 4 --schedule "$${VAR_DIR:-var}/celerybeat-schedule" -l warning & \
	  worker=$$!; trap 'kill $$worker 2>/dev/null; wait $$worker' EXIT INT TERM; \
	  $(RUN_ENV) $(PY) manage.py runserver 127.0.0.1:$(PORT)

# System packages the tests need (Debian). Skipped when already present.
test-deps:
	@command -v redis-server >/dev/null || { \
	  apt-get update -qq && apt-get install -y -qq redis-server >/dev/null; }
	@command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
	  apt-get update -qq && apt-get install -y -qq postgresql >/dev/null; }
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
	  apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null; }
	@command -v dockerd >/dev/null && command -v docker-registry >/dev/null \
	  && dpkg -s busybox-static >/dev/null 2>&1 || { \
	  apt-get update -qq && apt-get install -y -qq docker.io docker-registry \
	    busybox-static openssl iptables >/dev/null; }

# pytest's exit code 5 ("no tests ran") is a failure here, like any other.
test: install test-deps
	tests/services.sh $(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
