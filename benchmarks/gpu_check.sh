#!/usr/bin/env bash
# One GPU, the machine's own torch/transformers; wheels/*.whl (if carried: trl & co., see README) go to outputs/gpu_check_deps first.
cd "$(dirname "$0")/.." && { ! ls wheels/*.whl >/dev/null 2>&1 || python -m pip install -q --no-index --no-deps --target outputs/gpu_check_deps wheels/*.whl; } && PYTHONPATH="src:outputs/gpu_check_deps${PYTHONPATH:+:$PYTHONPATH}" exec python benchmarks/gpu_check.py "$@"
