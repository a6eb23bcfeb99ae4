"""Records → TRL's conversational VLM dataset: columns, lazy bounded images, and what GRPOTrainer does with it."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from g2rpo.data import Record, bound_pixels, load_image, to_hf_dataset


@pytest.fixture
def records(tmp_path):
    Image.new("RGB", (100, 50), "red").save(tmp_path / "wide.png")
    buf = io.BytesIO()
    Image.new("RGB", (10, 10), "blue").save(buf, format="PNG")
    return [
        Record(
            "a",
            "<image>Colour?",
            "B",
            "multiple choice",
            "general_vqa",
            (tmp_path / "wide.png",),
            {"A": "x", "B": "y"},
        ),
        Record(
            "b",
            "Compare <image> and <image>.",
            "3",
            "numerical",
            "chart",
            (buf.getvalue(), tmp_path / "wide.png"),
        ),
        Record("c", "What is 2+2?", "4", "math", "math"),
    ]


def test_columns_and_prompt_messages(records):
    ds = to_hf_dataset(records)
    assert set(ds.column_names) == {
        "prompt",
        "images",
        "answer",
        "problem_type",
        "task",
        "problem_id",
        "options",
    }
    assert ds[0]["options"] == ["A. x", "B. y"] and ds[1]["options"] == []
    row = ds[1]
    assert (row["answer"], row["problem_type"], row["task"], row["problem_id"]) == (
        "3",
        "numerical",
        "chart",
        "b",
    )
    (message,) = row["prompt"]
    assert message["role"] == "user"
    assert [p["type"] for p in message["content"]] == ["text", "image", "text", "image", "text"]
    assert message["content"][0]["text"] == "Compare"
    assert message["content"][-1]["text"].startswith(".\nYou FIRST think")
    assert [im.size for im in row["images"]] == [(10, 10), (100, 50)]  # no bounds: untouched
    assert ds[2]["images"] == []


def test_pixel_bounds_applied_on_read(records):
    ds = to_hf_dataset(records, min_pixels=400, max_pixels=1250)
    # wide.png: 100·50 = 5000 > 1250 → s = √(1250/5000) = 0.5 → 50×25.
    # the 10×10 bytes image: 100 < 400 → s = √(400/100) = 2 → 20×20.
    assert [im.size for im in ds[1]["images"]] == [(20, 20), (50, 25)]
    assert all(im.mode == "RGB" for im in ds[1]["images"])
    with pytest.raises(ValueError, match="min_pixels <= max_pixels"):
        to_hf_dataset(records, min_pixels=10, max_pixels=5)
    with pytest.raises(ValueError, match="no records"):
        to_hf_dataset([])


def test_the_options_column_reads_back_to_the_records_options_letters_included():
    from g2rpo.data.options import option_lines, read_options

    for options in ({"A": "red", "B": "3.5 m"}, {"A": "red", "C": "blue"}, {"A": "A. red", "B": "(C) x"}, {}):
        column = option_lines(options)
        assert read_options(column) == options
    assert option_lines({"A": "red", "C": "blue"}) == ["A. red", "C. blue"]  # C stays C (by position it was B)


def test_bound_pixels_and_load_image(records):
    grey = Image.new("L", (30, 40))
    assert bound_pixels(grey).mode == "RGB" and bound_pixels(grey).size == (30, 40)
    assert bound_pixels(grey, max_pixels=300).size == (15, 20)  # s = √(300/1200) = 0.5
    assert load_image(records[1].images[0], min_pixels=400).size == (20, 20)


def test_check_dataset_decodes_no_image(tmp_path, monkeypatch):
    """The start-up check reads the task and problem_type columns only: no Image.open for any row."""
    import PIL.Image

    from g2rpo.train.checks import check_dataset

    Image.new("RGB", (8, 8), "green").save(tmp_path / "a.png")
    images = (tmp_path / "a.png", tmp_path / "a.png")
    records = [Record(f"r{i}", "<image><image>Same?", "A", "multiple choice", "general_vqa", images) for i in range(64)]
    ds = to_hf_dataset(records)
    opened = []
    real_open = PIL.Image.open

    def counting_open(*args, **kwargs):
        opened.append(args[0])
        return real_open(*args, **kwargs)

    monkeypatch.setattr(PIL.Image, "open", counting_open)
    check_dataset(ds, "train_dataset")
    check_dataset(ds.shuffle(seed=0).select(range(10)), "train_dataset")
    assert opened == []
    ds[0]  # reading a row does decode its images (datasets opens one twice): the counter sees PIL's opens
    assert len(opened) >= 2
    bad = to_hf_dataset([Record("x", "q", "1", "numerical", "robotics")])
    with pytest.raises(ValueError, match=r"train_dataset: unknown task families \['robotics'\]"):
        check_dataset(bad, "train_dataset")


def test_rows_follow_the_prompt_template(records):
    from g2rpo.data import prompt_text

    ds = to_hf_dataset(records, prompt_template="openvlthinker_v2")
    parts = ds[1]["prompt"][0]["content"]
    assert [p["type"] for p in parts] == ["text", "image", "text", "image", "text"]
    assert "".join(p["text"] if p["type"] == "text" else "<image>" for p in parts) == prompt_text(records[1])
    assert parts[0]["text"] == "Compare " and parts[2]["text"] == " and "  # unstripped, as the authors'
    assert to_hf_dataset(records)[1]["prompt"][0]["content"][0]["text"] == "Compare"  # g2rpo: the default


@pytest.mark.slow
def test_trl_fills_the_image_parts_and_the_tiny_processor_renders_them(records, tmp_path):
    """What GRPOTrainer does with a row: prepare_multimodal_messages, then the processor's chat template."""
    from trl.data_utils import prepare_multimodal_messages

    from g2rpo.models import build_tiny, load_processor

    row = to_hf_dataset(records)[1]
    messages = prepare_multimodal_messages(row["prompt"], images=row["images"])
    filled = [p for p in messages[0]["content"] if p["type"] == "image"]
    assert [p["image"].size for p in filled] == [(10, 10), (100, 50)]
    processor = load_processor(build_tiny(tmp_path / "tiny"))
    text = processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert text.startswith(
        "<|im_start|>user\nCompare<|vision_start|><|image_pad|><|vision_end|>and<|vision_start|>"
    )
    assert text.endswith("<answer> </answer> tags.<|im_end|>\n<|im_start|>assistant\n")


