"""Cell values -> canonical values: quarters, grades, annual grades, outcome kinds, dates, years, numbers.

Each function takes a Series of text as read and returns a typed Series with null where the text is not a
valid value; the caller reports cells that were filled but came back null. Category columns hold a handful
of distinct spellings, so they are mapped once per distinct value and applied to the column in one step.
"""

from __future__ import annotations

import re

import polars as pl

from analytics.vocab import (
    ANNUAL_GRADE_ALIASES,
    ANNUAL_GRADES,
    OUTCOME_ALIASES,
    OUTCOME_KINDS,
    QUARTERLY_GRADE_ALIASES,
    QUARTERLY_GRADES,
    normalise_text,
)

EXCELLENT, COMPETENT, BASIC, INCOMPETENT = ANNUAL_GRADES[:4]
UNGRADED = QUARTERLY_GRADES[-1]
NOT_ASSESSED = "不参加考核"  # not assessed this period: kept, never counted as a grade

MIN_YEAR, MAX_YEAR = 1949, 2100
OTHER_OUTCOME = "other"

ACCEPTED_GRADES = "、".join(QUARTERLY_GRADES) + "、不参加考核 (good, fairly good, average, poor)"
ACCEPTED_ANNUAL = "、".join(ANNUAL_GRADES) + "、不参加考核"
ACCEPTED_QUARTERS = "1-4、Q1、第一季度、一季度、1季度、2024Q1、2024年第一季度、月份（10月、2023年10月）"
ACCEPTED_YEARS = f"{MIN_YEAR}-{MAX_YEAR}, 如 2024 / 2024年"
ACCEPTED_DATES = "2025-03-15、2025/3/15、2025年3月15日、Excel 日期"
ACCEPTED_NUMBERS = "数字 number, 如 88.5"

_CN_DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4, "1": 1, "2": 2, "3": 3, "4": 4}
# One quarter written alone: 1, q1, 第一季度, 一季度, 1季度, 第1季度, quarter1, 1stquarter.
_QUARTER_ALONE = r"(?:第?([1-4一二三四])季度?|q([1-4])|quarter([1-4])|([1-4])(?:st|nd|rd|th)quarter|([1-4]))"
# With a year in front: 2024q1, 2024-q1, 2024年第一季度, 2024年1季度, 2024年度q1 (a bare digit after a year is
# refused: 2024-3 may be March).
_QUARTER_WITH_YEAR = r"(\d{4})(?:年度?|[-_/.])?(?:第?([1-4一二三四])季度?|q([1-4])|quarter([1-4]))"
_QUARTER_RE = re.compile(rf"^(?:{_QUARTER_WITH_YEAR}|{_QUARTER_ALONE})(?:\.0)?$")


_BLANKS = " \t\r\n\u3000\u00a0"
_PADDED = f"^[{_BLANKS}]|[{_BLANKS}]$"


def text(series: pl.Series) -> pl.Series:
    """Trimmed text with empty cells as null."""
    # Exports are mostly clean: looking costs a read, rewriting costs a copy of every cell, so look first.
    cells = series.cast(pl.Utf8)
    if cells.str.contains(_PADDED).any():
        cells = cells.str.strip_chars(_BLANKS)
    return cells.replace("", None) if (cells.str.len_bytes() == 0).any() else cells


def parse_quarter(value: str | None) -> tuple[int | None, int] | None:
    """(year or None, quarter) for one spelling, None when it is no quarter.

    >>> parse_quarter("2024年第一季度"), parse_quarter("Q3"), parse_quarter("2024Q5")
    ((2024, 1), (None, 3), None)
    """
    if value is None:
        return None
    match = _QUARTER_RE.match(normalise_text(value))
    if match is None:
        return None
    year, *digits = match.groups()
    quarter = _CN_DIGITS[next(d for d in digits if d)]
    if year is not None and not MIN_YEAR <= int(year) <= MAX_YEAR:
        return None
    return (int(year) if year else None, quarter)


# A month: 10月, 10月份, （1）月份, 2023年10月, 2023-10 (a month-grading unit's period).
_MONTH_RE = re.compile(
    r"^(?:(\d{4})(?:年度?|[-/.])?)?[(（]?(1[0-2]|0?[1-9])[)）]?(?:月份?)$|^(\d{4})[-/.](1[0-2]|0[1-9])$"
)


def parse_month(value: str | None) -> tuple[int | None, int] | None:
    """(year or None, month) for a month spelling, None when it is no month.

    >>> parse_month("2023年10月"), parse_month("（1）月份"), parse_month("2023-10"), parse_month("第一季度")
    ((2023, 10), (None, 1), (2023, 10), None)
    """
    if value is None:
        return None
    match = _MONTH_RE.match(normalise_text(value))
    if match is None:
        return None
    year = match.group(1) or match.group(3)
    month = int(match.group(2) or match.group(4))
    if year is not None and not MIN_YEAR <= int(year) <= MAX_YEAR:
        return None
    return (int(year) if year else None, month)


