"""What trains: a frozen vision tower and LoRA adapters (``freeze_vision_tower``, ``use_peft`` / ``lora_*``).

``freeze_vision_tower`` sets ``requires_grad = False`` on every parameter of the vision encoder, its patch merger
and (Qwen3-VL) its DeepStack mergers before the optimizer is built. The Trainer builds its optimizer from the
parameters that require gradients only, so frozen ones get neither gradients nor optimizer state.

LoRA goes through TRL's own PEFT support: :func:`lora_config` turns the ``use_peft`` / ``lora_*`` keys (TRL's
``ModelConfig`` names) into a ``peft.LoraConfig`` that the run passes to the trainer as ``peft_config``. Without
``lora_target_modules`` the adapters go on every linear layer of the language model (attention and MLP
projections) and nowhere in the vision tower or the LM head. With both options on, the base model is frozen by
PEFT and ``freeze_vision_tower`` also freezes any adapter placed inside the vision tower (e.g. by
``lora_target_modules: all-linear``), so nothing in the vision tower trains either way.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

import torch

from g2rpo.errors import ConfigError

logger = logging.getLogger(__name__)

VISION_ATTRIBUTES: tuple[str, ...] = ("model.visual", "visual", "model.vision_tower", "vision_tower")
"""Where a model keeps its vision tower, first match wins: Qwen2.5-VL and Qwen3-VL (transformers >= 4.52 and
5.x) at ``model.visual``, older Qwen2-VL layouts at ``visual``, LLaVA-style models at ``vision_tower``."""

PEFT_INSTALL = 'pip install "g2rpo[peft]"'


def _base_model(model: torch.nn.Module) -> torch.nn.Module:
    """The transformers model under a PEFT wrapper (the model itself otherwise)."""
    get_base = getattr(model, "get_base_model", None)
    return get_base() if callable(get_base) else model


def vision_tower_path(model: torch.nn.Module) -> str:
    """Dotted attribute path of the vision tower inside ``model`` (or inside the model a PEFT wrapper holds).

    Raises:
        ConfigError: the model has none of :data:`VISION_ATTRIBUTES`.
    """
    base = _base_model(model)
    for path in VISION_ATTRIBUTES:
        module = base
        for part in path.split("."):
            module = getattr(module, part, None)
            if module is None:
                break
        if isinstance(module, torch.nn.Module):
            return path
    raise ConfigError(f"freeze_vision_tower: {type(base).__name__} has no vision tower (looked for "
                      f"{', '.join(VISION_ATTRIBUTES)}); set freeze_vision_tower: false for this model")


def vision_tower(model: torch.nn.Module) -> torch.nn.Module:
    """The vision encoder module (patch embedding, blocks, merger(s)) of ``model``."""
    return _base_model(model).get_submodule(vision_tower_path(model))


def count_parameters(model: torch.nn.Module) -> tuple[int, int]:
    """``(trainable, total)`` parameter counts (elements, each shared tensor counted once)."""
    trainable = total = 0
    for param in model.parameters():
        total += param.numel()
        if param.requires_grad:
            trainable += param.numel()
    return trainable, total


def freeze_vision_tower(model: torch.nn.Module) -> int:
    """Set ``requires_grad = False`` on every vision-tower parameter; returns how many elements were trainable
    before (0 when PEFT had already frozen them and placed no adapter there)."""
    frozen = 0
    for param in vision_tower(model).parameters():
        if param.requires_grad:
            frozen += param.numel()
            param.requires_grad_(False)
    return frozen


def prepare_trainable(model: torch.nn.Module, *, freeze_vision: bool) -> tuple[int, int]:
    """Apply ``freeze_vision_tower`` to ``model`` (a transformers or PEFT model), log the trainable share and
    return ``(trainable, total)``.

    Raises:
        ConfigError: nothing is left to train.
    """
    if freeze_vision:
        frozen = freeze_vision_tower(model)
        is_peft = _base_model(model) is not model
        if is_peft and frozen:
            logger.warning("freeze_vision_tower: froze %d LoRA parameters placed inside the vision tower (%s); "
                           "leave the vision tower out of lora_target_modules to skip them", frozen,
                           vision_tower_path(model))
        else:
            logger.info("freeze_vision_tower: %d vision-tower parameters frozen (%s)", frozen, vision_tower_path(model))
    trainable, total = count_parameters(model)
    if trainable == 0:
        raise ConfigError("no parameter is left to train (freeze_vision_tower and LoRA froze everything); check "
                          "lora_target_modules or set freeze_vision_tower: false")
    logger.info("trainable parameters: %d of %d (%.2f%%)", trainable, total, 100.0 * trainable / total)
    return trainable, total


def require_peft() -> None:
    """Raise a one-line :class:`ConfigError` with the install command when PEFT cannot be imported."""
    try:
        import peft  # noqa: F401
    except ImportError:
        raise ConfigError(f"use_peft: true needs PEFT, which is not installed; run: {PEFT_INSTALL}") from None


def decoder_lora_targets(model: torch.nn.Module) -> str:
    """PEFT ``target_modules`` regex for every ``nn.Linear`` of the model outside the vision tower and the
    output embedding (the LM head), matched on the leaf names found there (e.g. ``q_proj``, ``down_proj``)."""
    base = _base_model(model)
    try:
        vision = vision_tower_path(base)
    except ConfigError:
        vision = None
    head = base.get_output_embeddings() if hasattr(base, "get_output_embeddings") else None
    leaves = set()
    for name, module in base.named_modules():
        inside_vision = vision is not None and (name == vision or name.startswith(vision + "."))
        if isinstance(module, torch.nn.Linear) and module is not head and not inside_vision:
            leaves.add(name.rsplit(".", 1)[-1])
    if not leaves:
        raise ConfigError(f"use_peft: {type(base).__name__} has no linear layer outside the vision tower; set "
                          "lora_target_modules")
    not_vision = rf"(?!{re.escape(vision)}\.)" if vision else ""
    return rf"{not_vision}(.*\.)?({'|'.join(sorted(leaves))})"


def lora_config(
    model: torch.nn.Module,
    *,
    r: int = 16,
    alpha: float = 32,
    dropout: float = 0.05,
    target_modules: str | Sequence[str] | None = None,
):
    """A ``peft.LoraConfig`` (task type ``CAUSAL_LM``, no bias training) for ``model``.

    ``target_modules``: PEFT's own forms (a list of module names, a regex string, ``"all-linear"``); ``None``
    targets the language model's linear layers (:func:`decoder_lora_targets`).

    Raises:
        ConfigError: PEFT is not installed, or ``r``, ``alpha``, ``dropout`` are out of range.
    """
    require_peft()
    from peft import LoraConfig

    if r < 1:
        raise ConfigError(f"lora_r={r!r} is out of range; it must be a whole number >= 1")
    if alpha <= 0:
        raise ConfigError(f"lora_alpha={alpha!r} is out of range; it must be > 0")
    if not 0 <= dropout < 1:
        raise ConfigError(f"lora_dropout={dropout!r} is out of range; it must be in [0, 1)")
    if isinstance(target_modules, list | tuple) and len(target_modules) == 1:
        target_modules = target_modules[0]  # TRL's parser gives a one-item list for a single name
    if target_modules is None:
        target_modules = decoder_lora_targets(model)
    elif not isinstance(target_modules, str):
        target_modules = list(target_modules)
    return LoraConfig(task_type="CAUSAL_LM", r=r, lora_alpha=alpha, lora_dropout=dropout,
                      target_modules=target_modules, bias="none")
