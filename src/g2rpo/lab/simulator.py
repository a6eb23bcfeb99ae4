"""A multi-task policy-gradient simulator, vectorised over prompts and rollouts.

The policy over the ``K`` responses of prompt ``p`` (task τ) is a softmax of

    z[p, k] = b[p, k] + θ[p, k] + ⟨F[p, k], w⟩

with fixed base logits ``b``, trainable per-prompt parameters ``θ`` (P, K) and a trainable vector ``w`` (D,)
**shared by all tasks** (see :mod:`g2rpo.lab.problems`). One step (recipe §8 in miniature): sample ``B`` prompts
(each task its share, without replacement), ``G`` responses per prompt from the current policy, look up the
rewards, compute advantages with an estimator from ``g2rpo.algo.ADVANTAGE_ESTIMATORS`` (group id = prompt slot,
task id = task index), and take one optimiser step on the loss of ``g2rpo.algo.clipped_policy_loss`` with
token-mean aggregation over one "token" per response.

Gradients are computed once, with respect to the batch's logits (in closed form, see
:func:`surrogate_logit_grad`), and carried to the parameters by the chain rule:
``∂L/∂θ[p] = Σ_{i: p_i = p} ∂L/∂z_i`` and task τ's share of the shared gradient
``g_τ = Σ_{p ∈ τ} F[p]ᵀ ∂L/∂θ[p]`` (so ``∂L/∂w = Σ_τ g_τ``) — every task's shared-gradient contribution from
one pass, no per-task backward. ``tests/test_lab.py`` checks both against autograd through
``clipped_policy_loss`` and the whole model, one backward per task.

Deviation: one on-policy update per step, so the importance ratio is 1 and the clipped surrogate's gradient is
REINFORCE's with the estimator's advantages (the recipe takes 4 minibatch updates per step).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch

from g2rpo.algo import make_estimator
from g2rpo.lab.measures import (
    achievable_reward,
    expected_reward,
    inject_outlier,
    per_task_mean,
    task_moments,
)
from g2rpo.lab.problems import TaskMix


@dataclass(frozen=True)
class LabConfig:
    """Simulator settings shared by every estimator and seed of a lab run."""

    steps: int = 200
    """Policy updates per run."""
    batch_prompts: int = 512
    """Prompts per step ``B`` (recipe §8: 512), split over tasks by their weights."""
    group_size: int = 8
    """Rollouts per prompt ``G`` (recipe: 8)."""
    responses: int = 16
    """Distinct responses per prompt ``K``."""
    shared_dim: int = 16
    """Dimension ``D`` of the shared parameter vector ``w``."""
    optimizer: str = "sgd"
    """``sgd`` (update ∝ gradient: advantage scale is step size, the mechanism under study) or ``adam``."""
    lr: float = 100.0
    """Learning rate (SGD on a token-mean loss over B·G responses needs a large one; see :data:`DEFAULT_LR`)."""
    max_grad_norm: float | None = None
    """Clip the total gradient norm (``None``: no clipping, so outlier effects are visible)."""
    outlier_factor: float = 100.0
    """The probe multiplies one reward by this."""
    probe_step: int = 0
    """Step (0-based) at which the outlier probe runs (at 0 the best responses are still unlikely, so their
    score-function gradient ``1 − π`` is large; late in training ``π → 1`` silences any advantage)."""

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {self.optimizer!r}; valid: {', '.join(OPTIMIZERS)}")
        if min(self.steps, self.batch_prompts, self.group_size, self.responses, self.shared_dim) < 1:
            raise ValueError("steps, batch_prompts, group_size, responses and shared_dim must be ≥ 1")
        if not 0 <= self.probe_step < self.steps:
            raise ValueError(f"probe_step must be in [0, steps) = [0, {self.steps}), got {self.probe_step}")
        if self.group_size < 2:
            raise ValueError("group_size must be ≥ 2 (a group of one has no relative advantage)")


@dataclass(frozen=True)
class ProbeRecord:
    """Outlier probe: the same batch with and without one reward multiplied by ``factor``."""

    step: int
    task: int
    """Task index of the injected response (the batch's best response of that task)."""
    reward: float
    """Its clean reward (the injected one is ``reward × factor``)."""
    advantage_clean: float
    advantage_outlier: float
    max_abs_advantage_clean: float
    max_abs_advantage_outlier: float
    update_norm_clean: float
    """‖∇L‖ over all parameters (θ and w) with the clean rewards."""
    update_norm_outlier: float
    same_task_max_change: float
    """Largest |ΔA| over the injected task's other responses."""
    other_tasks_max_change: float
    """Largest |ΔA| over the other tasks' responses."""


@dataclass(frozen=True)
class RunRecord:
    """One estimator × seed run. ``S`` steps, ``T`` tasks."""

    estimator: str
    seed: int
    tasks: tuple[str, ...]
    expected: torch.Tensor
    """(S + 1, T) exact expected reward per task before each step and after the last."""
    sampled: torch.Tensor
    """(S, T) mean sampled reward per task in each step's batch."""
    grad_norms: torch.Tensor
    """(S, T) ‖g_τ‖: each task's contribution to the shared-parameter gradient."""
    moments: torch.Tensor
    """(S, T, 4) per step and task: advantage skewness, excess kurtosis, max |A|, RMS of A."""
    achievable: torch.Tensor
    """(T,) best achievable expected reward."""
    probe: ProbeRecord | None


@dataclass(frozen=True)
class Gradients:
    logits: torch.Tensor
    """(N, K) ∂L/∂z for the batch's responses."""
    theta: torch.Tensor
    """(P, K) ∂L/∂θ."""
    shared_by_task: torch.Tensor
    """(T, D) g_τ; ∂L/∂w is the sum over tasks."""

    def norm(self) -> float:
        return math.sqrt(float(self.theta.square().sum() + self.shared_by_task.sum(0).square().sum()))


def surrogate_logit_grad(logits: torch.Tensor, responses: torch.Tensor, advantages: torch.Tensor) -> torch.Tensor:
    """``∂L/∂z`` of ``clipped_policy_loss`` at ratio 1 (one token per response, token-mean), in closed form.

    At ``ρ = 1`` neither clip is active, so ``L = −(1/N) Σ_i A_i log π(a_i)`` in value and gradient, and
    ``∂L/∂z_i = −(A_i/N)·(onehot(a_i) − π_i)``. Closed form because autograd through
    :func:`g2rpo.algo.clipped_policy_loss` costs ~4× more per step; ``tests/test_lab.py`` checks the two agree.
    Shapes: logits (N, K), responses (N,) int64, advantages (N,) → (N, K).
    """
    probs = torch.softmax(logits, dim=1)
    onehot = torch.zeros_like(probs).scatter_(1, responses[:, None], 1.0)
    return -(advantages.to(probs.dtype) / responses.numel())[:, None] * (onehot - probs)


def policy_gradient(logits: torch.Tensor, prompt_ids: torch.Tensor, responses: torch.Tensor,
                    advantages: torch.Tensor, features: torch.Tensor, task_of_prompt: torch.Tensor,
                    n_tasks: int) -> Gradients:
    """Gradient of the step's loss for every parameter, with each task's shared-parameter contribution.

    Args:
        logits: (P, K) current logits of every prompt.
        prompt_ids: (N,) prompt of each response; responses: (N,) the sampled response index.
        advantages: (N,) from the estimator.
        features: (P, K, D) shared-feature map; task_of_prompt: (P,) int64.
    """
    g = surrogate_logit_grad(logits[prompt_ids], responses, advantages)
    theta = torch.zeros_like(logits).index_add_(0, prompt_ids, g)
    per_prompt = (features * theta[..., None]).sum(1)
    shared = per_prompt.new_zeros(n_tasks, per_prompt.shape[1]).index_add_(0, task_of_prompt, per_prompt)
    return Gradients(logits=g, theta=theta, shared_by_task=shared)


class _Sgd:
    """``p ← p − lr·g``."""

    def __init__(self, params: list[torch.Tensor], lr: float) -> None:
        self.params, self.lr = params, lr

    def step(self, grads: list[torch.Tensor]) -> None:
        for p, g in zip(self.params, grads, strict=True):
            p.sub_(self.lr * g)


class _Adam(_Sgd):
    """Adam (β = 0.9, 0.999; ε = 1e-8) with bias correction."""

    def __init__(self, params: list[torch.Tensor], lr: float) -> None:
        super().__init__(params, lr)
        self.m = [torch.zeros_like(p) for p in params]
        self.v = [torch.zeros_like(p) for p in params]
        self.t = 0

    def step(self, grads: list[torch.Tensor]) -> None:
        self.t += 1
        for p, g, m, v in zip(self.params, grads, self.m, self.v, strict=True):
            m.mul_(0.9).add_(g, alpha=0.1)
            v.mul_(0.999).addcmul_(g, g, value=0.001)
            step = (m / (1 - 0.9**self.t)) / ((v / (1 - 0.999**self.t)).sqrt() + 1e-8)
            p.sub_(self.lr * step)


OPTIMIZERS: dict[str, type[_Sgd]] = {"sgd": _Sgd, "adam": _Adam}
DEFAULT_LR: dict[str, float] = {"sgd": 100.0, "adam": 0.1}
"""The learning rate ``g2rpo lab`` uses per optimiser when ``--lr`` is not given (tuned on the default mix)."""
"""Optimiser name → class ``(params, lr)`` with ``step(grads)``. Written out (a few lines each) rather than
``torch.optim``, whose first ``step()`` imports torch._dynamo: ~4 s, a tenth of the lab's time budget."""


def batch_layout(mix: TaskMix, batch_prompts: int) -> torch.Tensor:
    """Positions, in a task-sorted random prompt order, of the prompts one step takes: (B,).

    Task τ gets ``round(B·weight_τ / Σ weight)`` prompts (at least 1; the largest share absorbs rounding)."""
    weights = torch.tensor([s.weight for s in mix.specs], dtype=torch.float64)
    counts = torch.clamp((batch_prompts * weights / weights.sum()).round().long(), min=1)
    counts[int(counts.argmax())] += batch_prompts - int(counts.sum())
    for spec, n in zip(mix.specs, counts.tolist(), strict=True):
        if n < 1 or n > spec.prompts:
            raise ValueError(f"task {spec.name!r}: its batch share is {n} prompts but its pool has {spec.prompts};"
                             f" raise prompts= or lower the batch size")
    starts = torch.tensor(mix.offsets[:-1])
    return torch.cat([torch.arange(int(n)) + int(s) for s, n in zip(starts, counts, strict=True)])


def _probe_task(mix: TaskMix) -> int:
    kinds = [s.kind for s in mix.specs]
    return kinds.index("outlier") if "outlier" in kinds else 0


def run_simulation(mix: TaskMix, config: LabConfig, estimator: str, seed: int,
                   estimator_kwargs: dict | None = None) -> RunRecord:
    """Train the simulated policy with one estimator; sampling is driven by ``torch.Generator(seed)``.

    A fresh estimator is built for every run (EMA-GRPO is stateful). Same ``mix``, ``config`` and ``seed`` →
    identical record. The policy runs in float32; rewards and advantages stay float64.
    """
    gen = torch.Generator().manual_seed(seed)
    est = make_estimator(estimator, **(estimator_kwargs or {}))
    n_prompts, k = mix.rewards.shape
    n_tasks, steps, g_size = len(mix.specs), config.steps, config.group_size
    base = mix.base_logits.float()
    features = mix.features.float()
    theta = torch.zeros(n_prompts, k)
    w = torch.zeros(features.shape[2])
    opt = OPTIMIZERS[config.optimizer]([theta, w], lr=config.lr)
    layout = batch_layout(mix, config.batch_prompts)
    group_ids = torch.arange(layout.numel()).repeat_interleave(g_size)
    sort_key = mix.task_of_prompt.to(torch.float64)
    probe_task = _probe_task(mix)

    expected = torch.empty(steps + 1, n_tasks, dtype=torch.float64)
    sampled = torch.empty(steps, n_tasks, dtype=torch.float64)
    grad_norms = torch.empty(steps, n_tasks, dtype=torch.float64)
    moments = torch.empty(steps, n_tasks, 4, dtype=torch.float64)
    probe = None

    for step in range(steps + 1):
        logits = base + theta + features @ w
        probs = torch.softmax(logits, dim=1)
        expected[step] = expected_reward(probs.double(), mix.rewards, mix.task_of_prompt, n_tasks)
        if step == steps:
            break
        # Each task's prompts in a fresh random order, task blocks in a fixed order: ``layout`` picks the
        # first ``n_τ`` of every block (sampling without replacement within a step).
        order = torch.argsort(sort_key + torch.rand(n_prompts, generator=gen, dtype=torch.float64))
        prompts = order[layout]
        responses = torch.multinomial(probs[prompts], g_size, replacement=True, generator=gen).reshape(-1)
        prompt_ids = prompts.repeat_interleave(g_size)
        rewards = mix.rewards[prompt_ids, responses]
        task_ids = mix.task_of_prompt[prompt_ids]
        before = copy.deepcopy(est) if step == config.probe_step else None
        adv = est(rewards, group_ids, task_ids).to(torch.float64)
        grads = policy_gradient(logits, prompt_ids, responses, adv, features, mix.task_of_prompt, n_tasks)
        if before is not None:
            probe = _outlier_probe(before, rewards, group_ids, task_ids, adv, grads, logits, prompt_ids,
                                   responses, features, mix, probe_task, config.outlier_factor, step)

        sampled[step] = per_task_mean(rewards, task_ids, n_tasks)
        grad_norms[step] = grads.shared_by_task.norm(dim=1).double()
        moments[step] = task_moments(adv, task_ids, n_tasks)
        update = [grads.theta, grads.shared_by_task.sum(0)]
        if config.max_grad_norm is not None:
            scale = min(1.0, config.max_grad_norm / max(grads.norm(), 1e-12))
            update = [u * scale for u in update]
        opt.step(update)

    return RunRecord(
        estimator=estimator,
        seed=seed,
        tasks=tuple(mix.names),
        expected=expected,
        sampled=sampled,
        grad_norms=grad_norms,
        moments=moments,
        achievable=achievable_reward(mix.rewards, mix.task_of_prompt, n_tasks),
        probe=probe,
    )


def _outlier_probe(est, rewards, group_ids, task_ids, adv, grads, logits, prompt_ids, responses, features,
                   mix, task, factor, step) -> ProbeRecord:
    """Re-run the step's advantage and gradient with one reward × ``factor`` (``est``: pre-step state copy)."""
    injected, index = inject_outlier(rewards, task_ids, task, factor)
    adv_out = est(injected, group_ids, task_ids).to(torch.float64)
    grads_out = policy_gradient(logits, prompt_ids, responses, adv_out, features, mix.task_of_prompt,
                                len(mix.specs))
    change = (adv_out - adv).abs()
    same = (task_ids == task).clone()
    same[index] = False
    other = task_ids != task
    return ProbeRecord(
        step=step,
        task=task,
        reward=float(rewards[index]),
        advantage_clean=float(adv[index]),
        advantage_outlier=float(adv_out[index]),
        max_abs_advantage_clean=float(adv.abs().max()),
        max_abs_advantage_outlier=float(adv_out.abs().max()),
        update_norm_clean=grads.norm(),
        update_norm_outlier=grads_out.norm(),
        same_task_max_change=float(change[same].max()) if same.any() else 0.0,
        other_tasks_max_change=float(change[other].max()) if other.any() else 0.0,
    )
