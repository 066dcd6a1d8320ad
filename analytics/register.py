"""The registration form (考核登记表) per person and year, as data and as a printable xlsx.

Many local systems cannot produce the quarterly/annual registration form (DOMAIN.md, "Users"):
this module builds it from the store. `registration_form` returns the facts as a dict (for the app
and for tests); `write_registration_xlsx` lays them out like the paper form 公务员年度考核登记表
（平时考核情况）on one A4 page; `registration_forms_xlsx` writes a whole unit, one sheet per person.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import polars as pl

from analytics.dataset import AssessmentData
from analytics.errors import UserError
from analytics.outcomes import COUNT_COLUMNS, link, outcome_records
from analytics.settings import Settings
from analytics.vocab import AVERAGE, FAIRLY_GOOD, GOOD, POOR, QUARTER_NAMES_ZH, UNGRADED

TITLE = "公务员年度考核登记表（平时考核情况）"
PERSON_FIELDS = {
    "name": "姓名", "unit": "单位", "unit_type": "单位类型", "section": "内设机构", "position_level": "职务层次",
    "rank": "职务职级", "staff_type": "人员类别", "lane": "考核类别",
}  # fmt: skip


def _person_data(data: AssessmentData, person_id: str) -> AssessmentData:
    only = pl.col("person_id") == person_id
    return AssessmentData(data.quarterly.filter(only), data.annual.filter(only), data.outcomes.filter(only))


def _years_on_record(data: AssessmentData) -> list[int]:
    years = pl.concat([f.select(pl.col("year").cast(pl.Int32)) for f in (data.quarterly, data.annual)])
    return sorted(years["year"].drop_nulls().unique().to_list())


def registration_form(
    data: AssessmentData, person_id: str, year: int, settings: Settings | None = None
) -> dict[str, Any]:
    """The facts of one person's form for one year.

    Keys: title, person_id, year, person {field: value}, quarters [{quarter, label, grade, score, reviewer}] (always four),
    counts {好, 较好, 一般, 较差, 不确定等次}, counts_text, pattern, gate_met, annual_grade,
    outcomes [{date, outcome, outcome_zh, outcome_raw, detail, amount, year_source}].
    Raises UserError when the person or the year is not on record.
    """
    settings = settings or Settings()
    mine = _person_data(data, person_id)
    if mine.is_empty:
        raise UserError(f"人员 {person_id} 不在数据中 / no person with id {person_id!r} in the store")
    linked = link(mine, settings).filter(pl.col("year") == year)
    if linked.height == 0:
        years = "、".join(map(str, _years_on_record(mine))) or "无"
        raise UserError(
            f"人员 {person_id} 没有 {year} 年度的考核记录（有记录的年度：{years}）/ no record for {person_id} in {year}"
        )
    row = linked.row(0, named=True)
    quarters = _quarters(mine.quarterly.filter(pl.col("year") == year))
    counts = {grade: int(row[col]) for grade, col in COUNT_COLUMNS.items()}
    records = outcome_records(mine, settings).filter(pl.col("assessment_year") == year).sort("date", nulls_last=True)
    outcomes = records.select(
        pl.col("date").cast(pl.Utf8), "outcome", "outcome_zh", "outcome_raw", "detail", "amount", "year_source"
    ).to_dicts()
    return {
        "title": TITLE,
        "person_id": person_id,
        "year": year,
        "person": {field: row[field] for field in PERSON_FIELDS},
        "quarters": quarters,
        "counts": counts,
        "counts_text": "，".join(f"{g} {counts[g]} 次" for g in (GOOD, FAIRLY_GOOD, AVERAGE, POOR)),
        "pattern": row["pattern"],
        "gate_met": bool(row["gate_met"]),
        "gate_rule": f"至少{settings.gate.min_good}次好"
        + ("且无一般及以下" if settings.gate.no_average_or_below else ""),
        "annual_grade": row["annual_grade"],
        "outcomes": outcomes,
    }


def _quarters(quarterly: pl.DataFrame) -> list[dict[str, Any]]:
    """Four rows, one per quarter; a quarter with several records (monthly exports) joins them."""
    by_quarter = (
        quarterly.sort("quarter")
        .group_by("quarter", maintain_order=True)
        .agg(
            pl.col("grade").drop_nulls().str.join("、").alias("grade"),
            pl.col("score").mean().alias("score"),
            pl.col("reviewer").drop_nulls().unique(maintain_order=True).str.join("、").alias("reviewer"),
        )
    )
    found = {r["quarter"]: r for r in by_quarter.to_dicts()}
    rows = []
    for q in (1, 2, 3, 4):
        f = found.get(q, {})
        rows.append({"quarter": q, "label": QUARTER_NAMES_ZH[q], "grade": f.get("grade") or None,
                     "score": f.get("score"), "reviewer": f.get("reviewer") or None})  # fmt: skip
    return rows


# --- xlsx ------------------------------------------------------------------------------------------

_COLUMN_WIDTHS = (14, 14, 14, 14, 14, 16)  # A-F, about one A4 page wide


def _formats(book) -> dict[str, Any]:
    base = {"font_name": "SimSun", "font_size": 11, "valign": "vcenter", "text_wrap": True}
    cell = base | {"border": 1}
    return {
        "title": book.add_format(base | {"bold": True, "font_size": 16, "align": "center"}),
        "note": book.add_format(base | {"align": "right"}),
        "label": book.add_format(cell | {"bold": True, "align": "center", "bg_color": "#F2F2F2"}),
        "value": book.add_format(cell | {"align": "center"}),
        "left": book.add_format(cell | {"align": "left"}),
        "number": book.add_format(cell | {"align": "center", "num_format": "0.0"}),
        "money": book.add_format(cell | {"align": "center", "num_format": "#,##0"}),
        "section": book.add_format(cell | {"bold": True, "align": "center", "bg_color": "#D9E1F2"}),
        "sign": book.add_format(base | {"align": "left"}),
    }


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _write_form(sheet, fmt: dict[str, Any], form: dict[str, Any]) -> None:
    """Lay one form out on a worksheet like the paper form (A-F, one A4 page)."""
    for col, width in enumerate(_COLUMN_WIDTHS):
        sheet.set_column(col, col, width)
    p = form["person"]
    sheet.set_row(0, 30)
    sheet.merge_range(0, 0, 0, 5, form["title"], fmt["title"])
    sheet.merge_range(1, 0, 1, 5, f"考核年度：{form['year']}年", fmt["note"])
    rows = [
        [("姓名", p["name"]), ("人员编号", form["person_id"]), ("人员类别", p["staff_type"])],
        [("单位", p["unit"]), ("单位类型", p["unit_type"]), ("职务层次", p["position_level"])],
        [("内设机构", p["section"]), ("职务职级", p["rank"]), ("考核类别", p["lane"])],
    ]
    for r, pairs in enumerate(rows, start=2):
        for i, (label, value) in enumerate(pairs):
            sheet.write_string(r, 2 * i, label, fmt["label"])
            sheet.write_string(r, 2 * i + 1, _text(value), fmt["value"])
    r = 5
    sheet.merge_range(r, 0, r, 5, "平时考核情况", fmt["section"])
    for c, label in enumerate(("季度", "等次", "得分", "评鉴人")):
        sheet.write_string(r + 1, c, label, fmt["label"])
    sheet.merge_range(r + 1, 4, r + 1, 5, "备注", fmt["label"])
    for i, q in enumerate(form["quarters"]):
        row = r + 2 + i
        sheet.write_string(row, 0, q["label"], fmt["label"])
        sheet.write_string(row, 1, _text(q["grade"]), fmt["value"])
        if q["score"] is None:
            sheet.write_blank(row, 2, None, fmt["value"])
        else:
            sheet.write_number(row, 2, float(q["score"]), fmt["number"])
        sheet.write_string(row, 3, _text(q["reviewer"]), fmt["value"])
        sheet.merge_range(row, 4, row, 5, "" if q["grade"] else "无记录", fmt["value"])
    r = r + 6
    sheet.write_string(r, 0, "等次统计", fmt["label"])
    for c, grade in enumerate((GOOD, FAIRLY_GOOD, AVERAGE, POOR, UNGRADED), start=1):
        sheet.write_string(r, c, f"{grade} {form['counts'][grade]} 次", fmt["value"])
    gate = ("符合" if form["gate_met"] else "不符合") + f"（{form['gate_rule']}）"
    sheet.write_string(r + 1, 0, "年度考核等次", fmt["label"])
    sheet.write_string(r + 1, 1, _text(form["annual_grade"]) or "未记录", fmt["value"])
    sheet.write_string(r + 1, 2, "优秀条件", fmt["label"])
    sheet.merge_range(r + 1, 3, r + 1, 5, gate, fmt["left"])
    r = r + 2
    sheet.merge_range(r, 0, r, 5, "结果运用情况", fmt["section"])
    for c, label in ((0, "日期"), (1, "类型")):
        sheet.write_string(r + 1, c, label, fmt["label"])
    sheet.merge_range(r + 1, 2, r + 1, 4, "说明", fmt["label"])
    sheet.write_string(r + 1, 5, "金额（元）", fmt["label"])
    r = _write_outcomes(sheet, fmt, form["outcomes"], r + 2)
    sheet.set_row(r, 60)
    sheet.write_string(r, 0, "单位审核意见", fmt["label"])
    sheet.merge_range(r, 1, r, 5, "", fmt["left"])
    sheet.merge_range(r + 1, 0, r + 1, 5, "审核人：                    日期：      年    月    日", fmt["sign"])
    _print_setup(sheet, r + 1)


def _write_outcomes(sheet, fmt: dict[str, Any], outcomes: list[dict[str, Any]], r: int) -> int:
    """Outcome rows from row r; returns the next free row."""
    if not outcomes:
        sheet.merge_range(r, 0, r, 5, "无", fmt["value"])
        return r + 1
    for o in outcomes:
        sheet.write_string(r, 0, _text(o["date"]), fmt["value"])
        sheet.write_string(r, 1, _text(o["outcome_raw"]) or o["outcome_zh"], fmt["value"])
        sheet.merge_range(r, 2, r, 4, _text(o["detail"]), fmt["left"])
        if o["amount"] is None:
            sheet.write_blank(r, 5, None, fmt["value"])
        else:
            sheet.write_number(r, 5, float(o["amount"]), fmt["money"])
        r += 1
    return r


def _print_setup(sheet, last_row: int) -> None:
    sheet.set_paper(9)  # A4
    sheet.set_portrait()
    sheet.fit_to_pages(1, 1)
    sheet.center_horizontally()
    sheet.set_margins(left=0.6, right=0.6, top=0.7, bottom=0.7)
    sheet.print_area(0, 0, last_row, 5)


def _open_book(target: str | Path | io.BytesIO):
    import xlsxwriter

    # Cell text is written with write_string, so a name like '=x' can never become a formula.
    return xlsxwriter.Workbook(target, {"strings_to_formulas": False, "strings_to_urls": False, "in_memory": True})


def write_registration_xlsx(form: dict[str, Any], target: str | Path | io.BytesIO) -> None:
    """Write one form as a printable one-page workbook (sheet '登记表')."""
    book = _open_book(target)
    try:
        _write_form(book.add_worksheet("登记表"), _formats(book), form)
    finally:
        book.close()


def _sheet_name(form: dict[str, Any], taken: set[str]) -> str:
    raw = f"{form['person_id']} {_text(form['person']['name'])}".strip()
    name = re.sub(r"[\[\]:*?/\\']", "_", raw)[:31]
    base, i = name, 2
    while name in taken:
        suffix = f"~{i}"
        name, i = base[: 31 - len(suffix)] + suffix, i + 1
    taken.add(name)
    return name


def registration_forms_xlsx(
    data: AssessmentData,
    year: int,
    unit: str,
    target: str | Path | io.BytesIO | None = None,
    settings: Settings | None = None,
) -> bytes | None:
    """Forms for everyone in `unit` with a record in `year`, one sheet per person (sorted by person_id).

    Returns the workbook's bytes when target is None. Raises UserError when nobody is on record.
    """
    forms = unit_forms(data, year, unit, settings)
    buf = io.BytesIO() if target is None else target
    book = _open_book(buf)
    try:
        fmt, taken = _formats(book), set()
        for form in forms:  # one sheet per person: the loop is the output itself
            _write_form(book.add_worksheet(_sheet_name(form, taken)), fmt, form)
    finally:
        book.close()
    return buf.getvalue() if target is None else None


def unit_forms(data: AssessmentData, year: int, unit: str, settings: Settings | None = None) -> list[dict[str, Any]]:
    """The forms (registration_form) of everyone in `unit` with a record in `year`, sorted by person_id.

    Raises UserError when nobody is on record."""
    settings = settings or Settings()
    in_unit = pl.col("unit") == unit
    subset = AssessmentData(data.quarterly.filter(in_unit), data.annual.filter(in_unit), data.outcomes)
    people = link(subset, settings).filter((pl.col("year") == year) & in_unit)["person_id"].unique().sort()
    if people.len() == 0:
        raise UserError(f"单位“{unit}”没有 {year} 年度的考核记录 / no records for unit {unit!r} in {year}")
    return [registration_form(subset, person_id, year, settings) for person_id in people.to_list()]
