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
from analytics.vocab import ANNUAL_GRADES, QUARTERLY_GRADES, normalise_text

HEADER_SEARCH_ROWS = 20
MIN_KNOWN_CELLS = 3
ROW = "__row"
FOOTER = re.compile(
    r"^\s*(填表人|填报人|审核人|审批人|复核人|制表人|制表日期|填表日期|填报日期|制表|备注|合计|总计|小计|注\s*[:：\d]|说明[:：]"
    r"|单位负责人|负责人|主要负责人|签字|签名|盖章|联系电话|联系人|[^\d]{0,10}(人数)?(合计|总计|小计)"
    r"|\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日$|\d{4}[-/.]\d{1,2}[-/.]\d{1,2}$)"
)
# A signing office alone on its line: 考核工作领导小组办公室, 中共某某局党组, 政治部.
SIGNING_OFFICE = re.compile(r"(办公室|领导小组|委员会|组织部|人事处|人事科|政治部|党委|党组|（盖章）|\(盖章\))$")
# Marks that say "this one" in a tick column (年度考核推荐等次 over 优秀/称职/…).
TICKS = ("√", "✓", "✔", "☑", "✅", "v", "V", "○", "●", "★", "是", "1")
TICK_SEP = "\u241f"  # joins a tick group's parent and option in a combined header until the group is collapsed
Note = tuple[str, str]


@dataclass(frozen=True)
class Table:
    """A sheet cut to its data: `body` has one column per header (text) plus ROW.

    `titles` are the (row, text) lines above the header (title rows, 填报单位：…), where the unit and the
    period of a one-organisation export are written; `notes` say what was done to read the table.
    """

    sheet: str | None
    headers: list[str]
    body: pl.DataFrame
    header_row: int
    footer_rows: list[int]
    repeated_header_rows: list[int]
    titles: tuple[tuple[int, str], ...] = ()
    notes: tuple[Note, ...] = ()


