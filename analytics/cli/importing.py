"""`import`, `preview`, `imports` and `undo`: bring exports into the store, look before, list, take back."""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path

import polars as pl

from analytics import importer, store
from analytics.cli._common import add_db, add_output, emit
from analytics.errors import UserError
from analytics.importer.columns import KINDS

IMPORT_EPILOG = """\
Reads .xlsx, .xls, .csv and .txt exports as they are: UTF-8, UTF-8 with BOM, GB18030/GBK or UTF-16;
title rows above the header and signature lines under it (填表人, 审核人, 制表日期, 合计) are skipped;
long tables (one row per person and quarter) and wide ones (一季度 … 四季度 as columns); Chinese or
English column names. The kind (quarterly 平时考核, annual 年度考核, outcomes 结果运用, appeals 申诉复核,
survey 问卷) is told from the headers; --kind overrides it.

All or nothing: one bad row refuses the whole file, the store is unchanged, and the report lists every
problem (row as you see it in Excel / line in the CSV, column, value, reason, accepted values).
--partial stores the good rows and keeps refused ones in the table rejected_rows. The same file twice
adds nothing; every import can be undone; the original is kept under data/originals/<sha256>.
Exit status 2 when any file is refused.

examples:
  python -m analytics import 平时考核_2024.xlsx 年度考核_2024.csv
  python -m analytics import 宽表_GBK.csv --kind quarterly --db data/test.duckdb
  python -m analytics import 结果运用.xlsx --partial --lang en
  python -m analytics import 评议表.xlsx --unit 综合处 --period 2023Q3     what the file does not say
  python -m analytics import 导出.xlsx --map 等次=最终评定等次 --template 人事系统   a column it does not know
  python -m analytics import 汇总.xlsx --sheet 隐藏表                        one (hidden) sheet
  python -m analytics preview 平时考核_2024.xlsx          look first, nothing stored
  python -m analytics imports                            what was imported, with ids
  python -m analytics undo 3                             take import 3 back out
"""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "import",
        help="import exports (xlsx/xls/csv/txt) into the store",
        description="Import assessment exports (平时考核, 年度考核, 结果运用, 问卷) into the store.",
        epilog=IMPORT_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="export files to import")
    _add_kind(p)
    _add_context(p)
    p.add_argument("--partial", action="store_true", help="store the good rows; refused rows go to rejected_rows")
    _add_lang(p)
    add_db(p)
    p.set_defaults(func=run_import)

    v = sub.add_parser(
        "preview",
        help="show how a file would be read, storing nothing",
        description="Show the kind, layout, header row, column mapping, first rows and problems of a file; nothing is stored.",
        epilog="example:\n  python -m analytics preview 平时考核_2024.xlsx --rows 5",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    v.add_argument("file", metavar="FILE")
    _add_kind(v)
    _add_context(v)
    v.add_argument("--rows", type=int, default=10, help="rows to show (default 10)")
    _add_lang(v)
    v.set_defaults(func=run_preview)

    i = sub.add_parser(
        "imports",
        help="list imports (id, kind, file, rows, status)",
        description="List every import: id, kind, file name, content hash, rows stored and refused, status.",
        epilog="examples:\n  python -m analytics imports\n  python -m analytics imports --format xlsx --out imports.xlsx",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_db(i)
    add_output(i)
    i.set_defaults(func=run_imports)

    u = sub.add_parser(
        "undo",
        help="remove one import's rows from the store",
        description="Remove every row an import brought (all tables) and mark it undone; the original file is kept.",
        epilog="example:\n  python -m analytics imports          find the id\n  python -m analytics undo 3",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    u.add_argument("import_id", type=int, metavar="IMPORT_ID")
    add_db(u)
    u.set_defaults(func=run_undo)


def _add_kind(p: argparse.ArgumentParser) -> None:
    p.add_argument("--kind", choices=KINDS, help="what the file holds (default: told from the headers)")


def _add_context(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--unit", metavar="NAME", help="unit (单位) for a file that names none in a column, title or file name"
    )
    p.add_argument("--year", metavar="YYYY", help="year (年度) for a file that says none")
    p.add_argument(
        "--period", metavar="PERIOD", help="quarter like 2024Q1 (or month 2024-10) for a file that says none"
    )
    p.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="FIELD=COLUMN",
        help="take COLUMN as FIELD, e.g. --map 等次=最终评定等次 --map 单位=处室（单位）; saved as a template",
    )
    p.add_argument(
        "--template",
        metavar="NAME",
        help="apply the saved mapping template NAME (with --map: save the mapping under NAME)",
    )
    p.add_argument("--sheet", metavar="NAME", help="read only this sheet (also a hidden one)")


def _options(args: argparse.Namespace, db=None):
    return importer.options_for(db, kind=args.kind, unit=args.unit, year=args.year, period=args.period,
                                maps=args.map, template=args.template, sheet=args.sheet)  # fmt: skip


def _add_lang(p: argparse.ArgumentParser) -> None:
    p.add_argument("--lang", choices=("zh", "en"), default="zh", help="report language (default zh)")


def run_import(args: argparse.Namespace) -> int:
    threading.Thread(target=store.import_pandas, daemon=True).start()  # while the parse worker reads the files
    db = store.db_path(args.db)
    refused = 0
    options = _options(args, db)
    for result in importer.import_paths(db, args.files, kind=args.kind, partial=args.partial, options=options,
                                        save_as=args.template):  # fmt: skip
        bad = result.status == "refused"
        refused += bad
        print(result.report(args.lang), file=sys.stderr if bad else sys.stdout, flush=True)
    if refused:
        word = "个文件未导入" if args.lang == "zh" else "file(s) refused"
        print(f"{refused} {word}", file=sys.stderr)
    return 2 if refused else 0


def run_preview(args: argparse.Namespace) -> int:
    path = Path(args.file)
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise UserError(f"{path}: 无法读取 cannot read ({exc.strerror or exc})") from None
    preview = importer.preview_bytes(content, path.name, kind=args.kind, options=_options(args))
    print(preview.report(args.lang))
    with pl.Config(tbl_rows=args.rows, tbl_cols=-1, fmt_str_lengths=40, tbl_width_chars=200):
        print(preview.rows.head(args.rows))
    return 0


def run_imports(args: argparse.Namespace) -> int:
    emit(importer.list_imports(store.db_path(args.db)), args)
    return 0


def run_undo(args: argparse.Namespace) -> int:
    removed = importer.undo(store.db_path(args.db), args.import_id)
    print(f"导入 #{args.import_id} 已撤销，删除 {removed} 行 / import #{args.import_id} undone, {removed} rows removed")
    return 0
