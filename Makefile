# `make run`: set everything up, record the demo call, process it, then start `dagster dev`.
# `make test`: set everything up and run the whole test suite.
SHELL := /bin/bash
.DEFAULT_GOAL := run

VENV := .venv
PYTHON := $(VENV)/bin/python
export DAGSTER_HOME := $(CURDIR)/.dagster_home
SYSTEM_PACKAGES := ffmpeg espeak-ng fonts-dejavu-core chromium postgresql
ENV ?= dev

.PHONY: setup system-packages venv run demo dev test bench lock deploy teardown clean

system-packages:
	@missing=$$(for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing system packages:" $$missing; \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

# The development venv (tests, `make run`) installs the dev lock; the image installs the runtime one.
$(VENV)/.installed: requirements-dev.lock pyproject.toml
	python3.11 -m venv $(VENV) || python3 -m venv $(VENV)
	$(PYTHON) -m pip install -q --upgrade pip
	$(PYTHON) -m pip install -q -r requirements-dev.lock
	$(PYTHON) -m pip install -q --no-deps -e .
	touch $@

venv: $(VENV)/.installed

$(DAGSTER_HOME)/dagster.yaml: dagster.yaml
	mkdir -p $(DAGSTER_HOME)
	cp dagster.yaml $@

setup: system-packages venv $(DAGSTER_HOME)/dagster.yaml

demo: setup
	$(VENV)/bin/techne demo

run: demo
	$(VENV)/bin/techne process data/inbox/treinamento-k8s-crashloop.mp4
	$(VENV)/bin/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

dev: setup
	$(VENV)/bin/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

test: setup
	$(VENV)/bin/ruff check . && echo "Linting OK"
	$(PYTHON) -m pytest

bench: setup
	$(PYTHON) benchmarks/bench_offline_pipeline.py
	$(PYTHON) benchmarks/bench_bedrock_quota.py
	$(PYTHON) benchmarks/bench_model_phase.py
	$(PYTHON) benchmarks/bench_batch_backfill.py
	$(PYTHON) benchmarks/bench_sensor.py
	$(PYTHON) benchmarks/bench_whisper.py
	$(PYTHON) benchmarks/bench_text_core.py

# Two locks, one resolution: resolve everything (runtime, dev and whisper extras) into
# requirements-dev.lock, then install the runtime dependencies (with the postgres extra) under
# that lock as constraints, so requirements.lock is the runtime subset at the same versions.
lock:
	rm -rf .lock-venv && python3.11 -m venv .lock-venv
	.lock-venv/bin/pip install -q --upgrade pip && .lock-venv/bin/pip install -q '.[dev,postgres,whisper]'
	.lock-venv/bin/pip freeze --exclude techne-assets | sort -f > requirements-dev.lock
	rm -rf .lock-venv && python3.11 -m venv .lock-venv
	.lock-venv/bin/pip install -q --upgrade pip && .lock-venv/bin/pip install -q -c requirements-dev.lock '.[postgres]'
	.lock-venv/bin/pip freeze --exclude techne-assets | sort -f > requirements.lock
	rm -rf .lock-venv build ./*.egg-info

deploy:
	infra/deploy.sh $(ENV)

teardown:
	infra/teardown.sh $(ENV)

clean:
	rm -rf $(VENV) $(DAGSTER_HOME) data/output data/store data/scratch data/state
