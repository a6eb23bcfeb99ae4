"""The demo report's pieces: metric parsing, the length/reward verdict, the HTML and summary.json."""

from __future__ import annotations

import json
import math
import re

import pytest

from g2rpo.algo import Envelope
from g2rpo.demo.evaluate import Scored, TaskSummary, summarize
from g2rpo.demo.figures import task_curves
from g2rpo.demo.report import band_distance, read_jsonl, summary_dict, verdict, write_report
from g2rpo.demo.rl import envelopes_for
from g2rpo.tasks import TASK_FAMILIES


def test_task_curves_keeps_per_family_keys_only():
    rows = [
        {
            "step": 1,
            "train/math/reward": 0.5,
            "train/math/length/mean": 10.0,
            "train/filter/fraction_filtered": 0.2,
        },
        {"step": 2, "train/math/reward": 0.7, "train/chart/reward": 1.0, "train/loss": 3.0},
        {"step": 3, "train/math/reward": float("nan")},
    ]
    curves = task_curves(rows)
    assert curves == {
        "reward": {"math": ([1.0, 2.0], [0.5, 0.7]), "chart": ([2.0], [1.0])},
        "length/mean": {"math": ([1.0], [10.0])},
    }


def test_band_distance_and_verdict_by_hand():
    env = Envelope(2, 10, 20, 40)
    # below b: 10 − 4 = 6; inside [10, 20]: 0; above c: 25 − 20 = 5
    assert [band_distance(x, env) for x in (4, 10, 15, 20, 25)] == [6, 0, 0, 0, 5]
    sft = {"math": TaskSummary(4, 0.5, 0.5, 1.0, 4.0), "ocr_document": TaskSummary(4, 0.9, 0.8, 1.0, 30.0)}
    rl = {"math": TaskSummary(4, 0.6, 0.5, 1.0, 8.0), "ocr_document": TaskSummary(4, 0.9, 0.8, 1.0, 35.0)}
    v = verdict(sft, rl, {"math": env, "ocr_document": env})
    # math: reward 0.5 → 0.6 (up), distance 6 → 2 (toward); ocr: reward equal (not up), distance 10 → 15 (away)
    assert v == {"rl_ran": True, "rl_reward_up": ["math"], "length_toward_band": ["math"], "n_tasks": 2}
    assert verdict(sft, None, {})["rl_ran"] is False


def test_summarize_means_per_family():
    items = [
        Scored("a", "math", "x", 10, 1.5, 1.0, 1.0),
        Scored("b", "math", "y", 20, 0.0, 0.0, 0.0),
        Scored("c", "chart", "z", 7, 0.6, 0.0, 1.0),
    ]
    out = summarize(items)
    assert list(out) == ["chart", "math"]
    assert out["math"] == TaskSummary(n=2, reward=0.75, accuracy=0.5, format=0.5, length=15.0)
    assert out["chart"] == TaskSummary(n=1, reward=0.6, accuracy=0.0, format=1.0, length=7.0)


def test_envelopes_for_overrides_the_family_defaults():
    env = envelopes_for({"length_envelopes": {"math": [1, 2, 3, 4]}})
    assert env["math"] == Envelope(1, 2, 3, 4)
    assert env["chart"] == TASK_FAMILIES["chart"].envelope
    assert set(env) == set(TASK_FAMILIES)


