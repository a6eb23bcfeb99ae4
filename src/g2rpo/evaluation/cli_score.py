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
    parser.add_argument("--out", default=None, help="directory for summary.json and the report (default: beside the file)")
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


def main(args: argparse.Namespace) -> int:
    from g2rpo.evaluation.records import DataFormatError
    from g2rpo.evaluation.registry import resolve_benchmark
    from g2rpo.evaluation.report import build_report, load_baselines, write_report
    from g2rpo.evaluation.runner import score_predictions, update_summary

    try:
        ref = resolve_benchmark(args.benchmark)
        run = score_predictions(ref, args.predictions, think_tag=args.think_tag)
        baselines = [b for spec in args.baseline for b in load_baselines(spec)]
    except (KeyError, DataFormatError, OSError) as err:
        print(f"error: {err.args[0] if isinstance(err, KeyError) else err}", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else Path(args.predictions).parent
    update_summary(out / "summary.json", [run.result])
    print_results({ref.name: run.result})
    write_report(out, build_report({ref.name: run.result}, {ref.name: run.items}, baselines, title=f"g2rpo score: {ref.name}"))
    print(f"summary: {out / 'summary.json'}", file=sys.stderr)
    return 0
