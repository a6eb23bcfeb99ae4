"""Recipe §3's worked examples through the public API, side by side with GRPO and Dr.GRPO.

    g2rpo examples        (or: python -m g2rpo.examples.worked)
"""

from __future__ import annotations

import argparse
import sys

import torch

from g2rpo.algo import ADVANTAGE_ESTIMATORS, Envelope, filter_groups, length_score, make_estimator

HELP = "print the recipe's worked examples computed by every advantage estimator"

WORKED_REWARDS = {
    "binary, one success": [0, 0, 0, 0, 1],
    "binary, three successes": [0, 0, 1, 1, 1],
    "sparse with an outlier": [0.1, 0.1, 0.1, 0.2, 1.0],
    "dense and narrow (IoU)": [0.81, 0.81, 0.82, 0.82, 0.83],
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--estimators", default=",".join(ADVANTAGE_ESTIMATORS),
                        help="comma-separated names from the registry")


def main(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from g2rpo.errors import UserError, did_you_mean

    console = Console()
    names = [n.strip() for n in args.estimators.split(",") if n.strip()]
    for name in names:
        if name not in ADVANTAGE_ESTIMATORS:
            raise UserError(f"--estimators: unknown estimator {name!r}{did_you_mean(name, ADVANTAGE_ESTIMATORS)} "
                            f"(valid: {', '.join(ADVANTAGE_ESTIMATORS)})")
    for title, rewards in WORKED_REWARDS.items():
        table = Table(title=f"{title}: rewards {rewards}", title_justify="left")
        table.add_column("estimator")
        for i in range(len(rewards)):
            table.add_column(f"A{i + 1}", justify="right")
        r = torch.tensor(rewards, dtype=torch.float64)
        ids = torch.zeros(len(rewards), dtype=torch.int64)
        for name in names:
            adv = make_estimator(name)(r, ids, ids)
            table.add_row(name, *(f"{a:+.3f}" for a in adv.tolist()))
        console.print(table)

    env = Envelope(10, 20, 30, 50)
    lengths = torch.tensor([5, 10, 15, 20, 30, 40, 50, 60])
    console.print(f"length_score(L, Envelope{tuple(env.as_list())}) for L = {lengths.tolist()}:")
    console.print(f"  {[round(v, 3) for v in length_score(lengths, env).tolist()]}")
    acc = torch.tensor([1.0, 1.0, 0.0, 1.0, 0.0, 0.0])
    keep = filter_groups(acc, torch.tensor([0, 0, 1, 1, 2, 2]))
    console.print(f"filter_groups(accuracy {acc.tolist()}, groups [0,0,1,1,2,2]) keeps {keep.tolist()}")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=HELP)
    add_arguments(parser)
    sys.exit(main(parser.parse_args()))
