"""Policy models: loading real or tiny Qwen-VL checkpoints (`load_model_and_processor`) and building tiny
random ones offline (`g2rpo.models.tiny.build_tiny`)."""

from g2rpo.models.loading import load_model_and_processor, load_processor
from g2rpo.models.tiny import build_tiny
from g2rpo.models.tokens import VISION_TOKENS, vision_token_ids

__all__ = ["VISION_TOKENS", "build_tiny", "load_model_and_processor", "load_processor", "vision_token_ids"]
