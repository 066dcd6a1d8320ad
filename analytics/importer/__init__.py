"""Importing real exports (平时考核, 年度考核, 结果运用, 问卷) into the store, as DATA_CONTRACT.md describes.

    from analytics.importer import import_bytes, preview_bytes
    result = import_bytes("data/kaohe.duckdb", content, "平时考核_2024.xlsx")
    print(result.status, result.rows, result.report("zh"))

Modules, one concept each: decode (bytes -> text), sheets (files -> grids), header (header, titles,
footers), columns (aliases), layout (long/wide -> records), normalise (values), validate (problems,
conflicts, duplicates, person ids), pipeline (a file -> checked facts), load (the store), report (text).
File names given by users are labels only, never filesystem paths.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import polars as pl

from analytics.errors import UserError
from analytics.importer import load
from analytics.importer.context import Given, MissingContext
from analytics.importer.load import list_imports, store_prepared, undo
from analytics.importer.pipeline import Options, fact_rows
from analytics.importer.result import ImportResult, Preview, public_problems
from analytics.parse_isolation import prepare, run_limited  # pipeline.prepare in a worker with memory and time limits
from analytics.upload_guard import DEFAULT_LIMITS, FILE_LIMITS, Limits, check_upload

__all__ = [
    "Given", "ImportResult", "MissingContext", "Options", "Preview", "import_bytes", "import_paths", "list_imports",
    "MAPPABLE", "file_columns", "options_for", "preview_bytes", "undo",
]  # fmt: skip

PREVIEW_ROWS = 20


def import_bytes(db, content: bytes, file_name: str, kind: str | None = None, partial: bool = False,
                 user: str | None = None, limits: Limits = DEFAULT_LIMITS, options: Options | None = None,
                 save_as: str | None = None) -> ImportResult:  # fmt: skip
    """Import one file's bytes into the store at `db` (one transaction).

    status 'imported' | 'partial' | 'duplicate' | 'refused'; UserError when the file cannot be read
    as a table of a known kind (the store is then untouched). `options` carries what the file lacks
    (unit, period), column choices and settings; saved mapping templates in the store are applied to a
    file with the same header. When columns were chosen, the mapping is saved as template `save_as`
    (default: the file's name) once the import succeeds.
    """
    options = _with_templates(db, options or Options())
    with load.Original(db, content) as original:  # written while the worker parses
        prepared = prepare(content, file_name, kind, limits, options)
        del content  # the last reference when the CLI imports: the copy on disk serves the rest
        result = store_prepared(db, prepared, original, partial, user)
    if options.columns and not options.template and result.status in ("imported", "partial"):
        name = save_as or Path(file_name).stem
        load.save_template(db, name, prepared.header_key, prepared.columns_used, prepared.kind)
        result.notes.append((f"列对应已保存为映射模板「{name}」：表头相同的文件会自动套用",
                             f"the column mapping was saved as template '{name}': files with this header get it"))  # fmt: skip
    return result


def options_for(db=None, kind: str | None = None, unit: str | None = None, year=None, period: str | None = None,
                maps=(), template: str | None = None, sheet: str | None = None, settings=None) -> Options:  # fmt: skip
    """Options from the CLI's (or the page's) words: `maps` like ['等次=最终评定等次']; UserError when one is wrong."""
    from analytics.importer.columns import FIELD_ZH, field_named
    from analytics.settings import load_settings

    chosen: dict[str, str] = {}
    for item in maps:
        name, sep, column = str(item).partition("=")
        found = field_named(name) if sep else None
        if not sep or not column.strip() or found is None:
            fields = "、".join(f"{zh}（{f}）" for f, zh in FIELD_ZH.items())
            raise UserError(f"--map {item}: 写成 字段=列名，如 --map 等次=最终评定等次；字段可用：{fields} / "
                            f"write FIELD=COLUMN, e.g. --map grade=最终评定等次")  # fmt: skip
        chosen[found] = column.strip()
    applied = None
    if template and not chosen:
        chosen, applied = load.template_named(db, template), template
    cfg = (settings or load_settings()).importing
    return Options(
        kind=kind, given=Given.parse(unit, year, period), columns=chosen, template=applied, sheet=sheet,
        grade_aliases=dict(cfg.grade_aliases), score_range=(cfg.score_min, cfg.score_max),
    )  # fmt: skip


def _with_templates(db, options: Options) -> Options:
    if options.columns or options.templates:
        return options
    try:
        saved = load.templates(db)
    except Exception:  # noqa: BLE001 - a store that cannot be read has no templates to offer; the import reports it
        saved = {}
    return replace(options, templates=saved) if saved else options


def import_paths(db, paths, kind: str | None = None, partial: bool = False, options: Options | None = None,
                 save_as: str | None = None) -> list[ImportResult]:  # fmt: skip
    """Import files from disk, one result each; a file that cannot be read gives a 'refused' result."""
    results = []
    for path in paths:
        name = Path(path).name
        try:
            # No local name for the bytes: import_bytes holds the only reference, and frees them once parsed.
            results.append(import_bytes(db, _read(path), name, kind=kind, partial=partial, limits=FILE_LIMITS,
                                        options=options, save_as=save_as))  # fmt: skip
        except UserError as exc:
            results.append(ImportResult(status="refused", file_name=name, message=str(exc)))
    return results


def _read(path) -> bytes:
    try:
        return Path(path).read_bytes()
    except IsADirectoryError:
        raise UserError(f"{path}: 是目录，不是文件 / a folder, not a file") from None
    except OSError as exc:
        raise UserError(f"{path}: 无法读取 cannot read: {os.strerror(exc.errno) if exc.errno else exc}") from None


def preview_bytes(content: bytes, file_name: str, kind: str | None = None, options: Options | None = None,
                  db=None) -> Preview:  # fmt: skip
    """What importing would do (kind, layout, header row, column mapping, first rows normalised, problems); no store
    is written (`db`, when given, only offers its saved mapping templates)."""
    options = _with_templates(db, options or Options()) if db is not None else (options or Options())
    prepared = prepare(content, file_name, kind, DEFAULT_LIMITS, options)
    if prepared.kind == "survey":
        rows = prepared.survey_raw.head(PREVIEW_ROWS)
    else:
        rows = fact_rows(prepared).head(PREVIEW_ROWS).drop("__rec")
    return Preview(
        file_name=file_name, kind=prepared.kind, layout=prepared.layout, sheets=prepared.sheets,
        header_row=prepared.header_row, encoding=prepared.encoding, mapping=prepared.mapping,
        rows=rows, total_records=prepared.facts.height,
        problems=public_problems(prepared.problems), notes=prepared.notes, ignored_footer_rows=prepared.ignored_rows,
    )  # fmt: skip


MAPPABLE = ("name", "person_id", "unit", "section", "year", "quarter", "grade", "annual_grade", "score")


def file_columns(content: bytes, file_name: str, sheet: str | None = None, rows: int = 5) -> pl.DataFrame:
    """The first table's header and first rows as read (text), for a mapping step; an empty frame when none.

    UserError when the file cannot be read at all (the preview says why). Read in the limited parse worker,
    like every parse of a user's file.
    """
    from analytics.importer.pipeline import refuse_word

    refuse_word(content, file_name)
    check_upload(content, file_name, DEFAULT_LIMITS)
    return run_limited(_first_rows, (content, file_name, sheet, rows), file_name)


def _first_rows(content: bytes, file_name: str, sheet: str | None, rows: int) -> pl.DataFrame:
    from analytics.importer import header
    from analytics.importer.sheets import read_sheets

    sheets, _ = read_sheets(content, file_name)
    for found in sheets:
        if (sheet is not None and found.name != sheet) or (sheet is None and found.visible != "visible"):
            continue
        tables = header.split(found.grid, found.name, file_name, found.merges, found.titles)
        if tables:
            return tables[0].body.drop("__row").head(rows)
    return pl.DataFrame()
