# Set-up and the two entry points: `make demo` and `make test`.
# Everything is installed into .venv, pinned (requirements.lock), torch first
# (torch==2.13.0 CPU wheel), with --no-deps so no resolver can pull CUDA wheels.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.brainalign-installed
export BRAINALIGN_DATA ?= $(abspath ../shared/data)

.PHONY: install test demo bench lint clean

install: $(STAMP)

$(STAMP): pyproject.toml requirements.lock Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip setuptools wheel
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q --no-deps -r requirements.lock
	$(BIN)/python -m pip install -q --no-deps --no-build-isolation -e .
	@# torchaudio here is a CUDA build whose compiled libraries do not load against
	@# the CPU torch; without them it falls back to pure Python (enough for braindecode).
	@if ! $(BIN)/python -c "import torchaudio" >/dev/null 2>&1; then \
		echo "torchaudio: removing CUDA-only compiled libraries"; \
		rm -f $(VENV)/lib/python3*/site-packages/torchaudio/lib/*.so; \
	fi
	$(BIN)/python -c "import torch, torchaudio, braindecode, mne, brainalign; print('installed: torch', torch.__version__, '| braindecode', braindecode.__version__, '| mne', mne.__version__)"
	touch $(STAMP)

lint: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

test: install
	$(BIN)/python -m pytest -q -p no:cacheprovider

demo: install
	$(BIN)/brainalign demo --out demo_out

bench: install
	$(BIN)/python benchmarks/bench_cache.py
	$(BIN)/brainalign bench

clean:
	rm -rf $(VENV) demo_out
