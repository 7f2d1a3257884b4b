# Every target does its own set-up on a fresh machine.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
APT_STAMP := $(VENV)/.apt-installed
# Debian tools the tests drive (mlir-opt for the psg text, graphviz for pictures,
# iverilog and verilator for the Verilog the CIRCT backend exports).
APT_PACKAGES := graphviz mlir-22-tools iverilog verilator

.PHONY: install demo test apt clean mutants bench-install

# install: the virtual environment with the package (editable) and dev extras, plus the Debian tools.
install: $(STAMP) $(APT_STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

apt: $(APT_STAMP)

$(APT_STAMP): $(STAMP)
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(APT_PACKAGES) >/dev/null; \
	else echo "WARNING: not root or no apt-get: Debian packages ($(APT_PACKAGES)) not installed; tests that need them will skip loudly"; fi
	touch $(APT_STAMP)

demo: $(STAMP)
	$(VENV)/bin/nanopass demo

test: install
	$(PY) -m pytest -q -n 2

# Seeded faults in the passes, and which validation check kills each; ends with "killed K/N mutants".
mutants: $(STAMP)
	$(PY) benchmarks/mutants.py

# The benchmarks' peers: Numba from PyPI, clang from Debian (benchmarks/README.md lists each run).
bench-install: $(STAMP)
	$(PY) -m pip install -q -e '.[bench]'
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang >/dev/null; \
	else echo "WARNING: not root or no apt-get: clang not installed; bench_llvm.py leaves out its clang column"; fi

clean:
	rm -rf $(VENV) build *.egg-info
