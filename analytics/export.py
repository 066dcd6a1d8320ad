"""Tables out: CSV (Excel-safe), xlsx, Parquet and JSON, guarded against formula injection.

A cell starting with = + - @ (or tab/CR) is run as a formula by Excel; we prefix it with a
single quote in CSV and write it as a string in xlsx. Numbers stay numbers. CSV is UTF-8 with
BOM so Excel on Chinese Windows opens it correctly.
"""

from __future__ import annotations

import io
from pathlib import Path

import polars as pl

FORMATS = ("csv", "xlsx", "parquet", "json")
_DANGEROUS = ("=", "+", "-", "@", "\t", "\r")


def defuse_header(name: str) -> str:
    """A column name a spreadsheet would run as a formula, with a single quote in front."""
    return "'" + name if name.startswith(_DANGEROUS) else name


def defuse_formulas(frame: pl.DataFrame) -> pl.DataFrame:
    """Prefix text cells and column names that a spreadsheet would run as a formula with a single quote.

    Headers too: a query's column alias such as "=HYPERLINK(...)" is user text like any cell.
    """
    frame = frame.rename({c: defuse_header(c) for c in frame.columns if defuse_header(c) != c})
    text_cols = [c for c, t in frame.schema.items() if t == pl.Utf8]
    pattern = "^[" + "".join("\\" + c if c in "-+" else c for c in ("=", "+", "-", "@")) + "\t\r]"
    return frame.with_columns(
        pl.when(pl.col(c).str.contains(pattern)).then(pl.lit("'") + pl.col(c)).otherwise(pl.col(c)).alias(c)
        for c in text_cols
    )


def _flatten(frame: pl.DataFrame) -> pl.DataFrame:
    """Lists and structs as text, so every format can hold them."""
    nested = [c for c, t in frame.schema.items() if isinstance(t, (pl.List, pl.Struct, pl.Array, pl.Object))]
    return frame.with_columns(pl.col(c).map_elements(str, return_dtype=pl.Utf8) for c in nested) if nested else frame


def to_bytes(frame: pl.DataFrame, fmt: str, sheet: str = "data") -> bytes:
    """Serialise a table for download; CSV and xlsx are formula-safe."""
    frame = _flatten(frame)
    buf = io.BytesIO()
    if fmt == "csv":
        buf.write("\ufeff".encode())
        defuse_formulas(frame).write_csv(buf)
    elif fmt == "xlsx":
        write_xlsx({sheet: frame}, buf)
    elif fmt == "parquet":
        frame.write_parquet(buf)
    elif fmt == "json":
        buf.write(frame.write_json().encode())
    else:
        raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    return buf.getvalue()


def write_xlsx(sheets: dict[str, pl.DataFrame], target: str | Path | io.BytesIO, header: str | None = None) -> None:
    """Several tables as sheets of one workbook; text never becomes a formula.

    Each sheet: frozen header row, filters, numbers as numbers, and a print setup (A4 landscape, fit to
    the page width, header row repeated, `header` text and page numbers on every printed page)."""
    import xlsxwriter

    book = xlsxwriter.Workbook(target, {"strings_to_formulas": False, "strings_to_urls": False, "in_memory": True})
    try:
        for name, frame in sheets.items():
            sheet_name = name[:31]
            _flatten(defuse_formulas(frame)).write_excel(
                book, worksheet=sheet_name, autofit=True, autofilter=True, freeze_panes=(1, 0)
            )
            sheet = book.get_worksheet_by_name(sheet_name)
            sheet.set_landscape()
            sheet.set_paper(9)  # A4
            sheet.fit_to_pages(1, 0)
            sheet.repeat_rows(0)
            sheet.set_margins(left=0.5, right=0.5, top=0.75, bottom=0.6)
            if header:
                sheet.set_header("&L" + header.replace("&", "&&") + "&R" + sheet_name.replace("&", "&&"))
            sheet.set_footer("&C&P / &N")
    finally:
        book.close()


def write_table(frame: pl.DataFrame, fmt: str, out: str | Path | None) -> None:
    """Write to a file, or to stdout (csv/json) when out is None."""
    data = to_bytes(frame, fmt)
    if out is None:
        import sys

        if fmt in ("xlsx", "parquet"):
            raise ValueError(f"--format {fmt} needs --out FILE")
        text = data.decode("utf-8-sig")
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    else:
        Path(out).write_bytes(data)