@pytest.mark.slow
def test_one_grpo_step_on_the_tiny_model(records, tmp_path):
    """TRL's GRPOTrainer consumes the dataset as is: one CPU step, reward columns reach the reward function."""
    from trl import GRPOConfig, GRPOTrainer

    from g2rpo.models import build_tiny, load_model_and_processor

    model, processor = load_model_and_processor(build_tiny(tmp_path / "tiny"), dtype="float32")
    seen: list[tuple] = []

    def reward(completions, answer, problem_type, task, **_):
        seen.extend(zip(answer, problem_type, task, strict=True))
        return [float(len(c[0]["content"]) % 2) for c in completions]

    args = GRPOConfig(
        output_dir=str(tmp_path / "out"),
        per_device_train_batch_size=4,
        num_generations=2,
        max_completion_length=4,
        max_steps=1,
        report_to="none",
        use_cpu=True,
        save_strategy="no",
        disable_tqdm=True,
        seed=0,
    )
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=reward,
        args=args,
        train_dataset=to_hf_dataset(records[:2], max_pixels=64 * 64),
        processing_class=processor,
    )
    trainer.train()
    assert trainer.state.global_step == 1
    assert len(seen) == 4 and set(seen) <= {
        ("B", "multiple choice", "general_vqa"),
        ("3", "numerical", "chart"),
    }
