"""Where the table starts and ends: the header row, title rows above it, footer lines under it.

The header is the first of the first 20 rows where at least three cells are known column names (any
field alias, a wide quarter column like `一季度`, 序号/备注, survey attributes or questions). Title rows
and blank rows above it are skipped. Under it, blank rows are dropped and footer lines (`填表人：…`,
`审核人：…`, `制表日期`, `备注`, `合计`) and repeated header rows are ignored and reported.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import polars as pl

from analytics.errors import UserError
from analytics.importer import columns, layout
from analytics.importer.normalise import text

HEADER_SEARCH_ROWS = 20
MIN_KNOWN_CELLS = 3
ROW = "__row"
FOOTER = re.compile(
    r"^\s*(填表人|填报人|审核人|审批人|复核人|制表人|制表日期|填表日期|填报日期|制表|备注|合计|总计|小计|注[:：]|说明[:：]"
    r"|单位负责人|负责人|主要负责人|签字|签名|盖章|联系电话|联系人)"
)


@dataclass(frozen=True)
class Table:
    """A sheet cut to its data: `body` has one column per header (text) plus ROW."""

    sheet: str | None
    headers: list[str]
    body: pl.DataFrame
    header_row: int
    footer_rows: list[int]
    repeated_header_rows: list[int]


def is_known(cell: str | None) -> bool:
    """A cell that reads as a column name this importer knows."""
    if cell is None or not str(cell).strip():
        return False
    cell = str(cell)
    return (
        columns.field_of(cell) is not None
        or layout.quarter_column(cell) is not None
        or columns.header_key(cell) in columns.OTHER_HEADER_WORDS
        or columns.is_question(cell)
    )


def known_count(row: list[str | None]) -> int:
    return sum(is_known(cell) for cell in row)


def find_header(rows: list[list[str | None]]) -> tuple[int | None, int]:
    """(index of the header among `rows`, number of known cells in it); (None, 0) when none qualifies."""
    for index, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
        count = known_count(row)
        if count >= MIN_KNOWN_CELLS:
            return index, count
    return None, 0


def no_header_error(file_name: str, sheet: str | None, rows: list[list[str | None]]) -> UserError:
    """The error for a file with no recognisable header, showing what its first rows looked like."""
    where = f"{file_name}" + (f"（工作表 {sheet}）" if sheet else "")
    shown = next((r for r in rows if any(c not in (None, "") for c in r)), [])
    sample = "、".join(str(c) for c in shown[:8] if c not in (None, ""))[:120]
    seen = f"第一行内容：{sample} / first row: {sample}" if sample else "没有任何内容 / nothing in it"
    return UserError(
        f"{where}: 前 {HEADER_SEARCH_ROWS} 行里找不到表头（至少 3 个可识别的列名，如 人员编号、姓名、单位、季度、等次）。"
        f"{seen}。 / no header in the first {HEADER_SEARCH_ROWS} rows (a row with at least 3 known column names "
        f"such as 人员编号/person_id, 姓名/name, 单位/unit, 季度/quarter, 等次/grade)"
    )


def split(grid: pl.DataFrame, sheet: str | None, file_name: str) -> Table | None:
    """Cut a grid at its header; None when the grid has no recognisable header."""
    cells = [c for c in grid.columns if c != ROW]
    top = grid.head(HEADER_SEARCH_ROWS).select(cells).rows()
    index, _ = find_header([list(r) for r in top])
    if index is None:
        return None
    raw_headers = [None if h is None else str(h).strip() for h in top[index]]
    body = grid.slice(index + 1).with_columns([text(grid[c].slice(index + 1)).alias(c) for c in cells])
    keep = [c for c, h in zip(cells, raw_headers, strict=True) if h or body[c].null_count() < body.height]
    headers = _unique_names([raw_headers[cells.index(c)] or f"列{cells.index(c) + 1}" for c in keep])
    body = body.select(keep + [ROW]).rename(dict(zip(keep, headers, strict=True)))
    body = body.filter(pl.any_horizontal(pl.col(headers).is_not_null()))
    body, footer_rows = _drop_footer(body, headers)
    body, repeated = _drop_repeated_header(body, headers)
    return Table(sheet, headers, body, int(grid[ROW][index]), footer_rows, repeated)


def _unique_names(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    unique = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        unique.append(name if seen[name] == 1 else f"{name}_{seen[name]}")
    return unique


def _drop_footer(body: pl.DataFrame, headers: list[str]) -> tuple[pl.DataFrame, list[int]]:
    first_cell = pl.coalesce([pl.col(h) for h in headers])
    is_footer = first_cell.str.contains(FOOTER.pattern).fill_null(False)
    footer = body.filter(is_footer)[ROW].to_list()
    return body.filter(is_footer.not_()), footer


def _drop_repeated_header(body: pl.DataFrame, headers: list[str]) -> tuple[pl.DataFrame, list[int]]:
    """Multi-page exports repeat the header row; such rows are not people."""
    same = pl.all_horizontal([pl.col(h).eq_missing(pl.lit(h)) | pl.col(h).is_null() for h in headers])
    named = pl.sum_horizontal([pl.col(h).eq(pl.lit(h)).fill_null(False) for h in headers]) >= MIN_KNOWN_CELLS
    repeated = same & named
    return body.filter(repeated.not_()), body.filter(repeated)[ROW].to_list()
