"""`g2rpo model tiny --out DIR [--arch qwen3_vl|qwen2_5_vl] [--seed S]`."""

from __future__ import annotations

import argparse

ARCH_NAMES = ("qwen2_5_vl", "qwen3_vl")
"""The keys of `g2rpo.models.tiny.ARCHS`, spelled out so `--help` does not import transformers."""

HELP = "Model tools: `tiny` writes a tiny random Qwen3-VL / Qwen2.5-VL checkpoint (offline, for CPU runs)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="model_command", metavar="ACTION", required=True)
    tiny = sub.add_parser(
        "tiny",
        help="write a tiny random checkpoint (model, tokenizer, processor) that loads with from_pretrained",
        description="Build a tiny random Qwen-VL checkpoint from a config, with its own offline tokenizer and "
        "an image-only processor. Nothing is downloaded.",
    )
    tiny.add_argument("--out", required=True, help="output folder (created if needed)")
    tiny.add_argument(
        "--arch", default="qwen3_vl", choices=ARCH_NAMES, help="architecture (default qwen3_vl)"
    )
    tiny.add_argument("--seed", type=int, default=0, help="weight-initialisation seed (default 0)")


def main(args: argparse.Namespace) -> int:
    from g2rpo.models.tiny import build_tiny

    path = build_tiny(args.out, arch=args.arch, seed=args.seed)
    print(f"tiny {args.arch} checkpoint written to {path}")
    return 0
