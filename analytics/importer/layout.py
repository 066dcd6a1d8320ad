"""Long and wide layouts -> one record per fact, with the source columns each value came from.

Long: one row per person and period. Wide: one row per person and year with a column per quarter
(`第一季度 … 第四季度`, `一季度`, `1季度`, `Q1`, also `2024Q1`), each cell a grade, optionally a score column
next to it (`第一季度得分`). Wide rows are melted into long records; blank quarter cells give no record.
Every record keeps its source row, the headers its values came from (for problem reports), the other
columns as `extra` JSON; the whole row as read (`__raw`, for rejected_rows) is built by raw_rows() for
the few rows that need it, never carried through the melt.
"""

from __future__ import annotations

import re

import polars as pl

from analytics.importer.normalise import parse_month, parse_quarter
from analytics.vocab import normalise_text

ROW, SHEET, RAW, REC = "__row", "__sheet", "__raw", "__rec"
_SCORE_SUFFIX = re.compile(r"(得分|分数|分值|成绩|score)$")
_GRADE_SUFFIX = re.compile(r"(考核等次|等次|考核结果|结果|grade)$")
_NUMBER = r"^-?(?:0|[1-9]\d*)(?:\.\d+)?$"


def col(field: str) -> str:
    """Name of the column holding the source header a field's value came from."""
    return f"__col_{field}"


def source(header: str, field: str) -> pl.Expr:
    """The `__col_<field>` column naming the header a field came from: one header per table, so categorical
    (4 bytes a record, not a string each: 0.5 GB for 14 fields at 2.3 M records)."""
    return pl.lit(header, dtype=pl.Categorical).alias(col(field))


