# Clinic back office. `make run` and `make test` are the two commands in the README.
#
#   make run    development server with demo data at http://127.0.0.1:$(PORT)/
#   make test   the whole test suite (pytest, SQLite unless DATABASE_URL says otherwise)
#   make serve  production mode: DEBUG=False, collectstatic, gunicorn (needs SECRET_KEY)
#   make lint   ruff
#   make scan   security scans: bandit over our code, pip-audit over the pinned
#               requirements (.ci/scan; CI runs it too)
#   make bench  the patient changelist at 1,000 and 1,000,000 patients, then the Synthea
#               import at 10,000 and 100,000, then the audit trail at 1,000,000 audit
#               rows and the access log's cost per page view (JSON lines; docs/operations.md)

# Python 3.11 where there is one (pyproject.toml pins it), else the machine's python3.
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
# gunicorn worker processes for `make serve` (2 cores here: 2 workers), each with
# THREADS threads (gthread: a streamed 1,000,000-row CSV export takes minutes, and a
# sync worker is killed after 30 s without a heartbeat).
WORKERS ?= 2
THREADS ?= 4

.PHONY: run test serve lint scan venv bench

# Re-installs when a requirements file changes. requirements-dev.txt includes
# requirements.txt and adds the test tools and Faker (demo data for make run).
$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

# Development settings for a new checkout; an existing .env is never overwritten.
.env:
	printf 'DEBUG=true\n' > .env

venv: $(VENV)/.installed .env

run: venv
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	@echo "Serving the back office at http://$(HOST):$(PORT)/ (Ctrl-C stops it)."
	$(PY) manage.py runserver $(HOST):$(PORT)

test: venv
	$(PY) -m pytest

# Production mode. Settings refuse to start without SECRET_KEY when DEBUG is off;
# set ALLOWED_HOSTS too (and DATABASE_URL for PostgreSQL). See docs/operations.md.
# No gunicorn access log: its lines carry the query string (search terms are PHI);
# backoffice.logs.RequestLogMiddleware writes one JSON line per request instead.
serve: $(VENV)/.installed
	DEBUG=false $(PY) manage.py migrate --noinput
	DEBUG=false $(PY) manage.py collectstatic --noinput
	DEBUG=false $(VENV)/bin/gunicorn backoffice.wsgi \
		--bind $(HOST):$(PORT) --workers $(WORKERS) --worker-class gthread \
		--threads $(THREADS)

lint: venv
	$(VENV)/bin/ruff check .

scan: venv
	VENV=$(VENV) bash .ci/scan

# Its own databases, never db.sqlite3: var/bench/*.sqlite3, or <name>_bench_<size>,
# <name>_bench_import_<size> and <name>_bench_audit_<rows> on the PostgreSQL server
# DATABASE_URL names. The changelist and audit databases are seeded once, then reused
# (--reseed); the import ones are new every run, from generated Synthea folders in
# var/bench/synthea/<size>/ (made once, then reused).
# BENCH_ARGS passes options to the changelist bench, e.g. BENCH_ARGS="--sizes 1000,100000
# --repeat 5"; IMPORT_BENCH_ARGS to the import bench, e.g. IMPORT_BENCH_ARGS="--sizes
# 1000000 --cases import_new,reimport_unchanged"; AUDIT_BENCH_ARGS to the audit bench,
# e.g. AUDIT_BENCH_ARGS="--rows 100000 --repeat 5".
bench: venv
	$(PY) -m bench.changelist $(BENCH_ARGS)
	$(PY) -m bench.imports $(IMPORT_BENCH_ARGS)
	$(PY) -m bench.audit $(AUDIT_BENCH_ARGS)
