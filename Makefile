# peerkeeper: targets a newcomer can guess. Every target sets up what it needs from the repo's files.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell PYENV_VERSION=3.13.0 command -v python3.13 >/dev/null 2>&1 && echo "env PYENV_VERSION=3.13.0 python3.13" || echo python3)
# The interpreter itself (not a pyenv shim): every environment below is made from it.
PYTHON_BIN = $(shell $(PYTHON) -c 'import sys; print(sys.executable)')
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# uv installs every environment from a lock with hashes; it is itself bootstrapped from PyPI with pip,
# hash-checked, into .tools/uv. It never downloads an interpreter: it uses $(PYTHON).
UV_VENV := .tools/uv
UV := $(UV_VENV)/bin/uv
export UV_PYTHON_DOWNLOADS := never
export UV_NO_PROGRESS := 1
SAM_VENV := .tools/sam
CHECKOV_VENV := .tools/checkov
SAM := $(SAM_VENV)/bin/sam
CHECKOV := $(CHECKOV_VENV)/bin/checkov
C7N_VENV := .tools/c7n
C7N := $(C7N_VENV)/bin/custodian
# pytest workers (pytest-xdist); tests that share a session-wide resource are grouped (--dist loadgroup)
TEST_WORKERS ?= auto

.PHONY: help demo test fuzz lint typecheck os-packages unit validate build deploy deploy-config invoke bench bench-smoke checkov stackset-template clean lock venv uv tools

help:
	@echo "make demo      run the seed lab end to end on an embedded AWS emulator"
	@echo "make test      lint, type check and every test (sets up .venv)"
	@echo "make bench-smoke  the benchmarks run once at their smallest size (not timed; CI runs it)"
	@echo "make fuzz      the hostile-input fuzz with its full example budget"
	@echo "make validate  sam validate --lint, cfn-lint and checkov on template.yaml"
	@echo "make build     sam build (python3.13, arm64)"
	@echo "make deploy    sam deploy (CONFIG_ENV=default|dev|prod)"
	@echo "make bench     benchmarks (writes benchmarks/results/*.json)"
	@echo "make lock      re-resolve the lock files after editing requirements-dev.txt or tools/requirements-*.txt"

$(UV): tools/requirements-uv.lock
	rm -rf $(UV_VENV)
	$(PYTHON) -m venv $(UV_VENV)
	$(UV_VENV)/bin/pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r tools/requirements-uv.lock
	touch $(UV)

# One environment from one lock: $(call uv-env,DIR,LOCK). Made anew, then synced exactly to the lock.
define uv-env
rm -rf $(1)
$(UV) venv --quiet --python $(PYTHON_BIN) $(1)
$(UV) pip sync --quiet --python $(1)/bin/python --require-hashes $(2)
endef

# A lock file that changes rebuilds its environment. Editing an input without 'make lock' stops here
# with a message (tools/check_locks.py), rather than building a venv that lacks the new pin.
$(STAMP): requirements-dev.lock requirements-dev.txt layers/common/requirements.txt pyproject.toml | $(UV)
	$(PYTHON) tools/check_locks.py
	$(call uv-env,$(VENV),requirements-dev.lock)
	$(UV) pip install --quiet --python $(PY) --no-deps --no-build-isolation -e .
	touch $(STAMP)

venv: $(STAMP)

uv: $(UV)

# The command-line tools' environments (make validate, make build), each from its own lock.
tools: $(SAM) $(CHECKOV)

LOCK := $(UV) pip compile --quiet --universal --generate-hashes --custom-compile-command "make lock"
lock: $(UV)
	$(LOCK) --python-version 3.11 requirements-dev.txt -o requirements-dev.lock
	$(LOCK) --python-version 3.11 tools/requirements-uv.txt -o tools/requirements-uv.lock
	$(LOCK) --python-version 3.13 tools/requirements-sam.txt -o tools/requirements-sam.lock
	$(LOCK) --python-version 3.13 tools/requirements-checkov.txt -o tools/requirements-checkov.lock
	$(LOCK) --python-version 3.13 tools/requirements-c7n.txt -o tools/requirements-c7n.lock

demo: $(STAMP)
	$(VENV)/bin/peerkeeper demo

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache

typecheck: $(STAMP)
	$(VENV)/bin/mypy

