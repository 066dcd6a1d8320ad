"""`rank` (分类排名: people or units within lanes) and `quota` (好/优秀 against their caps)."""

from __future__ import annotations

import argparse

from analytics.cli._common import add_db, add_output, emit, open_store, settings_of
from analytics.dataset import load_dataset
from analytics.errors import UserError
from analytics.quota import annual_quota, caps_table, quarterly_quota
from analytics.rankings import PEOPLE_BY, UNITS_BY, parse_period, rank_people, rank_units

RANK_EPILOG = """\
Ranks like with like: each person only against people of the same lane (赛道), small lanes pooled
and marked in lane_pooled_from. Ties share the best rank (1, 2, 2, 4); percentile 100 = best in lane;
rank_change > 0 = moved up since the previous period of the same length.

  --by score   mean score; a lane where someone has no score is ranked by grade points (see `basis`)
  --by grade   mean grade points (好 4, 较好 3, 一般 2, 较差 1)
  --by index   composite of sub-scores (weights in settings.toml, [[ranking.indexes]])
  --by fair    score with the reviewer's (else unit's) leniency taken out
  --units      rank units within unit types by --by good_share (default), score or fair

examples:
  python -m analytics rank                                  latest quarter, by score
  python -m analytics rank --period 2025Q4 --by fair --lane 乡镇街道·一般干部
  python -m analytics rank --year 2025 --by grade --format xlsx --out 2025排名.xlsx
  python -m analytics rank --window 4 --by index --index 实绩作风
  python -m analytics rank --units --by good_share --period 2025Q3
"""

QUOTA_EPILOG = """\
Quarterly: quota = max(floor(cap x n), minimum), n = people graded (不确定等次 not counted);
over = more 好 than the quota. Annual (--annual): share of 优秀 per unit and per lane against the
cap (approved units get the higher cap). Caps live in settings.toml, [quota]; a unit listed in
[quota.unit_caps] answers to its own 好 and/or 优秀 cap instead (column cap_source: unit, approved
or general). --caps lists the cap each unit answers to, and names listed units the data lack.

examples:
  python -m analytics quota --year 2025 --over
  python -m analytics quota --annual --format xlsx --out 优秀比例.xlsx
  python -m analytics quota --caps --settings 本区设置.toml
"""


def _year(text: str) -> int:
    if not text.isdigit() or len(text) != 4:
        raise argparse.ArgumentTypeError(f"not a year: {text!r} (write it like 2025)")
    return int(text)


def _period(text: str) -> str:
    try:
        parse_period(text)
    except UserError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"not a number of quarters: {text!r}")
    return int(text)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "rank",
        help="rank people (or units) within their lanes",
        description="分类排名: rank people, or units, within lanes for a quarter, a year or a rolling window.",
        epilog=RANK_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_db(p)
    when = p.add_mutually_exclusive_group()
    when.add_argument("--period", type=_period, metavar="2025Q4", help="one quarter (default: the latest in the store)")
    when.add_argument("--year", type=_year, metavar="YYYY", help="a calendar year, all four quarters")
    p.add_argument("--window", type=_positive, metavar="N", help="N quarters ending at --period (default: the latest)")
    p.add_argument("--lane", metavar="LANE", help="one lane only (a pooled lane's own people are shown in the pool)")
    p.add_argument("--by", choices=sorted(set(PEOPLE_BY) | set(UNITS_BY)), help="yardstick (see below)")
    p.add_argument("--index", metavar="NAME", help="which composite index for --by index (default: first with data)")
    p.add_argument("--units", action="store_true", help="rank units within unit types instead of people")
    add_output(p)
    p.set_defaults(func=run_rank)

    q = sub.add_parser(
        "quota",
        help="好 per unit and quarter (or 优秀 per year) against the caps",
        description="名额检查: share of 好 per unit and quarter, or of annual 优秀 per unit and lane, against the caps.",
        epilog=QUOTA_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_db(q)
    q.add_argument("--year", type=_year, metavar="YYYY", help="one year only")
    q.add_argument("--annual", action="store_true", help="annual 优秀 instead of quarterly 好")
    q.add_argument("--over", action="store_true", help="only rows over the cap")
    q.add_argument("--caps", action="store_true", help="the 好 and 优秀 cap each unit answers to, and why")
    add_output(q)
    q.set_defaults(func=run_quota)


def _load(args: argparse.Namespace):
    settings = settings_of(args)
    con = open_store(args, read_only=True)
    try:
        return load_dataset(con, settings), settings
    finally:
        con.close()


def run_rank(args: argparse.Namespace) -> int:
    data, settings = _load(args)
    if args.units:
        by = args.by or "good_share"
        if args.index:
            raise UserError("--index applies to people, not --units")
        frame = rank_units(data, settings, args.period, args.year, args.lane, by=by, window=args.window)
    else:
        frame = rank_people(
            data, settings, args.period, args.year, args.window, args.lane, by=args.by or "score", index=args.index
        )
    emit(frame, args)
    return 0


def run_quota(args: argparse.Namespace) -> int:
    data, settings = _load(args)
    if args.caps:
        if args.annual or args.over or args.year is not None:
            raise UserError("--caps lists the caps themselves: leave out --annual, --over and --year")
        emit(caps_table(data, settings), args)
        return 0
    frame = annual_quota(data, settings) if args.annual else quarterly_quota(data, settings)
    if args.year is not None:
        frame = frame.filter(frame["year"] == args.year)
    if args.over:
        frame = frame.filter(frame["over"])
    emit(frame, args)
    return 0
