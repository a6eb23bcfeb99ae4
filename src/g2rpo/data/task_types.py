"""Map the task names found in data sets onto g2rpo's six task families (recipe §2).

Records name their task in a ``task`` field (our six family names) or, in the authors' data, a ``task_type``
field using the names of their data mixture. :func:`canonical_task` accepts both: the six family names, and the
aliases of ``TASK_TYPE_ALIASES`` below. Matching ignores case, and ``_``, ``-``, ``/`` and spaces are
equivalent. An unknown name is an error listing the valid names.

| task family | accepted `task` / `task_type` spellings (besides the family name) |
|---|---|
| spatial_grounding | grounding, visual grounding, referring, rec, refcoco, detection, bbox, localization |
| spatial_reasoning | spatial, spatial vqa, embodied, embspatial, robospatial, refspatial, 3d, counting |
| general_vqa | general, vqa, image qa, general qa, knowledge, science, mmmu, perception |
| math | math vqa, mathematics, math reasoning, geometry, mathvista, mathverse |
| chart | chart qa, chartqa, charts, diagram, table, figure, infographic chart |
| ocr_document | ocr, document, doc, docvqa, doc vqa, text recognition, infovqa, infographic, textvqa |

**Deviation:** the authors' exact ``task_type`` vocabulary was not available to us; the aliases above are the
names their data mixture and benchmarks use in the paper. Add a spelling by extending ``TASK_TYPE_ALIASES``.
"""

from __future__ import annotations

from g2rpo.tasks import TASK_FAMILIES, normalise_name

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
        ["general", "vqa", "image qa", "general qa", "knowledge", "science", "mmmu", "perception"],
        "general_vqa",
    ),
    **dict.fromkeys(
        ["math vqa", "mathematics", "math reasoning", "geometry", "mathvista", "mathverse"],
        "math",
    ),
    **dict.fromkeys(
        ["chart qa", "chartqa", "charts", "diagram", "table", "figure", "infographic chart"],
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

    ``"Spatial_Grounding"`` → ``"spatial_grounding"``, ``"DocVQA"`` → ``"ocr_document"``. Unknown → ``KeyError``
    listing the six families and the accepted aliases.
    """
    try:
        return _LOOKUP[normalise_name(str(name))]
    except KeyError:
        raise KeyError(
            f"unknown task {name!r}; valid task families: {', '.join(TASK_FAMILIES)} "
            f"(aliases: {', '.join(sorted(TASK_TYPE_ALIASES))})"
        ) from None