# The benchmarks' smoke runs are not in make test: make bench-smoke runs them (CI: beside make test).
test: lint typecheck os-packages
	$(VENV)/bin/pytest -n $(TEST_WORKERS) --dist loadgroup --durations=15 -m "not bench"

bench-smoke: $(STAMP)
	$(VENV)/bin/pytest -p no:xdist -m bench tests/benchmarks

# make test runs HYPOTHESIS_PROFILE=quick (tests/conftest.py); this is the full budget.
fuzz: $(STAMP)
	HYPOTHESIS_PROFILE=full $(VENV)/bin/pytest -n $(TEST_WORKERS) tests/reliability/test_hostile_input.py

# The graph tests draw with Graphviz's dot and look at the page in a real browser (headless
# Chromium): installed from the OS packages when missing. Where that is impossible, the tests that
# need them say they are skipped and why.
OS_PACKAGES := dot:graphviz chromium:chromium
os-packages:
	@missing=""; for pair in $(OS_PACKAGES); do \
	  command -v $${pair%%:*} >/dev/null 2>&1 || missing="$$missing $${pair#*:}"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if ! command -v apt-get >/dev/null 2>&1; then \
	  echo "no apt-get: install$$missing yourself; the tests that need them will be skipped"; exit 0; fi; \
	sudo=""; [ "$$(id -u)" = 0 ] || sudo="sudo -n"; \
	echo "installing$$missing (apt-get)"; \
	{ $$sudo apt-get update -qq && $$sudo env DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -qq --no-install-recommends $$missing >/dev/null; } \
	  || echo "could not install$$missing: the tests that need them will be skipped"

$(SAM): tools/requirements-sam.lock | $(UV)
	$(call uv-env,$(SAM_VENV),tools/requirements-sam.lock)
	touch $(SAM)

$(CHECKOV): tools/requirements-checkov.lock | $(UV)
	$(call uv-env,$(CHECKOV_VENV),tools/requirements-checkov.lock)
	touch $(CHECKOV)

validate: $(SAM) $(CHECKOV)
	$(SAM) validate --lint --region us-east-1
	$(SAM_VENV)/bin/cfn-lint template.yaml
	$(CHECKOV) --quiet --compact --skip-download -f template.yaml --framework cloudformation

# sam build looks for python3.13 on PATH: the SAM venv's own interpreter is one.
# Lambda's /opt is read-only: without bytecode in the layer every cold start recompiles what it
# imports (~1.4 s, docs/benchmarks.md). Compile with the runtime's Python, hash-based so the build
# stays reproducible.
build: $(SAM)
	PATH="$(CURDIR)/$(SAM_VENV)/bin:$$PATH" $(SAM) build
	$(SAM_VENV)/bin/python -m compileall -q -j 0 --invalidation-mode unchecked-hash .aws-sam/build/CommonLayer/python

# Plain CloudFormation for a service-managed StackSet (StackSets cannot run the SAM transform).
stackset-template: build
	$(SAM_VENV)/bin/python tools/stackset_template.py
	$(SAM_VENV)/bin/cfn-lint .aws-sam/stackset/template.json

CONFIG_ENV ?= default
# An environment that still holds samconfig.toml's example IDs is refused before anything is built.
deploy: deploy-config build
	$(SAM) deploy --config-env $(CONFIG_ENV)

deploy-config:
	$(PYTHON) tools/check_samconfig.py --config-env $(CONFIG_ENV)

FUNCTION ?= RepairRoutesFunction
EVENT ?= events/repair_routes__DeleteRoute.json
invoke: build
	$(SAM) local invoke $(FUNCTION) -e $(EVENT)

# Cloud Custodian, for the sweep comparison only: its own venv, its boto3 pin never meets .venv's.
$(C7N): tools/requirements-c7n.lock | $(UV)
	$(call uv-env,$(C7N_VENV),tools/requirements-c7n.lock)
	touch $(C7N)

# BENCH_SIZE=tiny|small|full (full adds the 1,000-VPC world: ~10 minutes). Run 'make build' first to
# measure sam's own layer; without it the layer is rebuilt with pip install --target.
BENCH_SIZE ?= small
bench: $(STAMP) $(C7N)
	$(PY) -m benchmarks --size $(BENCH_SIZE)
	$(PY) -m benchmarks.why

clean:
	rm -rf $(VENV) .tools .aws-sam .pytest_cache .mypy_cache .ruff_cache
