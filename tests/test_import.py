"""Importer: the sample exports, every input variant, conflicts, duplicates, re-import, undo, partial import."""

from __future__ import annotations

import hashlib
import io
import json
import struct
from datetime import date, datetime
from pathlib import Path

import polars as pl
import pytest
import xlsxwriter

from analytics import store
from analytics.errors import UserError
from analytics.importer import import_bytes, import_paths, list_imports, preview_bytes, undo

HEADER = ["人员编号", "姓名", "单位", "年度", "季度", "考核等次", "得分"]
ROWS = [
    ["A001", "张三", "财政局", "2024", "1", "好", "91"],
    ["A002", "李四", "财政局", "2024", "1", "较好", "85.5"],
    ["A003", "王五", "税务局", "2024", "2", "一般", "70"],
]


def csv_bytes(rows, header=HEADER, encoding="utf-8", sep=",", newline="\n") -> bytes:
    text = newline.join(sep.join(r) for r in [header, *rows]) + newline
    return text.encode(encoding)


def xlsx_bytes(
    sheets: dict[str, list[list]], title: str | None = None, footer: list[str] = (), at_col: int = 0
) -> bytes:
    """A workbook: optional merged title row and a blank row above the table, footer lines under it."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    for name, rows in sheets.items():
        sheet = book.add_worksheet(name)
        r = 0
        if title:
            sheet.merge_range(0, at_col, 0, at_col + len(rows[0]) - 1, title)
            r = 2
        for row in rows:
            for c, value in enumerate(row):
                if isinstance(value, (date, datetime)):
                    sheet.write_datetime(r, at_col + c, value, book.add_format({"num_format": "yyyy-mm-dd"}))
                elif value is not None:
                    sheet.write(r, at_col + c, value)
            r += 1
        for line in footer:
            sheet.write(r + 1, at_col, line)
            r += 1
    book.close()
    return buffer.getvalue()


def table(db: Path, name: str) -> pl.DataFrame:
    con = store.connect(db, read_only=True)
    try:
        return con.sql(f"SELECT * FROM {store.quote_ident(name)} ORDER BY ALL").pl()
    finally:
        con.close()


def counts(db: Path) -> dict[str, int]:
    con = store.connect(db, read_only=True)
    try:
        return store.table_counts(con)
    finally:
        con.close()


# --- the sample exports (tests/samples/README.md) -----------------------------------------------------


def test_sample_long_xlsx_title_row_period_years_and_footer(samples, tmp_db):
    result = import_bytes(tmp_db, (samples / "平时考核_2024_长表.xlsx").read_bytes(), "平时考核_2024_长表.xlsx")
    assert (result.status, result.kind, result.layout, result.header_row) == ("imported", "quarterly", "long", 3)
    assert result.rows == 184 and result.ignored_footer_rows == [189]
    rows = table(tmp_db, "quarterly")
    assert set(rows["year"]) == {2024} and set(rows["quarter"]) == {1, 2, 3, 4}
    first = rows.filter(pl.col("source_row") == 4).row(0, named=True)  # row 4 in Excel: first person
    assert (first["person_id"], first["grade"], first["score"], first["source_sheet"]) == (
        "CS0001",
        "好",
        91.1,
        "2024年",
    )
    assert json.loads(first["extra"]) == {"序号": 1}
    assert not rows["name"].str.contains("填表人").any()


def test_sample_wide_gbk_csv_melts_quarters_and_keeps_remarks(samples, tmp_db):
    result = import_bytes(tmp_db, (samples / "平时考核_宽表_GBK.csv").read_bytes(), "平时考核_宽表_GBK.csv")
    assert (result.status, result.encoding, result.layout) == ("imported", "gb18030", "wide")
    rows = table(tmp_db, "quarterly")
    assert rows.height == result.rows == 92 * 4
    person = rows.filter((pl.col("person_id") == "CS0001") & (pl.col("year") == 2023)).sort("quarter")
    assert person["grade"].to_list() == ["一般", "一般", "好", "好"]  # line 2 of the file
    assert set(person["source_row"]) == {2}
    assert rows["extra"].null_count() == rows.height  # the file's 备注 column is empty: no `{"备注": null}` rows


def test_extra_is_null_only_where_every_unmodelled_cell_is_empty():
    from analytics.importer.layout import records

    body = pl.DataFrame(
        {"姓名": ["甲", "乙", "丙"], "等次": ["好", "好", "一般"], "备注": [None, "借调", None], "工作实绩": [None, None, "88.5"],
         "__row": [2, 3, 4]}
    )  # fmt: skip
    got = records(body, ["姓名", "等次", "备注", "工作实绩"], {"姓名": "name", "等次": "grade"}, "long", None)
    extra = got["extra"].to_list()
    assert extra[0] is None
    assert json.loads(extra[1]) == {"备注": "借调", "工作实绩": None}
    assert json.loads(extra[2]) == {"备注": None, "工作实绩": 88.5}


def test_sample_annual_csv_with_bom(samples, tmp_db):
    result = import_bytes(tmp_db, (samples / "年度考核_2024.csv").read_bytes(), "年度考核_2024.csv")
    assert (result.status, result.kind, result.encoding, result.rows) == ("imported", "annual", "utf-8-bom", 46)
    annual = table(tmp_db, "annual")
    assert annual.filter(pl.col("person_id") == "CS0001")["annual_grade"].to_list() == ["称职"]
    assert set(annual["annual_grade"]) <= {"优秀", "称职", "基本称职", "不称职", "不确定等次"}


def test_sample_outcomes_normalise_names_dates_amounts(samples, tmp_db):
    result = import_bytes(tmp_db, (samples / "结果运用_2025.xlsx").read_bytes(), "结果运用_2025.xlsx")
    assert (result.status, result.kind, result.rows) == ("imported", "outcomes", 20)
    bonus = table(tmp_db, "outcomes").filter(pl.col("person_id") == "CS0003").row(0, named=True)
    assert (bonus["outcome"], bonus["outcome_raw"], bonus["amount"], bonus["date"]) == (
        "bonus", "考核奖金", 3000.0, date(2025, 3, 3)
    )  # fmt: skip


def test_sample_survey_goes_to_the_survey_tables(samples, tmp_db):
    result = import_bytes(tmp_db, (samples / "平时考核问卷_2024.xlsx").read_bytes(), "平时考核问卷_2024.xlsx")
    assert (result.status, result.kind, result.rows) == ("imported", "survey", 120)
    respondents = table(tmp_db, "survey_respondents")
    assert respondents.height == 120 and set(respondents["import_id"]) == {result.import_id}
    assert table(tmp_db, "survey_items").height >= 7 and table(tmp_db, "survey_answers").height > 120


def test_sample_bad_grade_and_quarter_refused_naming_lines_3_and_4(samples, tmp_db):
    content = (samples / "有问题_等次和季度错误.csv").read_bytes()
    result = import_bytes(tmp_db, content, "有问题_等次和季度错误.csv")
    assert result.status == "refused" and result.import_id is None
    assert sorted(result.problems["row"].to_list()) == [3, 4]
    assert set(result.problems["value"]) == {"优良", "2024Q5"}
    text = result.report("zh")
    assert "第 3 行：优良" in text and "第 4 行：2024Q5" in text and "好、较好、一般、较差" in text
    assert "row 3: 优良" in result.report("en")
    assert not tmp_db.exists()  # nothing was written, not even an empty store


def test_sample_missing_grade_column_names_it_and_its_aliases(samples, tmp_db):
    with pytest.raises(UserError) as error:
        import_bytes(tmp_db, (samples / "有问题_缺少等次列.csv").read_bytes(), "有问题_缺少等次列.csv")
    message = str(error.value)
    assert "等次" in message and "考核等次" in message and "平时考核等次" in message and "grade" in message
    assert not tmp_db.exists()


# --- input variants --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "encoding, content",
    [
        ("utf-8", csv_bytes(ROWS)),
        ("utf-8-bom", b"\xef\xbb\xbf" + csv_bytes(ROWS)),
        ("gb18030", csv_bytes(ROWS, encoding="gb18030", newline="\r\n")),
        ("utf-16", csv_bytes(ROWS, encoding="utf-16")),  # Python writes the BOM
    ],
)
def test_every_encoding_gives_the_same_rows(tmp_db, encoding, content):
    result = import_bytes(tmp_db, content, "q.csv")
    assert (result.status, result.encoding, result.rows) == ("imported", encoding, 3)
    rows = table(tmp_db, "quarterly")
    assert rows.select("person_id", "name", "unit", "grade", "score", "source_row").rows() == [
        ("A001", "张三", "财政局", "好", 91.0, 2),
        ("A002", "李四", "财政局", "较好", 85.5, 3),
        ("A003", "王五", "税务局", "一般", 70.0, 4),
    ]


@pytest.mark.parametrize(
    "content",
    [b"", "\u59d3\u540d".encode(), b"\xef\xbb\xbfabc", b"\x80", "\u4e2d".encode()[:2], b"\xed\xa0\x80",
     b"\xc0\xaf", "\u59d3\u540d".encode("gb18030")],
)  # fmt: skip
def test_utf8_is_told_as_python_decodes_it(content):
    from analytics.importer.decode import _is_utf8

    try:
        content.decode("utf-8")
        expected = True
    except UnicodeDecodeError:
        expected = False
    assert _is_utf8(content) is expected


def test_tab_delimited_txt(tmp_db):
    result = import_bytes(tmp_db, csv_bytes(ROWS, sep="\t"), "平时考核.txt")
    assert result.status == "imported" and result.rows == 3
    assert table(tmp_db, "quarterly")["unit"].to_list() == ["财政局", "财政局", "税务局"]


def test_csv_line_numbers_count_title_blank_lines_and_quoted_breaks(tmp_db):
    text = (
        "2024年度平时考核汇总表\n\n"
        "人员编号,姓名,单位,季度,等次,备注\n"
        'A1,张三,财政局,2024Q1,好,"两行\n备注"\n'
        "\n"
        "A2,李四,财政局,2024Q1,较好,\n"
        "填表人：王芳,,,,,\n"
    )
    result = import_bytes(tmp_db, text.encode(), "q.csv")
    assert result.header_row == 3 and result.ignored_footer_rows == [8]
    rows = table(tmp_db, "quarterly")
    assert rows.select("person_id", "source_row").rows() == [("A1", 4), ("A2", 7)]


def test_csv_line_numbers_with_quoted_cells_and_no_breaks(tmp_db):
    text = '人员编号,姓名,单位,季度,等次,备注\nA1,张三,财政局,2024Q1,好,"借调，驻村"\n\nA2,李四,财政局,2024Q1,较好,\n'
    assert import_bytes(tmp_db, text.encode(), "q.csv").status == "imported"
    assert table(tmp_db, "quarterly").select("person_id", "source_row").rows() == [("A1", 2), ("A2", 4)]


def test_xlsx_with_merged_title_blank_row_footer_and_offset_columns(tmp_db):
    content = xlsx_bytes(
        {"汇总": [HEADER, *ROWS]},
        title="2024年度公务员平时考核结果汇总表",
        footer=["填表人：王芳      审核人：李建国", "制表日期：2025年1月10日"],
        at_col=1,
    )
    result = import_bytes(tmp_db, content, "汇总.xlsx")
    assert (result.status, result.header_row, result.rows) == ("imported", 3, 3)
    assert result.ignored_footer_rows == [8, 9]
    rows = table(tmp_db, "quarterly")
    assert rows.select("person_id", "source_row", "source_sheet").rows() == [
        ("A001", 4, "汇总"), ("A002", 5, "汇总"), ("A003", 6, "汇总")
    ]  # fmt: skip
    assert any("表尾" in w for w in result.warnings)


def test_xlsx_leading_blank_rows_keep_excel_row_numbers(tmp_db):
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = book.add_worksheet("S")
    sheet.write_row(4, 0, HEADER)  # nothing above row 5
    sheet.write_row(5, 0, ROWS[0])
    book.close()
    import_bytes(tmp_db, buffer.getvalue(), "s.xlsx")
    assert table(tmp_db, "quarterly")["source_row"].to_list() == [6]


def test_multi_sheet_workbook_reads_every_sheet_with_a_header(tmp_db):
    rows_2025 = [[r[0], r[1], r[2], "2025", r[4], "较好", r[6]] for r in ROWS]
    content = xlsx_bytes({"2024": [HEADER, *ROWS], "说明": [["本表由系统导出"]], "2025": [HEADER, *rows_2025]})
    result = import_bytes(tmp_db, content, "两年.xlsx")
    assert result.rows == 6 and result.sheets == ["2024", "2025"]
    rows = table(tmp_db, "quarterly")
    assert rows.group_by("source_sheet").len().sort("source_sheet").rows() == [("2024", 3), ("2025", 3)]
    assert any("说明" in w for w in result.warnings)


def _biff_record(kind: int, body: bytes) -> bytes:
    return struct.pack("<HH", kind, len(body)) + body


def _biff_bof(dt: int) -> bytes:
    return _biff_record(0x0809, struct.pack("<HHHHII", 0x0600, dt, 0x0DBB, 0x07CC, 0, 0x06))


def xls_bytes(sheet: str, rows: list[list[str]]) -> bytes:
    """A minimal .xls (BIFF8 in an OLE2 container, text cells only): no .xls writer is installed."""
    label = [
        _biff_record(0x0204, struct.pack("<HHHHB", r, c, 0, len(v), 1) + v.encode("utf-16-le"))
        for r, row in enumerate(rows)
        for c, v in enumerate(row)
        if v
    ]
    size = struct.pack("<IIHHH", 0, len(rows), 0, max(map(len, rows)), 0)
    sheet_stream = _biff_bof(0x10) + _biff_record(0x0200, size) + b"".join(label) + _biff_record(0x0A, b"")

    def book_globals(offset: int) -> bytes:
        bound = struct.pack("<IBBBB", offset, 0, 0, len(sheet), 1) + sheet.encode("utf-16-le")
        codepage = _biff_record(0x0042, struct.pack("<H", 1200))
        return _biff_bof(0x05) + codepage + _biff_record(0x0085, bound) + _biff_record(0x0A, b"")

    stream = book_globals(len(book_globals(0))) + sheet_stream
    stream += b"\0" * (max(4096, -(-len(stream) // 512) * 512) - len(stream))  # regular sectors, not the mini stream
    n = len(stream) // 512
    fat = [0xFFFFFFFD, 0xFFFFFFFE, *range(3, 2 + n), 0xFFFFFFFE]
    header = (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 16 + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6) + b"\0" * 6
        + struct.pack("<9I", 0, 1, 1, 0, 4096, 0xFFFFFFFE, 0, 0xFFFFFFFE, 0)
        + struct.pack("<109I", 0, *([0xFFFFFFFF] * 108))
    )  # fmt: skip

    def entry(name: str, kind: int, child: int, start: int, length: int) -> bytes:
        raw = name.encode("utf-16-le") + b"\0\0" if name else b""
        links = struct.pack("<HBBIII", len(raw), kind, 1, 0xFFFFFFFF, 0xFFFFFFFF, child)
        return raw.ljust(64, b"\0") + links + b"\0" * 36 + struct.pack("<IIi", start, length, 0)

    directory = entry("Root Entry", 5, 1, 0xFFFFFFFE, 0) + entry("Workbook", 2, 0xFFFFFFFF, 2, len(stream))
    directory += entry("", 0, 0xFFFFFFFF, 0, 0) * 2
    return header + struct.pack("<128I", *fat, *([0xFFFFFFFF] * (128 - len(fat)))) + directory + stream


def test_xls_workbook_with_title_row(tmp_db):
    rows = [["2024年度平时考核汇总表"], [], HEADER, *ROWS, [], ["填表人：王芳"]]
    result = import_bytes(tmp_db, xls_bytes("平时考核", rows), "旧版.xls")
    assert (result.status, result.header_row, result.rows, result.ignored_footer_rows) == ("imported", 3, 3, [8])
    got = table(tmp_db, "quarterly").select("person_id", "grade", "score", "source_row", "source_sheet").rows()
    assert got[0] == ("A001", "好", 91.0, 4, "平时考核")


def test_wide_layout_with_score_columns(tmp_db):
    header = ["工号", "姓名", "单位", "年度", "第一季度", "第一季度得分", "第二季度", "第二季度得分", "工作实绩"]
    rows = [["B1", "赵六", "公安局", "2024", "好", "92", "较好", "86", "88.5"],
            ["B2", "钱七", "公安局", "2024", "较好", "84", "", "", "80"]]  # fmt: skip
    result = import_bytes(tmp_db, csv_bytes(rows, header=header), "宽表.csv")
    assert (result.layout, result.rows) == ("wide", 3)  # the blank second quarter gives no record
    got = table(tmp_db, "quarterly").select("person_id", "quarter", "grade", "score", "extra").rows()
    assert got == [
        ("B1", 1, "好", 92.0, '{"工作实绩":88.5}'),
        ("B1", 2, "较好", 86.0, '{"工作实绩":88.5}'),
        ("B2", 1, "较好", 84.0, '{"工作实绩":80.0}'),
    ]


@pytest.mark.parametrize("headers", [["Q1", "Q2"], ["一季度", "二季度"], ["1季度", "2季度"], ["2024Q1", "2024Q2"]])
def test_wide_quarter_header_spellings(tmp_db, headers):
    header = ["person_id", "name", "unit", "year", *headers]
    result = import_bytes(tmp_db, csv_bytes([["C1", "孙八", "法院", "2024", "好", "一般"]], header=header), "w.csv")
    assert result.layout == "wide"
    assert table(tmp_db, "quarterly").select("year", "quarter", "grade").rows() == [(2024, 1, "好"), (2024, 2, "一般")]


def test_english_headers_and_grades(tmp_db):
    header = ["Person ID", "Name", "Unit", "Unit Type", "Year", "Quarter", "Grade", "Score", "Reviewer"]
    rows = [["E1", "Li", "Finance", "综合管理", "2024", "Q3", "Fairly Good", "85", "Wang"],
            ["E2", "Wu", "Finance", "综合管理", "2024", "Q3", "good", "95", "Wang"]]  # fmt: skip
    result = import_bytes(tmp_db, csv_bytes(rows, header=header), "english.csv")
    assert result.status == "imported"
    got = table(tmp_db, "quarterly").select("person_id", "unit_type", "quarter", "grade", "reviewer").rows()
    assert got == [("E1", "综合管理", 3, "较好", "Wang"), ("E2", "综合管理", 3, "好", "Wang")]


@pytest.mark.parametrize(
    "period, year_column, expected",
    [
        ("1", "2024", (2024, 1)),
        ("Q2", "2024", (2024, 2)),
        ("q3", "2024", (2024, 3)),
        ("第四季度", "2024", (2024, 4)),
        ("一季度", "2024", (2024, 1)),
        ("2季度", "2024", (2024, 2)),
        ("第3季度", "2024", (2024, 3)),
        ("Ｑ４", "2024", (2024, 4)),
        ("2024Q1", "", (2024, 1)),
        ("2024-Q2", "", (2024, 2)),
        ("2024年第三季度", "", (2024, 3)),
        ("2024年四季度", "", (2024, 4)),
        ("2025年1季度", "", (2025, 1)),
        ("2023年度第二季度", "", (2023, 2)),
    ],
)
def test_every_quarter_spelling(tmp_db, period, year_column, expected):
    header = ["人员编号", "姓名", "单位", "年度", "季度", "等次"]
    import_bytes(tmp_db, csv_bytes([["A1", "张三", "财政局", year_column, period, "好"]], header=header), "q.csv")
    assert table(tmp_db, "quarterly").select("year", "quarter").row(0) == expected


def test_year_in_period_must_agree_with_year_column(tmp_db):
    header = ["人员编号", "姓名", "单位", "年度", "季度", "等次"]
    result = import_bytes(tmp_db, csv_bytes([["A1", "张三", "财政局", "2023", "2024Q1", "好"]], header=header), "q.csv")
    assert result.status == "refused" and result.problems["code"].to_list() == ["year_mismatch"]


# --- conflicts, duplicates, identity ---------------------------------------------------------------------


def test_conflicting_grades_refused_naming_both_rows(tmp_db):
    rows = [ROWS[0], ROWS[1], ["A001", "张三", "财政局", "2024", "1", "较好", "80"]]
    result = import_bytes(tmp_db, csv_bytes(rows), "c.csv")
    assert result.status == "refused"
    assert sorted(result.problems["row"].to_list()) == [2, 4]
    reason = result.problems["reason_zh"][0]
    assert "第2行 好" in reason and "第4行 较好" in reason and "2024Q1" in reason
    assert not tmp_db.exists()


def test_exact_duplicates_stored_once_with_a_warning(tmp_db):
    result = import_bytes(tmp_db, csv_bytes([*ROWS, ROWS[0]]), "d.csv")
    assert result.status == "imported" and result.rows == 3
    assert table(tmp_db, "quarterly").filter(pl.col("person_id") == "A001")["source_row"].to_list() == [2]
    assert any("第5行" in w and "只存一次" in w for w in result.warnings)


def test_same_content_twice_adds_nothing(tmp_db):
    content = csv_bytes(ROWS)
    first = import_bytes(tmp_db, content, "a.csv")
    before = counts(tmp_db)
    again = import_bytes(tmp_db, content, "renamed.csv")
    assert again.status == "duplicate" and again.import_id == first.import_id and again.rows == 0
    assert counts(tmp_db) == before
    assert list_imports(tmp_db).height == 1


def test_overlapping_file_skips_known_rows_and_refuses_contradictions(tmp_db):
    import_bytes(tmp_db, csv_bytes(ROWS), "a.csv")
    overlap = [ROWS[0], ["A009", "周九", "财政局", "2024", "1", "好", "90"]]
    result = import_bytes(tmp_db, csv_bytes(overlap), "b.csv")
    assert result.status == "imported" and result.rows == 1
    assert any("已在库中" in w for w in result.warnings)
    changed = [["A002", "李四", "财政局", "2024", "1", "好", "95"]]
    refused = import_bytes(tmp_db, csv_bytes(changed), "c.csv")
    assert refused.status == "refused" and refused.problems["code"].to_list() == ["conflict_store"]
    assert "undo 1" in refused.problems["reason"][0] and "较好" in refused.problems["reason"][0]


def test_person_ids_derived_from_name_and_unit_are_stable(tmp_path):
    header = ["姓名", "单位", "季度", "等次"]
    rows = [["张三", "财政局", "2024Q1", "好"], ["张三", "税务局", "2024Q1", "较好"]]
    ids = []
    for store_name in ("one.duckdb", "two.duckdb"):
        result = import_bytes(tmp_path / store_name, csv_bytes(rows, header=header), "n.csv")
        assert any("姓名+单位" in w for w in result.warnings)
        ids.append(table(tmp_path / store_name, "quarterly").sort("unit")["person_id"].to_list())
    assert ids[0] == ids[1] and ids[0][0] != ids[0][1] and all(i.startswith("D") for i in ids[0])


def test_namesakes_in_a_unit_are_reported(tmp_db):
    rows = [["A1", "张三", "财政局", "2024", "1", "好", "90"], ["A2", "张三", "财政局", "2024", "1", "较好", "80"]]
    result = import_bytes(tmp_db, csv_bytes(rows), "n.csv")
    assert result.rows == 2 and any("同名" in w and "财政局·张三" in w for w in result.warnings)


# --- undo and partial imports ----------------------------------------------------------------------------


def test_undo_removes_rows_marks_undone_and_keeps_the_original(tmp_db):
    content = csv_bytes(ROWS)
    first = import_bytes(tmp_db, content, "a.csv")
    import_bytes(tmp_db, csv_bytes([["Z1", "某", "某局", "2024", "1", "好", "90"]]), "b.csv")
    assert undo(tmp_db, first.import_id) == 3
    assert table(tmp_db, "quarterly")["person_id"].to_list() == ["Z1"]
    imports = list_imports(tmp_db)
    assert imports.filter(pl.col("import_id") == first.import_id)["status"].to_list() == ["undone"]
    original = store.originals_dir(tmp_db) / imports["sha256"][0]
    assert original.read_bytes() == content
    with pytest.raises(UserError, match="已撤销"):
        undo(tmp_db, first.import_id)
    with pytest.raises(UserError, match="99"):
        undo(tmp_db, 99)
    assert import_bytes(tmp_db, content, "a.csv").status == "imported"  # an undone file can come back


def test_partial_import_keeps_good_rows_and_stores_refused_ones(samples, tmp_db):
    content = (samples / "有问题_等次和季度错误.csv").read_bytes()
    result = import_bytes(tmp_db, content, "有问题_等次和季度错误.csv", partial=True)
    assert (result.status, result.rows, result.rejected) == ("partial", 1, 2)
    assert table(tmp_db, "quarterly")["person_id"].to_list() == ["CS0001"]
    rejected = table(tmp_db, "rejected_rows").sort("source_row")
    assert rejected.select("import_id", "source_row", "column", "value").rows() == [
        (result.import_id, 3, "考核等次", "优良"),
        (result.import_id, 4, "季度", "2024Q5"),
    ]
    assert "好、较好" in rejected["reason"][0] and "not a valid grade" in rejected["reason"][0]
    assert json.loads(rejected["raw"][0]) == {
        "工号": "CS0002",
        "姓名": "李四",
        "所在单位": "常山县财政局",
        "季度": "2024Q1",
        "考核等次": "优良",
    }
    assert list_imports(tmp_db)["status"].to_list() == ["partial"]
    assert undo(tmp_db, result.import_id) == 3  # one fact and two rejected rows
    assert counts(tmp_db)["rejected_rows"] == 0


def test_partial_import_refuses_both_conflicting_rows(tmp_db):
    rows = [ROWS[0], ["A001", "张三", "财政局", "2024", "1", "较好", "80"], ROWS[2]]
    result = import_bytes(tmp_db, csv_bytes(rows), "c.csv", partial=True)
    assert (result.rows, result.rejected) == (1, 2)
    assert table(tmp_db, "rejected_rows")["source_row"].sort().to_list() == [2, 3]


# --- kinds -----------------------------------------------------------------------------------------------


def test_annual_file_that_calls_its_grade_just_dengci(tmp_db):
    header = ["人员编号", "姓名", "单位", "年度", "等次"]
    result = import_bytes(tmp_db, csv_bytes([["A1", "张三", "财政局", "2024", "优秀"]], header=header), "y.csv")
    assert result.kind == "annual" and table(tmp_db, "annual")["annual_grade"].to_list() == ["优秀"]


def test_explicit_kind_wins(tmp_db):
    header = ["人员编号", "姓名", "单位", "年度", "等次"]
    with pytest.raises(UserError, match="季度"):
        import_bytes(
            tmp_db, csv_bytes([["A1", "张三", "财政局", "2024", "优秀"]], header=header), "y.csv", kind="quarterly"
        )


def test_outcomes_dates_in_every_form_and_unknown_names(tmp_db):
    rows = [
        ["人员编号", "姓名", "单位", "日期", "结果运用", "金额"],
        ["A1", "张三", "财政局", "2025-03-15", "提拔任用", None],
        ["A2", "李四", "财政局", "2025/3/15", "年度考核奖金", "3,000元"],
        ["A3", "王五", "财政局", "2025年3月15日", "诫勉谈话", None],
        ["A4", "赵六", "财政局", 45731, "慰问", None],  # an Excel serial
        ["A5", "钱七", "财政局", datetime(2025, 3, 15), "取消评先评优资格", None],
    ]
    result = import_bytes(tmp_db, xlsx_bytes({"运用": rows}), "结果运用.xlsx")
    assert result.status == "imported", result.report("en")
    got = table(tmp_db, "outcomes").sort("person_id")
    assert set(got["date"]) == {date(2025, 3, 15)}
    assert got["outcome"].to_list() == ["promotion", "bonus", "admonishment", "other", "award_withdrawn"]
    assert got["amount"].to_list()[1] == 3000.0
    assert any("慰问" in w and "other" in w for w in result.warnings)


def test_preview_touches_no_store(samples, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    preview = preview_bytes((samples / "平时考核_宽表_GBK.csv").read_bytes(), "宽表.csv")
    assert (preview.kind, preview.layout, preview.header_row, preview.encoding) == ("quarterly", "wide", 1, "gb18030")
    assert preview.mapping["人员编号"] == "person_id" and preview.mapping["一季度"] == "grade"
    assert preview.rows.height == 20 and preview.total_records == 368
    assert preview.rows["quarter"].to_list()[:4] == [1, 2, 3, 4]
    assert "列对应" in preview.report("zh")
    assert list(tmp_path.iterdir()) == []


def test_import_paths_reports_unreadable_files_without_raising(samples, tmp_db, tmp_path):
    results = import_paths(
        tmp_db, [samples / "年度考核_2024.csv", tmp_path / "missing.csv", samples / "有问题_缺少等次列.csv"]
    )
    assert [r.status for r in results] == ["imported", "refused", "refused"]
    assert "missing.csv" in results[1].report() and "考核等次" in results[2].report()


def test_rows_refused_against_the_store_keep_their_raw_row(tmp_db):
    """The parse worker hands back only the raw rows of its own problems; a row refused later, because the
    store has another grade for it, is read again from the file."""
    assert import_bytes(tmp_db, csv_bytes([ROWS[0]]), "first.csv").status == "imported"
    again = [["A001", "张三", "财政局", "2024", "1", "一般", "60"], ROWS[1]]
    refused = import_bytes(tmp_db, csv_bytes(again), "again.csv")
    assert refused.status == "refused" and counts(tmp_db)["rejected_rows"] == 0
    result = import_bytes(tmp_db, csv_bytes(again), "again.csv", partial=True)
    assert (result.status, result.rows, result.rejected) == ("partial", 1, 1)
    rejected = table(tmp_db, "rejected_rows")
    assert rejected.select("source_row", "column", "value").rows() == [(2, "考核等次", "一般")]
    assert json.loads(rejected["raw"][0]) == dict(zip(HEADER, again[0], strict=True))


def test_only_stored_imports_leave_their_original(tmp_db):
    """The original is written while the file is parsed; a refused or repeated import leaves no file behind."""
    bad = csv_bytes([["A001", "张三", "财政局", "2024", "1", "优良", "91"]])
    assert import_bytes(tmp_db, bad, "bad.csv").status == "refused"
    folder = store.originals_dir(tmp_db)
    assert not folder.exists() or list(folder.iterdir()) == []
    good = csv_bytes(ROWS)
    assert import_bytes(tmp_db, good, "good.csv").status == "imported"
    assert import_bytes(tmp_db, good, "good.csv").status == "duplicate"
    with pytest.raises(UserError):
        import_bytes(tmp_db, b"\x00\x01 not a table", "junk.csv")
    assert [p.name for p in folder.iterdir()] == [hashlib.sha256(good).hexdigest()]


def test_rejected_rows_keep_the_raw_row_of_their_own_sheet(tmp_db):
    """Two sheets share Excel row numbers: each refused row's raw JSON comes from its own sheet."""
    good = [HEADER, ["A001", "张三", "财政局", "2024", "1", "好", "91"]]
    bad = [HEADER, ["A009", "周九", "税务局", "2024", "1", "优良", "60"]]
    result = import_bytes(tmp_db, xlsx_bytes({"甲": good, "乙": bad}), "两表.xlsx", partial=True)
    assert (result.status, result.rows, result.rejected) == ("partial", 1, 1)
    rejected = table(tmp_db, "rejected_rows")
    assert rejected.select("source_sheet", "source_row", "value").rows() == [("乙", 2, "优良")]
    assert json.loads(rejected["raw"][0])["姓名"] == "周九"


