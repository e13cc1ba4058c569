# Two commands matter: `make run` and `make test`.  Both create .venv first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint format bench docker-config migrate superuser clean venv init worker seed up down messages

$(STAMP): requirements/base.txt requirements/dev.txt requirements/prod.txt requirements/tracing.txt
	@$(PYTHON) -c 'import sys; sys.exit("Python 3.11+ is required") if sys.version_info < (3, 11) else None'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements/dev.txt
	touch $(STAMP)

venv: $(STAMP)

migrate: $(STAMP)
	$(PY) manage.py migrate --noinput

## Start the web app and the django-q2 worker on the embedded default (SQLite, ORM broker, local storage).
run: migrate
	$(PY) manage.py collectstatic --noinput --verbosity 0
	$(PY) manage.py serve

## The seed README's commands: init (venv + database), worker, seed (demo data), up/down (docker compose).
init: migrate
	@test -f .env || { cp .env.example .env && echo "created .env from .env.example"; }

worker: migrate
	$(PY) manage.py worker

seed: migrate
	$(PY) manage.py seed_demo

up:
	docker compose -f docker/compose.yml up -d --build

down:
	docker compose -f docker/compose.yml down

## Create a superuser: interactive, or from DJANGO_SUPERUSER_USERNAME/_EMAIL/_PASSWORD.
## A failure (e.g. the username is taken) fails the target.
superuser: migrate
	@if [ -n "$$DJANGO_SUPERUSER_PASSWORD" ]; then \
		$(PY) manage.py createsuperuser --noinput; \
	else \
		$(PY) manage.py createsuperuser; \
	fi

## Refresh the Russian catalogue from the code (needs GNU gettext's xgettext), then compile it.
## The compiled .mo is committed, so `make run` needs no gettext on the machine.
messages: $(STAMP)
	$(PY) manage.py makemessages --locale ru --no-obsolete --ignore '.venv/*' --ignore 'var/*' \
		--ignore 'tests/*' --ignore 'benchmarks/*' --ignore 'docs/*'
	$(VENV)/bin/pybabel compile --domain django --directory locale --locale ru --statistics

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: $(STAMP)
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

bench: $(STAMP)
	@set -e; found=0; for script in benchmarks/*.py; do \
		[ -e "$$script" ] || continue; found=1; echo "== $$script"; $(PY) $$script; \
	done; [ $$found = 1 ] || echo "no benchmarks yet"

docker-config: $(STAMP)
	$(VENV)/bin/check-jsonschema --builtin-schema vendor.compose-spec docker/compose.yml

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
