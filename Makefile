# Two commands do all set-up on a fresh machine (Python 3.11+):
#   make run    create .venv, install, run the whole workflow on the embedded demo dataset
#   make test   create .venv, install, run ruff and mypy (make lint), then the test suite
# The model is downloaded from its pinned URL; set CROPAUDIT_FASTGAZE=/path/to/fastgaze.vxm
# to use a local copy instead (offline machines, CI).

PYTHON ?= python3
VENV   ?= .venv
CORES  ?= 2
BIN    := $(VENV)/bin
EXTRAS ?= cpu,dev

.PHONY: setup run test test-fast test-cluster lint clean-results wheel

setup: $(VENV)/.installed $(VENV)/.libwebp

# libwebp with the original program's rescaler rounding, so WebP inputs decode bit for bit
# like it (scripts/build_libwebp.sh; README, fidelity table). Best effort: without apt
# sources or a compiler the system's libwebp is used (near-exact) and the engine says so.
$(VENV)/.libwebp: $(VENV)/.installed scripts/build_libwebp.sh third_party/libwebp/ab2dc893-rescaler-rounding.patch
	scripts/build_libwebp.sh $(VENV)/lib/cropaudit-libwebp \
	  || echo "setup: warning: WebP inputs will use the system's libwebp (near-exact, see README)"
	touch $@

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -qq --upgrade "pip>=24,<27"
	$(BIN)/python -m pip install -qq -c constraints.txt -e ".[$(EXTRAS)]"
	touch $@

# The wheel that carries the workflow (docs/api.md): dist/cropaudit-*.whl and the sdist.
# --no-isolation builds with this environment's setuptools (dev extra), so it works offline.
wheel: setup
	rm -rf build
	$(BIN)/python -m build --no-isolation --outdir dist .

run: setup   # a progress bar and a summary on the console; each job's output in logs/
	$(BIN)/snakemake --cores $(CORES) --logger rich

test: lint   # the gates first: a lint or type error fails the run before any test
	$(BIN)/python -m pytest -q

test-fast: lint   # skips the end-to-end runs of snakemake / dvc / mlflow (marked slow)
	$(BIN)/python -m pytest -q -m "not slow"

# Slurm, MLflow on PostgreSQL + S3, DVC on S3 (README "Scaling out"); needs the [scale] extra,
# and root with Debian's slurm-wlm, munge and postgresql, else the tests skip with the reason
test-cluster: setup
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[scale]"
	$(BIN)/python -m pytest -q -m cluster

lint: setup   # style (ruff, [tool.ruff]) and types (mypy on src/cropaudit, [tool.mypy])
	$(BIN)/ruff check src tests
	$(BIN)/mypy

clean-results:
	rm -rf results logs models/.tmp* .snakemake/log

# `snakemake --lint` must find nothing but its conda/container advice (README, "Software
# environment"); the same check runs in the test suite.
.PHONY: lint-workflow
lint-workflow: setup
	$(BIN)/python -m pytest -q tests/test_workflow_lint.py
