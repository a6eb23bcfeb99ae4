"""Official benchmark metrics and the shared scoring rules of the training verifiers.

Usage::

    from g2rpo.metrics import METRICS, compute
    compute("anls", response, ["golden gate", "Golden Gate Bridge"]).score
    compute("acc_iou_0.5", response, [577, 232, 899, 786])        # MetricResult(score=…, answer=…)

See the README section "Metrics" for the benchmark → metric → rule table.
"""

from g2rpo.metrics.extraction import EXTRACTION_MODES, extract_answer
from g2rpo.metrics.registry import METRICS, Metric, MetricResult, compute, get_metric, register

__all__ = [
    "EXTRACTION_MODES",
    "METRICS",
    "Metric",
    "MetricResult",
    "compute",
    "extract_answer",
    "get_metric",
    "register",
]
