"""The streaming xlsx writer: what it writes is read back the same by calamine (fastexcel) and openpyxl."""

from __future__ import annotations

from pathlib import Path

import fastexcel
import openpyxl
import polars as pl
import pytest

from analytics.demo.workbook import ReportSheet, column_letter, write_report


@pytest.mark.parametrize(("index", "letters"), [(0, "A"), (25, "Z"), (26, "AA"), (27, "AB"), (701, "ZZ"), (702, "AAA")])
def test_column_letter(index, letters):
    assert column_letter(index) == letters


def frame() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "姓名": ["王芳", "A&B <x>", None],
            "得分": [88.5, None, 90.0],
            "年度": [2024, 2025, None],
            "备注": ["", "选调生", "=1+1"],
        }
    )


def test_title_header_data_footer_read_back(tmp_path: Path):
    path = write_report(
        frame(), tmp_path / "r.xlsx", "表", title="某县汇总表", footer=["填表人：王芳", None, "制表日期：2026年1月15日"]
    )
    rows = fastexcel.read_excel(path).load_sheet(0, header_row=None).to_polars().rows()
    assert rows[0][0] == "某县汇总表" and all(v is None for v in rows[1])
    assert list(rows[2]) == ["姓名", "得分", "年度", "备注"]
    body = fastexcel.read_excel(path).load_sheet(0, header_row=2, n_rows=3).to_polars()
    assert body["姓名"].to_list() == ["王芳", "A&B <x>", None]
    assert body["得分"].to_list() == [88.5, None, 90.0]
    assert body["备注"].to_list()[1:] == ["选调生", "=1+1"]  # text, never a formula
    assert rows[-1][0] == "填表人：王芳" and rows[-1][2] == "制表日期：2026年1月15日"
    wb = openpyxl.load_workbook(path)
    ws = wb.active
    assert ws.title == "表" and str(next(iter(ws.merged_cells.ranges))) == "A1:D1"
    assert ws["A1"].font.b and ws["A4"].value == "王芳" and ws["B4"].value == 88.5 and ws["C4"].value == 2024


def test_streams_in_chunks(tmp_path: Path, monkeypatch):
    import analytics.demo.workbook as wb

    monkeypatch.setattr(wb, "CHUNK_ROWS", 7)
    big = pl.DataFrame({"人员编号": [f"P{i:06d}" for i in range(50)], "得分": [float(i) for i in range(50)]})
    with ReportSheet(tmp_path / "s.xlsx", "s", big.columns) as sheet:
        sheet.write(big.head(20))
        sheet.write(big.tail(30))
        assert sheet.rows_written == 50
    back = fastexcel.read_excel(tmp_path / "s.xlsx").load_sheet(0).to_polars()
    assert back["人员编号"].to_list() == big["人员编号"].to_list() and back["得分"].to_list() == big["得分"].to_list()
