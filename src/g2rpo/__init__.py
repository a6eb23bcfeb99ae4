"""g2rpo: the OpenVLThinkerV2 post-training recipe for vision-language models."""

__version__ = "0.1.0"
