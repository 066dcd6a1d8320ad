"""`flags` (warnings from every detector, one row per flag) and `evaluate` (detectors against the demo city's truth)."""

from __future__ import annotations

import argparse
import sys

import polars as pl

from analytics import export, flag_review, flag_store, snapshots, store
from analytics.cli._common import add_db, add_output, emit, open_store, settings_of
from analytics.dataset import load_dataset
from analytics.detectors import registry, run_detectors
from analytics.errors import UserError

FLAGS_EPILOG = """\
The detectors run once per store version: their flags are stored (table `flags`) and read back while
the data, the settings and the detectors' code stay the same; `--refresh` recomputes and stores them.
Each row is one warning: kind, subject (unit, section, reviewer name or person_id as written in the data),
unit, lane, the periods it covers, the headline statistic, p- and q-value where a test applies, severity
(0-1), evidence size n, and the evidence in Chinese and English. Strongest first.

Every row also carries flag_key (the finding, stable across recomputation) and its review: status
(open 待核查, confirmed 核实, dismissed 误报, resolved 已整改), assignee, note, reviewed_at, reviewed_by, and
reopened (a resolved finding found again on later data).

examples:
  python -m analytics flags                                   every detector, CSV to the screen
  python -m analytics flags --kinds rotation --min-severity 0.5
  python -m analytics flags --unit 常山县财政局 --format xlsx --out 财政局预警.xlsx
  python -m analytics flags --refresh                         recompute and store (the app does this by itself)
  python -m analytics flags list --status 待核查               the findings still waiting for a look
  python -m analytics flags review 3f2a9c1b7d20 --status 核实 --assignee 张科长 --note "已约谈"
"""

REVIEW_EPILOG = """Records a review of one finding (by its flag_key, from `flags list`) in the store's flag_reviews table and
the audit log. Status: 待核查 (open), 核实 (confirmed), 误报 (dismissed), 已整改 (resolved). The status stays
with the finding when the flags are recomputed; a resolved finding found again after new data reopens.

examples:
  python -m analytics flags review 3f2a9c1b7d20 --status 核实 --assignee 张科长 --note "已约谈，情况属实"
  python -m analytics flags review 3f2a9c1b7d20 --status 已整改 --note "已重新评定"
  python -m analytics flags review 3f2a9c1b7d20 --status dismissed --by 李督查
"""

EVALUATE_EPILOG = """\
Scores the detectors on a demo city (it has the planted truth, table demo_truth). Without --db a fresh
demo city is built for --seed (and --persons) in a temporary folder, so anyone can rerun the same table.
Per planted pattern: recall, and recall on the findable plants (those an exact test on the planted people
and quarters can see); per flag kind: precision and the share of honest units flagged; and the honest
look-alikes (stable stars, seasonal roles, staff turnover, small units, honest sole reviewers) flagged.
--format csv/xlsx also gives every unit-size band (<10, 10-29, 30+ people).
Matching rules: analytics/detectors/evaluate.py.

examples:
  python -m analytics evaluate --seed 1                  build the demo city of seed 1 (6,000 people) and score it
  python -m analytics evaluate --seed 2 --persons 2000
  python -m analytics evaluate --db data/demo.duckdb     an existing demo store
  python -m analytics evaluate --seed 1 --format csv --out evaluation.csv
"""


EVALUATE_PERSONS = 6000


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 5:
        raise argparse.ArgumentTypeError(f"a number of people, at least 5, not {text!r}")
    return value


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


