"""Official benchmark metrics and the shared scoring rules of the training verifiers.

Usage::

    from g2rpo.metrics import METRICS, compute
    compute("anls", response, ["golden gate", "Golden Gate Bridge"])
    compute("acc_iou_0.5", response, [577, 232, 899, 786])        # Qwen3-VL 0–1000 boxes

See the README section "Metrics" for the benchmark → metric → rule table.
"""

from g2rpo.metrics.extraction import EXTRACTION_MODES, extract_answer
from g2rpo.metrics.registry import METRICS, Metric, compute, get_metric, register

__all__ = ["EXTRACTION_MODES", "METRICS", "Metric", "compute", "extract_answer", "get_metric", "register"]
