"""Command line: `python -m dagster_project.sample --out DIR --size small`."""

from __future__ import annotations

import argparse
import sys
from datetime import date

from dagster_project.sample.generator import DEFAULT_END_DATE, SIZES, generate


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m dagster_project.sample",
        description="Write a deterministic sample organisation in the neutral event form.",
    )
    parser.add_argument("--out", required=True, help="folder to write the four files into")
    parser.add_argument("--size", choices=SIZES, default="small", help="organisation size")
    parser.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    parser.add_argument(
        "--end-date",
        type=date.fromisoformat,
        default=DEFAULT_END_DATE,
        help=f"last simulated day, YYYY-MM-DD (default {DEFAULT_END_DATE})",
    )
    parser.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="fraction of the size's days to simulate, in (0, 1] (default 1)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    counts = generate(
        args.out, size=args.size, seed=args.seed, end_date=args.end_date, scale=args.scale
    )
    for name, count in counts.items():
        print(f"{name}: {count}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
