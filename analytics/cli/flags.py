"""`flags` (warnings from every detector, one row per flag) and `evaluate` (detectors against the demo city's truth)."""

from __future__ import annotations

import argparse
import sys

import polars as pl

from analytics import export
from analytics.cli._common import add_db, add_output, emit, open_store, settings_of
from analytics.dataset import load_dataset
from analytics.detectors import registry, run_detectors
from analytics.errors import UserError

FLAGS_EPILOG = """\
Each row is one warning: kind, subject (unit, section, reviewer name or person_id as written in the data),
unit, lane, the periods it covers, the headline statistic, p- and q-value where a test applies, severity
(0-1), evidence size n, and the evidence in Chinese and English. Strongest first.

examples:
  python -m analytics flags                                   every detector, CSV to the screen
  python -m analytics flags --kinds rotation --min-severity 0.5
  python -m analytics flags --unit 常山县财政局 --format xlsx --out 财政局预警.xlsx
"""

EVALUATE_EPILOG = """\
Only for a demo store (it has the planted truth, table demo_truth). Per flag kind and planted pattern:
recall (planted subjects found), precision (flags on the planted family), and the share of honest units
flagged, also by unit size (<10, 10-29, 30+ people). Matching rules: analytics/detectors/evaluate.py.

examples:
  python -m analytics evaluate --db data/demo.duckdb
  python -m analytics evaluate --db data/demo.duckdb --format csv --out evaluation.csv
"""


def _kinds(text: str) -> list[str]:
    kinds = [k.strip() for k in text.split(",") if k.strip()]
    known = sorted({d.kind for d in registry()})
    unknown = [k for k in kinds if k not in known]
    if unknown or not kinds:
        raise argparse.ArgumentTypeError(f"unknown kind(s) {', '.join(unknown) or text!r}; known: {', '.join(known)}")
    return kinds


def _severity(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"severity is a number from 0 to 1, not {text!r}")
    return value


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("flags", help="warnings from the detectors (轮流坐庄, 老好人, ...), one row per flag",
                       description="Warnings from the detectors, one row per flag.", epilog=FLAGS_EPILOG,
                       formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    add_db(p)
    p.add_argument("--kinds", type=_kinds, help="comma-separated flag kinds (default: all detectors)")
    p.add_argument("--min-severity", type=_severity, default=0.0, metavar="X", help="only flags with severity >= X")
    p.add_argument("--unit", action="append", metavar="UNIT", help="only this unit (repeatable)")
    p.add_argument("--seed", type=int, default=0, help="random seed of the Monte Carlo tests (default 0)")
    add_output(p)
    p.set_defaults(func=run_flags)

    e = sub.add_parser("evaluate", help="score the detectors against the demo city's planted truth",
                       description="Recall, precision and honest-unit flag rate of every detector on a demo store.",
                       epilog=EVALUATE_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    add_db(e)
    e.add_argument("--seed", type=int, default=0, help="random seed of the Monte Carlo tests (default 0)")
    e.add_argument("--format", choices=("text", *export.FORMATS), default="text", help="output format (default text)")
    e.add_argument("--out", metavar="FILE", help="write to FILE instead of standard output")
    e.set_defaults(func=run_evaluate)


def run_flags(args: argparse.Namespace) -> int:
    settings = settings_of(args)
    con = open_store(args)
    try:
        data = load_dataset(con, settings)
    finally:
        con.close()
    if args.unit:
        known = set(data.quarterly["unit"].drop_nulls().unique().to_list())
        missing = [u for u in args.unit if u not in known]
        if missing:
            raise UserError(f"unknown unit(s): {', '.join(missing)}")
        flags = run_detectors(data, settings, args.kinds, args.seed).filter(pl.col("unit").is_in(args.unit))
    else:
        flags = run_detectors(data, settings, args.kinds, args.seed)
    emit(flags.filter(pl.col("severity") >= args.min_severity), args)
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    from analytics.detectors.evaluate import evaluate, format_table

    settings = settings_of(args)
    con = open_store(args)
    try:
        table = evaluate(con, settings, seed=args.seed)
    finally:
        con.close()
    if args.format == "text":
        text = format_table(table) + "\n"
        if args.out:
            with open(args.out, "w", encoding="utf-8") as fh:
                fh.write(text)
            print(f"{table.height} rows -> {args.out}")
        else:
            sys.stdout.write(text)
        return 0
    emit(table, args)
    return 0
