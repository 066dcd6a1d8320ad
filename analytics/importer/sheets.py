"""Files -> grids of text cells, one per sheet, with the row number a person sees beside each row.

Workbooks (.xlsx, .xls) are read with fastexcel (calamine), every sheet, every cell as text. Delimited
files (.csv, .txt) are decoded (decode.py), their delimiter sniffed from the first rows, and parsed by
Polars. The format is told by the content (zip, OLE2 or text), not by the file name.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from xml.etree import ElementTree

import fastexcel
import polars as pl

from analytics.errors import UserError
from analytics.importer import header as header_mod
from analytics.importer.decode import to_utf8

ROW = "__row"  # row number as the user sees it (Excel row, CSV line)
DELIMITERS = (",", "\t", ";", "|", "，")
_SNIFF_BYTES = 256 * 1024
_ZIP, _OLE2 = b"PK\x03\x04", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


@dataclass(frozen=True)
class Sheet:
    """One grid of text cells: columns c0..cN plus ROW; `name` is None for delimited files."""

    name: str | None
    grid: pl.DataFrame
    visible: str = "visible"  # 'hidden' or 'veryhidden' for sheets Excel does not show
    merges: tuple[tuple[int, int, int, int], ...] = ()  # (first row, first col, last row, last col): rows as in
    # ROW, columns as grid indexes (c0 ...); only for xlsx
    titles: tuple[tuple[int, str], ...] = ()  # (line, text) above the header of a delimited file (not in `grid`)


def file_format(content: bytes) -> str:
    """'xlsx', 'xls' or 'text', from the first bytes."""
    if content.startswith(_ZIP):
        return "xlsx"
    if content.startswith(_OLE2):
        return "xls"
    return "text"


def read_sheets(content: bytes, file_name: str) -> tuple[list[Sheet], str | None]:
    """(sheets, text encoding or None for workbooks); UserError for empty or unreadable files."""
    if not content[:65536].strip() and not content.strip():  # the first look settles it without a copy of the file
        raise UserError(f"{file_name}: 文件是空的 / the file is empty")
    kind = file_format(content)
    if kind == "text" and file_name.lower().endswith((".xlsx", ".xlsm", ".xls")):
        raise UserError(
            f"{file_name}: 文件名是 Excel，但内容不是 Excel 工作簿（已损坏、被截断或不是表格） / "
            f"named like a workbook but not one: corrupt, truncated or not a table"
        )
    if kind == "text":
        utf8, encoding = to_utf8(content, file_name)
        return [_delimited(utf8, file_name)], encoding
    return _workbook(content, file_name, kind), None


# --- workbooks -------------------------------------------------------------------------------------------


def _workbook(content: bytes, file_name: str, kind: str) -> list[Sheet]:
    try:
        # The sheets' XML is inflated to find their first rows and merges while calamine reads the cells:
        # both release the interpreter, and the inflating alone is a second per 400 MB of sheet.
        with ThreadPoolExecutor(1) as pool:
            offsets = pool.submit(_xlsx_first_rows, content) if kind == "xlsx" else None
            reader = fastexcel.read_excel(content)
            frames = [_cells(reader, name) for name in reader.sheet_names]
            first_rows = offsets.result() if offsets is not None else {}
        sheets = []
        for name, visible, frame in frames:
            if frame.height == 0:
                continue
            frame = frame.rename({c: f"c{i}" for i, c in enumerate(frame.columns)})
            start, merges = first_rows.get(name, (1, ()))
            grid = frame.with_row_index(ROW, offset=start).with_columns(pl.col(ROW).cast(pl.Int32))
            sheets.append(Sheet(name, grid, visible, merges))
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # calamine errors and panics on corrupt input alike
        raise UserError(
            f"{file_name}: 工作簿已损坏或不完整，无法读取（{_short(exc)}）。请在 Excel 中打开并另存为 xlsx 后重试。"
            f" / the workbook is corrupt or truncated and cannot be read; open it in Excel and save it again as xlsx"
        ) from None
    if not sheets:
        raise UserError(f"{file_name}: 工作簿里没有任何数据 / the workbook has no data in any sheet")
    return sheets


def _cells(reader, name: str) -> tuple[str, str, pl.DataFrame]:
    """(name, visibility, every cell as text) of one sheet."""
    loaded = reader.load_sheet(name, header_row=None, dtypes="string")
    return loaded.name, str(loaded.visible).lower().replace("_", ""), loaded.to_polars()


def _short(exc: BaseException) -> str:
    return str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__


def _xlsx_first_rows(content: bytes) -> dict[str, tuple[int, tuple]]:
    """Per sheet: (Excel row number of the first non-empty cell, merged ranges in grid coordinates).

    calamine returns a sheet from its first non-empty row, so a sheet whose title sits on row 3 would
    otherwise be numbered from 1; this reads just enough of each sheet's XML to know the offset. Merged
    ranges (`<mergeCell ref="C6:C9"/>`) are read from the sheet's end, only in sheets that have them.
    """
    with zipfile.ZipFile(io.BytesIO(content)) as book:
        ns = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
        rel_ns = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
        workbook = ElementTree.fromstring(book.read("xl/workbook.xml"))
        rels = ElementTree.fromstring(book.read("xl/_rels/workbook.xml.rels"))
        targets = {r.get("Id"): r.get("Target", "") for r in rels}
        rows = {}
        for sheet in workbook.iterfind("m:sheets/m:sheet", ns):
            target = targets.get(sheet.get(rel_ns), "")
            path = target.lstrip("/") if target.startswith("/") else "xl/" + target
            if path in book.namelist():
                rows[sheet.get("name")] = (_first_value_row(book, path), _merges(book, path))
        return rows


_MERGE = re.compile(rb'<mergeCell ref="\$?([A-Z]{1,3})\$?(\d+):\$?([A-Z]{1,3})\$?(\d+)"')
_VALUE_CELL_REST = rb'\d+"(?:(?!/>)[^>])*>\s*<(?:v|is)\b'  # after the column letters: a cell with a value
_VALUE_CELL = re.compile(rb'<c r="([A-Z]{1,3})' + _VALUE_CELL_REST)


def _first_value_column(data: bytes) -> int:
    """The sheet's leftmost column holding a value: one search per column left of the first value cell's,
    each at the speed of the regex engine (a Python loop over every cell took 25 s of a 50k-people import)."""
    first = _VALUE_CELL.search(data)
    if first is None:
        return 0
    bound = _column_index(first.group(1))
    for col in range(bound):
        if re.search(rb'<c r="' + _column_letters(col) + _VALUE_CELL_REST, data):
            return col
    return bound


def _column_letters(index: int) -> bytes:
    letters = b""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = bytes([65 + rest]) + letters
    return letters


def _column_index(letters: bytes) -> int:
    index = 0
    for letter in letters:
        index = index * 26 + letter - 64
    return index - 1


def _merges(book: zipfile.ZipFile, path: str) -> tuple[tuple[int, int, int, int], ...]:
    """Merged ranges as (first row, first grid col, last row, last grid col); () when the sheet has none."""
    data = book.read(path)
    at = data.rfind(b"<mergeCells")
    if at < 0:
        return ()
    found = _MERGE.findall(data, at)
    # calamine's grid starts at the leftmost filled column; merges are in sheet columns.
    first_col = _first_value_column(data) if found else 0
    return tuple(
        (int(r1), _column_index(c1) - first_col, int(r2), _column_index(c2) - first_col) for c1, r1, c2, r2 in found
    )


def _first_value_row(book: zipfile.ZipFile, path: str) -> int:
    row_number = 0
    with book.open(path) as stream:
        for _, element in ElementTree.iterparse(stream, events=("end",)):
            tag = element.tag.rsplit("}", 1)[-1]
            if tag == "c":
                if any(child.tag.rsplit("}", 1)[-1] in ("v", "is") for child in element):
                    ref = re.sub(r"[A-Z$]", "", element.get("r", ""))
                    return int(ref) if ref.isdigit() else max(row_number, 1)
            elif tag == "row":
                row_number = int(element.get("r", row_number + 1))
                element.clear()
    return 1


# --- delimited text --------------------------------------------------------------------------------------


def _delimited(utf8: bytes, file_name: str) -> Sheet:
    head = utf8[:_SNIFF_BYTES].decode("utf-8", errors="ignore")
    delimiter, records, header_index = _sniff(head, file_name)
    header_line = _line_of_record(head, delimiter, header_index)
    width = max(len(r) for r in records[header_index:])
    schema = {f"c{i}": pl.Utf8 for i in range(width)}
    try:
        grid = pl.read_csv(
            utf8,
            has_header=False,
            skip_rows=header_index,
            schema=schema,
            separator=delimiter,
            truncate_ragged_lines=True,
            quote_char='"',
            raise_if_empty=False,
        )
    except pl.exceptions.PolarsError as exc:
        raise UserError(
            f"{file_name}: 无法按表格解析，请检查引号是否成对（{_short(exc)}） / cannot be parsed as a table: check for unbalanced quotes"
        ) from None
    titles = tuple(
        (_line_of_record(head, delimiter, i), " ".join(c.strip() for c in r if c.strip()))
        for i, r in enumerate(records[:header_index])
        if any(c.strip() for c in r)
    )
    return Sheet(None, grid.with_columns(_line_numbers(grid, header_line, utf8).alias(ROW)), titles=titles)


def _sniff(head: str, file_name: str) -> tuple[str, list[list[str]], int]:
    """(delimiter, first records, index of the header record): the delimiter that shows a header best."""
    best = None
    for delimiter in DELIMITERS:
        records = list(_first_records(head, delimiter))
        index, score = header_mod.find_header(records)
        if index is not None and (best is None or score > best[3]):
            best = (delimiter, records, index, score)
    if best is None:
        raise header_mod.no_header_error(file_name, None, list(_first_records(head, _likely_delimiter(head))))
    return best[0], best[1], best[2]


def _first_records(head: str, delimiter: str):
    reader = csv.reader(io.StringIO(head), delimiter=delimiter)
    try:
        yield from itertools.islice(reader, header_mod.HEADER_SEARCH_ROWS)
    except csv.Error:
        return


def _likely_delimiter(head: str) -> str:
    first = head.split("\n", 1)[0]
    return max(DELIMITERS, key=first.count)


def _line_of_record(head: str, delimiter: str, index: int) -> int:
    """Line number (1-based) of record `index`, counting quoted line breaks as the csv module does."""
    reader = csv.reader(io.StringIO(head), delimiter=delimiter)
    for _ in range(index + 1):
        next(reader)
    return reader.line_num


def _line_numbers(grid: pl.DataFrame, header_line: int, utf8: bytes) -> pl.Expr:
    """Line where each record starts: one line per record plus line breaks inside quoted cells."""
    # A line per record when no cell is quoted, or the file has no more line breaks than that (a search for
    # one byte, then a count of one, not a scan of every cell): the usual export, whose cells hold no breaks.
    if b'"' not in utf8 or utf8.count(b"\n") <= header_line - 1 + grid.height:
        return (pl.int_range(pl.len()) + header_line).cast(pl.Int32)
    breaks = pl.sum_horizontal([pl.col(c).str.count_matches("\n").fill_null(0) for c in grid.columns])
    before = breaks.cum_sum().shift(1, fill_value=0)
    return (pl.int_range(pl.len()) + header_line + before).cast(pl.Int32)
