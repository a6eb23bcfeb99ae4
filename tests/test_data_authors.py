"""The authors' released sample data (60 training, 10 + 10 validation records) loads unchanged, and the
``openvlthinker_v2`` template writes their prompt byte for byte (recipe §8).

The expected prompts below are typed by hand from recipe §8, not produced by the code under test.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from PIL import Image

from g2rpo.data import (
    Record,
    RecordError,
    load_records,
    prompt_text,
    record_messages,
    to_hf_dataset,
)

FIXTURES = Path(__file__).parent / "fixtures" / "openvlthinker"
TRAIN, MATH_VAL, VQA_VAL = (
    FIXTURES / "sample_train_data.json",
    FIXTURES / "sample_math_val_data.json",
    FIXTURES / "sample_generalVQA_val_data.json",
)

# Recipe §8, steps 1 and 3, typed from the text.
INSTRUCTION = (
    " You FIRST think about the reasoning process as an internal monologue and then provide the final answer."
    " The reasoning process MUST BE enclosed within <thinking> </thinking> tags."
    " The final answer MUST BE enclosed within <answer> </answer> tags."
    " If your answer includes bounding box coordinate, report bbox coordinates in JSON format with the key as boxes."
)
QUESTION = (
    "\nPlease answer this question based on the visual content.Provide your thinking process between the "
    "<thinking> and </thinking> tags, and then give your final answer between the <answer> and </answer> tags."
    "At the end, you must output the final answer in the format:\n<answer><your_answer_here></answer>\n"
)


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    """A data root holding an 8×8 placeholder at every image path the three files reference."""
    root = tmp_path_factory.mktemp("openvlthinker")
    for path in (TRAIN, MATH_VAL, VQA_VAL):
        for raw in json.loads(path.read_text()):
            for ref in raw["images"]:
                target = root / ref
                target.parent.mkdir(parents=True, exist_ok=True)
                Image.new("RGB", (8, 8), (90, 20, 200)).save(target)
    return root


@pytest.fixture(scope="module")
def loaded(root):
    return {path.name: load_records(path, data_root=root) for path in (TRAIN, MATH_VAL, VQA_VAL)}


def test_all_80_records_load_with_their_families(loaded, root):
    train, math_val, vqa_val = (loaded[p.name] for p in (TRAIN, MATH_VAL, VQA_VAL))
    assert (len(train), len(math_val), len(vqa_val)) == (60, 10, 10)
    assert all(r.n_skipped == 0 for r in loaded.values())
    # Their six task_type names, 10 records each in the training sample.
    assert Counter(r.task for r in train) == dict.fromkeys(
        ["spatial_grounding", "spatial_reasoning", "general_vqa", "math", "chart", "ocr_document"], 10
    )
    assert {r.task for r in math_val} == {"math"} and {r.task for r in vqa_val} == {"general_vqa"}
    assert Counter(r.problem_type for r in train) == {
        "multiple choice": 21, "spatial grounding": 10, "ocr": 10, "math": 9, "numerical": 7, "regression": 3,
    }
    first = train[0]
    assert first.images == (root / "Spatial-Grounding/train2014/COCO_train2014_000000355231.jpg",)
    assert first.answer == '<answer>{"boxes": [577, 232, 899, 786]}</answer>'  # the reward unwraps it
    assert first.extra["data_source"] == "RefCOCOg"


def test_validation_task_field_is_theirs_not_our_family(loaded):
    """MathVista's own ``task`` ("math word problem") sits beside ``task_type``: the family comes from task_type."""
    math_val = loaded[MATH_VAL.name]
    assert [r.extra["task"] for r in math_val[:2]] == ["math word problem", "textbook question answering"]
    assert math_val[1].options == {} and math_val[1].problem_type == "multiple choice"  # choices are in the text
    assert math_val[0].problem_id == "330"


def test_unknown_task_type_lists_the_six_families_and_names_the_field(root, tmp_path):
    raw = json.loads(TRAIN.read_text())[:1]
    raw[0]["task_type"] = "robotics"
    raw[0]["task"] = "grounding"
    (tmp_path / "bad.json").write_text(json.dumps(raw))
    with pytest.raises(RecordError) as info:
        load_records(tmp_path / "bad.json", data_root=root)
    err = info.value
    assert (err.row, err.field) == ("row 0", "task_type")
    message = str(err)
    assert "valid task families: spatial_grounding, spatial_reasoning, general_vqa, math, chart, ocr_document" in message
    assert "refcoco" not in message and "mathverse" not in message  # aliases are documented, not listed
    assert "read from 'task_type'" in message


