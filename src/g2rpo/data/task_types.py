"""Map the task names found in data sets onto g2rpo's six task families (recipe §2).

Records name their task family in a ``task_type`` field (the authors' schema) or a ``task`` field (ours).
:func:`canonical_task` accepts the six family names, the authors' six ``task_type`` names and the aliases of
``TASK_TYPE_ALIASES`` below. Matching ignores case, and ``_``, ``-``, ``/`` and spaces are equivalent. An unknown
name is an error listing the six family names.

| task family | accepted `task` / `task_type` spellings (besides the family name) |
|---|---|
| spatial_grounding | grounding, visual grounding, referring, rec, refcoco, detection, bbox, localization |
| spatial_reasoning | spatial, spatial vqa, embodied, embspatial, robospatial, refspatial, 3d, counting |
| general_vqa | general_vqa_science_stem, general, vqa, image qa, general qa, knowledge, science, science stem, mmmu, perception |
| math | math_reasoning, math vqa, mathematics, math reasoning, geometry, mathvista, mathverse |
| chart | chart_figure_qa, chart qa, chartqa, charts, diagram, table, figure, figure qa, infographic chart |
| ocr_document | ocr, document, doc, docvqa, doc vqa, text recognition, infovqa, infographic, textvqa |

The authors' released data uses exactly six ``task_type`` names (``AUTHORS_TASK_TYPES``): ``spatial_grounding``,
``spatial_reasoning``, ``general_vqa_science_stem``, ``math_reasoning``, ``chart_figure_qa`` and ``ocr``. The other
aliases are the names of the paper's data mixture and benchmarks. Add a spelling by extending
``TASK_TYPE_ALIASES``.
"""

from __future__ import annotations

from g2rpo.tasks import TASK_FAMILIES, normalise_name

AUTHORS_TASK_TYPES: dict[str, str] = {
    "spatial_grounding": "spatial_grounding",
    "spatial_reasoning": "spatial_reasoning",
    "general_vqa_science_stem": "general_vqa",
    "math_reasoning": "math",
    "chart_figure_qa": "chart",
    "ocr": "ocr_document",
}
"""The authors' ``task_type`` names (their released sample data) → our task family."""

TASK_TYPE_ALIASES: dict[str, str] = {
    **dict.fromkeys(
        ["grounding", "visual grounding", "referring", "rec", "refcoco", "detection", "bbox", "localization"],
        "spatial_grounding",
    ),
    **dict.fromkeys(
        ["spatial", "spatial vqa", "embodied", "embspatial", "robospatial", "refspatial", "3d", "counting"],
        "spatial_reasoning",
    ),
    **dict.fromkeys(
        [
            "general_vqa_science_stem",
            "general",
            "vqa",
            "image qa",
            "general qa",
            "knowledge",
            "science",
            "science stem",
            "mmmu",
            "perception",
        ],
        "general_vqa",
    ),
    **dict.fromkeys(
        ["math_reasoning", "math vqa", "mathematics", "math reasoning", "geometry", "mathvista", "mathverse"],
        "math",
    ),
    **dict.fromkeys(
        [
            "chart_figure_qa",
            "chart qa",
            "chartqa",
            "charts",
            "diagram",
            "table",
            "figure",
            "figure qa",
            "infographic chart",
        ],
        "chart",
    ),
    **dict.fromkeys(
        [
            "ocr",
            "document",
            "doc",
            "docvqa",
            "doc vqa",
            "text recognition",
            "infovqa",
            "infographic",
            "textvqa",
        ],
        "ocr_document",
    ),
}
"""Accepted task spelling → task family name (in addition to the family names themselves)."""


_LOOKUP = {normalise_name(f): f for f in TASK_FAMILIES} | {normalise_name(a): f for a, f in TASK_TYPE_ALIASES.items()}


def canonical_task(name: str) -> str:
    """The task family for ``name`` (a family name or an alias; case and separators ignored).

    ``"Spatial_Grounding"`` → ``"spatial_grounding"``, ``"chart_figure_qa"`` → ``"chart"``, ``"DocVQA"`` →
    ``"ocr_document"``. Unknown → ``KeyError`` listing the six families (the aliases are documented, not listed).
    """
    try:
        return _LOOKUP[normalise_name(str(name))]
    except KeyError:
        raise KeyError(
            f"unknown task family {name!r}; valid task families: {', '.join(TASK_FAMILIES)} "
            "(other accepted spellings: g2rpo.data.TASK_TYPE_ALIASES, docs/data.md)"
        ) from None
