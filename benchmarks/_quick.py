"""The `--quick` option every benchmark shares (`make bench` runs them all with it).

A quick run changes only defaults (`QUICK` of each script): options given on
the command line still win, and every table keeps its columns, so the plumbing
and the table shape are checked in under two minutes. Its figures are not
comparable to a full run's. The leading underscore keeps `make bench` from
running this module as a benchmark.
"""

from __future__ import annotations

import argparse


def parse_args(parser: argparse.ArgumentParser, argv, quick: dict) -> argparse.Namespace:
    """Add `--quick` to `parser` and parse `argv`, with `quick`'s defaults when it is given."""
    changes = ", ".join(f"--{name.replace('_', '-')} {_shown(value)}" for name, value in quick.items())
    parser.add_argument("--quick", action="store_true",
                        help=f"under 2 minutes: {changes} unless given; figures not comparable to a full run")
    args = parser.parse_args(argv)
    if args.quick:
        parser.set_defaults(**quick)
        args = parser.parse_args(argv)
    return args


def announce(args: argparse.Namespace) -> None:
    """Say on stdout, before the table, that this is a quick run."""
    if args.quick:
        print("QUICK run (--quick): smaller defaults to check the plumbing and the table shape; "
              "the figures are not comparable to a full run's")


def _shown(value) -> str:
    return " ".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)
