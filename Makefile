# `make test` and `make demo` bootstrap .venv from pinned dependencies on a fresh machine.
# torch is installed first on its own so that pip takes the pinned CPU wheel.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: test demo lint bench clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks

# pytest exits 5 when it collects no test: that is reported, not hidden, and not a failure.
test: lint
	@OMP_NUM_THREADS=1 $(PY) -m pytest; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; exit 0; fi; exit $$rc

# synth data → tiny Qwen3-VL → cold-start SFT → G2RPO RL → validation → outputs/demo/report.html (≤ 10 min, 2 cores)
demo: $(STAMP)
	OMP_NUM_THREADS=1 $(PY) -m g2rpo.demo.pipeline --out outputs/demo

bench: $(STAMP)
	@for f in benchmarks/bench_*.py; do echo "== $$f"; $(PY) $$f || exit 1; done

clean:
	rm -rf $(VENV) outputs .pytest_cache .ruff_cache .hypothesis
