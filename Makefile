# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
# Every step is idempotent: a second run only checks stamps and returns in seconds.

PYTHON ?= python3.11
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check
# Rebuilt when pyproject.toml changes; downloads and built wheels (llama-cpp-python takes ~7 min
# to compile once) stay in pip's cache under ~/.cache/pip, shared by every clone on the machine.
INSTALLED := $(VENV)/.installed
# llama.cpp is compiled for this CPU (-march=native), but without its AMX kernels: in llama-cpp-python
# 0.3.36 they crash (SIGSEGV in ggml_backend_amx_mul_mat) on the Xeons that have AMX, CI's among them.
NO_AMX := -mno-amx-tile -mno-amx-int8 -mno-amx-bf16
export CMAKE_ARGS ?= -DCMAKE_C_FLAGS="$(NO_AMX)" -DCMAKE_CXX_FLAGS="$(NO_AMX)"
LLAMA_PIN = $$(grep -o 'llama-cpp-python==[0-9.]*' pyproject.toml)
PYTEST_ARGS ?=

.PHONY: install models index run test test-unit lint eval clean help browser system-packages bench-load

help:
	@echo "make run    set up everything missing, then serve on http://127.0.0.1:8000"
	@echo "make test   set up everything missing, then run all tests (slow real-model ones too)"
	@echo "make test-unit   the unit tier only: no models, servers, processes or browser (under a minute)"
	@echo "make lint   ruff and mypy (CI runs it before the tests)"
	@echo "make models | make index | make eval | make bench-load | make clean"

$(PY):
	$(PYTHON) -m venv $(VENV)

$(INSTALLED): pyproject.toml | $(PY)
	$(PIP) install --quiet --upgrade pip
	# CPU torch first: on these machines torch==2.13.0 is a local file; a bare `torch` pulls CUDA.
	$(PIP) install --quiet "torch==2.13.0"
	$(PIP) install --quiet -e ".[dev]"
	# pip's wheel cache does not key on CMAKE_ARGS: a wheel it built earlier with AMX kernels is rebuilt once.
	@if grep -qs ggml_backend_amx_mul_mat $(VENV)/lib/python3*/site-packages/llama_cpp/lib/libggml-cpu.so; then \
		echo "rebuilding llama-cpp-python without AMX kernels (~4 min)"; \
		$(PIP) cache remove 'llama_cpp_python*' >/dev/null; \
		$(PIP) install --quiet --force-reinstall --no-deps "$(LLAMA_PIN)"; fi
	touch $@

install: $(INSTALLED)

models: $(INSTALLED)
	$(VENV)/bin/rag models fetch

index: models
	$(VENV)/bin/rag index

run: index
	$(VENV)/bin/rag serve

# Debian packages the tests drive: Chromium through Playwright for the browser tests (no browser download
# at test time; CJK fonts make their screenshots legible), and nginx as the reverse proxy in front of two
# workers (tests/test_scale_out.py). Installed once, as root; elsewhere those tests say what to do.
SYSTEM_PACKAGES := chromium fonts-noto-cjk nginx-light
system-packages:
	@{ command -v chromium && { command -v nginx || [ -x /usr/sbin/nginx ]; }; } >/dev/null 2>&1 \
		|| { [ "$$(id -u)" = 0 ] && apt-get update -qq \
		&& DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(SYSTEM_PACKAGES) >/dev/null; } \
		|| echo "make: could not install $(SYSTEM_PACKAGES) (needs root); the browser and proxy tests need them" >&2

browser: system-packages

# Every tier: unit, integration and slow (docs/testing.md). No -m filter here: CI runs this. The slow tests
# share the bundled corpus's index, built here as `make run` builds it (embedding the corpus once per machine:
# the vectors stay in the embedding cache under ~/.cache/govreport-rag, so a fresh clone rebuilds in seconds).
test: index system-packages
	$(PY) -m pytest $(PYTEST_ARGS)

# The unit tier alone: fakes only, so it needs neither the models nor Chromium.
test-unit: $(INSTALLED)
	$(PY) -m pytest -m unit $(PYTEST_ARGS)

# ruff, then mypy (its settings in pyproject.toml); mypy's cache lives beside the models, outside the clone,
# so a fresh clone on the same machine checks in seconds instead of ~1.5 min.
MYPY_CACHE_DIR ?= $(HOME)/.cache/govreport-rag/mypy
lint: $(INSTALLED)
	$(VENV)/bin/ruff check .
	MYPY_CACHE_DIR=$(MYPY_CACHE_DIR) $(VENV)/bin/mypy

eval: index
	$(PY) -m eval.check_gold
	$(VENV)/bin/rag eval --check

# 16 concurrent answer streams for 4 minutes against a `rag serve` started for the purpose (eval/README.md figures).
bench-load: index
	$(PY) -m bench.load --streams 16 --seconds 240

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache .mypy_cache *.egg-info