def period_column(header: str) -> tuple[int | None, int, int | None, bool] | None:
    """(year or None, quarter, month or None, is a score column) for a wide period header, else None.

    >>> period_column("第一季度"), period_column("Q2得分"), period_column("（3）月份考核等次"), period_column("季度")
    ((None, 1, None, False), (None, 2, None, True), (None, 1, 3, False), None)
    """
    key = normalise_text(header)
    is_score = bool(_SCORE_SUFFIX.search(key))
    key = _SCORE_SUFFIX.sub("", key) if is_score else _GRADE_SUFFIX.sub("", key)
    key = key.removesuffix("考核").removesuffix("平时")
    if re.search(r"季|q", key):  # a bare `1` is a column number, not a quarter
        parsed = parse_quarter(key)
        return None if parsed is None else (parsed[0], parsed[1], None, is_score)
    month = parse_month(key) if "月" in key else None
    return None if month is None else (month[0], (month[1] - 1) // 3 + 1, month[1], is_score)


def quarter_column(header: str) -> tuple[int | None, int, bool] | None:
    """(year or None, quarter, is a score column) for a wide quarter header (not a month), else None."""
    parsed = period_column(header)
    return None if parsed is None or parsed[2] is not None else (parsed[0], parsed[1], parsed[3])


def wide_columns(headers: list[str]) -> dict[str, tuple[str, str | None]]:
    """{period grade header: (header, score header or None)} for the wide quarter (or month) columns."""
    grades: dict[tuple, str] = {}
    scores: dict[tuple, str] = {}
    for header in headers:
        parsed = period_column(header)
        if parsed is not None:
            year, quarter, month, is_score = parsed
            (scores if is_score else grades).setdefault((year, quarter, month), header)
    return {header: (header, scores.get(key)) for key, header in grades.items()}


def layout_of(headers: list[str], mapping: dict[str, str]) -> str:
    """'wide' when quarters are columns (and no quarter column says otherwise), else 'long'."""
    has_long = "quarter" in mapping.values() and "grade" in mapping.values()
    return "wide" if not has_long and len(wide_columns(headers)) >= 1 else "long"


def records(body: pl.DataFrame, headers: list[str], mapping: dict[str, str], layout: str, sheet: str | None):
    """One record per fact: field columns (text as read), ROW, SHEET, `__col_<field>`, extra."""
    wide = wide_columns(headers) if layout == "wide" else {}
    if wide:  # the quarter columns carry quarter, grade and score; same-named columns elsewhere go to extra
        mapping = {h: f for h, f in mapping.items() if f not in ("quarter", "grade", "score")}
    used = set(mapping) | {h for pair in wide.values() for h in pair if h}
    others = [h for h in headers if h not in used]
    fields = [pl.col(h).alias(f) for h, f in mapping.items()]
    sources = [source(h, f) for h, f in mapping.items()]
    keep = [pl.col(ROW), pl.lit(sheet, dtype=pl.Utf8).alias(SHEET), _extra(body, others).alias("extra")]
    if layout == "long":
        return body.select(fields + sources + keep)
    return _melt(body, wide, fields + sources + keep)


def _melt(body: pl.DataFrame, wide: dict[str, tuple[str, str | None]], per_row: list[pl.Expr]) -> pl.DataFrame:
    """Wide rows -> one record per filled quarter cell, in row order then quarter-column order.

    Only the narrow quarter cells are melted and ordered; the per-row columns (person, extra) are then
    gathered once by row position, instead of copying and re-sorting the whole wide frame per quarter.
    """
    position = "__pos"
    cells = pl.concat(
        [
            body.select(
                pl.int_range(pl.len(), dtype=pl.UInt32).alias(position),
                pl.lit(_period_text(grade_header)).alias("quarter"),
                pl.col(grade_header).alias("grade"),
                (pl.col(score_header) if score_header else pl.lit(None, dtype=pl.Utf8)).alias("score"),
                source(grade_header, "quarter"),
                source(grade_header, "grade"),
                source(score_header or grade_header, "score"),
            ).filter(pl.col("grade").is_not_null())
            for grade_header, score_header in wide.values()
        ]
    ).sort(position, maintain_order=True)  # rows keep their order; within a row, quarter-column order
    rows = body.select(per_row)[cells[position]]
    return rows.hstack(cells.drop(position))


def _period_text(header: str) -> str:
    """A wide column's period in a spelling normalise.parse_period reads back: `2024Q1`, `Q1`, `2023年10月`, `10月`."""
    year, quarter, month, _ = period_column(header)
    if month is not None:
        return f"{year}年{month}月" if year else f"{month}月"
    return f"{year}Q{quarter}" if year else f"Q{quarter}"


def raw_rows(body: pl.DataFrame, headers: list[str], sheet: str | None, wanted: pl.Series) -> pl.DataFrame:
    """(SHEET, ROW, RAW) for the source rows in `wanted`: the whole row as read, as JSON (for rejected_rows)."""
    picked = body.filter(pl.col(ROW).is_in(wanted.implode()))
    return picked.select(
        pl.lit(sheet, dtype=pl.Utf8).alias(SHEET), pl.col(ROW), pl.struct(headers).struct.json_encode().alias(RAW)
    )


def _extra(body: pl.DataFrame, others: list[str]) -> pl.Expr:
    """Columns we do not model, as a JSON object; numeric columns stay numbers ({"工作实绩": 88.5}).

    NULL where the row leaves every one of them empty: no `{"备注": null}` written on each of a million rows.
    """
    if not others:
        return pl.lit(None, dtype=pl.Utf8)
    values = [_typed(body, h) for h in others]
    filled = pl.any_horizontal([pl.col(h).is_not_null() for h in others])
    return pl.when(filled).then(pl.struct(values).struct.json_encode()).otherwise(pl.lit(None, dtype=pl.Utf8))


def _typed(body: pl.DataFrame, header: str) -> pl.Expr:
    filled = body[header].drop_nulls()
    if filled.len() and filled.str.contains(_NUMBER).all():
        kind = pl.Int64 if not filled.str.contains(r"\.").any() else pl.Float64
        return pl.col(header).cast(kind, strict=False).alias(header)
    return pl.col(header)
