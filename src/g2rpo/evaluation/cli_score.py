"""``g2rpo score``: score an existing predictions file (VLMEvalKit layout: TSV, XLSX or JSONL) without a model."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from pathlib import Path

from g2rpo.cli import reports_errors
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


def benchmark_ref(name: str):
    """A benchmark name → its registry entry; UserError with the closest valid name otherwise."""
    from g2rpo.errors import UserError, did_you_mean
    from g2rpo.evaluation.registry import BENCHMARKS, resolve_benchmark, valid_names

    try:
        return resolve_benchmark(name)
    except KeyError as err:
        text = str(err.args[0]).partition("; valid names")[0]
        if "did you mean" not in text:
            text += did_you_mean(name.strip(), valid_names())
        raise UserError(f"{text} (the 18: {', '.join(BENCHMARKS)}; splits as NAME_SPLIT)") from err


def baselines_from(specs: list[str]) -> list:
    """``--baseline PATH[:MODEL]`` values → baselines; ``recipes/…`` paths work outside the clone too."""
    from g2rpo.errors import UserError
    from g2rpo.evaluation.report import load_baselines
    from g2rpo.recipes import resolve

    out = []
    for spec in specs:
        path, sep, model = spec.rpartition(":") if ":" in spec and not Path(spec).exists() else (spec, "", "")
        path = str(resolve(path))
        if not Path(path).is_file():
            raise UserError(f"--baseline {spec}: no results file at {path}; fix the path "
                            "(`g2rpo recipes list` shows the shipped paper_results.json)")
        try:
            out += load_baselines(f"{path}{sep}{model}")
        except KeyError as err:
            raise UserError(f"--baseline {spec}: {err.args[0]}") from err
        except ValueError as err:
            raise UserError(f"--baseline {spec}: {path} is not a results file ({err})") from err
    return out


@reports_errors("score")
def main(args: argparse.Namespace) -> int:
    from g2rpo.errors import UserError
    from g2rpo.evaluation.report import build_report, write_report
    from g2rpo.evaluation.runner import load_run_dir, score_predictions, update_summary, write_scores

    ref = benchmark_ref(args.benchmark)
    baselines = baselines_from(args.baseline)
    if not Path(args.predictions).is_file():
        raise UserError(f"--predictions: no file at {args.predictions}; give the TSV/XLSX/JSONL with a prediction column")
    try:
        run = score_predictions(ref, args.predictions, think_tag=args.think_tag)
    except OSError as err:
        raise UserError(f"--predictions {args.predictions}: cannot read it ({err.strerror or err})") from err
    out = Path(args.out) if args.out else Path(args.predictions).parent
    write_scores(out / ref.name, run)
    update_summary(out / "summary.json", [run.result])
    print_results({ref.name: run.result})
    results, items = load_run_dir(out)  # the report covers every benchmark scored into this directory
    written = write_report(out, build_report(results, items, baselines, title=f"g2rpo score: {out}"))
    print(f"summary: {out / 'summary.json'}; report: {', '.join(str(p) for p in written)}", file=sys.stderr)
    return 0
