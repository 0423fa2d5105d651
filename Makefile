PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip

.PHONY: demo test lint docs bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.demo: $(BIN)/python pyproject.toml
	$(PIP) install --quiet -e ".[demo]"
	touch $@

$(VENV)/.test: $(BIN)/python pyproject.toml
	$(PIP) install --quiet -e ".[test,demo,dev,docs]"
	touch $@

$(VENV)/.docs: $(BIN)/python pyproject.toml
	$(PIP) install --quiet -e ".[demo,docs]"
	touch $@

# The site, into site/; warnings are errors. A build hook draws the demo's plot into
# docs/assets/ first (both are git-ignored). NO_MKDOCS_2_WARNING silences a banner of
# mkdocs-material about its successor.
MKDOCS := NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

demo: $(VENV)/.demo
	$(BIN)/datapredict demo --plot demo_cost.png

test: $(VENV)/.test
	$(BIN)/ruff check src tests bench examples docs/hooks
	$(BIN)/ruff format --check src tests bench examples docs/hooks
	$(MKDOCS)
	$(BIN)/python -m pytest

docs: $(VENV)/.docs
	$(MKDOCS)

lint: $(VENV)/.test
	$(BIN)/ruff check src tests bench examples docs/hooks
	$(BIN)/ruff format --check src tests bench examples docs/hooks

bench: $(VENV)/.test
	$(PIP) install --quiet -e ".[bench]"
	$(BIN)/python bench/models.py
	$(BIN)/python bench/distributed.py
	$(BIN)/python bench/merge.py
	$(BIN)/python bench/ray_backend.py
	$(BIN)/python bench/simulation.py

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .ruff_cache .hypothesis demo_cost.png \
		site docs/assets