def parse_period(value: str | None) -> tuple[int | None, int, int | None] | None:
    """(year or None, quarter, month or None): a quarter (2024Q1) or a month (2023年10月, its quarter 4)."""
    quarter = parse_quarter(value)
    if quarter is not None:
        return (quarter[0], quarter[1], None)
    month = parse_month(value)
    if month is not None:
        return (month[0], (month[1] - 1) // 3 + 1, month[1])
    return None


def quarters(series: pl.Series) -> tuple[pl.Series, pl.Series]:
    """(year from the period text or null, quarter or null) for a column of period spellings."""
    year, quarter, _ = periods(series)
    return year, quarter


def periods(series: pl.Series) -> tuple[pl.Series, pl.Series, pl.Series]:
    """(year from the period text or null, quarter or null, month or null) for a column of period spellings."""
    parsed = {value: parse_period(value) for value in series.drop_nulls().unique().to_list()}
    parts = []
    for i in range(3):
        found = {k: v[i] for k, v in parsed.items() if v and v[i] is not None}
        parts.append(series.replace_strict(found, default=None, return_dtype=pl.Int32))
    return parts[0], parts[1], parts[2]


def is_special(series: pl.Series) -> pl.Series:
    """专项考核 (a special assessment) written where the quarter goes: kept apart, not a quarter."""
    return series.str.contains("专项").fill_null(False)


def _by_alias(series: pl.Series, aliases: dict[str, str]) -> pl.Series:
    mapping = {value: aliases.get(normalise_text(value)) for value in series.drop_nulls().unique().to_list()}
    return series.replace_strict({k: v for k, v in mapping.items() if v}, default=None, return_dtype=pl.Utf8)


# Spellings that are a guess (优 for 好, a-d, 差 for 较差): accepted only where [import.grade_aliases] says so.
GUESSED = frozenset({"优", "a", "b", "c", "d", "差"})
# Not graded, in the words systems write: 试用期不定等次, 新录用人员试用期……不确定等次 (= 不确定等次).
_UNGRADED = re.compile(r"(不定等次|不确定等次|未定等次)$")
# Not assessed at all (不参加考核, 未参加考核, 不进行年度考核): no grade; the reason column is kept in extra.
_NOT_ASSESSED = re.compile(r"^(不参加|未参加|不进行|免于|不参与|未参与)(年度|平时)?(考核|考评|评定)")
# 公务员管理信息系统 ZB18 codes for annual results.
ZB18: dict[str, str] = {
    "1": EXCELLENT, "2": COMPETENT, "3": BASIC, "4": INCOMPETENT, "2b": "合格", "3b": "基本合格", "4b": "不合格",
    "5": UNGRADED, "5a": NOT_ASSESSED, "5b": NOT_ASSESSED, "5c": NOT_ASSESSED, "6a": NOT_ASSESSED, "7": NOT_ASSESSED,
}  # fmt: skip
_STRICT_QUARTERLY = {k: v for k, v in QUARTERLY_GRADE_ALIASES.items() if k not in GUESSED}


def _grade_of(value: str, table: dict[str, str]) -> str | None:
    key = normalise_text(value)
    if key in table:
        return table[key]
    if _NOT_ASSESSED.search(key):
        return NOT_ASSESSED
    if _UNGRADED.search(key):
        return UNGRADED
    return None


def _by_table(series: pl.Series, table: dict[str, str]) -> pl.Series:
    mapping = {value: _grade_of(value, table) for value in series.drop_nulls().unique().to_list()}
    return series.replace_strict({k: v for k, v in mapping.items() if v}, default=None, return_dtype=pl.Utf8)


def grades(series: pl.Series, aliases: dict[str, str] | None = None) -> pl.Series:
    """Quarterly grades: 好/较好/一般/较差/不确定等次 (good, fairly good …), 不参加考核; `aliases` (from
    [import.grade_aliases]) adds the local spellings a unit declared."""
    table = dict(_STRICT_QUARTERLY)
    table.update({normalise_text(k): v for k, v in (aliases or {}).items()})
    return _by_table(series, table)


def annual_grades(series: pl.Series, aliases: dict[str, str] | None = None) -> pl.Series:
    """Annual grades: 优秀/称职/基本称职/不称职/不确定等次, the 事业 合格 wording, 不参加考核; a column written
    wholly in ZB18 codes (1, 2, 2B …) is read by the code table."""
    table = dict(ANNUAL_GRADE_ALIASES)
    table.update({normalise_text(k): v for k, v in (aliases or {}).items()})
    if is_zb18(series):
        table.update(ZB18)
    return _by_table(series, table)


def is_zb18(series: pl.Series) -> bool:
    """Every filled cell a ZB18 code (1, 2, 2B, 5A …): the 公务员管理信息系统 export."""
    values = series.drop_nulls().unique()
    return values.len() > 0 and all(normalise_text(v).removesuffix(".0") in ZB18 for v in values.to_list())


def _outcome_lookup() -> dict[str, str]:
    lookup = {normalise_text(alias): code for alias, code in OUTCOME_ALIASES.items()}
    for code, (zh, en, _) in OUTCOME_KINDS.items():
        lookup.setdefault(code, code)
        lookup.setdefault(normalise_text(zh), code)
        lookup.setdefault(normalise_text(en), code)
    return lookup


_OUTCOMES = _outcome_lookup()


def outcome_code(value: str) -> str:
    """Canonical outcome code: exact alias, else the longest alias inside the text, else 'other'.

    >>> outcome_code("诫勉谈话"), outcome_code("提拔为副科长"), outcome_code("慰问")
    ('admonishment', 'promotion', 'other')
    """
    key = normalise_text(value)
    if key in _OUTCOMES:
        return _OUTCOMES[key]
    inside = [alias for alias in _OUTCOMES if len(alias) >= 2 and alias in key]
    return _OUTCOMES[max(inside, key=len)] if inside else OTHER_OUTCOME


def outcomes(series: pl.Series) -> pl.Series:
    """Outcome names -> canonical codes (vocab.OUTCOME_KINDS), 'other' when unknown."""
    mapping = {value: outcome_code(value) for value in series.drop_nulls().unique().to_list()}
    return series.replace_strict(mapping, default=None, return_dtype=pl.Utf8)


def per_distinct(parse):
    """Run an elementwise parser once per distinct spelling, then map the column (years, dates, scores repeat a lot)."""

    def parsed(series: pl.Series) -> pl.Series:
        values = series.drop_nulls().unique()
        if values.len() * 2 > series.len():  # mostly distinct: mapping would cost more than it saves
            return parse(series)
        out = parse(values)
        return series.replace_strict(values, out, default=None, return_dtype=out.dtype)

    parsed.__doc__, parsed.__name__ = parse.__doc__, parse.__name__
    return parsed


@per_distinct
def years(series: pl.Series) -> pl.Series:
    """2024, 2024年, 2024年度, 2024.0 -> 2024; null outside 1949-2100."""
    digits = normalise_text_series(series).str.extract(r"^(\d{4})(?:\.0+|年度?|年)?$", 1).cast(pl.Int32, strict=False)
    return digits.set(digits.is_between(MIN_YEAR, MAX_YEAR).not_(), None) if digits.len() else digits


@per_distinct
def dates(series: pl.Series) -> pl.Series:
    """2025-03-15, 2025/3/15, 2025.3.15, 2025年3月15日, '2025-03-15 00:00:00' or an Excel serial -> Date."""
    folded = normalise_text_series(series)
    parts = folded.str.extract_groups(
        r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?(?:\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$"
    )
    padded = pl.DataFrame({"p": parts}).select(
        pl.concat_str(
            [pl.col("p").struct.field(k).str.zfill(w) for k, w in (("1", 4), ("2", 2), ("3", 2))], separator="-"
        )
    )
    written = padded.to_series().str.to_date("%Y-%m-%d", strict=False)
    serial = folded.str.extract(r"^(\d{1,6})(?:\.0+)?$", 1).cast(pl.Int32, strict=False)
    # Excel counts days from 1899-12-30 (its 1900 leap-year bug included); serial 25569 is 1970-01-01.
    excel = (serial - 25569).cast(pl.Date)
    excel = excel.set(excel.dt.year().is_between(MIN_YEAR, MAX_YEAR).not_().fill_null(False), None)
    return written.fill_null(excel).rename(series.name)


@per_distinct
def numbers(series: pl.Series) -> pl.Series:
    """Scores and amounts: 88.5, 88.5分, 3,000, ￥3000元 -> Float64."""
    cleaned = normalise_text_series(series).str.replace_all(r"[,，分元¥￥]", "")
    return cleaned.cast(pl.Float64, strict=False)


def normalise_text_series(series: pl.Series) -> pl.Series:
    """normalise_text for a column: full-width ASCII folded, spaces removed, lower case."""
    codes = series.cast(pl.Utf8)
    full = "".join(chr(c) for c in range(0xFF01, 0xFF5F))
    half = "".join(chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F))
    folded = codes.str.replace_many(list(full), list(half))
    return folded.str.replace_all(r"\s+", "").str.to_lowercase()
