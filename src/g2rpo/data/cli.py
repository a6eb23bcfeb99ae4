"""`g2rpo data synth --out DIR [...]` and `g2rpo data check [--data-root DIR] [--train-file F --image-root R]`."""

from __future__ import annotations

import argparse

HELP = (
    "Data tools: `synth` writes the synthetic six-task visual data set; `check` validates a benchmark folder "
    "and a training file and reports what is missing."
)


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
    check = sub.add_parser(
        "check",
        help="validate a benchmark folder (VLMEvalKit TSVs) and/or a training file; report what is missing",
        description="Load every benchmark under --data-root and every record of --train-file with the loaders "
        "eval and train use; print what is present, missing or invalid. Exit status 1 if anything is.",
    )
    check.add_argument("--data-root", help="folder of benchmark files (<NAME>.tsv, … as VLMEvalKit's LMUData)")
    check.add_argument(
        "--benchmarks", default="", help="comma-separated benchmark names (default: all 18)"
    )
    check.add_argument("--train-file", help="training records in the authors' schema (JSON, JSONL, parquet)")
    check.add_argument("--image-root", help="folder the training records' image paths are relative to")


def main(args: argparse.Namespace) -> int:
    if args.data_command == "check":
        return _check(args)
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


def _check(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from g2rpo.data.check import check_benchmarks, check_training
    from g2rpo.errors import UserError

    if not args.data_root and not args.train_file:
        raise UserError("data check: give --data-root (benchmarks) and/or --train-file (training records)")
    console, problems = Console(), 0
    if args.data_root:
        names = [n.strip() for n in args.benchmarks.split(",") if n.strip()] or None
        table = Table(title=f"benchmarks under {args.data_root}")
        for column in ("benchmark", "status", "items", "bad images", "file / what to do"):
            table.add_column(column, justify="right" if column in ("items", "bad images") else "left")
        for c in check_benchmarks(args.data_root, names):
            problems += c.status != "ok"
            style = {"ok": "green", "missing": "yellow", "invalid": "red"}[c.status]
            detail = c.source if c.status == "ok" else c.message
            table.add_row(c.name, f"[{style}]{c.status}[/]", str(c.n_items), str(c.n_image_errors), detail)
        console.print(table)
    if args.train_file:
        result = check_training(args.train_file, args.image_root)
        problems += not result.ok
        table = Table(title=f"training records in {result.path}")
        table.add_column("task family")
        table.add_column("records", justify="right")
        for family, n in result.per_family.items():
            table.add_row(family, str(n))
        for field_name, n in result.invalid_fields.items():
            table.add_row(f"[red]invalid: {field_name}[/]", str(n))
        console.print(table)
        if result.first_error:
            console.print(f"first invalid record: {result.first_error}", markup=False)
    console.print("all present and valid" if not problems else f"{problems} problem(s) found")
    return 1 if problems else 0

