"""Appeal records: what is appealed, the reason, the decision; and the importer's check for the kind.

An appeal file (申诉/复核登记表) has one row per appeal: the person, the date it was filed, what it is about
(a quarter's grade, an annual grade, an outcome), the period, the reason as written, the reviewer it names,
the decision and its date. Free-text values are mapped to a few codes by keywords (the text is kept as
written beside each code), so appeals can be counted by reason and decision.
"""

from __future__ import annotations

import polars as pl

from analytics.importer import normalise as norm
from analytics.importer.validate import Checker, Note
from analytics.vocab import normalise_text

# What is appealed: code -> (Chinese, English).
SUBJECTS: dict[str, tuple[str, str]] = {
    "quarterly_grade": ("平时考核等次", "Quarterly grade"),
    "annual_grade": ("年度考核等次", "Annual grade"),
    "outcome": ("结果运用", "Outcome"),
    "other": ("其他", "Other"),
}
# Keywords, first match wins: an outcome (年度考核奖金) before 年度, and 年度 before the generic 等次 (a quarter's grade).
_SUBJECT_WORDS: tuple[tuple[str, str], ...] = (
    ("outcome", "outcome"),
    ("结果运用", "outcome"),
    ("奖金", "outcome"),
    ("评优", "outcome"),
    ("评先", "outcome"),
    ("提拔", "outcome"),
    ("晋升", "outcome"),
    ("诫勉", "outcome"),
    ("调整岗位", "outcome"),
    ("降职", "outcome"),
    ("annual", "annual_grade"),
    ("年度", "annual_grade"),
    ("年终", "annual_grade"),
    ("quarter", "quarterly_grade"),
    ("平时", "quarterly_grade"),
    ("季度", "quarterly_grade"),
    ("等次", "quarterly_grade"),
    ("grade", "quarterly_grade"),
)

# Why: code -> (Chinese, English). The reviewer code is the one the leniency comparison is about.
REASONS: dict[str, tuple[str, str]] = {
    "reviewer": ("评鉴人不公", "Reviewer unfair"),
    "quota": ("名额比例限制", "Quota limit"),
    "rotation": ("轮流坐庄", "Grades handed round"),
    "facts": ("业绩未被认定", "Work not recognised"),
    "procedure": ("程序问题", "Procedure"),
    "other": ("其他", "Other"),
}
_REASON_WORDS: tuple[tuple[str, str], ...] = (
    ("轮流", "rotation"),
    ("轮换", "rotation"),
    ("rotation", "rotation"),
    ("名额", "quota"),
    ("比例", "quota"),
    ("指标", "quota"),
    ("quota", "quota"),
    ("评鉴人", "reviewer"),
    ("审核人", "reviewer"),
    ("考核人", "reviewer"),
    ("领导", "reviewer"),
    ("不公", "reviewer"),
    ("偏袒", "reviewer"),
    ("老好人", "reviewer"),
    ("人情", "reviewer"),
    ("reviewer", "reviewer"),
    ("unfair", "reviewer"),
    ("程序", "procedure"),
    ("公示", "procedure"),
    ("告知", "procedure"),
    ("反馈", "procedure"),
    ("procedure", "procedure"),
    ("业绩", "facts"),
    ("实绩", "facts"),
    ("工作量", "facts"),
    ("认定", "facts"),
    ("事实", "facts"),
    ("材料", "facts"),
    ("work", "facts"),
)

# What was decided: code -> (Chinese, English).
DECISIONS: dict[str, tuple[str, str]] = {
    "changed": ("予以变更", "Changed"),
    "kept": ("维持原结果", "Kept"),
    "not_accepted": ("不予受理", "Not accepted"),
    "withdrawn": ("撤回", "Withdrawn"),
    "pending": ("待处理", "Pending"),
}
DECIDED = ("changed", "kept", "not_accepted")  # a decision was made (withdrawn and pending were not)
_DECISION_WORDS: tuple[tuple[str, str], ...] = (
    ("不予受理", "not_accepted"),
    ("不受理", "not_accepted"),
    ("notaccepted", "not_accepted"),
    ("撤回", "withdrawn"),
    ("撤销申诉", "withdrawn"),
    ("withdrawn", "withdrawn"),
    ("不予支持", "kept"),
    ("不予变更", "kept"),
    ("不予调整", "kept"),
    ("维持", "kept"),
    ("驳回", "kept"),
    ("kept", "kept"),
    ("upheldoriginal", "kept"),
    ("变更", "changed"),
    ("调整", "changed"),
    ("更正", "changed"),
    ("纠正", "changed"),
    ("改为", "changed"),
    ("改定", "changed"),
    ("支持", "changed"),
    ("changed", "changed"),
    ("待", "pending"),
    ("处理中", "pending"),
    ("受理中", "pending"),
    ("审核中", "pending"),
    ("pending", "pending"),
)
ACCEPTED_SUBJECTS = "平时考核等次（季度）、年度考核等次、结果运用（奖金、评优、提拔……）"
ACCEPTED_DECISIONS = "维持原等次、予以变更/调整、不予受理、撤回、待处理"
ACCEPTED_ORDER = "答复日期不早于申诉日期 / the decision on or after the appeal"


