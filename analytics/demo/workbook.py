"""A fast, streaming xlsx writer for large one-sheet report workbooks (title row, header, data, footer).

Writing millions of cells one Python call at a time (xlsxwriter, openpyxl) takes minutes; here each
chunk of rows becomes sheet XML in one vectorised Polars expression and streams into the zip, so a
500,000-row workbook takes seconds and little memory. Cells are inline strings and numbers; the
title is a merged, bold cell; the result opens in Excel, LibreOffice, openpyxl and calamine.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import polars as pl

CHUNK_ROWS = 100_000

_CONTENT_TYPES = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>
<Default Extension="xml" ContentType="application/xml"/>
<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>
<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>
<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>
</Types>"""
_ROOT_RELS = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>
</Relationships>"""
_WORKBOOK = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">
<sheets><sheet name="{name}" sheetId="1" r:id="rId1"/></sheets>
</workbook>"""
_WORKBOOK_RELS = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>
<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/>
</Relationships>"""
# Style 0 plain, 1 bold 14pt centred (title), 2 bold with a border (header).
_STYLES = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">
<fonts count="3"><font><sz val="11"/><name val="宋体"/></font><font><b/><sz val="14"/><name val="宋体"/></font><font><b/><sz val="11"/><name val="宋体"/></font></fonts>
<fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills>
<borders count="2"><border><left/><right/><top/><bottom/><diagonal/></border><border><left style="thin"/><right style="thin"/><top style="thin"/><bottom style="thin"/><diagonal/></border></borders>
<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>
<cellXfs count="3"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/><xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1" applyAlignment="1"><alignment horizontal="center" vertical="center"/></xf><xf numFmtId="0" fontId="2" fillId="0" borderId="1" xfId="0" applyFont="1" applyBorder="1" applyAlignment="1"><alignment horizontal="center"/></xf></cellXfs>
<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>
</styleSheet>"""
_SHEET_HEAD = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>"""


def column_letter(index: int) -> str:
    """0 -> 'A', 25 -> 'Z', 26 -> 'AA'."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def _escape(expr: pl.Expr) -> pl.Expr:
    return (
        expr.str.replace_all("&", "&amp;", literal=True)
        .str.replace_all("<", "&lt;", literal=True)
        .str.replace_all(">", "&gt;", literal=True)
    )


def _text_cell(ref: str, row: int, value: str, style: int = 0) -> str:
    value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    s = f' s="{style}"' if style else ""
    return f'<c r="{ref}{row}"{s} t="inlineStr"><is><t>{value}</t></is></c>'


def _rows_xml(frame: pl.DataFrame, first_row: int) -> pl.Series:
    """Sheet XML for each row of the frame, numbered from first_row (1-based, as Excel shows)."""
    number = (pl.int_range(pl.len(), dtype=pl.Int64) + first_row).cast(pl.Utf8)
    cells = []
    for i, (name, dtype) in enumerate(frame.schema.items()):  # columns, not rows
        ref = pl.concat_str([pl.lit(f'<c r="{column_letter(i)}'), number])
        value = pl.col(name)
        if dtype.is_numeric():
            body = pl.concat_str([ref, pl.lit('"><v>'), value.cast(pl.Utf8), pl.lit("</v></c>")])
            value_ok = value.is_not_null() & (value.is_finite() if dtype.is_float() else pl.lit(True))
        else:
            text = _escape(value.cast(pl.Utf8))
            body = pl.concat_str([ref, pl.lit('" t="inlineStr"><is><t>'), text, pl.lit("</t></is></c>")])
            value_ok = value.is_not_null()
        cells.append(pl.when(value_ok).then(body).otherwise(pl.lit("")))
    row = pl.concat_str([pl.lit('<row r="'), number, pl.lit('">'), *cells, pl.lit("</row>")])
    return frame.select(row.alias("xml"))["xml"]


class ReportSheet:
    """A one-sheet workbook written as a stream: title and header first, rows in chunks, footer last.

    >>> with ReportSheet(path, "平时考核", columns, title="…汇总表") as sheet:  # doctest: +SKIP
    ...     sheet.write(frame)
    ...     sheet.footer(["填表人：王芳", None, "审核人：李建国"])
    """

    def __init__(self, path: Path, sheet: str, columns: list[str], title: str | None = None):
        self.path = Path(path)
        self.columns = columns
        self.zip = zipfile.ZipFile(self.path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1)
        self.zip.writestr("[Content_Types].xml", _CONTENT_TYPES)
        self.zip.writestr("_rels/.rels", _ROOT_RELS)
        self.zip.writestr("xl/workbook.xml", _WORKBOOK.format(name=sheet))
        self.zip.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        self.zip.writestr("xl/styles.xml", _STYLES)
        self.stream = self.zip.open("xl/worksheets/sheet1.xml", "w", force_zip64=True)
        self.stream.write(_SHEET_HEAD.encode())
        self.row = 1
        self.title = title
        self.rows_written = 0
        if title:
            self._write_line(f'<row r="1">{_text_cell("A", 1, title, 1)}</row>')
            self.row = 3  # the title, then a blank row
        header = "".join(_text_cell(column_letter(i), self.row, c, 2) for i, c in enumerate(columns))
        self._write_line(f'<row r="{self.row}">{header}</row>')
        self.row += 1

    def _write_line(self, xml: str) -> None:
        self.stream.write(xml.encode())

    def write(self, frame: pl.DataFrame) -> None:
        """Append data rows (columns in the header's order)."""
        for start in range(0, frame.height, CHUNK_ROWS):
            chunk = frame.slice(start, CHUNK_ROWS).select(self.columns)
            xml = _rows_xml(chunk, self.row)
            self.stream.write("".join(xml.to_list()).encode())
            self.row += chunk.height
            self.rows_written += chunk.height

    def footer(self, cells: list[str | None]) -> None:
        """A blank row, then a line of footer cells (e.g. 填表人：…, 审核人：…, 制表日期：…)."""
        self.row += 1
        xml = "".join(_text_cell(column_letter(i), self.row, c) for i, c in enumerate(cells) if c)
        self._write_line(f'<row r="{self.row}">{xml}</row>')
        self.row += 1

    def close(self) -> Path:
        tail = "</sheetData>"
        if self.title:
            tail += f'<mergeCells count="1"><mergeCell ref="A1:{column_letter(max(len(self.columns) - 1, 1))}1"/></mergeCells>'
        self._write_line(tail + "</worksheet>")
        self.stream.close()
        self.zip.close()
        return self.path

    def __enter__(self) -> ReportSheet:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def write_report(
    frame: pl.DataFrame, path: Path, sheet: str, title: str | None = None, footer: list[str | None] | None = None
) -> Path:
    """A whole frame as one report workbook."""
    with ReportSheet(path, sheet, frame.columns, title=title) as out:
        out.write(frame)
        if footer:
            out.footer(footer)
    return Path(path)
