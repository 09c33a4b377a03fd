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
DIST := dist
# The release build is the wheel's: for an explicit target triple, linked by zig against
# glibc 2.17 (manylinux2014). `install-release` installs it as an editable wheel (the
# extension beside the Python sources, as `maturin develop` places it, which has no
# zig), so that `make wheel` finds every artifact fresh in the same target directory.
# Both run the development virtualenv's maturin: zig's linker wrapper is named after the
# maturin that runs it, and another wrapper would make cargo rebuild everything.
RELEASE_MATURIN = CARGO_TARGET_DIR=$(PY_TARGET) PATH="$(abspath $(BIN)):$$PATH" $(BIN)/maturin
RELEASE_ARGS := --profile release --zig --compatibility manylinux2014
EDITABLE := $(PY_TARGET)/editable
# The oldest and the newest Python that `requires-python` admits, for `make smoke`; the
# oldest gets the oldest versions that the declared dependencies admit, the newest the
# newest.
SMOKE_PYTHONS ?= 3.10 3.13
SMOKE_OLDEST ?= polars==1.44.2 numpy==1.26.4
SMOKE_DIR ?= $(or $(TMPDIR),/tmp)/polars-gumbel-smoke

.DEFAULT_GOAL := help

help: ## Show this help
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | \
		awk 'BEGIN {FS = ":.*## "}; {printf "  %-16s %s\n", $$1, $$2}'

venv: $(VENV)/.installed ## Create the virtualenv with the pinned packages

PIP := -m pip install --quiet --disable-pip-version-check

$(VENV)/.installed: requirements-dev.txt requirements-docs.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python $(PIP) -r requirements-dev.txt
	touch $@

install: venv ## Build the extension (debug) into the virtualenv
	CARGO_TARGET_DIR=$(PY_TARGET) VIRTUAL_ENV=$(abspath $(VENV)) $(BIN)/maturin develop --quiet

