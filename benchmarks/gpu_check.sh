#!/usr/bin/env bash
# One GPU, the machine's own torch/transformers; wheels/*.whl (if carried: trl & co., see README) go to outputs/gpu_check_deps first.
# PYTHON names the interpreter that holds torch (default: python3), e.g. PYTHON=/opt/torch/.venv/bin/python3.
PY="${PYTHON:-python3}"
cd "$(dirname "$0")/.." && { ! ls wheels/*.whl >/dev/null 2>&1 || "$PY" -m pip install -q --no-index --no-deps --upgrade --target outputs/gpu_check_deps wheels/*.whl; } && PYTHONPATH="src:outputs/gpu_check_deps${PYTHONPATH:+:$PYTHONPATH}" exec "$PY" benchmarks/gpu_check.py "$@"
