"""`python -m analytics demo`: build the demo city (and optionally write it as export files)."""

from __future__ import annotations

import argparse
from pathlib import Path

from analytics import store
from analytics.errors import UserError

HELP = """\
Build a realistic, deterministic demo city into a fresh store (an existing file is replaced):
units of the five types (综合管理, 行政执法, 窗口服务, 乡镇街道, 法检), sections with their reviewers,
quarterly grades and scores, annual grades, outcome records, a staff survey, and planted patterns
(rotation, lenient reviewers, compression, silent negatives, outcome-rule breaks) recorded in the
table demo_truth so that the detectors can be evaluated (`python -m analytics evaluate`).

examples:
  python -m analytics demo                                  data/demo.duckdb, 2,000 people
  python -m analytics demo --persons 200000 --db /tmp/province.duckdb
  python -m analytics demo --exports out/                   also write the demo as xlsx/CSV exports
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="build the demo city (data/demo.duckdb)",
        description=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--db",
        metavar="PATH",
        default=None,
        help=f"store to (re)build (default: {store.DEMO_DB.relative_to(store.PROJECT_ROOT)})",
    )
    p.add_argument("--persons", type=int, default=2000, metavar="N", help="number of people (default 2000)")
    p.add_argument("--seed", type=int, default=7, metavar="S", help="random seed; same seed, same city (default 7)")
    p.add_argument(
        "--quarters",
        type=int,
        default=12,
        metavar="T",
        help="number of quarters from 2023Q1 (default 12 = 2023Q1-2025Q4)",
    )
    p.add_argument("--start-year", type=int, default=2023, metavar="Y", help="first year (default 2023)")
    p.add_argument("--no-survey", action="store_true", help="leave out the staff survey")
    p.add_argument("--exports", metavar="DIR", help="also write the demo as real-looking export files into DIR")
    p.add_argument(
        "--max-rows",
        type=int,
        default=500_000,
        metavar="N",
        help="most data rows per xlsx workbook in --exports (default 500000)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from analytics.demo import build_demo, write_exports

    if args.persons < 5:
        raise UserError("--persons must be at least 5")
    if not 1 <= args.quarters <= 80:
        raise UserError("--quarters must be between 1 and 80")
    path = Path(args.db) if args.db else store.DEMO_DB
    summary = build_demo(
        path,
        persons=args.persons,
        seed=args.seed,
        quarters=args.quarters,
        start_year=args.start_year,
        survey=not args.no_survey,
    )
    print(f"demo city -> {summary['db']} ({summary['seconds']} s)")
    print(
        f"  {summary['persons']:,} people in {summary['units']:,} units, {summary['sections']:,} sections, "
        f"{summary['quarters']} quarters, seed {summary['seed']}"
    )
    for table in ("quarterly", "annual", "outcomes", "survey_respondents", "survey_answers", "demo_truth"):
        if table in summary:
            print(f"  {table:<20}{summary[table]:>12,} rows")
    print("  planted: " + ", ".join(f"{p} {n}" for p, n in summary["planted"]))
    if args.exports:
        files = write_exports(path, args.exports, max_rows_per_workbook=args.max_rows)
        print(f"exports -> {args.exports}")
        for f in files:
            print(f"  {f.name}")
    return 0
