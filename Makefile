# exchange-bridge -- common tasks. `make` alone lists them.

PYTHON ?= python3
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help install test demo lint kafka tools bench

help: ## list the targets
	@echo "make targets:"
	@awk 'BEGIN { FS = ":.*## " } /^[a-z][a-z-]*:.*## / { printf "  %-8s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

install: ## pip install -e '.[test]'
	$(PYTHON) -m pip install -e '.[test]'

# `make test` works right after a clone: it installs first if the package or the
# test dependencies are missing, then installs the tools tests/deploy runs (`make
# tools`, quick when they are there), so that no test is skipped for want of a tool.
# Any pytest failure fails make, including exit code 5 (no tests collected).
test: ## run the test suite (installs the package, test dependencies and tools first if needed)
	@$(PYTHON) -c 'import importlib.metadata as m; m.version("exchange-bridge"); import bridge, aiokafka, avro, pytest_asyncio, pytest_timeout, confluent_kafka' 2>/dev/null \
		|| $(MAKE) --no-print-directory install
	@$(MAKE) --no-print-directory tools || { echo "make test: the tools tests/deploy needs" \
		"could not be installed (see above). \`$(PYTHON) -m pytest\` runs the tests without" \
		"them: the ones that need them are skipped." >&2; exit 1; }
	$(PYTHON) -m pytest -q $(PYTEST_ARGS)

demo: ## run the demo (simulators + sandbox Kafka + bridge; installs first if needed)
	@$(PYTHON) -c 'import importlib.metadata as m; m.version("exchange-bridge"); import bridge, aiokafka, avro, cryptography' 2>/dev/null \
		|| $(MAKE) --no-print-directory install
	$(PYTHON) -m bridge demo

lint: ## ruff + mypy (each only if installed: pip install -e '.[dev]')
	@if $(PYTHON) -m ruff --version >/dev/null 2>&1; then \
		echo "$(PYTHON) -m ruff check . && $(PYTHON) -m ruff format --check ."; \
		$(PYTHON) -m ruff check . && $(PYTHON) -m ruff format --check .; \
	else echo "ruff is not installed; skipped (pip install -e '.[dev]')"; fi
	@if $(PYTHON) -m mypy --version >/dev/null 2>&1; then \
		echo "$(PYTHON) -m mypy"; $(PYTHON) -m mypy; \
	else echo "mypy is not installed; skipped (pip install -e '.[dev]')"; fi

kafka: ## run the sandbox Kafka broker in the foreground (Ctrl-C stops it)
	$(PYTHON) -m bridge.sandbox.kafka --run

# No root needed: helm (built with go), prometheus and promtool (Debian's package, fetched
# with apt-get download) go to ~/.cache/exchange-bridge/bin unless they are on PATH; the
# Prometheus Operator CRDs to Go's module cache. See tests/deploy/install-tools.sh.
tools: ## install helm, prometheus, promtool and CRDs for tests/deploy (no root; cached)
	@bash tests/deploy/install-tools.sh

# Not part of `make test`: about 9 minutes on 2 cores (BENCH_ARGS=--quick: about 4; the bridge
# against cryptofeed alone, BENCH_ARGS="--quick --only cryptofeed": about 1.5).
BENCH_ARGS ?=
bench: ## benchmarks against ceilings, a baseline and cryptofeed (docs/PERFORMANCE.md)
	@$(PYTHON) -c 'import bridge, matplotlib, cryptography, cryptofeed' 2>/dev/null \
		|| $(PYTHON) -m pip install -e '.[bench]'
	$(PYTHON) -m bench.perf --json bench/perf/last-run.json --plot docs/performance/latency.png $(BENCH_ARGS)
