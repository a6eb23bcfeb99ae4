"""Recipe §8 prompts: goldens per problem type, think tag, options block, chat-message form."""

from __future__ import annotations

import pytest

from g2rpo.data import PROBLEM_TYPE_TAILS, THINK_INSTRUCTION, Record, build_prompt, prompt_messages
from g2rpo.data.options import read_options
from g2rpo.tasks import PROBLEM_TYPES

INSTRUCTION = (
    "You FIRST think about the reasoning process as an internal monologue and then provide the final answer. "
    "The reasoning process MUST BE enclosed within <thinking> </thinking> tags. "
    "The final answer MUST BE put in <answer> </answer> tags."
)


def _record(problem: str, problem_type: str, options=(), task="general_vqa") -> Record:
    return Record("p", problem, "x", problem_type, task, images=(), options=read_options(options))


def test_golden_multiple_choice():
    rec = _record("<image>What colour is the square?", "multiple choice", ["A. red", "B. green"])
    assert build_prompt(rec) == (
        "<image>What colour is the square?\n"
        "Options:\nA. red\nB. green\n"
        f"{INSTRUCTION}\n"
        "Please provide only the single option letter (e.g., A, B, C, D, etc.) within the <answer> </answer> tags."
    )


def test_golden_grounding_both_coordinate_conventions():
    rec = _record("<image>Locate the red circle.", "spatial grounding", task="spatial_grounding")
    assert build_prompt(rec) == (
        "<image>Locate the red circle.\n"
        f"{INSTRUCTION}\n"
        'Please provide only the bounding box of the referred object as JSON {"boxes": [x1, y1, x2, y2]} '
        "with coordinates normalised to 0-1000 within the <answer> </answer> tags."
    )
    assert build_prompt(rec, box_units="pixels").endswith(
        'JSON {"boxes": [x1, y1, x2, y2]} with coordinates in absolute pixels within the <answer> </answer> tags.'
    )


def test_golden_numerical_with_think_tag():
    rec = _record("  <image>How many stars?  ", "numerical", ["A. 1"], task="spatial_reasoning")
    assert build_prompt(rec, think_tag="think") == (
        "<image>How many stars?\n"  # stripped; options of a non-MC record are not shown
        "You FIRST think about the reasoning process as an internal monologue and then provide the final answer. "
        "The reasoning process MUST BE enclosed within <think> </think> tags. "
        "The final answer MUST BE put in <answer> </answer> tags.\n"
        "Please provide the numerical value (e.g., 42 or 3.14) within the <answer> </answer> tags."
    )


def test_options_already_in_problem_are_not_repeated():
    rec = _record("<image>Which?\nOptions:\n(A) x\n(B) y", "multiple choice", ["A. x", "B. y"])
    assert build_prompt(rec).count("Options:") == 1


def test_every_problem_type_has_a_tail_and_bad_arguments_fail():
    assert set(PROBLEM_TYPE_TAILS) == set(PROBLEM_TYPES)
    rec = _record("q", "math")
    with pytest.raises(ValueError, match="think_tag"):
        build_prompt(rec, think_tag="<thinking>")
    with pytest.raises(KeyError, match="valid: 0-1000, pixels"):
        build_prompt(rec, box_units="percent")


def test_wording_matches_the_evaluation_prompts():
    """Train and evaluate on one protocol (benchmarks.md §1): same instruction, same answer tails."""
    evaluation = pytest.importorskip("g2rpo.evaluation.prompts")
    assert evaluation.THINK_INSTRUCTION == THINK_INSTRUCTION
    for kind in ("multiple choice", "numerical", "math"):
        assert evaluation.ANSWER_KINDS[kind] == PROBLEM_TYPE_TAILS[kind]
    assert evaluation.ANSWER_KINDS["spatial grounding"] == PROBLEM_TYPE_TAILS["spatial grounding"].format(
        units="normalised to 0-1000"
    )


