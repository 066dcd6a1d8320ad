"""Builds the real-export test files in this folder, each laid out as the system it imitates writes it.

Run `python tests/samples/real/build.py` to rebuild them; the files are committed so the tests read bytes, not this code.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import xlsxwriter

HERE = Path(__file__).parent


def _book(name: str):
    return xlsxwriter.Workbook(str(HERE / name))


def ruoyi_title_and_unit_row() -> None:
    """RuoYi ExcelUtil: a title merged across the table, a 填报单位 line, header, data, a signing office and a date."""
    book = _book("综合得分及建议评定等次表_2023Q3.xlsx")
    s = book.add_worksheet("Sheet1")
    head = ["序号", "姓名", "职务", "综合得分", "建议评定等次"]
    s.merge_range(0, 0, 0, 4, "2023年第三季度平时考核综合得分及建议评定等次表")
    s.write(1, 0, "填报单位：综合处")
    s.write_row(2, 0, head)
    for i, (name, rank, score, grade) in enumerate(
        [
            ("王一", "处长", 95.2, "好"),
            ("李二", "副处长", 92.1, "好"),
            ("张三", "一级主任科员", 88.6, "较好"),
            ("赵四", "四级主任科员", 85.0, "较好"),
            ("钱五", "科员", 80.3, "一般"),
        ]  # fmt: skip
    ):
        s.write_row(3 + i, 0, [i + 1, name, rank, score, grade])
    s.write(10, 0, "考核工作领导小组办公室")
    s.write(11, 0, "2023年10月23日")
    book.close()


def ruoyi_no_unit() -> None:
    """The same export where neither the title nor the file name says the unit: the user is asked for --unit."""
    book = _book("平时考核导出.xlsx")
    s = book.add_worksheet("Sheet1")
    s.merge_range(0, 0, 0, 3, "平时考核结果（2024年第一季度）")
    s.write_row(1, 0, ["序号", "姓名", "最终得分", "最终评定等次"])
    for i, (name, score, grade) in enumerate([("周一", 90, "好"), ("吴二", 86, "较好"), ("郑三", 79, "一般")]):
        s.write_row(2 + i, 0, [i + 1, name, score, grade])
    book.close()


def gbk_public_notice() -> None:
    """年度考核结果公示 typed into a GBK CSV: title line, 工作单位及职务, 考核等级, 未参加考核 with its reason."""
    lines = [
        "2023年度考核结果公示,,,,",
        "序号,姓名,工作单位及职务,考核等级,未参加考核原因",
        "1,刘一,县财政局局长,优秀,",
        "2,陈二,县财政局副局长,称职,",
        "3,杨三,县财政局科员,未参加考核,病假超过半年",
        "4,黄四,县财政局科员,试用期不定等次,",
        "注：1、公示期为5个工作日。,,,,",
    ]
    (HERE / "年度考核结果公示_GBK.csv").write_bytes(("\r\n".join(lines) + "\r\n").encode("gbk"))


def provincial_tick_form() -> None:
    """省统计局 评议表: title, two-row header with tick columns under 年度考核推荐等次, 优秀人数合计 and notes below."""
    book = _book("2022年度处室（单位）年度考核优秀评议表.xlsx")
    s = book.add_worksheet("评议表")
    s.merge_range(0, 0, 0, 6, "省统计局2022年度处室（单位）年度考核优秀评议表")
    for c, label in enumerate(["序号", "处室（单位）", "被评议人"]):
        s.merge_range(1, c, 2, c, label)
    s.merge_range(1, 3, 1, 6, "年度考核推荐等次")
    s.write_row(2, 3, ["优秀", "称职", "基本称职", "不称职"])
    people = [("秘书处", "孙一", 0), ("秘书处", "马二", 1), ("统计处", "朱三", 1), ("统计处", "胡四", 0)]
    for i, (unit, name, tick) in enumerate(people):
        s.write_row(3 + i, 0, [i + 1, unit, name])
        s.write(3 + i, 3 + tick, "√")
    s.write_row(8, 0, ["优秀人数合计", "", "", "2人"])
    s.write(9, 0, "注：1、每处室推荐优秀不超过本处室人数的20%；2、在对应等次下打“√”。")
    book.close()


def two_tables_hidden_merged() -> None:
    """HR 年度 list: 公务员 block, blank row, 事业单位 block on one sheet; 处室 merged over its people; a hidden 字典 sheet."""
    book = _book("2023年度考核结果汇总.xlsx")
    s = book.add_worksheet("汇总")
    head = ["序号", "所在处室", "姓名", "年度考核等次"]
    s.merge_range(0, 0, 0, 3, "一、公务员（2023年度）")
    s.write_row(1, 0, head)
    s.merge_range(2, 1, 3, 1, "办公室")
    for i, (name, grade) in enumerate([("林一", "优秀"), ("何二", "称职")]):
        s.write(2 + i, 0, i + 1)
        s.write(2 + i, 2, name)
        s.write(2 + i, 3, grade)
    s.write_row(4, 0, [3, "政策法规处", "高三", "称职"])
    s.merge_range(6, 0, 6, 3, "二、事业单位（2023年度）")
    s.write_row(7, 0, head)
    s.write_row(8, 0, [1, "信息中心", "罗四", "合格"])
    s.write_row(9, 0, [2, "信息中心", "梁五", "优秀"])
    hidden = book.add_worksheet("字典")
    hidden.write_row(0, 0, ["姓名", "单位", "年度考核等次"])
    hidden.write_row(1, 0, ["示例", "示例单位", "优秀"])
    hidden.hide()
    book.close()


def stage_columns() -> None:
    """A 审定表 with three stages of one decision; the last (党组会) is the grade; one 专项考核 row."""
    book = _book("2023年第四季度平时考核等次审定表.xlsx")
    s = book.add_worksheet("Sheet1")
    s.merge_range(0, 0, 0, 6, "2023年第四季度平时考核等次审定表")
    s.write_row(
        1,
        0,
        [
            "序号",
            "处室名称",
            "职工姓名",
            "考核季度",
            "分管局领导建议等次",
            "机关党委（人事处）审定意见",
            "党组会建议等次",
        ],
    )
    rows = [
        (1, "办公室", "唐一", "2023年第四季度", "好", "好", "好"),
        (2, "办公室", "韩二", "2023年第四季度", "好", "较好", "较好"),
        (3, "财务处", "冯三", "2023年第四季度", "较好", "较好", "较好"),
        (4, "财务处", "邓四", "专项考核", "好", "好", "好"),
    ]
    for i, row in enumerate(rows):
        s.write_row(2 + i, 0, row)
    book.close()


def two_row_quarters_no_unit() -> None:
    """A wide year form: 平时考核等次（季度） over 1 2 3 4 and 民主评价得分（95分） over its parts; no unit anywhere."""
    book = _book("平时考核登记表.xlsx")
    s = book.add_worksheet("Sheet1")
    s.merge_range(0, 0, 0, 8, "公务员平时考核登记表（2023年度）")
    for c, label in enumerate(["序号", "姓名"]):
        s.merge_range(1, c, 2, c, label)
    s.merge_range(1, 2, 1, 5, "平时考核等次（季度）")
    s.write_row(2, 2, ["1", "2", "3", "4"])
    s.merge_range(1, 6, 1, 8, "民主评价得分（95分）")
    s.write_row(2, 6, ["所在处室打分", "领导打分", "小计"])
    s.write_row(3, 0, [1, "曹一", "好", "较好", "好", "好", 45, 46, 91])
    s.write_row(4, 0, [2, "许二", "较好", "较好", "一般", "较好", 40, 41, 81])
    book.close()


def monthly_form() -> None:
    """A monthly 政治部 form: （10）月份考核等次 … （12）月份考核等次, the unit in the file name, the year in the title."""
    book = _book("政治部_月度考核等次.xlsx")
    s = book.add_worksheet("Sheet1")
    s.merge_range(0, 0, 0, 4, "2023年第四季度民警月度考核等次表")
    s.write_row(1, 0, ["序号", "姓名", "（10）月份考核等次", "（11）月份考核等次", "（12）月份考核等次"])
    s.write_row(2, 0, [1, "蒋一", "好", "好", "较好"])
    s.write_row(3, 0, [2, "沈二", "较好", "一般", "较好"])
    book.close()


def zb18_csv() -> None:
    """公务员管理信息系统 export: 考核结论类别 as ZB18 codes."""
    text = "人员编号,姓名,单位,考核年度,考核结论类别\nZ01,彭一,市水利局,2023,1\nZ02,吕二,市水利局,2023,2\nZ03,苏三,市水利局,2023,2B\nZ04,卢四,市水利局,2023,5A\n"
    (HERE / "公务员管理信息系统_年度考核.csv").write_text(text, encoding="utf-8")


def jeecg_unknown_grade() -> None:
    """jeecg AutoPOI export: title row, then a header whose grade columns have local names (自评档次, 评定档次):
    two columns of grades and neither named as the grade, so only the user can say which one counts."""
    book = _book("jeecg_考核导出.xlsx")
    s = book.add_worksheet("考核结果")
    s.merge_range(0, 0, 0, 5, "平时考核结果列表")
    s.write_row(1, 0, ["用户姓名", "部门名称", "考核年度", "考核季度", "自评档次", "评定档次"])
    s.write_row(2, 0, ["蔡一", "网信办", "2024", "第一季度", "好", "好"])
    s.write_row(3, 0, ["贾二", "网信办", "2024", "第一季度", "较好", "一般"])
    book.close()


def quarterly_and_annual() -> None:
    """An HR 年度 list with the four quarters and the annual grade side by side: quarterly or annual? The user says."""
    text = "人员编号,姓名,单位,年度,一季度,二季度,三季度,四季度,年度考核等次\nH1,丁一,市统计局,2023,好,好,较好,好,优秀\nH2,任二,市统计局,2023,较好,较好,较好,一般,称职\n"
    (HERE / "人事系统_年度名单.csv").write_text(text, encoding="utf-8")


def word_form() -> None:
    """A 登记表 exported as .docx."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>',
        )
        z.writestr(
            "word/document.xml",
            '<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>公务员年度考核登记表</w:t></w:r></w:p></w:body></w:document>',
        )
    (HERE / "公务员年度考核登记表.docx").write_bytes(buffer.getvalue())


if __name__ == "__main__":
    for make in (ruoyi_title_and_unit_row, ruoyi_no_unit, gbk_public_notice, provincial_tick_form, two_tables_hidden_merged,
                 stage_columns, two_row_quarters_no_unit, monthly_form, zb18_csv, jeecg_unknown_grade,
                 quarterly_and_annual, word_form):  # fmt: skip
        make()
