"""Task families and problem-type names (recipe §2)."""

import pytest

from g2rpo.tasks import PROBLEM_TYPES, TASK_FAMILIES, canonical_problem_type, get_task_family


def test_six_families_with_categories():
    assert set(TASK_FAMILIES) == {
        "spatial_grounding", "spatial_reasoning", "general_vqa", "math", "chart", "ocr_document",
    }
    cats = {name: f.category for name, f in TASK_FAMILIES.items()}
    assert cats["general_vqa"] == cats["math"] == "reasoning"
    assert cats["spatial_grounding"] == cats["ocr_document"] == "vision"
    assert cats["spatial_reasoning"] == cats["chart"] == "both"
    # Reasoning bands sit above vision bands (recipe §5).
    assert TASK_FAMILIES["math"].envelope.b > TASK_FAMILIES["spatial_grounding"].envelope.c
    with pytest.raises(KeyError, match="valid task families: spatial_grounding"):
        get_task_family("robotics")


@pytest.mark.parametrize(
    ("name", "canonical"),
    [("Multiple Choice", "multiple choice"), ("multiple_choice", "multiple choice"), ("OCR", "ocr"),
     ("grounding", "spatial grounding"), ("Spatial-Grounding", "spatial grounding"), ("numeric", "numerical"),
     ("open_ended", "open-ended"), ("free-form", "open-ended")],
)
def test_problem_type_aliases(name, canonical):
    assert canonical_problem_type(name) == canonical
    assert canonical in PROBLEM_TYPES


def test_unknown_problem_type_lists_valid_names():
    with pytest.raises(KeyError, match="valid problem types: multiple choice, numerical"):
        canonical_problem_type("essay")


def test_unknown_names_list_the_canonical_names_only():
    from g2rpo.data import canonical_task

    with pytest.raises(KeyError) as info:
        canonical_problem_type("essay")
    assert "mcq" not in str(info.value) and "freeform" not in str(info.value)  # aliases are not listed
    assert "PROBLEM_TYPE_ALIASES" in str(info.value)  # …but where to find them is
    with pytest.raises(KeyError) as info:
        canonical_task("poetry")
    message = str(info.value)
    assert "valid task families: spatial_grounding, spatial_reasoning, general_vqa, math, chart, ocr_document" in message
    assert "docvqa" not in message and "TASK_TYPE_ALIASES" in message


@pytest.mark.parametrize(
    ("name", "family"),
    [("spatial_grounding", "spatial_grounding"), ("spatial_reasoning", "spatial_reasoning"),
     ("general_vqa_science_stem", "general_vqa"), ("math_reasoning", "math"), ("chart_figure_qa", "chart"),
     ("ocr", "ocr_document")],
)
def test_the_authors_task_type_names(name, family):
    from g2rpo.data import AUTHORS_TASK_TYPES, canonical_task

    assert canonical_task(name) == family and AUTHORS_TASK_TYPES[name] == family