install-release: venv ## Build the extension (release, as the wheel) into the virtualenv
	rm -rf $(EDITABLE)
	$(RELEASE_MATURIN) pep517 build-wheel --quiet --editable -i $(abspath $(BIN))/python \
		$(RELEASE_ARGS) --out $(EDITABLE)
	$(BIN)/python $(PIP) --no-deps --force-reinstall $(EDITABLE)/*.whl

test: install-release ## Run the Rust tests and the pytest suite
	cargo test
	$(BIN)/python -m pytest

accuracy: install-release ## ln and exp against the platform's: every f32 and 10^8 random f64 inputs (release build)
	CARGO_TARGET_DIR=$(PY_TARGET) cargo test --release --lib fastmath

test-compat: install-release ## Run the pytest suite with the oldest supported Python polars
	$(PYTHON) -m venv $(COMPAT_VENV)
	# The pinned packages but Polars; an included file keeps its path from here.
	sed -e '/^polars==/d' -e 's|^-r |-r $(CURDIR)/|' requirements-dev.txt > $(COMPAT_VENV)/requirements.txt
	echo 'polars==1.44.2' >> $(COMPAT_VENV)/requirements.txt
	$(COMPAT_VENV)/bin/python $(PIP) -r $(COMPAT_VENV)/requirements.txt
	$(COMPAT_VENV)/bin/python $(PIP) --no-deps --force-reinstall $(EDITABLE)/*.whl
	$(COMPAT_VENV)/bin/python -m pytest -q -p no:cacheprovider

lint: venv ## rustfmt, clippy -D warnings, ruff, mypy --strict
	cargo fmt --check
	cargo clippy --all-targets --features python -- -D warnings
	$(BIN)/ruff check python tests benches examples docs/hooks.py
	$(BIN)/ruff format --check python tests benches examples docs/hooks.py
	$(BIN)/mypy

format: venv ## Format the Rust and Python sources
	cargo fmt
	$(BIN)/ruff format python tests benches examples docs/hooks.py
	$(BIN)/ruff check --fix python tests benches examples docs/hooks.py

bench: install-release ## Criterion benches and the side-by-side comparison (WITH_PEERS=1 adds PyTorch and JAX)
	@if [ -n "$(WITH_PEERS)$(WITH_TORCH)" ]; then $(BIN)/python -m pip install --quiet -r requirements-bench.txt; fi
	cargo bench --bench kernels
	$(BIN)/python benches/compare.py

demo: install-release ## Fit, encode, generate and decode the bundled Adult table
	$(BIN)/polars-gumbel demo

docs: venv ## Build the documentation site into site/ (mkdocs --strict: a warning is an error)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

docs-test: install-release ## Run the pages' Python blocks and the browser tests of the built site
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/test_docs.py

docs-serve: venv ## Serve the documentation site on localhost:8000, rebuilt on every change
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve

wheel: venv ## Build the abi3 wheel for manylinux2014 (glibc 2.17) with zig into dist/, and check it with auditwheel
	rm -f $(DIST)/*.whl
	$(RELEASE_MATURIN) build $(RELEASE_ARGS) --out $(DIST)
	ls $(DIST)/*-cp39-abi3-*manylinux_2_17_x86_64*.whl
	$(BIN)/auditwheel show $(DIST)/*.whl | tee $(DIST)/auditwheel.txt
	grep -q 'consistent with the following platform tag' $(DIST)/auditwheel.txt
	grep -q '"manylinux_2_17_x86_64"' $(DIST)/auditwheel.txt
	$(BIN)/abi3audit --strict --summary $(DIST)/*.whl

sdist: venv ## Build the source distribution into dist/
	rm -f $(DIST)/*.tar.gz
	$(BIN)/maturin sdist --out $(DIST)

# In each fresh virtualenv: the wheel and its declared dependencies only, then the
# package's import, the README's usage block, the demo and a streaming round trip of
# the command line (tests/smoke.py). A machine without one of those Pythons skips it,
# saying so; one with neither runs the smoke test on $(PYTHON).
smoke: ## Install the wheel alone into fresh virtualenvs of the oldest and newest Python, and run the README, the demo and the command line there
	@set -euo pipefail; \
	wheel=$$(ls $(DIST)/*.whl); oldest="$(SMOKE_OLDEST)"; ran=0; \
	for version in $(SMOKE_PYTHONS) default; do \
		pins=$$oldest; oldest=; \
		if [ $$version = default ]; then \
			if [ $$ran = 1 ]; then break; fi; \
			echo "smoke: none of Python $(SMOKE_PYTHONS) here; $(PYTHON) instead" >&2; \
			python=$(PYTHON); pins=; \
		elif python$$version -c pass 2>/dev/null; then python=python$$version; \
		elif command -v pyenv >/dev/null && found=$$(pyenv versions --bare | grep -E "^$${version//./\\.}\.[0-9]+$$" | tail -1) && [ -n "$$found" ]; then \
			python=$$(pyenv prefix $$found)/bin/python; \
		else echo "smoke: no Python $$version here: skipped" >&2; continue; fi; \
		ran=1; env=$(SMOKE_DIR)/py$$version; rm -rf $$env; \
		echo "smoke: Python $$version ($$($$python -c 'import sys; print(sys.version.split()[0])'))"; \
		$$python -m venv $$env; \
		$$env/bin/python $(PIP) $$wheel $$pins; \
		$$env/bin/python -m pip list --disable-pip-version-check --format=freeze | tr '\n' ' '; echo; \
		$$env/bin/python tests/smoke.py README.md; \
	done

clean: ## Remove build products and virtualenvs
	cargo clean
	rm -rf $(VENV) $(COMPAT_VENV) $(DIST) site python/polars_gumbel/*.so .pytest_cache .mypy_cache .ruff_cache

.PHONY: help venv install install-release test test-compat accuracy lint format bench demo docs docs-test docs-serve wheel sdist smoke clean
