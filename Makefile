# `make serve` runs the server on the embedded models; `make test` runs every check.
# Both create what they need first: the virtual environment, the models, the JS SDK.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
JS := tests/js
SERVE_ARGS ?=
CHROMIUM := /usr/bin/chromium
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: serve test lint typecheck unit bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

# The learned end of turn's model (Smart Turn v3, BSD 2-Clause) ships inside the
# pipecat-ai wheel; only that file (and its licence) is taken out of it, checked against
# its SHA-256, into the environment (src/openlive/backends/smart_turn.py).
PIPECAT := pipecat-ai==1.14.0
TURN_MODEL := $(VENV)/share/openlive/smart-turn-v3.2-cpu.onnx

$(TURN_MODEL): | $(STAMP)
	rm -rf $(VENV)/turn-wheel
	$(BIN)/pip download --quiet --no-deps --only-binary=:all: $(PIPECAT) -d $(VENV)/turn-wheel
	$(BIN)/python -m openlive.backends.smart_turn $(VENV)/turn-wheel/pipecat_ai-*.whl $@
	rm -rf $(VENV)/turn-wheel

$(JS)/node_modules/.installed: $(JS)/package.json $(JS)/package-lock.json
	cd $(JS) && npm ci --silent --no-audit --no-fund
	touch $@

# The real services the tests drive, from Debian's packages: the playground's browser
# (Playwright downloads nothing), and Redis and HAProxy for the cluster tests.
SERVICES := $(CHROMIUM) /usr/bin/redis-server /usr/sbin/haproxy
PACKAGES := chromium redis-server haproxy

$(SERVICES) &:
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $(PACKAGES)

serve: $(STAMP) $(TURN_MODEL)
	$(BIN)/openlive serve $(SERVE_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy src

unit: $(STAMP) $(TURN_MODEL)
	$(BIN)/pytest -m "not e2e"

# Two groups run beside the main run, each in a pytest process of its own, to keep the
# whole run short; their output follows the main run's. The install test (a wheel built
# and installed in a new virtual environment, most of it pip's own work) runs at the
# lowest CPU priority. The spoken-language tests below stream recordings at real time
# (most of their time is waiting) and compare no timings; they run at a lower priority
# than the main run, which keeps the tests that do.
INSTALL_TEST := tests/e2e/test_install.py
BESIDE := tests/e2e/test_affect.py tests/e2e/test_native.py tests/e2e/test_translation.py \
	tests/e2e/test_voice_activity.py tests/e2e/test_newer_fields.py

test: $(STAMP) $(TURN_MODEL) $(JS)/node_modules/.installed $(SERVICES) lint typecheck
	@install=$$(mktemp); beside=$$(mktemp); \
	nice -n 19 $(BIN)/pytest -q -p no:cacheprovider $(INSTALL_TEST) >$$install 2>&1 & \
	installing=$$!; \
	nice -n 5 $(BIN)/pytest -q -p no:cacheprovider --durations=5 $(BESIDE) >$$beside 2>&1 & \
	besides=$$!; \
	$(BIN)/pytest --durations=15 --ignore=$(INSTALL_TEST) $(addprefix --ignore=,$(BESIDE)); \
	main=$$?; \
	wait $$besides; spoken=$$?; wait $$installing; installed=$$?; \
	echo "--- the spoken-language tests, run beside the rest:"; cat $$beside; \
	echo "--- $(INSTALL_TEST), run beside the rest:"; cat $$install; rm -f $$install $$beside; \
	test $$main -eq 0 -a $$spoken -eq 0 -a $$installed -eq 0

bench: $(STAMP) $(TURN_MODEL)
	$(BIN)/python benchmarks/text_turns.py

clean:
	rm -rf $(VENV) $(JS)/node_modules .pytest_cache .mypy_cache .ruff_cache
