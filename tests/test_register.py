"""The registration form (考核登记表) and the `outcomes` / `register` commands."""

from __future__ import annotations

import datetime as dt
import io
import json

import fastexcel
import openpyxl
import polars as pl
import pytest

from analytics import store
from analytics.cli import main
from analytics.dataset import frames
from analytics.errors import UserError
from analytics.register import TITLE, registration_form, registration_forms_xlsx, write_registration_xlsx

PEOPLE = {
    "CS0001": ("张三", ["好", "好", "较好", "好"], "优秀"),
    "CS0002": ("李四", ["好", "一般", "较好", "较好"], "称职"),
}


def _frames():
    q = pl.DataFrame([
        {"person_id": p, "name": name, "unit": "常山县财政局", "section": "办公室", "position_level": "一般干部",
         "year": 2024, "quarter": i + 1, "grade": g, "score": 80.0 + i, "reviewer": "王科长", "import_id": 1,
         "source_row": 3 + i}
        for p, (name, grades, _) in PEOPLE.items()
        for i, g in enumerate(grades)
    ])  # fmt: skip
    a = pl.DataFrame([{"person_id": p, "name": n, "unit": "常山县财政局", "year": 2024, "annual_grade": g}
                      for p, (n, _, g) in PEOPLE.items()])  # fmt: skip
    o = pl.DataFrame({
        "person_id": ["CS0001", "CS0001", "CS0002"], "name": ["张三", "张三", "李四"], "unit": ["常山县财政局"] * 3,
        "date": [dt.date(2025, 3, 1), dt.date(2025, 1, 20), dt.date(2025, 1, 20)],
        "outcome": ["award", "bonus", "bonus"], "outcome_raw": ["评先评优", "考核奖金", "考核奖金"],
        "detail": ["2024年度优秀公务员", "年度考核奖", "年度考核奖"], "amount": [None, 5000.0, 3000.0],
    })  # fmt: skip
    return q, a, o


def test_form_holds_the_year_counts_grades_and_outcomes():
    form = registration_form(frames(*_frames()), "CS0001", 2024)
    assert form["counts"] == {"好": 3, "较好": 1, "一般": 0, "较差": 0, "不确定等次": 0}
    assert form["counts_text"] == "好 3 次，较好 1 次，一般 0 次，较差 0 次"
    assert [q["grade"] for q in form["quarters"]] == ["好", "好", "较好", "好"]
    assert form["annual_grade"] == "优秀" and form["gate_met"] and form["person"]["name"] == "张三"
    assert [(o["outcome"], o["amount"]) for o in form["outcomes"]] == [("bonus", 5000.0), ("award", None)]


def test_unknown_person_or_year_is_a_clear_error():
    data = frames(*_frames())
    with pytest.raises(UserError, match="CS9999"):
        registration_form(data, "CS9999", 2024)
    with pytest.raises(UserError, match="2024"):  # names the years that are on record
        registration_form(data, "CS0001", 2019)


def test_xlsx_reads_back_like_the_paper_form(tmp_path):
    target = tmp_path / "form.xlsx"
    write_registration_xlsx(registration_form(frames(*_frames()), "CS0002", 2024), target)
    sheet = openpyxl.load_workbook(target).active
    cells = {c.value: c.coordinate for row in sheet.iter_rows() for c in row if c.value is not None}
    assert sheet["A1"].value == TITLE and "A1:F1" in {str(r) for r in sheet.merged_cells.ranges}
    assert {"好 1 次", "较好 2 次", "一般 1 次", "较差 0 次"} <= set(cells)
    assert sheet.cell(sheet[cells["年度考核等次"]].row, 2).value == "称职"
    assert sheet["A3"].border.left.style == "thin" and sheet.page_setup.paperSize == 9
    assert "不符合（至少2次好且无一般及以下）" in cells  # the gate, as the rules say it
    grades = pl.read_excel(target, engine="calamine", has_header=False)  # fastexcel reads it too
    assert grades.height >= 17 and fastexcel.read_excel(target).sheet_names == ["登记表"]


def test_unit_workbook_has_one_sheet_per_person(tmp_path):
    data = frames(*_frames())
    book = openpyxl.load_workbook(io.BytesIO(registration_forms_xlsx(data, 2024, "常山县财政局")))
    assert book.sheetnames == ["CS0001 张三", "CS0002 李四"]
    with pytest.raises(UserError, match="没有"):
        registration_forms_xlsx(data, 2024, "不存在的单位")


@pytest.fixture
def small_store(tmp_db):
    con = store.connect(tmp_db)
    q, a, o = _frames()
    store.insert_frame(con, "quarterly", q)
    store.insert_frame(con, "annual", a)
    store.insert_frame(con, "outcomes", o)
    con.close()
    return tmp_db


def test_register_command_writes_the_form(small_store, tmp_path, capsys):
    out = tmp_path / "CS0001.xlsx"
    assert main(["register", "CS0001", "--year", "2024", "--out", str(out), "--db", str(small_store)]) == 0
    assert openpyxl.load_workbook(out).active["B3"].value == "张三"
    unit_out = tmp_path / "unit.xlsx"
    assert (
        main(["register", "--unit", "常山县财政局", "--year", "2024", "--out", str(unit_out), "--db", str(small_store)])
        == 0
    )
    assert len(openpyxl.load_workbook(unit_out).sheetnames) == 2


def test_register_command_unknown_person_exits_2(small_store, tmp_path, capsys):
    code = main(["register", "NOPE", "--year", "2024", "--out", str(tmp_path / "x.xlsx"), "--db", str(small_store)])
    assert code == 2 and "NOPE" in capsys.readouterr().err and not (tmp_path / "x.xlsx").exists()


def test_outcomes_command_tables(small_store, tmp_path, capsys):
    assert main(["outcomes", "--db", str(small_store), "--table", "flow", "--format", "json"]) == 0
    links = json.loads(capsys.readouterr().out)
    assert {"source": "3×好+1×较好", "target": "优秀", "value": 1} in [
        {k: r[k] for k in ("source", "target", "value")} for r in links
    ]
    out = tmp_path / "all.xlsx"
    assert main(["outcomes", "--db", str(small_store), "--year", "2024", "--format", "xlsx", "--out", str(out)]) == 0
    sheets = fastexcel.read_excel(out).sheet_names
    assert sheets == ["flow", "patterns", "lanes", "units", "timing", "linked", "unknown"]
    units = pl.read_excel(out, sheet_name="units")
    assert units.select("unit", "people", "bonus_spread").rows() == [("常山县财政局", 2, 2000.0)]
