"""`outcomes` and `register`: how results are used (结果运用), and the registration form (考核登记表)."""

from __future__ import annotations

import argparse
from pathlib import Path

from analytics import export, outcome_units, outcomes
from analytics import register as forms
from analytics.cli._common import add_db, add_output, emit, open_store, settings_of
from analytics.dataset import AssessmentData, load_dataset
from analytics.errors import UserError
from analytics.settings import Settings

TABLES = ("flow", "patterns", "lanes", "units", "timing", "linked", "unknown")

OUTCOMES_HELP = """\
Summary tables of outcome use (结果运用) against the grades, per person-year.

tables:
  flow      Sankey links: quarterly pattern -> annual grade -> main outcome (source, target, value)
  patterns  outcome rates by quarterly grade pattern (4×好, 3×好+1×较好, ..., 含一般或较差)
  lanes     outcome rates by lane (赛道)
  units     per unit and year: people, share rewarded / with negative consequences, bonus spread, rule breaks
  timing    days from the end of the assessment year to the outcome, by kind (median, p25, p75)
  linked    one row per person and year: quarterly counts, pattern, annual grade, outcomes, bonus
  unknown   outcome names not in the canonical set (stored as 'other')

examples:
  python -m analytics outcomes --year 2024                       # the units table as CSV
  python -m analytics outcomes --table flow --format json
  python -m analytics outcomes --format xlsx --out 结果运用.xlsx   # every table, one sheet each
Rule breaks (优秀 without the quarterly gate, promotion after 一般, ...) are flags: `python -m analytics flags`."""

REGISTER_HELP = """\
The registration form 公务员年度考核登记表（平时考核情况）as a printable one-page xlsx.

examples:
  python -m analytics register CS0001 --year 2024 --out CS0001_2024.xlsx
  python -m analytics register --unit 常山县财政局 --year 2024 --out 财政局_2024.xlsx   # one sheet per person
  python -m analytics register --unit 常山县财政局 --year 2024 --out 财政局_2024.pdf    # one A4 page per person"""


def _load(args: argparse.Namespace) -> tuple[AssessmentData, Settings]:
    settings = settings_of(args)
    con = open_store(args, read_only=True)
    try:
        return load_dataset(con, settings), settings
    finally:
        con.close()


def summary_table(name: str, data: AssessmentData, settings: Settings, year: int | None):
    """One of TABLES as a frame."""
    if name == "flow":
        return outcomes.flow(data, settings, year)
    if name == "patterns":
        return outcomes.rates_by_pattern(data, settings, year)
    if name == "lanes":
        return outcomes.rates_by(data, settings, "lane", year)
    if name == "units":
        return outcome_units.unit_use(data, settings, year)
    if name == "timing":
        return outcomes.time_to_outcome(data, settings)
    if name == "linked":
        linked = outcomes.link(data, settings)
        linked = linked.with_columns(linked["outcomes"].list.join(",").alias("outcomes"))  # flat text for CSV/xlsx
        return linked if year is None else linked.filter(linked["year"] == year)
    if name == "unknown":
        return outcomes.unknown_outcomes(data)
    raise UserError(f"unknown table {name!r}; use one of {', '.join(TABLES)}")


def _run_outcomes(args: argparse.Namespace) -> int:
    data, settings = _load(args)
    if args.table is None and args.format == "xlsx":
        if not args.out:
            raise UserError("--format xlsx needs --out FILE")
        sheets = {name: summary_table(name, data, settings, args.year) for name in TABLES}
        export.write_xlsx(sheets, args.out)
        print(f"{len(sheets)} tables -> {Path(args.out)}", flush=True)
        return 0
    emit(summary_table(args.table or "units", data, settings, args.year), args)
    return 0


def _run_register(args: argparse.Namespace) -> int:
    suffix = Path(args.out).suffix.lower()
    if suffix not in (".xlsx", ".pdf", ".html") or (suffix != ".xlsx" and not args.unit):
        raise UserError(
            "--out 须为 .xlsx 文件（整个单位 --unit 时也可为 .pdf 或 .html）/ "
            "--out must name an .xlsx file (or, with --unit, a .pdf or .html)"
        )
    if bool(args.person_id) == bool(args.unit):
        raise UserError("give either PERSON_ID or --unit UNIT")
    data, settings = _load(args)
    if args.unit and suffix != ".xlsx":
        from analytics import register_print

        if suffix == ".pdf":
            Path(args.out).write_bytes(register_print.registration_forms_pdf(data, args.year, args.unit, settings))
        else:
            html = register_print.registration_forms_html(data, args.year, args.unit, settings)
            Path(args.out).write_text(html, encoding="utf-8")
        print(f"{args.unit} {args.year} -> {Path(args.out)}", flush=True)
        return 0
    if args.unit:
        forms.registration_forms_xlsx(data, args.year, args.unit, args.out, settings)
        print(f"{args.unit} {args.year} -> {Path(args.out)}", flush=True)
        return 0
    form = forms.registration_form(data, args.person_id, args.year, settings)
    forms.write_registration_xlsx(form, args.out)
    print(f"{args.person_id} {form['person']['name'] or ''} {args.year} -> {Path(args.out)}", flush=True)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("outcomes", help="outcome use against the grades (结果运用): summary tables",
                       description=OUTCOMES_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    add_db(p)
    p.add_argument("--year", type=int, metavar="Y", help="assessment year (default: all years)")
    p.add_argument("--table", choices=TABLES, help="one table (default: units; with --format xlsx: all, as sheets)")
    add_output(p)
    p.set_defaults(func=_run_outcomes)

    r = sub.add_parser("register", help="registration form (考核登记表) as printable xlsx (a unit also as PDF)",
                       description=REGISTER_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    add_db(r)
    r.add_argument("person_id", nargs="?", metavar="PERSON_ID", help="人员编号")
    r.add_argument("--unit", help="every person of this unit, one sheet each (instead of PERSON_ID)")
    r.add_argument("--year", type=int, required=True, metavar="Y", help="assessment year")
    r.add_argument("--out", required=True, metavar="FILE",
                   help="the file to write: .xlsx; with --unit also .pdf (printed by Chromium) or .html")  # fmt: skip
    r.set_defaults(func=_run_register)
