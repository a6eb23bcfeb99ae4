"""Estimator options are typed: an unknown or mistyped `advantage_kwargs` entry fails when the config loads,
naming the option and listing the valid ones (it used to surface as a TypeError at trainer start)."""

from __future__ import annotations

import pytest

from g2rpo.algo import ADVANTAGE_ESTIMATORS, EmaGrpo
from g2rpo.algo.registry import check_estimator_options, estimator_options, make_estimator
from g2rpo.errors import ConfigError
from g2rpo.train.config import G2RPOConfig


def test_each_estimator_lists_its_options_with_defaults():
    assert estimator_options("g2rpo") == {"stages": "group+task"}
    assert estimator_options("grpo") == {"std": "population", "eps": 1e-6}
    assert estimator_options("ema_grpo") == {"decay": 0.99, "min_std": 1e-3, "guard": 5.0}
    assert estimator_options("dr_grpo") == {} and estimator_options("g2rpo_task") == {}
    assert set(ADVANTAGE_ESTIMATORS) == {"g2rpo", "g2rpo_task", "g2rpo_group", "grpo", "dr_grpo", "ema_grpo"}


@pytest.mark.parametrize(
    ("name", "options", "message"),
    [
        ("g2rpo", {"stage": "task"}, "unknown option 'stage' for advantage estimator 'g2rpo'; valid options: stages"),
        ("g2rpo", {"stages": "tasks"}, "valid values: 'group+task', 'task', 'group'"),
        ("grpo", {"std": "unbiased"}, "valid values: 'population', 'sample'"),
        ("grpo", {"eps": "small"}, "'eps' of advantage estimator 'grpo' must be a finite number"),
        ("ema_grpo", {"guard": float("nan")}, "'guard' of advantage estimator 'ema_grpo' must be a finite number"),
        ("ema_grpo", {"decay": True}, "must be a finite number"),
        ("dr_grpo", {"eps": 1e-6}, "valid options: none"),
    ],
)
def test_a_bad_option_names_itself(name, options, message):
    with pytest.raises(ValueError) as raised:
        check_estimator_options(name, options)
    assert message in str(raised.value)
    with pytest.raises(ValueError):
        make_estimator(name, **options)


def test_good_options_build_the_estimator():
    check_estimator_options("ema_grpo", {"decay": 0.9, "min_std": 1e-2, "guard": 3})
    estimator = make_estimator("ema_grpo", decay=0.9)
    assert isinstance(estimator, EmaGrpo) and estimator.decay == 0.9
    assert make_estimator("g2rpo", stages="task").stages == "task"


def _config(tmp_path, **kwargs) -> G2RPOConfig:
    return G2RPOConfig(output_dir=str(tmp_path), report_to="none", use_cpu=True, **kwargs)


def test_the_config_rejects_bad_advantage_kwargs_at_load(tmp_path):
    with pytest.raises(ConfigError, match=r"advantage_kwargs: unknown option 'decy'.*valid options: decay, min_std, guard"):
        _config(tmp_path, advantage_estimator="ema_grpo", advantage_kwargs={"decy": 0.9})
    # A range the estimator itself checks is reported at load too.
    with pytest.raises(ConfigError, match=r"advantage_kwargs: decay must be in \[0, 1\)"):
        _config(tmp_path, advantage_estimator="ema_grpo", advantage_kwargs='{"decay": 1.5}')
    with pytest.raises(ConfigError, match="advantage_kwargs must be a mapping"):
        _config(tmp_path, advantage_kwargs="[1, 2]")
    assert _config(tmp_path, advantage_estimator="grpo", advantage_kwargs={"std": "sample"}).advantage_kwargs == {
        "std": "sample"
    }
