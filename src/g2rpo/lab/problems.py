"""The lab's simulated reward problems (one per simulated task; not the training task families of
:mod:`g2rpo.tasks`): reward maps over a finite set of responses, one registry of reward-map kinds.

Each simulated task has ``P`` prompts; every prompt has the same ``K`` candidate responses (indices ``0..K−1``)
and a task-specific **reward map** ``R[p, k]``, plus the base policy's logits ``b[p, k]`` (which set the
starting difficulty) and a **shared-feature map** ``F[p, k, :] ∈ R^D`` through which the shared parameters
act. Reward topologies follow recipe §1:

- ``binary``  — sparse 0/1 (math, multiple choice): ``correct`` of the ``K`` responses score 1.
- ``outlier`` — sparse with rare outliers (OCR word-error scores, regression): most responses score 0 or a
  small partial credit on a 0.05 grid in ``[0, partial]``; one exact response per prompt scores 1.
- ``dense``   — dense and narrow (grounding IoU): every response scores in ``[low, high]`` on a 0.01 grid,
  at least one scores ``high``.

Starting difficulty: the base policy gives the best response(s) of prompt ``p`` the probability
``p_init = σ(logit(p0) + spread·z_p)``, ``z_p ~ N(0, 1)`` (a logit-normal spread of prompt difficulty around
``p0``); ``dense`` tasks start from ``b ~ N(0, spread²)``.

Shared features: ``F[p, k] = signal · q[p, k] · u_τ + noise · ε[p, k] / √D`` with ``u_τ`` a random unit
vector per task, ``q`` the response's reward rescaled to ``[−½, ½]`` within its prompt (centred on the
prompt's mean), and ``ε ~ N(0, I_D)``. A shared parameter vector ``w`` that aligns with ``u_τ`` raises every
good response of task τ at once (a transferable "skill"); the tasks' ``u_τ`` differ, so they compete for
``w``'s update.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path

import torch


@dataclass(frozen=True)
class TaskSpec:
    """One simulated task of the lab's mix."""

    name: str
    """Task key (the G2RPO task id and the label in the report)."""
    kind: str
    """Reward-map kind, a key of :data:`TASK_KINDS` (``binary``, ``outlier``, ``dense``)."""
    prompts: int = 256
    """Prompts in the task's pool; each step samples its share of the batch from it, without replacement."""
    weight: float = 1.0
    """Relative share of the batch's prompts (shares are rounded; every task gets at least one prompt)."""
    p0: float = 0.2
    """``binary``/``outlier``: median starting probability of the best response(s) of a prompt."""
    spread: float = 1.0
    """Logit-scale spread of prompt difficulty (``binary``/``outlier``) or of the base logits (``dense``)."""
    correct: int = 2
    """``binary``: correct responses per prompt."""
    partial: float = 0.3
    """``outlier``: largest partial credit of a non-exact response."""
    low: float = 0.80
    """``dense``: smallest reward."""
    high: float = 0.83
    """``dense``: largest (achievable) reward."""
    signal: float = 0.15
    """Strength of the reward-aligned direction ``u_τ`` in the shared features."""
    noise: float = 0.15
    """Strength of the task-unrelated noise in the shared features."""

    def __post_init__(self) -> None:
        if self.kind not in TASK_KINDS:
            raise ValueError(f"task {self.name!r}: unknown kind {self.kind!r}; valid kinds: {', '.join(TASK_KINDS)}")
        if self.prompts < 1 or self.weight <= 0:
            raise ValueError(f"task {self.name!r}: prompts must be ≥ 1 and weight > 0")
        if not 0.0 < self.p0 < 1.0:
            raise ValueError(f"task {self.name!r}: p0 must be in (0, 1), got {self.p0}")
        if not self.low < self.high:
            raise ValueError(f"task {self.name!r}: need low < high, got {self.low}, {self.high}")
        if self.correct < 1 or not 0.0 <= self.partial < 1.0:
            raise ValueError(f"task {self.name!r}: need correct ≥ 1 and 0 ≤ partial < 1")


@dataclass(frozen=True)
class TaskTensors:
    """The tensors of one task: ``P`` prompts × ``K`` responses, ``D`` shared dimensions."""

    rewards: torch.Tensor
    """(P, K) reward map ``R``."""
    base_logits: torch.Tensor
    """(P, K) the untrained policy's logits."""
    features: torch.Tensor
    """(P, K, D) shared-feature map ``F``."""


