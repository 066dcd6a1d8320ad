"""What a table does not say itself: the unit and the period, from its title rows, the file name, or the user.

One-organisation exports often have no 单位 column and no 年度/季度 column: the unit is in a title row
(`填报单位：综合处`, `处室：秘书处`, `省统计局2022年度……评议表`) or in the file name, the period in the title
(`2023年第三季度平时考核……表`, `（2023年度）`, `填报日期：2023年第三季度`). What is taken from where is reported
("单位取自第 3 行：填报单位：综合处"); what nobody says is asked for by name (`--unit`, `--year`, `--period`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePath

from analytics.errors import UserError
from analytics.importer.normalise import MAX_YEAR, MIN_YEAR, parse_period

_CN = {"一": 1, "二": 2, "三": 3, "四": 4}
_UNIT_LABEL = re.compile(
    r"(?:填报单位|填报处室|单位名称|考核单位|所在单位|处室|部门|科室|单位)\s*[:：]\s*([^\s:：，,（）()]{2,30})"
)
_UNIT_SUFFIX = r"(?:局|厅|委|办|院|部|中心|公司|所|站|处|科|室|队|会|馆|校|署|府|行|社)"
_UNIT_LEAD = re.compile(rf"^([^\d\s:：（）()]{{2,24}}?{_UNIT_SUFFIX})(?=\d{{4}}|关于|机关|[（(]?\d{{4}})")
_UNIT_TOKEN = re.compile(rf"^[^\d\s]{{2,20}}{_UNIT_SUFFIX}$")
_NOT_UNIT = re.compile(r"考核|结果|汇总|名单|统计|评议|公示|导出|等次|得分|表$")
_QUARTER = re.compile(r"(\d{4})\s*年\s*度?\s*第?\s*([一二三四1-4])\s*季度|(\d{4})\s*[qQ]\s*([1-4])")
_MONTH = re.compile(r"(\d{4})\s*年\s*(1[0-2]|0?[1-9])\s*月(?!\s*\d{1,2}\s*日)(?!\d)")
_YEAR = re.compile(r"(?<!\d)(\d{4})\s*年")
_RANGE = re.compile(r"\d{4}\s*[—\-–~至到]\s*\d{4}")


@dataclass(frozen=True)
class Given:
    """What the user said outside the file (`--unit`, `--year`, `--period`, the upload page's fields)."""

    unit: str | None = None
    year: int | None = None
    quarter: int | None = None
    month: int | None = None

    @classmethod
    def parse(cls, unit: str | None = None, year: str | int | None = None, period: str | None = None) -> Given:
        """From the CLI's words; UserError naming the option that is not understood."""
        y = None
        if year not in (None, ""):
            text = str(year).strip().removesuffix("年度").removesuffix("年")
            if not text.isdigit() or not MIN_YEAR <= int(text) <= MAX_YEAR:
                raise UserError(f"--year {year}: 不是年份，写成 2024 / not a year: write it like 2024")
            y = int(text)
        q = m = None
        if period not in (None, ""):
            parsed = parse_period(period)
            if parsed is None:
                raise UserError(
                    f"--period {period}: 看不懂这个期次，季度写成 2024Q1，月份写成 2024-10 / "
                    f"not a period: write a quarter like 2024Q1, a month like 2024-10"
                )
            py, q, m = parsed
            if py is not None and y is not None and py != y:
                raise UserError(f"--period {period} 与 --year {y} 年份不一致 / --period and --year disagree")
            y = py or y
        return cls(unit=(unit or "").strip() or None, year=y, quarter=q, month=m)


@dataclass(frozen=True)
class Found:
    """One value taken from outside the table, and where from (for the report)."""

    value: object
    zh: str
    en: str


class MissingContext(UserError):
    """The table lacks a value nobody else says: `need` is 'unit', 'year' or 'period' (the page asks in a field)."""

    def __init__(self, message: str, need: str):
        super().__init__(message)
        self.need = need

    def __reduce__(self):  # raised in the parse worker, re-raised here: pickling must keep `need`
        return type(self), (str(self), self.need)


ASK = {
    "unit": (
        "表中没有单位列，标题行和文件名里也没写单位。请加 --unit 单位名称（如 --unit 综合处）；网页上在「单位」一栏填写",
        "no unit column, and neither the title rows nor the file name name a unit: add --unit NAME "
        "(e.g. --unit 综合处); in the app, fill in the Unit field",
    ),
    "year": (
        "表中没有年度列，季度里、标题行和文件名里也没写年份。请加 --year 年份（如 --year 2024）；网页上在「年度」一栏填写",
        "no year column, and neither the periods, the title rows nor the file name give a year: add --year YYYY "
        "(e.g. --year 2024); in the app, fill in the Year field",
    ),
    "period": (
        "表中没有季度列，标题行和文件名里也没写是哪一季度（或月份）。请加 --period 期次（如 --period 2024Q1，月份写 2024-10）；"
        "网页上在「期次」一栏填写",
        "no quarter column, and neither the title rows nor the file name say which quarter (or month): add "
        "--period 2024Q1 (a month: 2024-10); in the app, fill in the Period field",
    ),
}


def missing(need: str, where: str) -> MissingContext:
    zh, en = ASK[need]
    if need == "unit":  # the column may be there under a name not known yet
        from analytics.importer.columns import accepted_names

        zh += f"（单位列可用列名：{accepted_names('unit')}；或用人员编号 {accepted_names('person_id')}）"
    return MissingContext(f"{where}: {zh}。 / {en}", need)


def found_in(titles: tuple[tuple[int, str], ...], file_name: str) -> dict[str, Found]:
    """unit, year, quarter, month as the title rows (first) and the file name say them."""
    out: dict[str, Found] = {}
    for row, line in titles:
        _read_line(line, out, f"第 {row} 行：{line}", f"row {row}: {line}")
    stem = PurePath(file_name).stem
    _read_line(stem, out, f"文件名：{file_name}", f"the file name: {file_name}")
    if "unit" not in out:
        for token in re.split(r"[_\-—\s（）()、，,.·]+", stem):
            if _UNIT_TOKEN.match(token) and not _NOT_UNIT.search(token):
                out["unit"] = Found(token, f"文件名：{file_name}", f"the file name: {file_name}")
                break
    return out


def _read_line(line: str, out: dict[str, Found], zh: str, en: str) -> None:
    def put(key, value):
        out.setdefault(key, Found(value, zh, en))

    labelled = _UNIT_LABEL.search(line)
    if labelled:
        put("unit", labelled.group(1))
    else:
        lead = _UNIT_LEAD.match(line.strip())
        if lead and not _NOT_UNIT.search(lead.group(1)):
            put("unit", lead.group(1))
    if _RANGE.search(line):
        return  # 2023—2025年度: a span, not the period of this table
    quarter = _QUARTER.search(line)
    month = _MONTH.search(line)
    if quarter:
        year, q = quarter.group(1) or quarter.group(3), quarter.group(2) or quarter.group(4)
        put("year", int(year))
        put("quarter", _CN.get(q) or int(q))
    elif month:
        put("year", int(month.group(1)))
        put("month", int(month.group(2)))
        put("quarter", (int(month.group(2)) - 1) // 3 + 1)
    else:
        year = _YEAR.search(line)
        if (
            year
            and MIN_YEAR <= int(year.group(1)) <= MAX_YEAR
            and not re.search(r"\d{4}\s*年\s*\d{1,2}\s*月\s*\d", line)
        ):
            put("year", int(year.group(1)))


def label(key: str) -> tuple[str, str]:
    return {
        "unit": ("单位", "unit"),
        "year": ("年度", "year"),
        "quarter": ("季度", "quarter"),
        "month": ("月份", "month"),
    }[key]


def note(key: str, found: Found) -> tuple[str, str]:
    """`单位取自第 3 行：填报单位：综合处` / `unit taken from row 3: …`."""
    zh, en = label(key)
    shown = "" if str(found.value) in found.zh else f"（{found.value}）"
    return (f"{zh}取自{found.zh}{shown}", f"{en} taken from {found.en}" + (f" ({found.value})" if shown else ""))


def given_note(key: str, value) -> tuple[str, str]:
    zh, en = label(key)
    return (f"{zh}按用户填写：{value}", f"{en} as given by the user: {value}")