def test_report_is_self_contained_and_summary_has_every_family(tmp_path):
    sft = {t: TaskSummary(2, 0.2, 0.1, 1.0, 30.0) for t in TASK_FAMILIES}
    rl = {t: TaskSummary(2, 0.3, 0.1, 1.0, 20.0) for t in TASK_FAMILIES}
    env = envelopes_for({})
    rows = [{"step": s, **{f"train/{t}/{m}": 0.1 * s for t in TASK_FAMILIES for m in ("reward", "entropy")}}
            for s in (1, 2)]  # fmt: skip
    (tmp_path / "m.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    summary = summary_dict(sft, rl, env, {"total": 1.23})
    report, summary_path = write_report(
        tmp_path / "out",
        summary=summary,
        envelopes=env,
        rl_metrics=read_jsonl(tmp_path / "m.jsonl"),
        sft_metrics=[{"step": 1, "loss": 2.0}, {"step": 2, "loss": 1.5}],
        configs={"RL": "a: <1>"},
        notes=["note & caveat"],
    )
    page = report.read_text()
    assert len(re.findall(r"src='data:image/png;base64,", page)) == 3  # reward, entropy, SFT loss
    assert "src='http" not in page and "a: &lt;1&gt;" in page and "note &amp; caveat" in page
    assert "6 of 6" in page  # every family's reward went up 0.2 → 0.3
    loaded = json.loads(summary_path.read_text())
    assert set(loaded["tasks"]) == set(TASK_FAMILIES)
    assert loaded["tasks"]["math"]["rl"]["reward"] == pytest.approx(0.3)
    assert loaded["timing_s"] == {"total": 1.2}


def test_read_jsonl_names_the_bad_row(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"step": 1}\nnot json\n')
    with pytest.raises(ValueError, match=r"bad.jsonl:2"):
        read_jsonl(path)
    assert read_jsonl(tmp_path / "missing.jsonl") == []


def test_moving_average_by_hand():
    from g2rpo.demo.figures import moving_average

    # window 2: [1], [1, 3], [3, 5], [5, 7] → 1, 2, 4, 6
    assert moving_average([1, 3, 5, 7], 2) == [1.0, 2.0, 4.0, 6.0]
    assert moving_average([], 5) == []


def test_standard_error_and_full_batch_fraction_by_hand():
    from g2rpo.demo.report import full_batch_fraction, standard_error

    # values 0, 1, 1, 0: mean 0.5, sample variance 4·0.25/3 = 1/3, SE = sqrt(1/3 / 4) = 0.2887
    assert standard_error([0, 1, 1, 0]) == pytest.approx(0.288675, abs=1e-6)
    assert standard_error([1.0]) == 0.0
    rows = [{"train/filter/partial_batch": 0.0}, {"train/filter/partial_batch": 1.0}, {"step": 3},
            {"train/filter/partial_batch": 0.0}, {"train/filter/partial_batch": 0.0}]  # fmt: skip
    assert full_batch_fraction(rows) == 0.75  # 3 full of 4 logged steps
    assert full_batch_fraction([{"step": 1}]) is None


def test_summary_chance_envelope_paired_se_and_targets_by_hand():
    env = {"math": Envelope(2, 10, 20, 40), "chart": Envelope(2, 10, 20, 40)}
    sft_items = [Scored("m1", "math", "", 5, 0, 0.0, 1), Scored("m2", "math", "", 5, 0, 1.0, 1),
                 Scored("c1", "chart", "", 15, 0, 1.0, 1), Scored("c2", "chart", "", 15, 0, 1.0, 1)]
    rl_items = [Scored("m1", "math", "", 12, 0, 1.0, 1), Scored("m2", "math", "", 12, 0, 1.0, 1),
                Scored("c1", "chart", "", 15, 0, 1.0, 1), Scored("c2", "chart", "", 15, 0, 0.0, 1)]  # fmt: skip
    blank = {"math": TaskSummary(2, 0, 0.5, 1, 5), "chart": TaskSummary(2, 0, 0.0, 1, 5)}
    summary = summary_dict(
        summarize(sft_items), summarize(rl_items), env, {}, sft_scored=sft_items, rl_scored=rl_items,
        blank=blank, constant={"math": 0.25, "chart": 0.5},
        rl_rows=[{"train/filter/partial_batch": 0.0}, {"train/filter/partial_batch": 1.0}],
    )  # fmt: skip
    math_, chart = summary["tasks"]["math"], summary["tasks"]["chart"]
    # chance = max(blank, constant): math max(0.5, 0.25), chart max(0.0, 0.5)
    assert (math_["chance"], chart["chance"]) == (0.5, 0.5)
    assert math_["envelope"] == [2, 10, 20, 40]
    # math: SFT 0.5 (values 0, 1: SE = sqrt(0.5/2) = 0.5), RL 1.0 (SE 0); paired diffs 1, 0 → gain 0.5 ± 0.5
    assert math_["sft"]["accuracy_se"] == pytest.approx(0.5) and math_["rl"]["accuracy_se"] == 0.0
    assert math_["gain"] == {"accuracy": 0.5, "accuracy_se": pytest.approx(0.5)}
    assert chart["gain"]["accuracy"] == -0.5
    assert summary["rl_full_batch_fraction"] == 0.5
    v = summary["verdict"]
    # SFT: math 0.5 < 0.5 + 0.15, chart 1.0 ≥ 0.65 → sees chart only; lengths: math 5 outside [10, 20], chart 15 in
    assert v["sees"] == ["chart"] and v["sft_outside_band"] == ["math"]
    assert v["rl_accuracy_up"] == ["math"] and v["rl_inside_band"] == ["chart", "math"]
    assert v["mean_gain"] == 0.0 and v["mean_gain_se"] == pytest.approx(math.sqrt(0.25 + 0.25) / 2)
    # "5 of 6" is n − 1 of n families: 1 of 2 here (math up; both inside after RL)
    assert v["targets"] == {
        "sft_sees_every_family": False, "rl_up_on_5_of_6": True, "mean_gain_over_3_se": False,
        "full_batches_90pct": False, "sft_2_outside_band": False, "rl_5_inside_band": True,
    }  # fmt: skip


def test_report_draws_bands_collapses_configs_and_shows_samples(tmp_path):
    sft = {t: TaskSummary(2, 0.2, 0.1, 1.0, 30.0) for t in TASK_FAMILIES}
    env = envelopes_for({})
    rows = [{"step": s, **{f"train/{t}/{m}": 0.1 * s for t in TASK_FAMILIES for m in ("length/mean", "entropy")}}
            for s in (1, 2)]  # fmt: skip
    samples = [{"task": "math", "question": "Compute <b>", "options": [], "gold": "3", "image": "AAAA",
                "sft": {"response": "<answer>2</answer>", "accuracy": 0.0, "reward": 0.6, "length": 4},
                "rl": {"response": "<answer>3</answer>", "accuracy": 1.0, "reward": 1.5, "length": 4}}]  # fmt: skip
    report, _ = write_report(
        tmp_path, summary=summary_dict(sft, None, env, {}), envelopes=env, rl_metrics=rows, sft_metrics=[],
        configs={"RL": "x: 1"}, samples=samples, entropy_bands={t: (0.2, 0.6) for t in TASK_FAMILIES},
    )  # fmt: skip
    page = report.read_text()
    assert len(re.findall(r"src='data:image/png;base64,[A-Za-z0-9+/]{100}", page)) == 2  # length, entropy
    assert "<details><summary>RL</summary>" in page and "<details open" not in page
    assert "Compute &lt;b&gt;" in page and "&lt;answer&gt;3&lt;/answer&gt;" in page
    assert "data:image/png;base64,AAAA" in page
