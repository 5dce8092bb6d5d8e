# plutflow: two commands on a fresh machine, `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
FMNIST := /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz
QEMU   := /usr/bin/qemu-x86_64
CHROMIUM := /usr/bin/chromium
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: demo test bench lint install clean conformance-data

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 10), "plutflow needs Python >= 3.10"'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || { \
	  echo "python venv missing: installing python3-venv"; \
	  apt-get update -qq && apt-get install -y -qq python3-venv && $(PYTHON) -m venv $(VENV); }
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $@

install: $(STAMP) ## create .venv and install plutflow with its dev tools

demo: $(STAMP) ## quantize and run the bundled model
	$(BIN)/plutflow demo

test: $(STAMP) $(QEMU) ## lint (Python, RTL, the contract's generated views), the 250 MHz check, the tests
	$(BIN)/ruff check host tests bench scripts sim overlay_src
	$(BIN)/python -m plutflow.overlay.contract
	$(MAKE) -C overlay_src lint
	$(BIN)/python -m pytest -n 2 -q

lint: $(STAMP)
	$(BIN)/ruff check host tests bench scripts sim overlay_src
	$(BIN)/ruff format --check host tests bench scripts sim
	$(MAKE) -C overlay_src lint

$(QEMU): # runs the fast engine's tests on an emulated CPU without AVX-512
	apt-get update -qq && apt-get install -y -qq qemu-user

$(FMNIST):
	apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist

$(CHROMIUM): # renders the HTML report for bench/first_hour.py's screenshot
	apt-get update -qq && apt-get install -y -qq chromium

bench: $(STAMP) $(FMNIST) $(CHROMIUM) ## accuracy on the full test set, speed vs onnxruntime, slow tests
	$(BIN)/python -m pytest -q -m slow
	$(BIN)/python bench/foundation.py
	$(BIN)/python bench/lowbit.py
	$(BIN)/python bench/rtl_engine.py
	$(BIN)/python bench/runtime.py
	$(BIN)/python bench/overlay_v2.py
	$(BIN)/python bench/byom.py
	$(BIN)/python bench/mobilenet.py
	$(BIN)/python bench/fast_host.py
	$(BIN)/python bench/hardening.py
	$(BIN)/python bench/sweep.py
	$(BIN)/python bench/first_hour.py
	$(MAKE) -C overlay_src timing-board

clean:
	rm -rf $(VENV) build .pytest_cache .ruff_cache .hypothesis
