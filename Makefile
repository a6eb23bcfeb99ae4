# `make test` and `make demo` bootstrap .venv from the exact stack in constraints.txt on a fresh machine
# (pyproject.toml holds only ranges). torch is installed first on its own so that pip takes the pinned CPU wheel.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: test demo ablation lint bench docs clean

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt torch
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks

# pytest exits 5 when it collects no test: that is reported, not hidden, and not a failure.
test: lint
	@OMP_NUM_THREADS=1 $(PY) -m pytest; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; exit 0; fi; exit $$rc

# synth data → tiny Qwen3-VL → cold-start SFT → G2RPO RL → validation → outputs/demo/report.html (≤ 10 min, 2 cores)
demo: $(STAMP)
	OMP_NUM_THREADS=1 $(VENV)/bin/g2rpo demo --out outputs/demo

# the demo's paired ablation (estimators × shaping arms × seeds on the demo world; 21 min on 2 cores, 2 runs at a time)
ablation: $(STAMP)
	OMP_NUM_THREADS=1 $(PY) -m g2rpo.demo.ablation --out outputs/ablation

# docs/configuration.md is generated from the config dataclasses (a test fails when it falls behind).
docs: $(STAMP)
	$(PY) -m g2rpo.config_docs docs/configuration.md

bench: $(STAMP)
	@for f in benchmarks/bench_*.py; do echo "== $$f"; $(PY) $$f || exit 1; done

clean:
	rm -rf $(VENV) outputs .pytest_cache .ruff_cache .hypothesis
