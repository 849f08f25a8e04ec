# The two commands that matter: `make demo` and `make test`. Both create .venv when missing.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Dev/CI installs pin the CPU wheel of torch; GPU users install their own torch first (TORCH_SPEC=torch).
TORCH_SPEC ?= torch==2.13.0
LTX_PIPELINES_HOME ?= $(CURDIR)/.ltx
export LTX_PIPELINES_HOME
DEMO_DATASET := $(LTX_PIPELINES_HOME)/datasets/neon-shapes
STAMP := $(VENV)/.installed

.PHONY: install browser demo test lint ui mlflow-ui bench bench-frames clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "$(TORCH_SPEC)"
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev,deploy]'
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/ltx-pipelines demo-data $(DEMO_DATASET) --recipe
	$(BIN)/ltx-pipelines build-model demo-ltx-video
	printf 'DAGSTER_HOME=%s\nLTX_PIPELINES_HOME=%s\n' "$(LTX_PIPELINES_HOME)/dagster" "$(LTX_PIPELINES_HOME)" > .env
	$(BIN)/ltx-pipelines materialize --dataset $(DEMO_DATASET)

# Headless Chromium for the web UI test's screenshot (Debian's package). Best effort: without it (no root, no apt)
# that one check is skipped with a message; everything else runs.
browser:
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
		(apt-get install -y -qq chromium >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)) ; } \
		|| echo "chromium not installed: the web UI screenshot will be skipped"

test: install browser
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .

ui: install
	DAGSTER_HOME=$(LTX_PIPELINES_HOME)/dagster $(BIN)/dagster dev -w workspace.yaml

mlflow-ui: install
	$(BIN)/mlflow ui --backend-store-uri sqlite:///$(LTX_PIPELINES_HOME)/mlflow.db

bench-frames: install
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev,bench]'
	$(BIN)/python -m bench.frame_extraction

bench: bench-frames

clean:
	rm -rf $(LTX_PIPELINES_HOME) .env