def code_of(value: str | None, words: tuple[tuple[str, str], ...], default: str | None) -> str | None:
    """The code of the first keyword found in `value` (after normalise_text).

    >>> code_of("对2024年第三季度等次有异议", _SUBJECT_WORDS, "other")
    'quarterly_grade'
    >>> code_of("维持原等次", _DECISION_WORDS, None), code_of("不予受理", _DECISION_WORDS, None)
    ('kept', 'not_accepted')
    """
    if value is None:
        return None
    key = normalise_text(value)
    return next((code for word, code in words if word in key), default)


def _coded(series: pl.Series, words, default) -> pl.Series:
    """Map each distinct spelling once, then the column (appeal files repeat a few phrases)."""
    mapping = {v: code_of(v, words, default) for v in series.drop_nulls().unique().to_list()}
    return series.replace_strict(mapping, default=None, return_dtype=pl.Utf8)


def subjects(series: pl.Series) -> pl.Series:
    return _coded(series, _SUBJECT_WORDS, "other")


def reason_kinds(series: pl.Series) -> pl.Series:
    return _coded(series, _REASON_WORDS, "other")


def decisions(series: pl.Series) -> pl.Series:
    """Decision text -> code; an unrecognised text is a problem (null), an empty cell means pending."""
    return _coded(series, _DECISION_WORDS, None)


def check_appeals(frame: pl.DataFrame, file: str) -> tuple[pl.DataFrame, pl.DataFrame, list[Note]]:
    """The importer's check for appeal files: typed values, problems as the user sees them, notes."""
    keep_raw = [pl.col(f).alias(f"{f}_raw") for f in ("appeal_subject", "decision") if f in frame.columns]
    frame = frame.with_columns(keep_raw)
    checker = Checker(frame, "appeals", file)
    checker.typed("appeal_subject", subjects, "missing", ACCEPTED_SUBJECTS, required=True)
    period_year, quarter = (
        norm.quarters(checker.frame["quarter"]) if "quarter" in checker.frame.columns else (None, None)
    )
    if quarter is not None:
        checker.typed("quarter", lambda s: quarter, "quarter", norm.ACCEPTED_QUARTERS)
    checker.typed("year", norm.years, "year", norm.ACCEPTED_YEARS)
    checker.typed("appeal_date", norm.dates, "date", norm.ACCEPTED_DATES)
    checker.typed("decision_date", norm.dates, "date", norm.ACCEPTED_DATES)
    checker.typed("decision", decisions, "decision", ACCEPTED_DECISIONS)
    for field in ("appealed_grade", "revised_grade"):
        if field in checker.frame.columns:  # either ladder: 好 … 较差 or 优秀 … 不称职
            checker.typed(field, _either_grade, "grade", _GRADES)
    _complete(checker, period_year)
    if "appeal_reason" in checker.frame.columns:
        checker.frame = checker.frame.with_columns(reason_kinds(checker.frame["appeal_reason"]).alias("reason_kind"))
    order = pl.col("decision_date") < pl.col("appeal_date")
    checker._report(order.fill_null(False), "decision_date", "decision_order", ACCEPTED_ORDER)
    no_when = pl.col("appeal_date").is_null() & pl.col("year").is_null()
    checker._report(no_when, "appeal_date", "when", "申诉日期或年度 / an appeal date or a year")
    checker.person()
    return (*checker.result(), checker.notes)


_GRADES = f"{norm.ACCEPTED_GRADES}；{norm.ACCEPTED_ANNUAL}"


def _either_grade(series: pl.Series) -> pl.Series:
    return norm.grades(series).fill_null(norm.annual_grades(series))


def _complete(checker: Checker, period_year: pl.Series | None) -> None:
    """Every stored column present; the year inside a period (2024Q3) fills an empty year."""
    schema = {"year": pl.Int32, "quarter": pl.Int32, "appeal_date": pl.Date, "decision_date": pl.Date,
              "decision": pl.Utf8, "appeal_reason": pl.Utf8}  # fmt: skip
    missing = [pl.lit(None, dtype=t).alias(c) for c, t in schema.items() if c not in checker.frame.columns]
    checker.frame = checker.frame.with_columns(missing)
    if period_year is not None:
        checker.frame = checker.frame.with_columns(pl.coalesce("year", period_year.cast(pl.Int32)).alias("year"))
    # A year written in the subject (对2024年度考核等次有异议) is the person's own words, not a guess.
    written = pl.col("appeal_subject_raw").str.extract(r"((?:19|20)\d{2})\s*年", 1).cast(pl.Int32, strict=False)
    if "appeal_subject_raw" in checker.frame.columns:
        checker.frame = checker.frame.with_columns(pl.coalesce("year", written).alias("year"))
    checker.frame = checker.frame.with_columns(pl.col("decision").fill_null("pending"))
