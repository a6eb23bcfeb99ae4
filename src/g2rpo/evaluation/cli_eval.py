"""``g2rpo eval``: generate and score benchmarks with a model, resumably, and write summary + report."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from g2rpo.cli import reports_errors

HELP = "evaluate a model on benchmarks (VLMEvalKit names); resumable; writes summary.json and a report"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="checkpoint directory or hub id (served model name for openai)")
    parser.add_argument("--benchmarks", required=True, help="comma-separated names, e.g. MMStar,RefCOCO_testA")
    parser.add_argument("--data-root", required=True, help="folder with <NAME>.tsv files or <NAME>/ HF dataset folders")
    parser.add_argument("--backend", default="hf", choices=["hf", "vllm", "openai"], help="generation backend")
    parser.add_argument("--limit", type=int, default=None, help="evaluate only the first N items per benchmark")
    parser.add_argument("--out", default="outputs/eval", help="run directory (cache, summary.json, report)")
    parser.add_argument("--batch-size", type=int, default=8, help="requests per backend call (cache flush unit)")
    parser.add_argument("--max-new-tokens", type=int, default=4096, help="response budget in tokens")
    parser.add_argument("--temperature", type=float, default=0.0, help="0 = greedy")
    parser.add_argument("--think-tag", default="thinking", help="reasoning tag named in the prompt")
    parser.add_argument("--device", default=None, help="hf backend device (default: cuda if available)")
    parser.add_argument("--max-pixels", type=int, default=None, help="hf backend: cap on each image's resized area")
    parser.add_argument("--base-url", default="http://localhost:8000/v1", help="openai backend server URL")
    parser.add_argument("--concurrency", type=int, default=16, help="openai backend parallel requests")
    parser.add_argument("--timeout", type=float, default=600.0, help="openai backend per-request timeout (s)")
    parser.add_argument("--baseline", action="append", default=[], help="results file to compare with (PATH or PATH:MODEL); repeatable")
    parser.add_argument("--overwrite", action="store_true", help="discard cached predictions made with other settings")


def check_device(device: str | None, backend: str) -> None:
    """``--device cuda…`` needs a CUDA device torch can see; one line saying so otherwise."""
    if backend != "hf" or not device or not device.startswith("cuda"):
        return
    import torch

    from g2rpo.errors import UserError

    if not torch.cuda.is_available():
        build = f"torch {torch.__version__}" + ("" if torch.version.cuda else ", a CPU-only build")
        raise UserError(f"--device {device}: no CUDA device is visible ({build}); use --device cpu or run on a GPU host")
    index = device.partition(":")[2]
    if index.isdigit() and int(index) >= torch.cuda.device_count():
        raise UserError(f"--device {device}: only {torch.cuda.device_count()} CUDA device(s) visible; "
                        f"use cuda:0 … cuda:{torch.cuda.device_count() - 1}")


@reports_errors("eval")
def main(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from g2rpo.errors import UserError
    from g2rpo.evaluation.backends import GenerationSettings, LazyBackend
    from g2rpo.evaluation.cli_score import baselines_from, benchmark_ref, print_results
    from g2rpo.evaluation.items import load_items
    from g2rpo.evaluation.report import build_report, write_report
    from g2rpo.evaluation.runner import load_run_dir, run_benchmark, update_summary

    console = Console(stderr=True)
    check_device(args.device, args.backend)
    if args.backend == "hf":
        from g2rpo.config_files import check_model_reference

        check_model_reference(args.model, where="--model", key="model", fix="(a checkpoint folder or a hub id)")
    refs = [benchmark_ref(n) for n in args.benchmarks.split(",") if n.strip()]
    if not refs:
        raise UserError("--benchmarks is empty; name one or more, e.g. --benchmarks MMStar,MathVista_MINI")
    if not Path(args.data_root).is_dir():
        raise UserError(f"--data-root: no folder at {args.data_root}; point it at the folder of <NAME>.tsv files")
    try:
        loaded = [(ref, load_items(ref, args.data_root, limit=args.limit)) for ref in refs]
    except OSError as err:
        raise UserError(f"--data-root {args.data_root}: {err}") from err
    baselines = baselines_from(args.baseline)
    settings = GenerationSettings(max_new_tokens=args.max_new_tokens, temperature=args.temperature)
    options: dict = {}
    if args.backend == "hf":
        options.update({k: v for k, v in (("device", args.device), ("max_pixels", args.max_pixels)) if v is not None})
    if args.backend == "openai":
        options.update(base_url=args.base_url, concurrency=args.concurrency, timeout_s=args.timeout)
    backend = LazyBackend(args.backend, args.model, settings, **options)  # loads only if something is missing
    out = Path(args.out)
    runs = {}
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()]
    with Progress(*columns, console=console) as progress:
        for ref, items in loaded:
            try:
                runs[ref.name] = run_benchmark(
                    ref, items, backend, out, batch_size=args.batch_size, think_tag=args.think_tag,
                    overwrite=args.overwrite, progress=progress,
                )
            except UserError:
                raise
            except ValueError as err:
                raise UserError(f"{ref.name}: {' '.join(str(err).split())}") from err
            update_summary(out / "summary.json", [runs[ref.name].result])
    print_results({n: r.result for n, r in runs.items()})
    results, items = load_run_dir(out)  # the report covers every benchmark evaluated into this directory
    written = write_report(out, build_report(results, items, baselines, title=f"g2rpo eval: {args.model}"))
    print(f"summary: {out / 'summary.json'}; report: {', '.join(str(p) for p in written)}", file=sys.stderr)
    return 0
