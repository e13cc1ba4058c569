# Two commands matter: `make run` and `make test`.  Both create .venv first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck docs-check format bench docker-config migrate superuser clean venv init worker seed demo up down messages stt-smoke schema

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

## Demo data of every app and the demo-admin superuser (password printed once); SEED_CALLS call records.
SEED_CALLS ?= 40
seed: migrate
	$(PY) manage.py seed_demo --calls $(SEED_CALLS)

## The call pipeline end to end (tools/demo.py): the fake Bitrix24 and fake OpenAI on free ports, a 7-day export
## of DEMO_CALLS calls through download, transcription, summaries, registry and report, on a scratch SQLite
## database and storage in DEMO_DIR (the developer's var/ is untouched); both fakes are stopped on any exit.
DEMO_CALLS ?= 300
DEMO_DIR ?= build/demo
demo: $(STAMP)
	$(PY) tools/demo.py --calls $(DEMO_CALLS) --dir $(DEMO_DIR)

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

## Regenerate the committed OpenAPI contract (docs/openapi.yaml) after an API change; a test fails when they differ.
schema: $(STAMP)
	$(PY) manage.py spectacular --validate --fail-on-warn --file docs/openapi.yaml

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

## The STT smoke check (STT-50) against the fake OpenAI, which answers each clip of the manifest beside
## the playlist with its text: exit 0 only when every item passed.  The settings the playlist's
## expectations depend on are pinned, so a developer's .env cannot change the outcome.  With a real key
## instead: `.venv/bin/python manage.py stt_smoke --playlist PATH` (docs/testing/stt_smoke.md).
## It runs on a scratch SQLite database in build/: the outbound policy keeps circuit and audit rows.
SMOKE_PLAYLIST ?= $(or $(STT_SMOKE_PLAYLIST_PATH),tests/data/stt_smoke/playlist.json)
SMOKE_MANIFEST ?= $(dir $(SMOKE_PLAYLIST))manifest.json
SMOKE_REPORT ?= build/stt_smoke_report.json
SMOKE_FAKE_ENV := build/stt_smoke_fake.env
stt-smoke: $(STAMP)
	@mkdir -p build && rm -f $(SMOKE_FAKE_ENV)
	@set -eu; \
	$(PY) -m tests.fakes.openai --port 0 --env-file $(SMOKE_FAKE_ENV) \
		--transcripts $(SMOKE_MANIFEST) >build/stt_smoke_fake.log 2>&1 & fake=$$!; \
	trap 'kill $$fake 2>/dev/null || true' EXIT; \
	for _ in $$(seq 1 300); do \
		grep -q '^OPENAI_BASE_URL=' $(SMOKE_FAKE_ENV) 2>/dev/null && break; \
		kill -0 $$fake 2>/dev/null || { echo "stt-smoke: the fake OpenAI did not start" >&2; cat build/stt_smoke_fake.log >&2; exit 1; }; \
		sleep 0.1; \
	done; \
	grep -q '^OPENAI_BASE_URL=' $(SMOKE_FAKE_ENV) || { echo "stt-smoke: the fake OpenAI did not start in 30 s" >&2; exit 1; }; \
	set -a; . ./$(SMOKE_FAKE_ENV); set +a; \
	export DATABASE_URL=sqlite:///$(CURDIR)/build/stt_smoke.sqlite3; \
	$(PY) manage.py migrate --noinput --verbosity 0; \
	STT_MAX_FILE_MINUTES=60 STT_OPENAI_MODEL=whisper-1 WHISPER_RATE_PER_MIN_USD=0.006 CHATGPT_PROXY_URL= \
		$(PY) manage.py stt_smoke --playlist $(SMOKE_PLAYLIST) --report $(SMOKE_REPORT); \
	$(PY) -c 'import json, sys; s = json.load(open(sys.argv[1]))["summary"]; \
		sys.exit(0 if s["total"] and s["success"] == s["total"] else f"stt-smoke: the report says {s}")' $(SMOKE_REPORT)

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

## mypy with the django-stubs and djangorestframework-stubs plugins; what it checks is [tool.mypy] in pyproject.toml.
typecheck: $(STAMP)
	$(VENV)/bin/mypy

## README.md and docs/: Markdown lint (pymarkdown, settings in pyproject.toml), spelling of the whole tree
## (codespell, word list docs/spelling-wordlist.txt) and every relative link and anchor (offline).
docs-check: $(STAMP)
	$(VENV)/bin/pymarkdown scan README.md docs
	$(VENV)/bin/codespell
	$(PY) tools/check_links.py

format: $(STAMP)
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

## Every script in benchmarks/ with its defaults; each prints its numbers (docs/performance.md).
## benchmarks/stt_pipeline.py needs PostgreSQL (BENCH_POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/postgres)
## and Redis (REDIS_HOST/REDIS_PORT, default 127.0.0.1:6379; the broker uses Redis database 5); without them it is skipped.
## benchmarks/ww_api.py needs a throw-away PostgreSQL DATABASE_URL whose name contains "bench" (it empties the
## Walking Warehouse, outbox and task tables) and, for its Redis-broker half, Redis (broker in database 7); without
## them it is skipped, e.g. `DATABASE_URL=postgres://postgres@127.0.0.1:5432/wwbench make bench`.
## benchmarks/admin_scale.py needs a throw-away PostgreSQL database (default postgres://postgres@127.0.0.1:5432/adminscale,
## or ADMIN_SCALE_DATABASE_URL; `createdb adminscale`): it fills it with a year's volumes; without it it is skipped.
bench: $(STAMP)
	@set -e; found=0; for script in benchmarks/*.py; do \
		[ -e "$$script" ] || continue; found=1; echo "== $$script"; $(PY) $$script; \
	done; [ $$found = 1 ] || echo "no benchmarks yet"

docker-config: $(STAMP)
	$(VENV)/bin/check-jsonschema --builtin-schema vendor.compose-spec docker/compose.yml

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache .mypy_cache
