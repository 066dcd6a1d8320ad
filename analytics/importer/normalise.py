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

MIN_YEAR, MAX_YEAR = 1949, 2100
OTHER_OUTCOME = "other"

ACCEPTED_GRADES = "、".join(QUARTERLY_GRADES) + " (good, fairly good, average, poor)"
ACCEPTED_ANNUAL = "、".join(ANNUAL_GRADES)
ACCEPTED_QUARTERS = "1-4、Q1、第一季度、一季度、1季度、2024Q1、2024年第一季度"
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


def quarters(series: pl.Series) -> tuple[pl.Series, pl.Series]:
    """(year from the period text or null, quarter or null) for a column of period spellings."""
    parsed = {value: parse_quarter(value) for value in series.drop_nulls().unique().to_list()}
    year = series.replace_strict({k: v[0] for k, v in parsed.items() if v}, default=None, return_dtype=pl.Int32)
    quarter = series.replace_strict({k: v[1] for k, v in parsed.items() if v}, default=None, return_dtype=pl.Int32)
    return year, quarter


def _by_alias(series: pl.Series, aliases: dict[str, str]) -> pl.Series:
    mapping = {value: aliases.get(normalise_text(value)) for value in series.drop_nulls().unique().to_list()}
    return series.replace_strict({k: v for k, v in mapping.items() if v}, default=None, return_dtype=pl.Utf8)


def grades(series: pl.Series) -> pl.Series:
    """Quarterly grades: 好/较好/一般/较差/不确定等次 (also 优, good, A ...)."""
    return _by_alias(series, QUARTERLY_GRADE_ALIASES)


def annual_grades(series: pl.Series) -> pl.Series:
    """Annual grades: 优秀/称职/基本称职/不称职/不确定等次 and the 事业 合格 wording."""
    return _by_alias(series, ANNUAL_GRADE_ALIASES)


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