def _add_selection(p: argparse.ArgumentParser) -> None:
    add_db(p)
    p.add_argument("--kinds", type=_kinds, help="comma-separated flag kinds (default: all detectors)")
    p.add_argument("--min-severity", type=_severity, default=0.0, metavar="X", help="only flags with severity >= X")
    p.add_argument("--unit", action="append", metavar="UNIT", help="only this unit (repeatable)")
    p.add_argument("--status", action="append", metavar="STATUS",
                   help="only flags with this review status: 待核查 核实 误报 已整改 (repeatable)")  # fmt: skip
    p.add_argument("--seed", type=int, default=0, help="random seed of the Monte Carlo tests (default 0; "
                   "other seeds are computed on the spot, not stored)")  # fmt: skip
    p.add_argument("--refresh", action="store_true", help="run every detector now and store the flags")
    p.add_argument("--from-snapshot", metavar="PATH", help=argparse.SUPPRESS)  # the app's background run
    p.add_argument("--quiet", action="store_true", help="with --refresh: print nothing")
    add_output(p)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("flags", help="warnings from the detectors (轮流坐庄, 老好人, ...), one row per flag; list, review",
                       description="Warnings from the detectors, one row per flag, with their review status.",
                       epilog=FLAGS_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    _add_selection(p)
    p.set_defaults(func=run_flags)
    actions = p.add_subparsers(dest="flags_action", metavar="ACTION", title="actions")
    listing = actions.add_parser("list", help="the flags with their review status (the same as plain `flags`)",
                                 description="The flags with their review status, strongest first.",
                                 epilog=FLAGS_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    _add_selection(listing)
    listing.set_defaults(func=run_flags)
    r = actions.add_parser("review", help="record a review of one finding: status, assignee, note",
                           description="Record a review of one finding (status 待核查 · 核实 · 误报 · 已整改).",
                           epilog=REVIEW_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    add_db(r)
    r.add_argument("flag_key", metavar="FLAG_KEY", help="the finding's flag_key (column flag_key of `flags list`)")
    r.add_argument(
        "--status", required=True, help="待核查, 核实, 误报 or 已整改 (or open, confirmed, dismissed, resolved)"
    )
    r.add_argument("--assignee", help="who follows it up")
    r.add_argument("--note", help="what was found or done")
    r.add_argument("--by", default="cli", help="who records the review (default: cli)")
    r.add_argument("--seed", type=int, default=0, help="random seed of the Monte Carlo tests (default 0)")
    r.set_defaults(func=run_review)

    e = sub.add_parser("evaluate", help="score the detectors against the demo city's planted truth",
                       description="Recall, precision and honest-unit flag rate of every detector on a demo store.",
                       epilog=EVALUATE_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    add_db(e)
    e.add_argument(
        "--seed",
        type=int,
        default=1,
        help="seed of the demo city built when no --db is given, and of the Monte Carlo tests (default 1)",
    )
    e.add_argument(
        "--persons",
        type=_positive,
        default=EVALUATE_PERSONS,
        metavar="N",
        help=f"people in the demo city built when no --db is given (default {EVALUATE_PERSONS:,})",
    )
    e.add_argument("--format", choices=("text", *export.FORMATS), default="text", help="output format (default text)")
    e.add_argument("--out", metavar="FILE", help="write to FILE instead of standard output")
    e.set_defaults(func=run_evaluate)


def _reviewed_flags(args: argparse.Namespace, kinds=None) -> pl.DataFrame:
    """The current flags (every detector or `kinds`) with their review status."""
    flags = _current_flags(args, settings_of(args), kinds)
    con = open_store(args)
    try:
        reviews = flag_review.latest_reviews(con)
    finally:
        con.close()
    return flag_review.with_status(flags, reviews, flag_review.store_version(store.db_path(args.db)))


def run_flags(args: argparse.Namespace) -> int:
    if args.refresh:
        open_store(args).close()  # a clear message when there is no store
        stored = flag_store.compute(store.db_path(args.db), settings_of(args), source=args.from_snapshot)
        if not args.quiet:
            print("another process is computing the flags" if stored is None else f"{stored} flags stored")
        return 0
    flags = _reviewed_flags(args, args.kinds)
    if args.unit:
        known = set(flags["unit"].drop_nulls().unique().to_list()) | _units(args)
        missing = [u for u in args.unit if u not in known]
        if missing:
            raise UserError(f"unknown unit(s): {', '.join(missing)}")
        flags = flags.filter(pl.col("unit").is_in(args.unit))
    flags = flag_review.select_status(flags, args.status)
    emit(flags.filter(pl.col("severity") >= args.min_severity), args)
    return 0


def run_review(args: argparse.Namespace) -> int:
    status = flag_review.parse_status(args.status)  # refuse a bad status before the detectors run
    found = _reviewed_flags(args).filter(pl.col("flag_key") == args.flag_key.strip())
    if found.height == 0:
        raise UserError(
            f"当前数据中没有 flag_key 为 {args.flag_key} 的预警（用 `flags list` 查看）"
            f" / no flag with flag_key {args.flag_key!r} in the current data (see `flags list`)"
        )
    flag = found.row(0, named=True)
    path = store.db_path(args.db)
    row = flag_review.review(path, flag, status, args.assignee, args.note, by=args.by)
    word = flag_review.status_label(row["status"], "zh")
    print(f"{row['flag_key']} {flag['kind']} {flag['subject']} ({flag['unit']}): {word} / {row['status']}")
    return 0


def _current_flags(args: argparse.Namespace, settings, kinds=None) -> pl.DataFrame:
    """The stored flags when they are current; else computed now (and stored, for the default seed)."""
    con = open_store(args)
    try:
        stored = flag_store.read(con, snapshots.data_version(con), settings)
        if stored.current and args.seed == flag_store.SEED:
            return stored.flags.filter(pl.col("kind").is_in(kinds)) if kinds else stored.flags
        if args.seed != flag_store.SEED or kinds:
            return run_detectors(load_dataset(con, settings), settings, kinds, args.seed)
    finally:
        con.close()
    if flag_store.compute(store.db_path(args.db), settings) is None:  # another process is computing: do it here
        con = open_store(args)
        try:
            return run_detectors(load_dataset(con, settings), settings, None, args.seed)
        finally:
            con.close()
    con = open_store(args)
    try:
        return flag_store.read(con, snapshots.data_version(con), settings).flags
    finally:
        con.close()


def _units(args: argparse.Namespace) -> set[str]:
    con = open_store(args)
    try:
        return {r[0] for r in con.execute("SELECT DISTINCT unit FROM quarterly WHERE unit IS NOT NULL").fetchall()}
    finally:
        con.close()


def run_evaluate(args: argparse.Namespace) -> int:
    from analytics.detectors.evaluate import evaluate, format_table

    settings = settings_of(args)
    if args.db:
        con = open_store(args)
        try:
            table = evaluate(con, settings, seed=args.seed)
        finally:
            con.close()
    else:
        import tempfile
        from pathlib import Path

        from analytics.demo import build_demo

        with tempfile.TemporaryDirectory() as folder:
            db = Path(folder) / "demo.duckdb"
            build_demo(db, persons=args.persons, seed=args.seed, survey=False)
            table = evaluate(db, settings, seed=args.seed)
    if args.format == "text":
        text = format_table(table, seed=args.seed) + "\n"
        if args.out:
            with open(args.out, "w", encoding="utf-8") as fh:
                fh.write(text)
            print(f"{table.height} rows -> {args.out}")
        else:
            sys.stdout.write(text)
        return 0
    emit(table, args)
    return 0
