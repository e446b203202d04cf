"""Parse the command line and hand each subcommand its options (``report`` for now)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .. import __version__
from ..config.settings import JSON_DETAILS

__all__ = ["main", "parser"]


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="python -m pytest_hotmess",
        description="Gate results other eval tools wrote on bias, variance and incoherence.",
    )
    top.add_argument("--version", action="version", version=f"pytest-hotmess {__version__}")
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    report = commands.add_parser(
        "report",
        help="read results files, print the coherence table, gate them",
        description="Each SOURCE is judged as one test: its items, their samples, the gate. "
        "Exit status 1 when a gate fails, 4 when a source or option is unusable.",
    )
    report.add_argument("sources", nargs="+", metavar="SOURCE", help="a results file")
    report.add_argument(
        "--format",
        default="auto",
        help="the tool that wrote the files: auto (default), inspect, promptfoo, lm-eval, "
        "jsonl or csv",
    )
    report.add_argument(
        "--extract",
        metavar="REGEX",
        help="the outcome is the first group (or the match) of REGEX in each sample's output "
        "text; no match is an invalid sample",
    )
    report.add_argument("--kind", help="outcome kind (default: inferred per item)")
    for name in ("max_incoherence", "max_bias", "max_variance", "max_error"):
        report.add_argument(f"--{name.replace('_', '-')}", type=float, metavar="X")
    report.add_argument("--loss", help="the loss (default: by outcome kind)")
    report.add_argument("--estimator", help="unbiased (default), plugin or jackknife")
    report.add_argument(
        "--confidence", type=float, help="gate on a one-sided interval at this level"
    )
    report.add_argument(
        "--inconclusive",
        default="point",
        choices=("point", "fail", "pass"),
        help="an undecided statistical gate: judge by the point estimate (default), fail, pass",
    )
    report.add_argument("--json", metavar="PATH", help="write the JSON report here")
    report.add_argument(
        "--json-detail",
        choices=JSON_DETAILS,
        default="items",
        help="per-item data in the JSON report: tests, items (default) or samples",
    )
    report.add_argument("--html", metavar="PATH", help="write the HTML report here")
    report.add_argument("--junitxml", metavar="PATH", help="write a JUnit XML file here")
    report.add_argument(
        "--details", action="store_true", help="incoherence by length and ensembles"
    )
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from .report import run_report

    return run_report(args, out=sys.stdout, err=sys.stderr)
