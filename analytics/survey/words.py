"""Survey tables as a reader reads them, in Chinese or in English: item types, sides and groups in words.

The analysis (analytics.survey.analysis) keeps codes (likert, side -1/0/1, the 全部 group); the page shows
these words instead, and its headers through analytics.i18n.
"""

from __future__ import annotations

import json

import polars as pl

from analytics.i18n import pick

TYPE_LABELS = {
    "likert": ("量表", "Likert"),
    "numeric_scale": ("数字量表", "number scale"),
    "single_choice": ("单选", "single choice"),
    "multiple_choice": ("多选", "multiple choice"),
    "text": ("文本", "free text"),
    "attribute": ("属性", "attribute"),
}
SIDES = {-1: ("偏负面", "negative"), 0: ("中间", "middle"), 1: ("偏正面", "positive")}
ALL = ("全部", "Everyone")
NOTES = {
    "multiple choice: respondents fall in several cells, no chi-square test": (
        "多选题：一人可落入多个格，不做卡方检验",
        "Multiple choice: respondents fall in several cells, no chi-square test",
    ),
    "fewer than two groups or answers to compare": (
        "可比较的组或答案少于两个",
        "Fewer than two groups or answers to compare",
    ),
    "some expected counts are below 5: read the p-value with care": (
        "部分格的期望频数小于 5：p 值仅供参考",
        "Some expected counts are below 5: read the p-value with care",
    ),
}


def note_words(note: str, lang: str) -> str:
    """A cross-tab's note in the reader's language (as written when unknown)."""
    pair = NOTES.get(note)
    return pick(pair, lang) if pair else note


def _scale_text(value: str | None, lang: str) -> str | None:
    """A JSON list of answer labels as '很不满意 → 不满意 → …' (None stays None)."""
    if value is None:
        return None
    try:
        labels = json.loads(value)
    except ValueError:
        return value
    return " → ".join(str(x) for x in labels) if isinstance(labels, list) else value


def readable(frame: pl.DataFrame, lang: str) -> pl.DataFrame:
    """Item types, sides, the everyone-group and answer scales in words; other columns unchanged."""
    from analytics.survey.analysis import ALL_GROUP

    out = frame
    if "item_type" in out.columns:
        out = out.with_columns(pl.col("item_type").replace({k: pick(v, lang) for k, v in TYPE_LABELS.items()}))
    if "side" in out.columns:
        words = {k: pick(v, lang) for k, v in SIDES.items()}
        out = out.with_columns(pl.col("side").replace_strict(words, default=None, return_dtype=pl.Utf8))
    if "group" in out.columns and out.schema["group"] == pl.Utf8:
        out = out.with_columns(pl.col("group").replace({ALL_GROUP: pick(ALL, lang)}))
    if "scale" in out.columns:
        out = out.with_columns(pl.col("scale").map_elements(lambda v: _scale_text(v, lang), return_dtype=pl.Utf8))
    return out


def items_table(items: pl.DataFrame, lang: str) -> pl.DataFrame:
    """The survey's items for the page: without the import id, types and scales in words."""
    return readable(items.drop("import_id", strict=False), lang)
