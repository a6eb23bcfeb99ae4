"""The demo report's pieces: metric parsing, the length/reward verdict, the HTML and summary.json."""

from __future__ import annotations

import json
import re

import pytest

from g2rpo.algo import Envelope
from g2rpo.demo.evaluate import Scored, TaskSummary, summarize
from g2rpo.demo.report import band_distance, read_jsonl, summary_dict, task_curves, verdict, write_report
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
    from g2rpo.demo.report import moving_average

    # window 2: [1], [1, 3], [3, 5], [5, 7] → 1, 2, 4, 6
    assert moving_average([1, 3, 5, 7], 2) == [1.0, 2.0, 4.0, 6.0]
    assert moving_average([], 5) == []
