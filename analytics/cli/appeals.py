"""`appeals`, `appeal-pack` and `whatif`: appeals against the reviewers' flags, the pack for one person or unit,
and what would change under fair scores or other rules."""

from __future__ import annotations

import argparse
from pathlib import Path

import polars as pl

from analytics import appeal_pack, audit, export, store, whatif
from analytics.appeals import analysis
from analytics.appeals.store import load_appeals
from analytics.cli._common import add_db, add_output, emit, open_store, settings_of
from analytics.dataset import load_dataset
from analytics.errors import UserError

APPEALS_TABLES = ("reviewers", "units", "reasons", "decisions", "timing", "records")
APPEALS_HELP = """\
Appeals (申诉/复核) as imported (`python -m analytics import 申诉登记.xlsx`), and whether the reviewers the
leniency detector flags draw more appeals per person-quarter they graded than the other reviewers.
The test line (standard error) gives both rates, their ratio with a 95% interval, an exact conditional
Poisson test and a permutation test over reviewers; fewer than 10 appeals or 2 flagged reviewers:
"insufficient evidence".

tables:
  reviewers  per reviewer: flagged, person-quarters graded, people, appeals, per 100, about the reviewer, changed
  units      per unit: appeals, people, decided, changed, share changed
  reasons    per kind of reason (reviewer, quota, rotation, facts, procedure, other)
  decisions  per decision (changed, kept, not_accepted, withdrawn, pending)
  timing     days from appeal to decision, per decision
  records    every appeal, with the reviewer it concerns

examples:
  python -m analytics appeals                          # the reviewers table, and the test
  python -m analytics appeals --table reasons --format json
  python -m analytics appeals --format xlsx --out 申诉分析.xlsx   # every table, one sheet each"""

PACK_HELP = """\
The appeal pack (申诉复核材料) for one person or one unit: grades by quarter against the lane, the
reviewers and the evidence on their leniency, rotation evidence for the unit and section, annual grades
with the 优秀 gate, outcomes and appeals. .xlsx (one sheet per section) or .pdf (printable, A4 landscape,
needs Chromium) by the suffix of --out. Every pack made is recorded in the audit log (user 'cli').

examples:
  python -m analytics appeal-pack P000123 --out P000123.pdf
  python -m analytics appeal-pack --unit 城关镇 --out 城关镇.xlsx --lang en"""

WHATIF_HELP = (
    """\
What-if (推演): re-derive annual 优秀 (under the cap and the gate) and the grade-dependent entitlements
(嘉奖 for 优秀, 记三等功 for three 优秀 running, promotion priority for 好 twice or more) from fair scores
instead of the recorded grades, or under other rules. A scenario, never a verdict: nothing is written to
the store. --basis fair holds the 好 that flagged lenient reviewers gave to the bar the unit's other
reviewers set, on fair scores; the places freed go to the next in line.

tables:
  changes       every person-year whose annual grade moves, with the reason (default)
  annual        every graded person-year, recorded and what-if
  quarterly     person-quarters whose grade moves (--basis fair)
  consequences  person-years whose entitlements move, with the outcome records they hold
  units, lanes  gains and losses per unit / lane
  flow          Sankey links recorded -> what-if annual grade
  presets       the counts of changes for every preset scenario (below)

presets: """
    + ", ".join(whatif.PRESETS)
    + """ (`--table presets` describes each and counts its changes)

examples:
  python -m analytics whatif --basis fair
  python -m analytics whatif --cap 0.15 --table units
  python -m analytics whatif --cap 0.2 --cap-level lane --gate-min-good 3 --format xlsx --out 推演.xlsx
  python -m analytics whatif --table presets"""
)


def _load(args):
    settings = settings_of(args)
    con = open_store(args, read_only=True)
    try:
        return load_dataset(con, settings), load_appeals(con), settings
    finally:
        con.close()


def appeals_tables(data, appeals, settings) -> tuple[dict[str, pl.DataFrame], analysis.FlagTest]:
    flagged = analysis.flagged_reviewers(data, settings)
    reviewers = analysis.reviewer_table(appeals, data.quarterly, flagged)
    tables = {
        "reviewers": reviewers,
        "units": analysis.counts_by(appeals, "unit"),
        "reasons": analysis.counts_by(appeals, "reason_kind"),
        "decisions": analysis.counts_by(appeals, "decision"),
        "timing": analysis.time_to_decision(appeals),
        "records": analysis.attributed(appeals, data.quarterly).drop("extra", "import_id", "source_sheet"),
    }
    return tables, analysis.flag_test(reviewers)


def _run_appeals(args) -> int:
    data, appeals, settings = _load(args)
    if appeals.height == 0:
        raise UserError("库中没有申诉记录：先导入申诉登记表 / no appeals in the store: import an appeal register first")
    tables, test = appeals_tables(data, appeals, settings)
    import sys

    print(test.sentence(args.lang), file=sys.stderr)
    if args.table is None and args.format == "xlsx":
        if not args.out:
            raise UserError("--format xlsx needs --out FILE")
        export.write_xlsx(tables, args.out)
        print(f"{len(tables)} tables -> {Path(args.out)}", flush=True)
        return 0
    emit(tables[args.table or "reviewers"], args)
    return 0


def _record_export(args, target: str, detail: dict) -> None:
    """A personal export from the command line goes into the audit log like one from the app."""
    con = store.connect(store.db_path(getattr(args, "db", None)))
    try:
        audit.record(con, "cli", "export", target, detail)
    finally:
        con.close()