def test_wide_rows_melt_in_row_then_quarter_order_with_gaps(tmp_db):
    header = ["工号", "姓名", "单位", "年度", "一季度", "二季度", "三季度", "四季度"]
    rows = [["C1", "甲", "局", "2024", "", "好", "", "一般"],
            ["C2", "乙", "局", "2024", "较好", "", "较差", ""],
            ["C3", "丙", "局", "2024", "", "", "", ""]]  # fmt: skip
    result = import_bytes(tmp_db, csv_bytes(rows, header=header), "宽.csv")
    assert result.rows == 4
    got = table(tmp_db, "quarterly").select("person_id", "quarter", "grade", "source_row").rows()
    assert got == [("C1", 2, "好", 2), ("C1", 4, "一般", 2), ("C2", 1, "较好", 3), ("C2", 3, "较差", 3)]


def test_the_leftmost_filled_column_is_found_past_a_title_further_right():
    from analytics.importer.sheets import _first_value_column

    xml = (
        b'<row r="1"><c r="A1" s="3"/><c r="C1" t="s"><v>0</v></c></row>'  # a styled empty A1, the title at C1
        b'<row r="3"><c r="A3" s="1"/><c r="B3" t="inlineStr"><is><t>x</t></is></c><c r="D3"><v>1</v></c></row>'
    )
    assert _first_value_column(xml) == 1  # column B, though the first value sits in C
    assert _first_value_column(b'<row r="1"><c r="AB1"><v>1</v></c></row>') == 27
    assert _first_value_column(b'<row r="1"><c r="A1" s="2"/></row>') == 0  # nothing filled
