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
from pathlib import Path

from analytics.errors import UserError
from analytics.importer.load import list_imports, store_prepared, undo
from analytics.importer.pipeline import fact_rows, prepare
from analytics.importer.result import ImportResult, Preview, public_problems
from analytics.upload_guard import DEFAULT_LIMITS, FILE_LIMITS, Limits

__all__ = ["ImportResult", "Preview", "import_bytes", "import_paths", "list_imports", "preview_bytes", "undo"]

PREVIEW_ROWS = 20


def import_bytes(db, content: bytes, file_name: str, kind: str | None = None, partial: bool = False,
                 user: str | None = None, limits: Limits = DEFAULT_LIMITS) -> ImportResult:  # fmt: skip
    """Import one file's bytes into the store at `db` (one transaction).

    status 'imported' | 'partial' | 'duplicate' | 'refused'; UserError when the file cannot be read
    as a table of a known kind (the store is then untouched).
    """
    prepared = prepare(content, file_name, kind, limits)
    return store_prepared(db, prepared, content, partial, user)


def import_paths(db, paths, kind: str | None = None, partial: bool = False) -> list[ImportResult]:
    """Import files from disk, one result each; a file that cannot be read gives a 'refused' result."""
    results = []
    for path in paths:
        name = Path(path).name
        try:
            content = _read(path)
            results.append(import_bytes(db, content, name, kind=kind, partial=partial, limits=FILE_LIMITS))
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


def preview_bytes(content: bytes, file_name: str, kind: str | None = None) -> Preview:
    """What importing would do (kind, layout, header row, column mapping, first rows normalised, problems); no store."""
    prepared = prepare(content, file_name, kind)
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