def _run_pack(args) -> int:
    if bool(args.person_id) == bool(args.unit):
        raise UserError("give either PERSON_ID or --unit UNIT")
    suffix = Path(args.out).suffix.lower().lstrip(".")
    if suffix not in ("xlsx", "pdf"):
        raise UserError(f"--out must end in .xlsx or .pdf, not {Path(args.out).name}")
    data, appeals, settings = _load(args)
    if args.unit:
        pack = appeal_pack.unit_pack(data, settings, appeals, args.unit, lang=args.lang)
    else:
        pack = appeal_pack.person_pack(data, settings, appeals, args.person_id, lang=args.lang)
    content = appeal_pack.file_bytes(pack, suffix, args.lang)
    Path(args.out).write_bytes(content)
    _record_export(args, f"appeal_pack:{pack.subject}.{suffix}", {"kind": "unit" if args.unit else "person"})
    print(f"{pack.subject} -> {Path(args.out)} ({len(content):,} bytes)", flush=True)
    return 0


WHATIF_TABLES = ("changes", "annual", "quarterly", "consequences", "units", "lanes", "flow", "presets")


def _scenario(args) -> whatif.Scenario:
    try:
        return whatif.Scenario(basis=args.basis, excellent_cap=args.cap, cap_level=args.cap_level,
                               min_places=args.min_places, gate_min_good=args.gate_min_good,
                               gate_no_average=False if args.gate_allow_average else None)  # fmt: skip
    except ValueError as exc:
        raise UserError(str(exc)) from None


def whatif_table(name: str, result: whatif.WhatIf, lang: str) -> pl.DataFrame:
    if name == "changes":
        return result.changes
    if name == "annual":
        return result.annual
    if name == "quarterly":
        return result.quarterly
    if name == "consequences":
        return result.consequences
    if name in ("units", "lanes"):
        return whatif.by_group(result, name[:-1])
    if name == "flow":
        return whatif.flow(result, lang)
    raise UserError(f"unknown table {name!r}; use one of {', '.join(WHATIF_TABLES)}")


def _run_whatif(args) -> int:
    import sys

    data, _, settings = _load(args)
    disclaimer = whatif.DISCLAIMER_ZH if args.lang == "zh" else whatif.DISCLAIMER_EN
    print(disclaimer, file=sys.stderr)
    if args.table == "presets":
        emit(whatif.preset_counts(data, settings), args)
        return 0
    scenario = _scenario(args)
    result = whatif.run(data, settings, scenario)
    print(f"{scenario.describe(settings, args.lang)} {result.counts_sentence(args.lang)}" + (f" ({result.note})" if result.note else ""),
          file=sys.stderr)  # fmt: skip
    if args.table is None and args.format == "xlsx":
        if not args.out:
            raise UserError("--format xlsx needs --out FILE")
        notice = pl.DataFrame({"scenario": [scenario.describe(settings, args.lang)], "notice": [disclaimer]})
        sheets = {"scenario": notice} | {n: whatif_table(n, result, args.lang) for n in WHATIF_TABLES[:-1]}
        export.write_xlsx(sheets, args.out)
        print(f"{len(sheets)} tables -> {Path(args.out)}", flush=True)
        return 0
    emit(whatif_table(args.table or "changes", result, args.lang), args)
    return 0


def _lang(p) -> None:
    p.add_argument("--lang", choices=("zh", "en"), default="zh", help="language of texts and headers (default zh)")


def register(sub: argparse._SubParsersAction) -> None:
    raw = argparse.RawDescriptionHelpFormatter
    a = sub.add_parser("appeals", help="appeals (申诉) by reviewer, unit, reason; flagged reviewers against others",
                       description=APPEALS_HELP, formatter_class=raw)  # fmt: skip
    add_db(a)
    a.add_argument("--table", choices=APPEALS_TABLES, help="one table (default reviewers; with --format xlsx: all)")
    _lang(a)
    add_output(a)
    a.set_defaults(func=_run_appeals)

    p = sub.add_parser("appeal-pack", help="the appeal pack for one person or unit (.xlsx or .pdf)",
                       description=PACK_HELP, formatter_class=raw)  # fmt: skip
    add_db(p)
    p.add_argument("person_id", nargs="?", metavar="PERSON_ID", help="人员编号")
    p.add_argument("--unit", help="the pack for this unit instead of one person")
    p.add_argument("--out", required=True, metavar="FILE", help="FILE.xlsx or FILE.pdf")
    _lang(p)
    p.set_defaults(func=_run_pack)

    w = sub.add_parser("whatif", help="what-if (推演): 优秀 and entitlements under fair scores or other rules",
                       description=WHATIF_HELP, formatter_class=raw)  # fmt: skip
    add_db(w)
    w.add_argument(
        "--basis", choices=whatif.BASES, default="recorded", help="quarterly grades as recorded or from fair scores"
    )
    w.add_argument("--cap", type=float, metavar="SHARE", help="annual 优秀 cap, e.g. 0.15-0.35 (default: settings)")
    w.add_argument("--cap-level", choices=whatif.LEVELS, default="unit", help="apply the cap per unit or per lane")
    w.add_argument("--min-places", type=int, default=1, metavar="N", help="places a small group keeps (default 1)")
    w.add_argument("--gate-min-good", type=int, metavar="N", help="好 needed in the year for 优秀 (default: settings)")
    w.add_argument("--gate-allow-average", action="store_true", help="let a year with 一般 or below pass the gate")
    w.add_argument("--table", choices=WHATIF_TABLES, help="one table (default changes; with --format xlsx: all)")
    _lang(w)
    add_output(w)
    w.set_defaults(func=_run_whatif)
