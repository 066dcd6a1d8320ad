"""Survey ingest: item-type detection, scale order, and the three tables from a real-looking export."""

from __future__ import annotations

import json

import fastexcel
import polars as pl
import pytest

from analytics.schema import SURVEY_ANSWERS, SURVEY_ITEMS, SURVEY_RESPONDENTS
from analytics.survey import detect_items, survey_tables


def raw_of(columns: dict[str, list[str | None]]) -> pl.DataFrame:
    """A survey sheet as the importer hands it over: text cells plus source_row (header on row 1)."""
    height = len(next(iter(columns.values())))
    frame = pl.DataFrame(columns, schema={c: pl.Utf8 for c in columns})
    return frame.with_columns(pl.int_range(2, height + 2).alias("source_row"))


def detected(header: str, values: list[str | None]) -> dict:
    items = detect_items(raw_of({header: values}))
    assert items.height == 1
    row = items.row(0, named=True)
    row["scale"] = json.loads(row["scale"]) if row["scale"] else None
    return row


AGREE = ["非常不同意", "不同意", "一般", "同意", "非常同意"]
SATISFIED = ["非常不满意", "不满意", "一般", "满意", "非常满意"]


@pytest.mark.parametrize(
    ("header", "values", "item_type", "scale"),
    [
        ("1.评价客观公正", ["同意", "非常同意", "不同意", "一般", "同意"], "likert", AGREE),
        (
            "评价客观",
            ["同意", "不确定", "非常不同意", "同意"],
            "likert",
            ["非常不同意", "不同意", "不确定", "同意", "非常同意"],
        ),
        ("总体满意度", ["满意", "一般", "非常满意", "不满意"], "likert", SATISFIED),
        ("打分(1-5)", ["1", "5", "3", "4", "2", "5"], "numeric_scale", ["1", "2", "3", "4", "5"]),
        ("打分(1-7)", ["1", "7", "6.0", "4"], "numeric_scale", [str(i) for i in range(1, 8)]),
        (
            "存在的问题",
            ["指标难以量化、结果运用不充分", "结果运用不充分", "领导重视不够、指标难以量化"] * 4,
            "multiple_choice",
            None,
        ),
        ("存在的问题（多选）", ["A", "B", "A;B"], "multiple_choice", None),
        ("7.意见建议", ["希望加强结果反馈", None, "建议细化指标"], "text", None),
        ("感受", [f"第{i}条很长的感受，各不相同" for i in range(12)], "text", None),
        ("是否参加培训", ["是", "否", "是", "是"], "single_choice", None),
        ("性别", ["男", "女", "女"], "attribute", None),
        ("2.您的年龄段", ["30岁以下", "31-40岁", "50岁以上"], "attribute", None),
        ("单位", ["财政局", "辉埠镇", "财政局"], "attribute", None),
    ],
)
def test_item_type_and_scale(header, values, item_type, scale):
    row = detected(header, values)
    assert row["item_type"] == item_type
    assert row["scale"] == scale


def test_scale_order_is_most_negative_first_whatever_order_answers_come_in():
    row = detected("q", ["非常满意", "满意", "非常不满意"])
    assert row["scale"] == SATISFIED


def test_id_column_and_ip_address_are_not_items():
    items = detect_items(raw_of({"序号": ["1", "2"], "来自IP": ["1.2.3.4", "5.6.7.8"], "性别": ["男", "女"]}))
    assert items["item_text"].to_list() == ["性别"]
    assert items["item_id"].to_list() == ["q01"]
    assert items["position"].to_list() == [3]


