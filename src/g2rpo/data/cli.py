"""`g2rpo data synth --out DIR [--n-train N --n-val M --seed S --image-size PX]`."""

from __future__ import annotations

import argparse

HELP = "Data tools: `synth` writes the synthetic six-task visual data set (JSONL + PNG images)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    synth = sub.add_parser(
        "synth",
        help="write a synthetic multi-task visual data set (train + val splits) in the record schema",
        description="Render a deterministic synthetic data set covering the six task families: "
        "DIR/train.jsonl, DIR/val.jsonl and DIR/images/.",
    )
    synth.add_argument("--out", required=True, help="output folder (created if needed)")
    synth.add_argument("--n-train", type=int, default=600, help="training records (default 600)")
    synth.add_argument("--n-val", type=int, default=120, help="validation records (default 120)")
    synth.add_argument("--seed", type=int, default=0, help="random seed; same seed, same bytes (default 0)")
    synth.add_argument("--image-size", type=int, default=128, help="image side in pixels (default 128)")
    synth.add_argument("--quiet", action="store_true", help="no progress bar")


def main(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from g2rpo.data.synth_write import synthesize

    try:
        result = synthesize(
            args.out,
            n_train=args.n_train,
            n_val=args.n_val,
            seed=args.seed,
            image_size=args.image_size,
            progress=not args.quiet,
        )
    except ValueError as err:
        from g2rpo.errors import UserError

        raise UserError(str(err)) from err
    table = Table(title=f"synthetic data in {result.root}")
    table.add_column("task family")
    for split in result.counts:
        table.add_column(split, justify="right")
    tasks = sorted({t for c in result.counts.values() for t in c})
    for task in tasks:
        table.add_row(task, *(str(result.counts[s].get(task, 0)) for s in result.counts))
    Console().print(table)
    return 0