def test_prompt_grounding_written_out_in_full(loaded):
    assert prompt_text(loaded[TRAIN.name][0]) == (
        "<image> Please provide the bounding box coordinate of the region this sentence describes: a lady wearing a "
        "rice picking hat and a blue shirt. You FIRST think about the reasoning process as an internal monologue "
        "and then provide the final answer. The reasoning process MUST BE enclosed within <thinking> </thinking> "
        "tags. The final answer MUST BE enclosed within <answer> </answer> tags. If your answer includes bounding "
        "box coordinate, report bbox coordinates in JSON format with the key as boxes.\n"
        "Please answer this question based on the visual content.Provide your thinking process between the "
        "<thinking> and </thinking> tags, and then give your final answer between the <answer> and </answer> "
        "tags.At the end, you must output the final answer in the format:\n"
        "<answer><your_answer_here></answer>\n"
        "Please provide only the bounding box as JSON with key 'boxes' within the <answer>...</answer> tags.\n"
        "Example:\n"
        '<answer>{"boxes": [35, 227, 437, 932]}</answer>'
    )


@pytest.mark.parametrize(
    ("file", "index", "expected"),
    [
        (
            TRAIN,
            1,
            "<image> How many bicycles are visible in the image?" + INSTRUCTION + QUESTION
            + "Please provide only the numerical value within the <answer>...</answer> tags.\nExample:\n"
            "<answer>3.14</answer>",
        ),
        (
            TRAIN,
            2,
            "<image> What is located under the sheets hanging off the end of the bed?" + INSTRUCTION
            + "\nOptions:\nA. clothing\nB. dogs\nC. human\nD. bedding" + QUESTION
            + "Please provide only the single option letter (e.g., A, B, C, D, etc.) within the <answer>...</answer>"
            " tags.\nExample:\n<answer>A</answer>",
        ),
        (
            TRAIN,
            4,
            "<image> As shown in the figure, the planes of $$\\triangle ABC$$ and $$\\triangle BCD$$ are "
            "perpendicular to each other, $$\\angle ABC=\\angle BCD=90^{\\circ}$$, $$AB=a$$, $$BC=b$$, $$CD=c$$, and "
            "$$a^{2}+b^{2}+c^{2}=1$$. What is the surface area of the circumscribed sphere of the tetrahedron "
            "$$A-BCD$$?" + INSTRUCTION + QUESTION
            + "Please provide only the final result (a number or LaTeX formula) within the <answer>...</answer> "
            "tags.\nExample:\n<answer>$$-\\dfrac{3}{2}$$</answer>",
        ),
        (
            TRAIN,
            10,
            "<image> Please write out the expression of the formula in the image using LaTeX format." + INSTRUCTION
            + QUESTION + "Please provide only the transcribed text within the <answer>...</answer> tags.\n"
            "Example:\n<answer>Hello World</answer>",
        ),
        (
            TRAIN,
            14,
            "<image> Can you tell me the horizontal distance of the man holding tablet in hands from the man wearing "
            "orange vest? Please measure it in centimeters." + INSTRUCTION + QUESTION
            + "Please provide only the numerical value within the <answer>...</answer> tags.\nExample:\n"
            "<answer>42.7</answer>",
        ),
        (  # multiple choice without an options list: the choices are in the problem, no Options block
            MATH_VAL,
            1,
            "<image> Hint: Please answer the question and provide the correct option letter, e.g., A, B, C, D, at the "
            "end.\nQuestion: What would happen to the Lion population if the Gum Tree population decreased?\n"
            "Choices:\n(A) Unable to determine.\n(B) Nothing would happen.\n(C) It would also decrease.\n"
            "(D) It would increase." + INSTRUCTION + QUESTION
            + "Please provide only the single option letter (e.g., A, B, C, D, etc.) within the <answer>...</answer>"
            " tags.\nExample:\n<answer>A</answer>",
        ),
        (  # a trailing space in the problem is trimmed: one space before "You"
            VQA_VAL,
            0,
            "<image> In the Section of knee, identify the 164 structure." + INSTRUCTION
            + "\nOptions:\nA. Ligamentum patellae\nB. Fibular collateral ligament\nC. Tibial collateral ligament\n"
            "D. Anterior cruciate ligament" + QUESTION
            + "Please provide only the single option letter (e.g., A, B, C, D, etc.) within the <answer>...</answer>"
            " tags.\nExample:\n<answer>A</answer>",
        ),
    ],
    ids=["numerical", "multiple-choice", "math", "OCR", "regression", "mc-without-options", "trailing-space"],
)
def test_prompt_per_problem_type(loaded, file, index, expected):
    assert prompt_text(loaded[file.name][index]) == expected