def _best_first_logits(best: torch.Tensor, spec: TaskSpec, gen: torch.Generator) -> torch.Tensor:
    """Base logits giving the responses marked ``best`` (P, K bool) total probability ``p_init`` per prompt."""
    n_prompts, k = best.shape
    logits = torch.randn(n_prompts, k, generator=gen, dtype=torch.float64) * 0.5
    z = torch.randn(n_prompts, generator=gen, dtype=torch.float64)
    p_init = torch.sigmoid(math.log(spec.p0 / (1 - spec.p0)) + spec.spread * z).clamp(1e-4, 1 - 1e-4)
    mass = logits.exp()
    s_best = (mass * best).sum(1)
    s_rest = (mass * ~best).sum(1)
    # Solve s_best·e^c / (s_best·e^c + s_rest) = p_init for the shift c of the best responses.
    shift = torch.log(p_init / (1 - p_init) * s_rest / s_best)
    return logits + shift[:, None] * best


def _binary(spec: TaskSpec, k: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    if spec.correct >= k:
        raise ValueError(f"task {spec.name!r}: correct={spec.correct} must be < responses={k}")
    order = torch.rand(spec.prompts, k, generator=gen).argsort(1)
    best = order < spec.correct
    return best.to(torch.float64), _best_first_logits(best, spec, gen)


def _outlier(spec: TaskSpec, k: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    levels = round(spec.partial / 0.05)
    credit = torch.randint(0, levels + 1, (spec.prompts, k), generator=gen).to(torch.float64) * 5 / 100
    zero = torch.rand(spec.prompts, k, generator=gen) < 0.5
    rewards = torch.where(zero, torch.zeros_like(credit), credit)
    exact = torch.rand(spec.prompts, k, generator=gen).argsort(1) == 0
    rewards = torch.where(exact, torch.ones_like(rewards), rewards)
    return rewards, _best_first_logits(exact, spec, gen)


def _dense(spec: TaskSpec, k: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    levels = round((spec.high - spec.low) / 0.01)
    rewards = spec.low + 0.01 * torch.randint(0, levels + 1, (spec.prompts, k), generator=gen).to(torch.float64)
    top = torch.rand(spec.prompts, k, generator=gen).argsort(1) == 0
    rewards = torch.where(top, torch.full_like(rewards, spec.high), rewards)
    rewards = torch.round(rewards * 100) / 100  # equal grid levels are bit-identical floats (exact ties)
    logits = torch.randn(spec.prompts, k, generator=gen, dtype=torch.float64) * spec.spread
    return rewards, logits


TASK_KINDS: dict[str, Callable[[TaskSpec, int, torch.Generator], tuple[torch.Tensor, torch.Tensor]]] = {
    "binary": _binary,
    "outlier": _outlier,
    "dense": _dense,
}
"""Reward-map kind → builder ``(spec, K, generator) -> (rewards (P, K), base_logits (P, K))``."""


def build_task(spec: TaskSpec, *, responses: int, shared_dim: int, gen: torch.Generator) -> TaskTensors:
    """Draw one task's reward map, base logits and shared features from ``gen`` (float64)."""
    rewards, logits = TASK_KINDS[spec.kind](spec, responses, gen)
    span = (rewards.amax(1, keepdim=True) - rewards.amin(1, keepdim=True)).clamp_min(1e-12)
    quality = (rewards - rewards.mean(1, keepdim=True)) / span
    direction = torch.randn(shared_dim, generator=gen, dtype=torch.float64)
    direction = direction / direction.norm()
    eps = torch.randn(spec.prompts, responses, shared_dim, generator=gen, dtype=torch.float64)
    features = spec.signal * quality[..., None] * direction + spec.noise * eps / math.sqrt(shared_dim)
    return TaskTensors(rewards=rewards, base_logits=logits, features=features)


DEFAULT_TASKS: tuple[TaskSpec, ...] = (
    TaskSpec("math", "binary", p0=0.15, correct=2),
    TaskSpec("multiple_choice", "binary", p0=0.35, correct=4),
    TaskSpec("ocr", "outlier", p0=0.1),
    TaskSpec("grounding", "dense", low=0.80, high=0.83),
)
"""The recipe §1 mix: two binary sparse tasks, one sparse-with-outliers, one dense-and-narrow."""

DEFAULT_TASK_SPEC = "math=binary:p0=0.15,correct=2; multiple_choice=binary:p0=0.35,correct=4; " \
    "ocr=outlier:p0=0.1; grounding=dense:low=0.80,high=0.83"
""":data:`DEFAULT_TASKS` written in the ``--tasks`` syntax."""

_FIELD_TYPES: dict[str, type] = {f.name: type(getattr(DEFAULT_TASKS[0], f.name)) for f in fields(TaskSpec)}


def _coerce(task: str, key: str, value: object) -> object:
    if key in ("name", "kind"):
        raise ValueError(f"task {task!r}: {key!r} is set by the spec's 'name=kind' head, not as an option")
    if key not in _FIELD_TYPES:
        valid = ", ".join(k for k in _FIELD_TYPES if k not in ("name", "kind"))
        raise ValueError(f"task {task!r}: unknown option {key!r}; valid options: {valid}")
    kind = _FIELD_TYPES[key]
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise ValueError(f"task {task!r}: option {key}={value!r} is not a valid {kind.__name__}") from None


def parse_task_spec(spec: str) -> tuple[TaskSpec, ...]:
    """Parse ``--tasks``: tasks separated by ``;``, each ``NAME=KIND[:KEY=VALUE,KEY=VALUE…]``.

    Example: ``"math=binary:p0=0.2; ocr=outlier:p0=0.05,partial=0.3; grounding=dense"``. Options are the
    fields of :class:`TaskSpec`. A path ending in ``.yaml``/``.yml`` is read with :func:`load_task_file`.
    """
    if spec.strip().endswith((".yaml", ".yml")):
        return load_task_file(Path(spec.strip()))
    tasks: list[TaskSpec] = []
    for chunk in filter(None, (c.strip() for c in spec.split(";"))):
        head, _, options = chunk.partition(":")
        name, eq, kind = (s.strip() for s in head.partition("="))
        if not eq or not name or not kind:
            raise ValueError(f"task spec {chunk!r}: expected NAME=KIND[:KEY=VALUE,...]")
        kwargs: dict[str, object] = {}
        for item in filter(None, (o.strip() for o in options.split(","))):
            key, eq, value = (s.strip() for s in item.partition("="))
            if not eq:
                raise ValueError(f"task {name!r}: option {item!r} is not KEY=VALUE")
            kwargs[key] = _coerce(name, key, value)
        tasks.append(TaskSpec(name=name, kind=kind, **kwargs))
    return _check_mix(tasks, where=f"task spec {spec!r}")


def load_task_file(path: Path) -> tuple[TaskSpec, ...]:
    """Read a YAML list of tasks, each a mapping with ``name``, ``kind`` and any :class:`TaskSpec` field."""
    import yaml

    try:
        items = yaml.safe_load(path.read_text())
    except OSError as err:
        raise ValueError(f"cannot read task file {path}: {err}") from None
    if isinstance(items, Mapping):
        items = items.get("tasks")
    if not isinstance(items, list):
        raise ValueError(f"{path}: expected a list of tasks (or a mapping with a 'tasks' list)")
    tasks = []
    for row, item in enumerate(items):
        if not isinstance(item, Mapping) or "name" not in item or "kind" not in item:
            raise ValueError(f"{path}: task #{row} must be a mapping with 'name' and 'kind'")
        name = str(item["name"])
        try:
            kwargs = {str(k): _coerce(name, str(k), v) for k, v in item.items() if k not in ("name", "kind")}
            tasks.append(TaskSpec(name=name, kind=str(item["kind"]), **kwargs))
        except ValueError as err:
            raise ValueError(f"{path}: task #{row}: {err}") from None
    return _check_mix(tasks, where=str(path))


def _check_mix(tasks: list[TaskSpec], *, where: str) -> tuple[TaskSpec, ...]:
    if not tasks:
        raise ValueError(f"{where}: no tasks")
    names = [t.name for t in tasks]
    if len(set(names)) != len(names):
        raise ValueError(f"{where}: task names must be unique, got {names}")
    return tuple(tasks)


@dataclass(frozen=True)
class TaskMix:
    """All tasks stacked on one prompt axis (``P = Σ_τ P_τ``), ready for the vectorised simulator."""

    specs: tuple[TaskSpec, ...]
    rewards: torch.Tensor
    """(P, K)."""
    base_logits: torch.Tensor
    """(P, K)."""
    features: torch.Tensor
    """(P, K, D)."""
    task_of_prompt: torch.Tensor
    """(P,) int64 task index of each prompt."""
    offsets: tuple[int, ...] = field(default=())
    """Start of each task's prompts on the prompt axis (length ``T + 1``)."""

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.specs]


def build_mix(specs: tuple[TaskSpec, ...], *, responses: int, shared_dim: int, seed: int) -> TaskMix:
    """Build every task from one generator seeded with ``seed`` (same seed → same tasks)."""
    gen = torch.Generator().manual_seed(seed)
    parts = [build_task(s, responses=responses, shared_dim=shared_dim, gen=gen) for s in specs]
    sizes = [s.prompts for s in specs]
    offsets = [0]
    for n in sizes:
        offsets.append(offsets[-1] + n)
    return TaskMix(
        specs=specs,
        rewards=torch.cat([p.rewards for p in parts]),
        base_logits=torch.cat([p.base_logits for p in parts]),
        features=torch.cat([p.features for p in parts]),
        task_of_prompt=torch.repeat_interleave(torch.arange(len(specs)), torch.tensor(sizes)),
        offsets=tuple(offsets),
    )
