# Two commands reproduce and test the study (see README, Quickstart):
#   make reproduce   # environment from the lock (first time), then the DVC pipeline -> reports/
#   make test        # the test suite (excludes tests marked slow)
# Everything is installed into a project-local .venv; nothing global.

PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
UV_VERSION := 0.13.9
export PATH := $(BIN):$(PATH)
export PYTHONHASHSEED := 0
# Cache bytecode: every stage and test starts Python processes; without .pyc files each import of
# pandas/scipy/statsmodels recompiles from source (about 3 s vs 9 s per process here).
unexport PYTHONDONTWRITEBYTECODE
export MPLBACKEND := Agg
# Small regressions in many parallel workers: BLAS threads only oversubscribe the cores.
export OPENBLAS_NUM_THREADS := 1

.PHONY: reproduce exp test test-slow bench verify publish env lock lab learn clean

$(VENV)/.installed: uv.lock pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "Python 3.11 is required (set PYTHON=...)")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	$(BIN)/uv sync --frozen --compile-bytecode --python $(BIN)/python
	@touch $@

env: $(VENV)/.installed  ## build .venv from uv.lock

reproduce: env  ## run the whole study: data -> estimates -> figures -> report
	dvc repro
	@# reports/ is a record of the run (commit, runtimes, hardware), not a DVC out (see dvc.yaml):
	@# on a fresh clone DVC finds the report stage up to date, so render it when it is missing.
	@test -f reports/en/report.pdf -a -f reports/zh/report.pdf || dvc repro --force --single-item report
	@echo "Reports: reports/en/report.html, reports/en/report.pdf, reports/zh/report.html, reports/zh/report.pdf"

# An experiment with this Makefile's environment (PATH to .venv/bin, PYTHONHASHSEED, threads), in
# any shell: make exp ARGS="-S 'notebooks.rail_links.window=[-4,4]'"
exp: env  ## run a DVC experiment: make exp ARGS="-S key=value ..." (params.yaml keeps its layout)
	analysis exp $(ARGS)

test: env  ## the default test suite (under 15 minutes on 2 cores)
	pytest -n 2 --dist loadfile -m "not slow"

test-slow: env  ## Monte Carlo and other slow checks
	pytest -n 2 --dist loadfile -m slow

bench: env  ## benchmarks: speed ratios against peer packages measured in the same run
	for f in benchmarks/bench_*.py; do echo "== $$f"; python $$f || exit 1; done

verify: env  ## compare this run's results with the committed published results (non-zero exit on a mismatch)
	analysis verify --published results/published --fresh output

publish: env  ## record this run's results as the published reference (then commit results/published)
	analysis publish --fresh output --published results/published

lock:  ## re-resolve the lock after editing pyproject.toml; regenerates requirements.lock and environment.yml
	$(BIN)/uv lock
	$(BIN)/python tools/export_lock.py

lab: env  ## open the notebooks in JupyterLab (as root, e.g. in a container, with --allow-root)
	jupyter lab $(if $(filter 0,$(shell id -u)),--allow-root) notebooks/

learn: env  ## execute the learning notebooks (notebooks/learn/) into output/learn/*.ipynb and .html
	python -m analysis.studies.tutorials

clean:  ## remove pipeline products (data/interim, data/processed, output, reports)
	rm -rf data/interim/*.csv data/interim/environment.txt data/processed/* output reports/en reports/zh