def is_known(cell: str | None) -> bool:
    """A cell that reads as a column name this importer knows."""
    if cell is None or not str(cell).strip():
        return False
    cell = str(cell)
    return (
        columns.field_of(cell) is not None
        or layout.period_column(cell) is not None
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


def split(grid: pl.DataFrame, sheet: str | None, file_name: str, merges=(), titles=()) -> list[Table]:
    """Cut a grid into its tables (usually one; two when a sheet holds a second block with its own title and
    header); [] when the grid has no recognisable header."""
    cells = [c for c in grid.columns if c != ROW]
    top = [list(r) for r in grid.head(HEADER_SEARCH_ROWS).select(cells).rows()]
    index, _ = find_header(top)
    if index is None:
        return []
    header_row = int(grid[ROW][index])
    grid = _fill_merged(grid, cells, merges, header_row)
    grid = grid.with_columns([text(grid[c]).alias(c) for c in cells])  # trimmed, empty = null, from here on
    extra_notes = _merged_notes(cells, merges, header_row, top[index])
    starts = [index, *_later_headers(grid, cells, top[index], index)]
    tables, titles = [], tuple(titles) + _title_lines(grid.head(index), cells)
    for n, start in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else grid.height
        block = grid.slice(start, end - start)
        cut, next_titles = _trailing_titles(block, cells) if n + 1 < len(starts) else (block, ())
        tables.append(_table(cut, cells, sheet, titles, extra_notes if n == 0 else []))
        titles = next_titles
    return tables


def _table(block: pl.DataFrame, cells: list[str], sheet: str | None, titles, notes: list[Note]) -> Table:
    """One block: its header row (two rows when merged headers have a second row) and the data under it."""
    rows = [list(r) for r in block.head(2).select(cells).rows()]
    first = [None if h is None else str(h).strip() or None for h in rows[0]]
    second = [None if h is None else str(h).strip() or None for h in rows[1]] if len(rows) > 1 else None
    combined = _two_row(first, second) if second else None
    notes = list(notes)
    if combined is not None:
        raw_headers, skip = combined, 2
        notes.append(
            (f"表头占两行（第 {block[ROW][0]}、{block[ROW][1]} 行，合并单元格），已合并读取",
             f"the header spans two rows ({block[ROW][0]} and {block[ROW][1]}, merged cells); read as one")
        )  # fmt: skip
    else:
        raw_headers, skip = first, 1
    body = block.slice(skip)
    keep = [c for c, h in zip(cells, raw_headers, strict=True) if h or body[c].null_count() < body.height]
    headers = _unique_names([raw_headers[cells.index(c)] or f"列{cells.index(c) + 1}" for c in keep])
    body = body.select(keep + [ROW]).rename(dict(zip(keep, headers, strict=True)))
    body = body.filter(pl.any_horizontal(pl.col(headers).is_not_null()))
    body, headers, tick_notes = _collapse_ticks(body, headers)
    notes.extend(tick_notes)
    body, footer_rows = _drop_footer(body, headers)
    body, repeated = _drop_repeated_header(body, headers)
    return Table(sheet, headers, body, int(block[ROW][0]), footer_rows, repeated, tuple(titles), tuple(notes))


def _title_lines(rows: pl.DataFrame, cells: list[str]) -> tuple[tuple[int, str], ...]:
    """(row, text) of every non-empty line, its cells joined by spaces."""
    if rows.height == 0:
        return ()
    joined = rows.select(
        pl.col(ROW),
        pl.concat_str([pl.col(c).str.strip_chars() for c in cells], separator=" ", ignore_nulls=True).alias("t"),
    ).filter(pl.col("t").str.len_chars() > 0)
    return tuple((int(r), t) for r, t in joined.iter_rows())


def _filled(rows: pl.DataFrame, cells: list[str]) -> pl.Series:
    return rows.select(pl.sum_horizontal([pl.col(c).is_not_null() for c in cells]))[:, 0]


def _later_headers(grid: pl.DataFrame, cells: list[str], first: list, index: int) -> list[int]:
    """Indexes of further header rows that open a new table: a header-like row after a gap or a title line.

    A header repeated straight under data rows (a page break in a long export) is no new table; it is
    dropped as a repeated header. One vectorised pass: cells equal to a known column name, counted per row.
    """
    names = [str(c).strip() for c in first if c is not None and str(c).strip()]
    words = pl.Series(sorted(set(names) | _KNOWN_WORDS))
    hits = grid.select(pl.sum_horizontal([pl.col(c).is_in(words.implode()).fill_null(False) for c in cells]))
    found = [i for i in (hits[:, 0] >= MIN_KNOWN_CELLS).arg_true().to_list() if i > index + 1]
    if not found:
        return []
    filled = _filled(grid, cells)
    rows = grid[ROW]
    starts = []
    for i in found:
        gap = rows[i] - rows[i - 1] > 1 or filled[i - 1] <= 2
        if gap:
            starts.append(i)
    return starts


def _trailing_titles(block: pl.DataFrame, cells: list[str]):
    """Split a block's tail: the title lines (few cells, e.g. `二、事业单位`) of the table that follows."""
    filled = _filled(block, cells).to_list()
    cut = len(filled)
    while cut > 2 and filled[cut - 1] <= 2 and len(filled) - cut < 5:
        cut -= 1
    return block.head(cut), _title_lines(block.slice(cut), cells)


def _two_row(first: list, second: list) -> list[str] | None:
    """Headers for a two-row header (`平时考核等次（季度）` merged over `1 2 3 4`), or None when the second row
    is data. A merged parent is filled in only over its span; each column's name is parent + sub-label."""
    width = len(first)
    spans: list[tuple[int, int]] = []
    i = 0
    while i < width:
        if first[i] is not None and i + 1 < width and first[i + 1] is None and second[i + 1] is not None:
            j = i + 1
            while j < width and first[j] is None and second[j] is not None:
                j += 1
            spans.append((i, j))
            i = j
        else:
            i += 1
    if not spans:
        return None
    in_span = {k for a, b in spans for k in range(a, b)}
    singles = [k for k in range(width) if first[k] is not None and k not in in_span]
    if singles and sum(second[k] is not None for k in singles) * 2 > len(singles):
        return None  # the cells under single headers are filled: a data row
    parent = list(first)
    for a, b in spans:
        parent[a:b] = [first[a]] * (b - a)
    return [_joined(parent[k], second[k] if k in in_span else None) for k in range(width)]


def _joined(parent: str | None, sub: str | None) -> str | None:
    """The name of a column under a merged parent: quarters and months as the layout reads them, tick options
    marked, a sub-label that is itself a column name as it is, else `parent·sub`."""
    if sub is None or parent is None:
        return parent or sub
    key = normalise_text(sub)
    score = "得分" if re.search(r"得分|分数|分值", parent) else ""
    if re.fullmatch(r"[1-4]", key) and "季" in parent:
        return f"第{key}季度{score}"
    if re.fullmatch(r"(1[0-2]|[1-9])", key) and "月" in parent:
        return f"{key}月份{score or '考核等次'}"
    if layout.period_column(sub) is not None:
        return sub + score
    if columns.field_of(parent) in ("grade", "annual_grade") and normalise_text(sub) in _GRADE_OPTIONS:
        return f"{parent}{TICK_SEP}{sub}"
    if columns.field_of(sub) is not None:
        return sub
    return f"{parent}·{sub}"


_GRADE_OPTIONS = frozenset(normalise_text(g) for g in (*QUARTERLY_GRADES, *ANNUAL_GRADES))
_KNOWN_WORDS = frozenset(
    {a for spellings in columns.ALIASES.values() for a in spellings} | set(columns.OTHER_HEADER_WORDS)
)


def _collapse_ticks(body: pl.DataFrame, headers: list[str]):
    """Tick columns (`年度考核推荐等次` over 优秀/称职/基本称职/不称职, a √ in one) -> one column holding the
    ticked option; two ticks give `优秀、称职`, which no grade accepts, so the row is refused naming both."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for h in headers:
        if TICK_SEP in h:
            parent, option = h.split(TICK_SEP, 1)
            groups.setdefault(parent, []).append((h, option))
    # A parent that is also a column of its own (`等次`, and `等次` over a stray `好` below it) is no tick set:
    # those columns stay as they are, never a second column of the same name.
    for plain in set(headers) & set(groups):
        del groups[plain]
    if not groups:
        return body, headers, []
    notes = []
    for parent, options in groups.items():
        picked = pl.concat_str(
            [pl.when(pl.col(h).is_in(TICKS)).then(pl.lit(o)).otherwise(pl.col(h)) for h, o in options],
            separator="、",
            ignore_nulls=True,
        )
        body = body.with_columns(pl.when(picked.str.len_chars() > 0).then(picked).alias(parent))
        notes.append(
            (f"「{parent}」是打勾列（{'/'.join(o for _, o in options)}），按打勾的一项读取",
             f"'{parent}' is a set of tick columns ({'/'.join(o for _, o in options)}); the ticked one is the grade")
        )  # fmt: skip
    out, placed = [], set()
    for h in headers:
        parent = h.split(TICK_SEP, 1)[0]
        if TICK_SEP in h and parent in groups:
            if parent not in placed:
                out.append(parent)
                placed.add(parent)
        else:
            out.append(h)
    return body.select(out + [ROW]), out, notes


def _fill_merged(grid: pl.DataFrame, cells: list[str], merges, header_row: int) -> pl.DataFrame:
    """Vertically merged data cells (a 处室 written once over its people): the value filled down over the
    rows the merge spans. The notes come from the Table built on it (see merged_note)."""
    spans = [(r1, c1, r2) for r1, c1, r2, c2 in merges if c1 == c2 and r2 > r1 and r1 > header_row and c1 < len(cells)]
    if not spans:
        return grid
    for r1, c1, r2 in spans:
        name = cells[c1]
        top = grid.filter(pl.col(ROW) == r1)[name]
        if top.len() == 0 or top[0] is None:
            continue
        inside = pl.col(ROW).is_between(r1 + 1, r2) & pl.col(name).is_null()
        grid = grid.with_columns(pl.when(inside).then(pl.lit(top[0])).otherwise(pl.col(name)).alias(name))
    return grid


def _merged_notes(cells: list[str], merges, header_row: int, header: list) -> list[Note]:
    """One note per column whose data cells were merged and filled down, naming the rows."""
    by_column: dict[str, list[str]] = {}
    for r1, c1, r2, c2 in merges:
        if c1 == c2 and r2 > r1 and r1 > header_row and c1 < len(cells):
            name = str(header[c1] or f"列{c1 + 1}")
            by_column.setdefault(name, []).append(f"{r1}–{r2}")
    return [
        (f"「{name}」列有合并单元格，已把值向下填充到所跨的行（第 {'、'.join(spans)} 行）",
         f"column '{name}' has merged cells; the value was filled down over the rows they span ({', '.join(spans)})")
        for name, spans in by_column.items()
    ]  # fmt: skip


def _unique_names(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    unique = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        unique.append(name if seen[name] == 1 else f"{name}_{seen[name]}")
    return unique


def _drop_footer(body: pl.DataFrame, headers: list[str]) -> tuple[pl.DataFrame, list[int]]:
    """Signature lines, totals, bare dates, 注：notes and a signing office alone on its line are not people.

    A line with one filled cell is a footer when that cell is no name or id (a person with only a name is a
    row to refuse, not to drop); so is any line whose first filled cell reads like a footer."""
    first_cell = pl.coalesce([pl.col(h) for h in headers])
    filled = pl.sum_horizontal([pl.col(h).is_not_null() for h in headers])
    person = [h for h in headers if columns.field_of(h) in ("name", "person_id")]
    personal = pl.any_horizontal([pl.col(h).is_not_null() for h in person]) if person else pl.lit(False)
    alone = (filled == 1) & personal.not_()
    signing = (filled <= 2) & personal.not_() & first_cell.str.contains(SIGNING_OFFICE.pattern).fill_null(False)
    is_footer = body.select(first_cell.str.contains(FOOTER.pattern).fill_null(False) | alone | signing).to_series()
    return body.filter(is_footer.not_()), body.filter(is_footer)[ROW].to_list()


def _drop_repeated_header(body: pl.DataFrame, headers: list[str]) -> tuple[pl.DataFrame, list[int]]:
    """Multi-page exports repeat the header row; such rows are not people."""
    same = pl.all_horizontal([pl.col(h).eq_missing(pl.lit(h)) | pl.col(h).is_null() for h in headers])
    named = pl.sum_horizontal([pl.col(h).eq(pl.lit(h)).fill_null(False) for h in headers]) >= MIN_KNOWN_CELLS
    repeated = same & named
    return body.filter(repeated.not_()), body.filter(repeated)[ROW].to_list()
