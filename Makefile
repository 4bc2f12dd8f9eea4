# Trợ lý Dịch vụ công. `make run` and `make test` are all a new machine needs.
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV := .venv
PY := $(VENV)/bin/python
RASA := $(VENV)/bin/rasa

export RASA_TELEMETRY_ENABLED := false
export TF_CPP_MIN_LOG_LEVEL := 3
export PYTHONHASHSEED := 0
export SQLALCHEMY_SILENCE_UBER_WARNING := 1

.PHONY: help install db train run run-prod test pytest validate story-test eval answer-eval lint bench lock clean

help:
	@echo "make run    install what is missing, build the database, train if needed, start the bot"
	@echo "make run-prod   the production profile: Rasa replicas behind nginx on PostgreSQL, Redis, RabbitMQ"
	@echo "make test   install what is missing and run every test"
	@echo "make train | eval | answer-eval | lint | bench | clean"

install:
	@scripts/bootstrap.sh

db: install
	@$(PY) -m bot db upgrade
	@$(PY) -m bot catalog load
	@$(PY) -m bot dossier seed-demo

train: install
	@$(PY) -m bot model ensure

run: db train
	@$(PY) -m bot run

# Production profile on this machine: Rasa replicas (REPLICAS, default 2) behind nginx, on PostgreSQL,
# Redis and RabbitMQ (README "Production").
REPLICAS ?= 2
run-prod: install train
	@scripts/install_debian.sh nginx:nginx-light
	@$(PY) -m bot run --profile prod --replicas $(REPLICAS)

pytest: install
	@scripts/install_debian.sh
	@$(PY) -m pytest -q -rs -p no:cacheprovider; rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "pytest: no tests collected"; exit 0; fi; exit $$rc

validate: install
	@$(PY) -m bot model validate

story-test: train
	@$(PY) -m bot model story-test

# The NLU on its held-out set, then realistic questions through the model and the actions (issue 10).
eval: train
	@$(PY) -m bot model eval
	@$(PY) -m bot model answer-eval

answer-eval: train
	@$(PY) -m bot model answer-eval

test: lint validate train pytest story-test eval

lint: install
	@$(VENV)/bin/ruff check bot actions tests bench

bench: db train
	@$(PY) bench/search_bench.py
	@$(PY) bench/catalog_import_bench.py
	@$(PY) bench/webhook_bench.py --users 1 5 20
	@echo "(slower, by hand: bench/policy_compare.py, python -m bench.dossier_lookup, bench/fuzz_bench.py,"
	@echo " bench/conversations_bench.py, bench/webhook_bench.py --record-cost --rounds 3,"
	@echo " bench/analytics_bench.py, bench/purge_bench.py, bench/masking_bench.py)"

lock: install
	@$(PY) -m pip freeze --exclude-editable | grep -v '^-e' > requirements.lock

clean:
	rm -rf var models results reports .pytest_cache
