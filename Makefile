# The two commands a fresh machine needs: `make demo` and `make test`.
# Each builds what it needs from nothing: a virtualenv with pinned packages and the
# release build of the extension.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Separate target directories: the extension (with pyo3) and the pure-Rust tests
# compile polars with different features, and would otherwise rebuild each other.
PY_TARGET := target/python
COMPAT_VENV := .venv-compat

.DEFAULT_GOAL := help

help: ## Show this help
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | \
		awk 'BEGIN {FS = ":.*## "}; {printf "  %-16s %s\n", $$1, $$2}'

venv: $(VENV)/.installed ## Create the virtualenv with the pinned packages

PIP := -m pip install --quiet --disable-pip-version-check

$(VENV)/.installed: requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python $(PIP) -r requirements-dev.txt
	touch $@

install: venv ## Build the extension (debug) into the virtualenv
	CARGO_TARGET_DIR=$(PY_TARGET) VIRTUAL_ENV=$(abspath $(VENV)) $(BIN)/maturin develop --quiet

install-release: venv ## Build the extension (release) into the virtualenv
	CARGO_TARGET_DIR=$(PY_TARGET) VIRTUAL_ENV=$(abspath $(VENV)) $(BIN)/maturin develop --release --quiet

test: install-release ## Run the Rust tests and the pytest suite
	cargo test
	$(BIN)/python -m pytest

test-compat: install-release ## Run the pytest suite with the oldest supported Python polars
	$(PYTHON) -m venv $(COMPAT_VENV)
	grep -v '^polars==' requirements-dev.txt > $(COMPAT_VENV)/requirements.txt
	echo 'polars==1.44.2' >> $(COMPAT_VENV)/requirements.txt
	$(COMPAT_VENV)/bin/python $(PIP) -r $(COMPAT_VENV)/requirements.txt
	CARGO_TARGET_DIR=$(PY_TARGET) VIRTUAL_ENV=$(abspath $(COMPAT_VENV)) \
		$(COMPAT_VENV)/bin/maturin develop --release --quiet
	$(COMPAT_VENV)/bin/python -m pytest -q -p no:cacheprovider

lint: venv ## rustfmt, clippy -D warnings, ruff, mypy --strict
	cargo fmt --check
	cargo clippy --all-targets --features python -- -D warnings
	$(BIN)/ruff check python tests benches examples
	$(BIN)/ruff format --check python tests benches examples
	$(BIN)/mypy

format: venv ## Format the Rust and Python sources
	cargo fmt
	$(BIN)/ruff format python tests benches examples
	$(BIN)/ruff check --fix python tests benches examples

bench: install-release ## Criterion benches and the side-by-side comparison (WITH_PEERS=1 adds PyTorch and JAX)
	@if [ -n "$(WITH_PEERS)$(WITH_TORCH)" ]; then $(BIN)/python -m pip install --quiet -r requirements-bench.txt; fi
	cargo bench --bench kernels
	$(BIN)/python benches/compare.py

demo: install-release ## Fit, encode, generate and decode the bundled Adult table
	$(BIN)/polars-gumbel demo

clean: ## Remove build products and virtualenvs
	cargo clean
	rm -rf $(VENV) $(COMPAT_VENV) python/polars_gumbel/*.so .pytest_cache .mypy_cache .ruff_cache

.PHONY: help venv install install-release test test-compat lint format bench demo clean
