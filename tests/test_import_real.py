"""Real exports as a new user meets them (tests/samples/real, built by build.py from the issue's descriptions).

Each shape goes through the CLI as a user would type it: the first attempt imports, or is refused (exit 2, store
unchanged) naming exactly the one option to add; the second attempt, with that option, imports.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import polars as pl
import pytest
import xlsxwriter

from analytics import store
from analytics.cli import main
from analytics.errors import UserError
from analytics.importer import Options, import_bytes, options_for, preview_bytes
from analytics.importer.columns import ALIASES, alias_markdown
from analytics.settings import Importing, Settings

REAL = Path(__file__).parent / "samples" / "real"
README = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")


def rows(db: Path, sql: str) -> list[tuple]:
    con = store.connect(db, read_only=True)
    try:
        return con.sql(sql).fetchall()
    finally:
        con.close()


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main(list(map(str, argv)))
    out = capsys.readouterr()
    return code, out.out, out.err


def imported(db: Path) -> int:
    return rows(db, "SELECT count(*) FROM imports")[0][0] if db.exists() else 0


# --- first try imports ---------------------------------------------------------------------------------


def test_ruoyi_export_takes_unit_and_quarter_from_its_title_rows_and_drops_the_signing_lines(capsys, tmp_db):
    code, out, _ = run(capsys, "import", REAL / "综合得分及建议评定等次表_2023Q3.xlsx", "--db", tmp_db)
    assert code == 0
    assert "单位取自第 2 行：填报单位：综合处" in out and "季度取自第 1 行" in out
    got = rows(tmp_db, "SELECT name, unit, year, quarter, grade, score FROM quarterly ORDER BY source_row")
    assert got[1] == ("李二", "综合处", 2023, 3, "好", 92.1)  # 92.1 is a score, not survey question 92
    assert [r[0] for r in got] == ["王一", "李二", "张三", "赵四", "钱五"]  # the office and the date are no people
    assert rows(tmp_db, "SELECT kind FROM imports") == [("quarterly",)]


def test_gbk_public_notice_keeps_the_not_assessed_and_their_reason(capsys, tmp_db):
    code, out, _ = run(capsys, "import", REAL / "年度考核结果公示_GBK.csv", "--db", tmp_db)
    assert code == 0 and "年度取自第 1 行：2023年度考核结果公示" in out
    got = rows(
        tmp_db, "SELECT name, unit, year, annual_grade, extra->>'未参加考核原因' FROM annual ORDER BY source_row"
    )
    assert got == [
        ("刘一", "县财政局局长", 2023, "优秀", None),
        ("陈二", "县财政局副局长", 2023, "称职", None),
        ("杨三", "县财政局科员", 2023, "不参加考核", "病假超过半年"),
        ("黄四", "县财政局科员", 2023, "不确定等次", None),  # 试用期不定等次
    ]
    assert "1 人次不参加考核（第 5 行）" in out


def test_provincial_form_reads_tick_columns_under_a_two_row_header(capsys, tmp_db):
    code, out, _ = run(capsys, "import", REAL / "2022年度处室（单位）年度考核优秀评议表.xlsx", "--db", tmp_db)
    assert code == 0 and "打勾列" in out and "表头占两行" in out
    got = rows(tmp_db, "SELECT unit, name, year, annual_grade FROM annual ORDER BY source_row")
    assert got == [("秘书处", "孙一", 2022, "优秀"), ("秘书处", "马二", 2022, "称职"),
                   ("统计处", "朱三", 2022, "称职"), ("统计处", "胡四", 2022, "优秀")]  # fmt: skip
    assert "第 9、10 行" in out  # 优秀人数合计 and the 注： note are ignored, not people


def test_stage_columns_take_the_last_stage_and_special_assessments_are_kept_apart(capsys, tmp_db):
    code, out, _ = run(capsys, "import", REAL / "2023年第四季度平时考核等次审定表.xlsx", "--db", tmp_db)
    assert code == 0
    got = rows(tmp_db, "SELECT name, grade, extra->>'分管局领导建议等次' FROM quarterly ORDER BY source_row")
    assert got == [("唐一", "好", "好"), ("韩二", "较好", "好"), ("冯三", "较好", "较好")]
    assert rows(tmp_db, "SELECT name, year, period_text, grade FROM special_assessments") == [
        ("邓四", 2023, "专项考核", "好")
    ]
    assert "取最后一个「党组会建议等次」为等次" in out and "special_assessments" in out


def test_monthly_form_stores_one_row_per_person_and_month(capsys, tmp_db):
    code, out, _ = run(capsys, "import", REAL / "政治部_月度考核等次.xlsx", "--db", tmp_db)
    assert code == 0 and "单位取自文件名" in out
    got = rows(
        tmp_db, "SELECT name, unit, year, quarter, month, grade FROM quarterly WHERE name = '沈二' ORDER BY month"
    )
    assert got == [("沈二", "政治部", 2023, 4, 10, "较好"), ("沈二", "政治部", 2023, 4, 11, "一般"),
                   ("沈二", "政治部", 2023, 4, 12, "较好")]  # fmt: skip


def test_zb18_codes_are_read_and_reported(capsys, tmp_db):
    code, out, _ = run(capsys, "import", REAL / "公务员管理信息系统_年度考核.csv", "--db", tmp_db)
    assert code == 0 and "ZB18" in out
    got = rows(tmp_db, "SELECT person_id, annual_grade FROM annual ORDER BY person_id")
    assert got == [("Z01", "优秀"), ("Z02", "称职"), ("Z03", "合格"), ("Z04", "不参加考核")]


# --- first try names one option, second try imports ----------------------------------------------------


def test_no_unit_anywhere_asks_for_unit_then_imports(capsys, tmp_db):
    path = REAL / "平时考核导出.xlsx"
    code, _, err = run(capsys, "import", path, "--db", tmp_db)
    assert code == 2 and "--unit" in err and "--year" not in err and "--period" not in err
    assert imported(tmp_db) == 0
    code, out, _ = run(capsys, "import", path, "--db", tmp_db, "--unit", "综合处")
    assert code == 0 and "单位按用户填写：综合处" in out
    assert rows(tmp_db, "SELECT DISTINCT unit, year, quarter FROM quarterly") == [("综合处", 2024, 1)]


def test_two_row_quarters_without_unit_asks_then_melts_quarters_and_keeps_sub_scores(capsys, tmp_db):
    path = REAL / "平时考核登记表.xlsx"
    code, _, err = run(capsys, "import", path, "--db", tmp_db)
    assert code == 2 and "--unit" in err
    code, _, _ = run(capsys, "import", path, "--db", tmp_db, "--unit", "办公室")
    assert code == 0
    got = rows(tmp_db, "SELECT name, year, quarter, grade FROM quarterly WHERE name = '许二' ORDER BY quarter")
    assert got == [
        ("许二", 2023, 1, "较好"),
        ("许二", 2023, 2, "较好"),
        ("许二", 2023, 3, "一般"),
        ("许二", 2023, 4, "较好"),
    ]
    extra = json.loads(rows(tmp_db, "SELECT extra FROM quarterly WHERE name = '曹一' LIMIT 1")[0][0])
    assert extra["民主评价得分（95分）·小计"] == 91


def test_two_tables_on_a_sheet_with_merged_cells_and_a_hidden_sheet(capsys, tmp_db):
    path = REAL / "2023年度考核结果汇总.xlsx"
    code, _, err = run(capsys, "import", path, "--db", tmp_db)
    assert code == 2 and "--unit" in err
    code, out, _ = run(capsys, "import", path, "--db", tmp_db, "--unit", "省发改委")
    assert code == 0
    got = rows(tmp_db, "SELECT section, name, annual_grade, source_row FROM annual ORDER BY source_row")
    assert got == [("办公室", "林一", "优秀", 3), ("办公室", "何二", "称职", 4), ("政策法规处", "高三", "称职", 5),
                   ("信息中心", "罗四", "合格", 9), ("信息中心", "梁五", "优秀", 10)]  # fmt: skip
    assert "「所在处室」列有合并单元格" in out and "第 3–4 行" in out
    assert "隐藏的工作表 「字典」 已跳过" in out and "2 个表" in out
    assert "示例" not in {r[1] for r in got}


def test_hidden_sheet_is_read_when_named(capsys, tmp_db):
    code, out, _ = run(capsys, "import", REAL / "2023年度考核结果汇总.xlsx", "--db", tmp_db, "--sheet", "字典",
                       "--year", "2023")  # fmt: skip
    assert code == 0
    assert rows(tmp_db, "SELECT name, unit FROM annual") == [("示例", "示例单位")]


def test_unknown_grade_column_asks_for_map_then_the_template_serves_the_next_file(capsys, tmp_db, tmp_path):
    path = REAL / "jeecg_考核导出.xlsx"
    code, _, err = run(capsys, "import", path, "--db", tmp_db)
    assert code == 2 and "--map 等次=评定档次" in err
    code, out, _ = run(capsys, "import", path, "--db", tmp_db, "--map", "等次=评定档次", "--template", "jeecg")
    assert code == 0 and "映射模板「jeecg」" in out
    assert rows(tmp_db, "SELECT name, unit, grade FROM quarterly ORDER BY name") == [("蔡一", "网信办", "好"),
                                                                                    ("贾二", "网信办", "一般")]  # fmt: skip
    book = io.BytesIO()  # next quarter's export from the same system: same header, no options
    wb = xlsxwriter.Workbook(book, {"in_memory": True})
    s = wb.add_worksheet("考核结果")
    s.write_row(0, 0, ["用户姓名", "部门名称", "考核年度", "考核季度", "自评档次", "评定档次"])
    s.write_row(1, 0, ["蔡一", "网信办", "2024", "第二季度", "好", "较好"])
    wb.close()
    second = tmp_path / "jeecg_第二季度.xlsx"
    second.write_bytes(book.getvalue())
    code, out, _ = run(capsys, "import", second, "--db", tmp_db)
    assert code == 0 and "表头与映射模板「jeecg」相同，已套用" in out
    assert rows(tmp_db, "SELECT grade FROM quarterly WHERE quarter = 2") == [("较好",)]


def test_one_unnamed_column_of_grades_is_read_as_the_grade(capsys, tmp_db, tmp_path):
    book = io.BytesIO()  # RuoYi-style export whose grade column has a local name and nothing else holds grades
    wb = xlsxwriter.Workbook(book, {"in_memory": True})
    s = wb.add_worksheet("Sheet1")
    s.write_row(0, 0, ["职工姓名", "处室名称", "年度", "季度", "考评档次", "备注"])
    s.write_row(1, 0, ["钱一", "法规处", "2024", "第二季度", "较好", "好学上进"])
    s.write_row(2, 0, ["孙二", "法规处", "2024", "第二季度", "好", ""])
    wb.close()
    path = tmp_path / "考评结果.xlsx"
    path.write_bytes(book.getvalue())
    code, out, _ = run(capsys, "import", path, "--db", tmp_db)
    assert code == 0 and "列「考评档次」的值都是等次" in out
    assert rows(tmp_db, "SELECT name, grade FROM quarterly ORDER BY name") == [("孙二", "好"), ("钱一", "较好")]


def test_annual_grades_under_a_local_name_are_found_by_their_values(capsys, tmp_db, tmp_path):
    path = tmp_path / "年度考核.csv"
    path.write_text("姓名,单位,年度,考评档次\n周一,审计局,2023,优秀\n吴二,审计局,2023,称职\n", encoding="utf-8")
    code, out, _ = run(capsys, "import", path, "--db", tmp_db, "--kind", "annual")
    assert code == 0 and "列「考评档次」的值都是等次" in out
    assert rows(tmp_db, "SELECT name, annual_grade FROM annual ORDER BY name") == [("吴二", "称职"), ("周一", "优秀")]


def test_quarterly_beside_annual_asks_for_the_kind(capsys, tmp_db):
    path = REAL / "人事系统_年度名单.csv"
    code, _, err = run(capsys, "import", path, "--db", tmp_db)
    assert code == 2 and "--kind quarterly" in err and "--kind annual" in err and imported(tmp_db) == 0
    code, _, _ = run(capsys, "import", path, "--db", tmp_db, "--kind", "annual")
    assert code == 0
    assert rows(tmp_db, "SELECT person_id, annual_grade FROM annual ORDER BY 1") == [("H1", "优秀"), ("H2", "称职")]
    assert rows(tmp_db, "SELECT count(*) FROM quarterly") == [(0,)]


def test_word_document_is_named_as_one(capsys, tmp_db):
    code, _, err = run(capsys, "import", REAL / "公务员年度考核登记表.docx", "--db", tmp_db)
    assert code == 2 and "Word 文档（.docx）" in err and "导出为 Excel" in err and "zip" not in err


# --- nothing guessed silently ----------------------------------------------------------------------------


def csv(text: str) -> bytes:
    return text.encode("utf-8")


def test_guessed_grade_spellings_refused_unless_declared_and_then_reported(tmp_db):
    content = csv(
        "人员编号,姓名,单位,季度,等次\nA1,张三,财政局,2024Q1,优\nA2,李四,财政局,2024Q1,好\nA3,王五,财政局,2024Q1,优\n"
    )
    refused = import_bytes(tmp_db, content, "a.csv")
    assert refused.status == "refused" and refused.problems["value"].to_list() == ["优", "优"]
    settings = Settings(importing=Importing(grade_aliases={"优": "好"}))
    result = import_bytes(tmp_db, content, "a.csv", options=options_for(tmp_db, settings=settings))
    assert result.status == "imported"
    assert any("把「优」读作「好」：2 处（第 2、4 行）" in zh for zh, _ in result.notes)


def test_two_columns_for_one_field_with_different_values_are_refused_naming_both(tmp_db):
    content = csv("人员编号,姓名,单位,季度,等次,综合得分,最终得分\nA1,张三,财政局,2024Q1,好,90,91\n")
    with pytest.raises(UserError) as error:
        import_bytes(tmp_db, content, "a.csv")
    assert "「综合得分」和「最终得分」" in str(error.value) and "--map" in str(error.value)
    done = import_bytes(tmp_db, content, "a.csv", options=Options(columns={"score": "最终得分"}))
    assert done.status == "imported" and rows(tmp_db, "SELECT score FROM quarterly") == [(91.0,)]


def test_scores_outside_the_range_are_refused_by_row(tmp_db):
    content = csv("人员编号,姓名,单位,季度,等次,得分\nA1,张三,财政局,2024Q1,好,90\nA2,李四,财政局,2024Q1,好,920\n")
    result = import_bytes(tmp_db, content, "a.csv")
    assert result.status == "refused"
    assert result.problems.select("row", "value").rows() == [(3, "920.0")]


def test_the_same_person_in_two_units_in_one_quarter_is_refused_naming_both_rows(tmp_db):
    content = csv("人员编号,姓名,单位,季度,等次\nA1,张三,财政局,2024Q1,好\nA1,张三,税务局,2024Q1,好\n")
    result = import_bytes(tmp_db, content, "a.csv")
    assert result.status == "refused"
    assert "第2行 财政局" in result.problems["reason_zh"][0] and "第3行 税务局" in result.problems["reason_zh"][0]


def test_a_name_and_a_score_column_are_never_a_survey(tmp_db):
    content = csv("序号,姓名,单位,1.工作实绩,2.工作作风,3.廉洁自律,综合得分\n1,张三,财政局,30,30,30,90.5\n")
    with pytest.raises(UserError) as error:
        import_bytes(tmp_db, content, "a.csv")
    assert "--kind" in str(error.value)
    assert imported(tmp_db) == 0


def test_long_monthly_periods_and_month_conflicts(tmp_db):
    content = csv("人员编号,姓名,单位,考核期次,等次\nA1,张三,财政局,2023年10月,好\nA1,张三,财政局,2023年11月,一般\n")
    assert import_bytes(tmp_db, content, "m.csv").status == "imported"
    assert rows(tmp_db, "SELECT year, quarter, month, grade FROM quarterly ORDER BY month") == [
        (2023, 4, 10, "好"), (2023, 4, 11, "一般")
    ]  # fmt: skip
    clash = csv("人员编号,姓名,单位,考核期次,等次\nA1,张三,财政局,2023年10月,较差\n")
    assert import_bytes(tmp_db, clash, "m2.csv").status == "refused"


def test_preview_offers_the_mapping_and_the_context(tmp_db):
    content = (REAL / "平时考核导出.xlsx").read_bytes()
    preview = preview_bytes(content, "平时考核导出.xlsx", options=options_for(unit="综合处"))
    assert preview.kind == "quarterly" and preview.rows["unit"].unique().to_list() == ["综合处"]
    assert isinstance(preview.rows, pl.DataFrame)


def test_every_alias_is_documented_in_the_readme():
    assert alias_markdown() in README
    assert all(alias in README for spellings in ALIASES.values() for alias in spellings)