def _reference_prompt(raw: dict) -> str:
    """Recipe §8 steps 1–4, step by step, from a raw record of the authors' files."""
    tails = {  # step 4, keyed by the problem type exactly as written
        "multiple choice": "Please provide only the single option letter (e.g., A, B, C, D, etc.) within the "
        "<answer>...</answer> tags.\nExample:\n<answer>A</answer>",
        "numerical": "Please provide only the numerical value within the <answer>...</answer> tags.\nExample:\n"
        "<answer>3.14</answer>",
        "OCR": "Please provide only the transcribed text within the <answer>...</answer> tags.\nExample:\n"
        "<answer>Hello World</answer>",
        "open-ended": "Please provide only your text answer within the <answer>...</answer> tags.\nExample:\n"
        "<answer>The capital of France is Paris.</answer>",
        "regression": "Please provide only the numerical value within the <answer>...</answer> tags.\nExample:\n"
        "<answer>42.7</answer>",
        "math": "Please provide only the final result (a number or LaTeX formula) within the <answer>...</answer> "
        "tags.\nExample:\n<answer>$$-\\dfrac{3}{2}$$</answer>",
        "spatial grounding": "Please provide only the bounding box as JSON with key 'boxes' within the "
        "<answer>...</answer> tags.\nExample:\n<answer>{\"boxes\": [35, 227, 437, 932]}</answer>",
    }
    text = raw["problem"].strip() + INSTRUCTION
    options = raw.get("options")
    if raw["problem_type"] == "multiple choice" and isinstance(options, list) and options:
        text += "\nOptions:\n" + "\n".join(options)
    return text + QUESTION + tails.get(raw["problem_type"], "")


def _reference_parts(text: str) -> list[dict]:
    """Step 5: an image part before every piece after the first; text pieces kept, unstripped, when non-empty."""
    parts: list[dict] = []
    for i, piece in enumerate(text.split("<image>")):
        if i:
            parts.append({"type": "image"})
        if piece:
            parts.append({"type": "text", "text": piece})
    return parts


@pytest.mark.parametrize("file", [TRAIN, MATH_VAL, VQA_VAL], ids=lambda p: p.stem)
def test_every_record_matches_the_reference_construction(loaded, file):
    raws = json.loads(file.read_text())
    for raw, record in zip(raws, loaded[file.name], strict=True):
        expected = _reference_prompt(raw)
        assert prompt_text(record) == expected, record.source
        assert record_messages(record) == [{"role": "user", "content": _reference_parts(expected)}]


def test_trl_rows_carry_the_same_prompt(loaded):
    records = loaded[TRAIN.name][:6]
    ds = to_hf_dataset(records, prompt_template="openvlthinker_v2")
    for record, row in zip(records, ds.with_format(None), strict=True):
        parts = row["prompt"][0]["content"]
        assert "".join(p["text"] if p["type"] == "text" else "<image>" for p in parts) == prompt_text(record)
    assert ds[1]["prompt"][0]["content"][1]["text"].startswith(" How many bicycles")  # leading space kept


def test_problem_type_spelling_decides_the_tail(tmp_path):
    """Lower-case ``ocr`` has no entry in the authors' tail table: no tail (recipe §8 step 4)."""
    Image.new("RGB", (8, 8)).save(tmp_path / "a.png")
    row = {"problem": "<image> Read it.", "answer": "x", "images": ["a.png"], "task_type": "ocr"}
    rows = [{**row, "problem_type": "ocr"}, {**row, "problem_type": "OCR"}]
    (tmp_path / "d.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    lower, upper = load_records(tmp_path / "d.jsonl")
    assert lower.problem_type == upper.problem_type == "ocr"
    assert prompt_text(lower) == "<image> Read it." + INSTRUCTION + QUESTION
    assert prompt_text(upper).endswith(QUESTION + "Please provide only the transcribed text within the "
                                       "<answer>...</answer> tags.\nExample:\n<answer>Hello World</answer>")
    # A record built in code has no written spelling: the canonical type maps to the authors' "OCR".
    coded = Record("c", "<image> Read it.", "x", "ocr", "ocr_document", (tmp_path / "a.png",))
    assert prompt_text(coded) == prompt_text(upper)
