# Two entry points for a fresh clone: `make demo` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.requirements-installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: setup demo test serve workers

$(STAMP): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $(STAMP)

## Create .venv and install the pinned requirements (re-runs when requirements.txt changes).
setup: $(STAMP)

DEMO_GAMES ?= 40

## The main job on the embedded default: migrate, build the tangram and config library, train the
## initial policy from simulated seed games (once, a few CPU-minutes), run a short simulated study of
## the learning loop (B-SUP and CONTROL, 2 rounds; resumed, not repeated, on a re-run), deploy the
## newest policy beside the initial one and the baselines, serve.
demo: setup
	$(PY) manage.py migrate --noinput
	$(PY) manage.py generate_tangrams --count 200 --seed 0
	$(PY) manage.py generate_configs --count 100 --seed 0
	$(PY) manage.py train_seed --simulate --if-missing
	$(PY) manage.py run_study --simulate --rounds 2 --games-per-round $(DEMO_GAMES) --systems B-SUP,CONTROL --out var/data/studies/demo
	$(PY) manage.py setup_demo
	$(PY) manage.py runserver $(HOST):$(PORT)

## The whole test suite: embedded default, then PostgreSQL + Redis + a real Celery worker.
test: setup
	./scripts/test.sh

serve: setup
	$(PY) manage.py runserver $(HOST):$(PORT)
