"""The algorithm lab: advantage estimators on a simulated multi-task policy-gradient problem (``g2rpo lab``).

A seconds-long, controlled check of recipe §1's mechanisms — task dominance of the shared gradient, outlier
rewards, dense narrow rewards — for every estimator in ``g2rpo.algo.ADVANTAGE_ESTIMATORS``::

    from g2rpo.lab import DEFAULT_TASKS, LabConfig, build_mix, run_simulation
    mix = build_mix(DEFAULT_TASKS, responses=16, shared_dim=16, seed=0)
    record = run_simulation(mix, LabConfig(steps=50), "g2rpo", seed=0)
"""

from g2rpo.lab.measures import achievable_reward, grad_shares, inject_outlier, steps_to_fraction, task_moments
from g2rpo.lab.problems import DEFAULT_TASKS, TASK_KINDS, TaskSpec, build_mix, parse_task_spec
from g2rpo.lab.simulator import LabConfig, ProbeRecord, RunRecord, policy_gradient, run_simulation
from g2rpo.lab.summary import SUMMARY_FIELDS, summarize

__all__ = [
    "DEFAULT_TASKS",
    "SUMMARY_FIELDS",
    "TASK_KINDS",
    "LabConfig",
    "ProbeRecord",
    "RunRecord",
    "TaskSpec",
    "achievable_reward",
    "build_mix",
    "grad_shares",
    "inject_outlier",
    "parse_task_spec",
    "policy_gradient",
    "run_simulation",
    "steps_to_fraction",
    "summarize",
    "task_moments",
]
