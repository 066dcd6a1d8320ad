"""Appeals as a fifth import kind: told from the headers, values coded, bad rows named, undo and re-import."""

from __future__ import annotations

import polars as pl
import pytest

from analytics import store
from analytics.appeals.records import code_of, reason_kinds
from analytics.importer import import_bytes, preview_bytes, undo

HEADER = [
    "人员编号",
    "姓名",
    "单位",
    "申诉日期",
    "申诉事项",
    "季度",
    "原等次",
    "申诉理由",
    "评鉴人",
    "处理结果",
    "答复日期",
]
ROWS = [
    ["A001", "张三", "财政局", "2024-10-12", "2024年第三季度平时考核等次", "2024Q3", "较好", "评鉴人打分不公", "王科长", "维持原等次", "2024-10-30"],
    ["A002", "李四", "财政局", "2025/2/3", "2024年度考核等次", "", "称职", "业绩未被认定", "王科长", "予以变更", "2025年3月1日"],
    ["A003", "王五", "税务局", "2025-04-01", "年度考核奖金", "", "", "程序未公示", "", "", ""],
]  # fmt: skip


def csv(rows, header=HEADER) -> bytes:
    return ("\n".join(",".join(r) for r in [header, *rows]) + "\n").encode("utf-8")


def stored(db) -> pl.DataFrame:
    con = store.connect(db, read_only=True)
    try:
        return con.sql("SELECT * FROM appeals ORDER BY source_row").pl()
    finally:
        con.close()


def test_appeal_file_is_told_from_its_headers_and_values_are_coded(tmp_db):
    result = import_bytes(tmp_db, csv(ROWS), "申诉登记.csv")
    assert (result.status, result.kind, result.rows) == ("imported", "appeals", 3)
    rows = stored(tmp_db)
    assert rows["appeal_subject"].to_list() == ["quarterly_grade", "annual_grade", "outcome"]
    assert rows["year"].to_list() == [2024, 2024, None]  # from 2024Q3, and from the subject text
    assert rows["quarter"].to_list() == [3, None, None]
    assert rows["reason_kind"].to_list() == ["reviewer", "facts", "procedure"]
    assert rows["decision"].to_list() == ["kept", "changed", "pending"]  # an empty decision is pending
    assert rows["appealed_grade"].to_list() == ["较好", "称职", None]
    assert str(rows["decision_date"][1]) == "2025-03-01"
    assert rows["appeal_subject_raw"][0] == "2024年第三季度平时考核等次"
    assert rows["source_row"].to_list() == [2, 3, 4]


def test_bad_appeal_rows_are_named_and_nothing_is_stored(tmp_db):
    bad = [
        ["A001", "张三", "财政局", "2024-10-12", "平时考核等次", "2024Q3", "较好", "不公", "王科长", "看情况", "2024-10-30"],
        ["A002", "李四", "财政局", "2025-03-05", "年度考核等次", "", "", "", "", "维持", "2025-03-01"],
        ["A004", "赵六", "财政局", "昨天", "平时考核等次", "2024Q3", "", "", "", "", ""],
    ]  # fmt: skip
    result = import_bytes(tmp_db, csv(bad), "申诉.csv")
    assert result.status == "refused"
    found = {(r["row"], r["column"], r["code"]) for r in result.problems.iter_rows(named=True)}
    # row 4's unreadable date is named; it still has a period (2024Q3), so it is not also "no date or year"
    assert found == {(2, "处理结果", "decision"), (3, "答复日期", "decision_order"), (4, "申诉日期", "date")}
    assert not tmp_db.exists()  # refused before the store was opened


def test_missing_subject_column_names_its_aliases(tmp_db):
    from analytics.errors import UserError

    header = ["人员编号", "姓名", "单位", "申诉日期", "申诉理由"]
    with pytest.raises(UserError, match="申诉事项.*复核事项"):
        import_bytes(tmp_db, csv([["A001", "张三", "财政局", "2024-10-12", "不公"]], header), "a.csv")


def test_same_appeals_twice_add_nothing_and_undo_removes_them(tmp_db):
    first = import_bytes(tmp_db, csv(ROWS), "a.csv")
    again = import_bytes(tmp_db, csv(ROWS) + b"\n", "a2.csv")  # other bytes, same records
    assert again.status == "imported" and again.rows == 0
    assert undo(tmp_db, first.import_id) == 3
    assert stored(tmp_db).height == 0


def test_preview_and_explicit_kind():
    preview = preview_bytes(csv(ROWS), "a.csv")
    assert preview.kind == "appeals" and preview.mapping["原等次"] == "appealed_grade"
    assert preview.rows["reason_kind"].to_list() == ["reviewer", "facts", "procedure"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("打分不公，偏袒", "reviewer"), ("受名额限制", "quota"), ("科室轮流坐庄", "rotation"), ("工作量未被认定", "facts"),
     ("家里有事", "other")],
)  # fmt: skip
def test_reason_keywords(text, expected):
    assert reason_kinds(pl.Series([text])).to_list() == [expected]


def test_unknown_decision_is_not_guessed():
    from analytics.appeals.records import _DECISION_WORDS

    assert code_of("看情况", _DECISION_WORDS, None) is None