def test_tables_from_a_tiny_survey():
    raw = raw_of(
        {
            "序号": ["11", "12", "13"],
            "单位": ["财政局", "财政局", "辉埠镇"],
            "性别": ["男", "女", None],
            "1.评价客观公正": ["同意", "非常不同意", ""],
            "2.存在问题（多选）": ["A、B", "B；C", None],
            "3.意见建议": [None, "多反馈", None],
        }
    )
    tables = survey_tables(raw)
    respondents = tables["survey_respondents"]
    assert respondents["respondent_id"].to_list() == ["11", "12", "13"]
    assert respondents["unit"].to_list() == ["财政局", "财政局", "辉埠镇"]
    assert json.loads(respondents["attributes"][1]) == {"性别": "女"}
    assert respondents["source_row"].to_list() == [2, 3, 4]
    answers = tables["survey_answers"].sort("respondent_id", "item_id", "answer")
    assert answers.rows() == [
        ("11", "q03", "同意", 4.0),
        ("11", "q04", "A", None),
        ("11", "q04", "B", None),
        ("12", "q03", "非常不同意", 1.0),
        ("12", "q04", "B", None),
        ("12", "q04", "C", None),
        ("12", "q05", "多反馈", None),
    ]
    for name, table in ((n, t) for n, t in [("survey_items", SURVEY_ITEMS), ("survey_respondents", SURVEY_RESPONDENTS),
                                              ("survey_answers", SURVEY_ANSWERS)]):  # fmt: skip
        expected = {c: t for c, t in table.polars_schema().items() if c != "import_id"}
        assert dict(tables[name].schema) == expected, name


def test_respondent_id_falls_back_to_the_row_when_ids_repeat():
    raw = raw_of({"序号": ["1", "1"], "q": ["同意", "一般"]})
    assert survey_tables(raw)["survey_respondents"]["respondent_id"].to_list() == ["r2", "r3"]


def test_confirmed_types_override_detection():
    raw = raw_of(
        {"序号": ["1", "2", "3"], "部门意见": ["1", "3", "2"], "职级": ["一级科员", "二级主任科员", "一级科员"]}
    )
    assert detect_items(raw)["item_type"].to_list() == ["numeric_scale", "attribute"]
    tables = survey_tables(raw, item_types={"q01": "single_choice", "职级": "single_choice"})
    items = tables["survey_items"]
    assert items["item_type"].to_list() == ["single_choice", "single_choice"]
    assert items["scale"].to_list() == [None, None]
    assert tables["survey_answers"]["value"].null_count() == 6
    with pytest.raises(ValueError, match="unknown item type"):
        survey_tables(raw, item_types={"q01": "ranking"})


def test_forcing_likert_orders_an_unknown_scale_and_values_follow():
    raw = raw_of({"认可度": ["低", "高", "中", "高"]})
    tables = survey_tables(raw, item_types={"q01": "likert"})
    assert tables["survey_items"]["item_type"][0] == "likert"
    assert tables["survey_answers"]["value"].null_count() == 0


def read_sample_survey(path) -> pl.DataFrame:
    """The sheet with its header found the importer's way: first row with >= 3 known survey words."""
    sheet = fastexcel.read_excel(path).load_sheet(0, header_row=None).to_polars()
    sheet = sheet.with_columns(pl.all().cast(pl.Utf8))
    known = ("序号", "单位", "性别", "年龄段", "职级")
    header_at = next(i for i in range(min(20, sheet.height)) if sum(v in known for v in sheet.row(i)) >= 3)
    names = [str(v) for v in sheet.row(header_at)]
    body = sheet.slice(header_at + 1).rename(dict(zip(sheet.columns, names, strict=True)))
    return body.with_columns(pl.int_range(header_at + 2, sheet.height + 1).alias("source_row"))


def test_sample_export(samples):
    tables = survey_tables(read_sample_survey(samples / "平时考核问卷_2024.xlsx"))
    items = tables["survey_items"]
    assert items["item_type"].to_list() == ["attribute"] * 4 + ["likert"] * 5 + ["multiple_choice", "text"]
    assert json.loads(items["scale"][8]) == SATISFIED
    assert tables["survey_respondents"].height == 120
    assert tables["survey_respondents"]["unit"].n_unique() == 4
    answers = tables["survey_answers"]
    likert = answers.filter(pl.col("item_id").is_in(["q05", "q06", "q07", "q08", "q09"]))
    assert likert.height == 600 and likert["value"].null_count() == 0
    # 好等次轮流坐庄 is one of the ticked problems, split out of "A、B" answers.
    options = set(answers.filter(pl.col("item_id") == "q10")["answer"])
    assert options == {"好等次轮流坐庄", "负面信息记录不全", "领导重视不够", "结果运用不充分", "指标难以量化"}
    # Row 2 of the sheet is respondent 1 (header on row 1).
    assert tables["survey_respondents"].row(0)[::3] == ("1", 2)