def test_prompt_messages_interleave_images_in_place():
    assert prompt_messages("A <image> then <image>\nend", 2) == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "A"},
                {"type": "image"},
                {"type": "text", "text": "then"},
                {"type": "image"},
                {"type": "text", "text": "end"},
            ],
        }
    ]
    # No placeholder: images first (TRL's own convention); no images: text only.
    assert prompt_messages("Q", 2)[0]["content"] == [
        {"type": "image"},
        {"type": "image"},
        {"type": "text", "text": "Q"},
    ]
    assert prompt_messages("Q", 0)[0]["content"] == [{"type": "text", "text": "Q"}]
    with pytest.raises(ValueError, match="1 <image> placeholder"):
        prompt_messages("<image>Q", 2)


def test_prompt_text_by_template_name(tmp_path):
    from g2rpo.data import PROMPT_TEMPLATES, get_prompt_template, prompt_text, record_messages

    rec = _record("<image> Colour?", "multiple choice", ["A. red", "B. green"])
    rec = Record("p", rec.problem, "B", rec.problem_type, rec.task, images=(tmp_path / "a.png",), options=rec.options)
    assert set(PROMPT_TEMPLATES) == {"g2rpo", "openvlthinker_v2"}
    assert prompt_text(rec, "g2rpo") == build_prompt(rec)
    assert prompt_text(rec, "g2rpo", think_tag="think") == build_prompt(rec, think_tag="think")
    # g2rpo strips the text around images (as before); openvlthinker_v2 keeps it as the authors do.
    assert record_messages(rec, "g2rpo")[0]["content"][1]["text"].startswith("Colour?\nOptions:")
    assert record_messages(rec)[0]["content"][1]["text"].startswith(" Colour? You FIRST think")
    with pytest.raises(ValueError, match=r"unknown prompt template 'paper'.*valid: g2rpo, openvlthinker_v2, or the"):
        get_prompt_template("paper")


def test_user_jinja_template_file(tmp_path):
    from g2rpo.data import PromptTemplateError, prompt_text, record_messages, to_hf_dataset

    template = tmp_path / "mine.jinja"
    template.write_text(
        "{{ problem | trim }}\n"
        "{% for letter, text in choices.items() %}({{ letter }}) {{ text }}\n{% endfor -%}\n"
        "Answer in <{{ think_tag }}>…</{{ think_tag }}><answer>…</answer>. Task: {{ task }}.\n"
    )
    rec = Record("p", "<image>Which? ", "B", "multiple choice", "chart", (tmp_path / "a.png",), {"A": "x", "B": "y"})
    # The file's trailing newline is dropped (Jinja's default); everything else is as written.
    assert prompt_text(rec, template) == (
        "<image>Which?\n(A) x\n(B) y\nAnswer in <thinking>…</thinking><answer>…</answer>. Task: chart."
    )
    assert record_messages(rec, str(template))[0]["content"] == [
        {"type": "image"},
        {"type": "text", "text": "Which?\n(A) x\n(B) y\nAnswer in <thinking>…</thinking><answer>…</answer>. Task: chart."},
    ]
    from PIL import Image

    Image.new("RGB", (4, 4)).save(tmp_path / "a.png")
    ds = to_hf_dataset([rec], prompt_template=str(template))
    assert ds[0]["prompt"][0]["content"][1]["text"].endswith("Task: chart.")

    typo = tmp_path / "typo.jinja"
    typo.write_text("{{ problme }}")
    with pytest.raises(PromptTemplateError, match=r"typo\.jinja: 'problme' is undefined \(rendering record 'p'\)"):
        prompt_text(rec, typo)
    broken = tmp_path / "broken.jinja"
    broken.write_text("line one\n{% if problem %}\n")
    with pytest.raises(PromptTemplateError, match=r"broken\.jinja: line 2: .*'endif'"):
        prompt_text(rec, broken)
    extra = tmp_path / "extra.jinja"
    extra.write_text("<image><image>{{ problem }}")
    with pytest.raises(PromptTemplateError, match=r"3 <image> placeholder\(s\) for 1 image\(s\)"):
        record_messages(rec, extra)


def test_prompt_messages_unstripped_keeps_text_as_is():
    assert prompt_messages("<image> a <image>\nb ", 2, strip=False)[0]["content"] == [
        {"type": "image"},
        {"type": "text", "text": " a "},
        {"type": "image"},
        {"type": "text", "text": "\nb "},
    ]
