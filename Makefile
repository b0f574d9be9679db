# The two commands of the README.  Each does its own (idempotent) set-up:
# a virtual environment in .venv with the CPU torch pin and tcltorch installed.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.tcltorch-installed
SOURCES := pyproject.toml setup.py constraints.txt $(wildcard tcltorch/bridge/*.c tcltorch/bridge/build_*.py) \
           $(wildcard tcltorch/optim/*.c tcltorch/optim/*.h tcltorch/optim/build_*.py)

.PHONY: demo demo-dist demo-lm test bench setup clean

setup: $(STAMP)

$(STAMP): $(SOURCES)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	PIP_CONSTRAINT=$(CURDIR)/constraints.txt $(PY) -m pip install -q -e '.[test]'
	$(PY) -m compileall -q tcltorch  # an editable install compiles no bytecode (start-up)
	touch $@

# The main job: train a network from a Tcl script in a real tclsh.
# A second run resumes from checkpoints/digits.ckpt; e.g. `make demo ARGS="--epochs 30"`.
demo: $(STAMP)
	TCLLIBPATH="$$($(PY) -m tcltorch --tcl-path)" tclsh examples/train_digits.tcl $(ARGS)

# The same training on two processes on this machine, started by torchrun (gloo on the CPU).
demo-dist: $(STAMP)
	TCLLIBPATH="$$($(PY) -m tcltorch --tcl-path)" OMP_NUM_THREADS=1 $(VENV)/bin/torchrun --standalone \
	    --nproc-per-node 2 --no-python tclsh examples/train_digits.tcl --fresh \
	    --checkpoint checkpoints/digits-dist.ckpt $(ARGS)

# A character-level transformer LM trained with Adafactor on Tcl's own library sources;
# resumes from checkpoints/lm.ckpt, e.g. `make demo-lm ARGS="--steps 600"` or `ARGS=--fresh`.
demo-lm: $(STAMP)
	TCLLIBPATH="$$($(PY) -m tcltorch --tcl-path)" tclsh examples/train_lm.tcl $(ARGS)

# Every test: pytest, which also runs the tcltest suites in tests/tcl with tclsh.
test: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider tests

bench: $(STAMP)
	$(PY) benchmarks/bridge_overhead.py
	$(PY) benchmarks/train_loop.py
	$(PY) benchmarks/loop_goals.py
	$(PY) benchmarks/adafactor_step.py
	$(PY) benchmarks/adafactor_floor.py
	$(PY) benchmarks/lm_demo.py
	$(PY) benchmarks/data_load.py

clean:
	rm -rf $(VENV) build *.egg-info tcltorch/*.so tcltorch/optim/*.so
