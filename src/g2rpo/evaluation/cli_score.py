"""``g2rpo score``: score an existing predictions file (VLMEvalKit layout: TSV, XLSX or JSONL) without a model."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from pathlib import Path

from g2rpo.evaluation.records import BenchmarkResult

HELP = "score a predictions file (benchmark columns + 'prediction'; TSV, XLSX or JSONL) and write summary.json"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--benchmark", required=True, help="benchmark name, e.g. MMBench_DEV_EN or RefCOCO_testA")
    parser.add_argument("--predictions", required=True, help="TSV/XLSX/JSONL file with the benchmark columns + prediction")
    parser.add_argument(
        "--out", default=None,
        help="directory for summary.json, <benchmark>/scores.jsonl and the report (default: beside the file); "
        "the report covers every benchmark scored into it",
    )
    parser.add_argument("--think-tag", default="thinking", help="reasoning tag of the responses")
    parser.add_argument("--baseline", action="append", default=[], help="results file to compare with (PATH or PATH:MODEL)")


def print_results(results: Mapping[str, BenchmarkResult]) -> None:
    """A rich table of headline metrics on stdout."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title="scores")
    for column in ("benchmark", "metric", "value", "items", "other metrics"):
        table.add_column(column)
    for name, r in results.items():
        others = ", ".join(f"{m} {v:.2f}" for m, v in r.metrics.items() if m != r.primary)
        table.add_row(name, r.primary, f"{r.value:.2f}", str(r.n_items), others)
    Console().print(table)
    for name, r in results.items():
        if r.n_errors:
            print(f"warning: {name}: {r.notes[-1]}", file=sys.stderr)


def main(args: argparse.Namespace) -> int:
    from g2rpo.evaluation.records import DataFormatError
    from g2rpo.evaluation.registry import resolve_benchmark
    from g2rpo.evaluation.report import build_report, load_baselines, write_report
    from g2rpo.evaluation.runner import load_run_dir, score_predictions, update_summary, write_scores

    try:
        ref = resolve_benchmark(args.benchmark)
        run = score_predictions(ref, args.predictions, think_tag=args.think_tag)
        baselines = [b for spec in args.baseline for b in load_baselines(spec)]
    except (KeyError, DataFormatError, OSError) as err:
        print(f"error: {err.args[0] if isinstance(err, KeyError) else err}", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else Path(args.predictions).parent
    write_scores(out / ref.name, run)
    update_summary(out / "summary.json", [run.result])
    print_results({ref.name: run.result})
    results, items = load_run_dir(out)  # the report covers every benchmark scored into this directory
    written = write_report(out, build_report(results, items, baselines, title=f"g2rpo score: {out}"))
    print(f"summary: {out / 'summary.json'}; report: {', '.join(str(p) for p in written)}", file=sys.stderr)
    return 0
