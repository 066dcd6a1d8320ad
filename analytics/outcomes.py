"""Outcome use (结果运用): does what happens to people follow their grades?

Joins each person's quarterly record (平时考核), annual grade (年度考核) and outcome records
(提拔, 职级晋升, 评先评优, 奖金, 诫勉 ...) by person and *assessment year*, and summarises how grade
patterns flow into annual grades and outcomes (DOMAIN.md, "Outcome use").

The assessment year an outcome answers to is not always its calendar year: an award dated
March 2025 for the 2024 result belongs to 2024. It is taken, in order, from
  1. `outcomes.year` when the record (or the importer) filled it            -> year_source 'record'
  2. the detail text, e.g. '2024年度优秀公务员', '2024年第二季度一般'          -> 'detail'
  3. the date: the first `settings.outcomes.carry_months` months of a year
     answer to the previous year's result                                  -> 'date'

Grade patterns (on a four-quarter scale; one label per person and year, first match wins):

| pattern | en | meaning |
|---|---|---|
| 含一般或较差 | Any average or poor | at least one 一般 or 较差 |
| 季度不全 | Incomplete | fewer than four quarters graded 好/较好 (missing or 不确定等次) |
| 4×好 | 4× good | every graded quarter 好 |
| 3×好+1×较好 | 3× good + 1× fairly good | at least 3/4 of graded quarters 好 |
| 2×好+2×较好 | 2× good + 2× fairly good | at least half 好 |
| ≤1×好 | At most 1× good | fewer than half 好 |

Monthly exports (more than four records a year) are put on the same scale by share of 好.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from analytics.dataset import AssessmentData
from analytics.settings import Settings
from analytics.vocab import (
    AVERAGE,
    FAIRLY_GOOD,
    GOOD,
    OUTCOME_ALIASES,
    OUTCOME_KINDS,
    POOR,
    UNGRADED,
    normalise_text,
)

OTHER = "other"
OTHER_ZH, OTHER_EN = "其他", "Other"
NO_OUTCOME_ZH = "无结果运用"
NO_ANNUAL_ZH = "无年度等次"

# Pattern labels in display order, with English.
PATTERN_NEGATIVE, PATTERN_INCOMPLETE = "含一般或较差", "季度不全"
PATTERNS: dict[str, str] = {
    "4×好": "4× good",
    "3×好+1×较好": "3× good + 1× fairly good",
    "2×好+2×较好": "2× good + 2× fairly good",
    "≤1×好": "At most 1× good",
    PATTERN_NEGATIVE: "Any average or poor",
    PATTERN_INCOMPLETE: "Incomplete",
}

# Quarterly count columns of the linked table.
COUNT_COLUMNS: dict[str, str] = {
    GOOD: "n_good",
    FAIRLY_GOOD: "n_fairly_good",
    AVERAGE: "n_average",
    POOR: "n_poor",
    UNGRADED: "n_ungraded",
}
ATTRIBUTES = ("name", "unit", "unit_type", "section", "position_level", "rank", "staff_type", "lane")
ALL_KINDS: tuple[str, ...] = (*OUTCOME_KINDS, OTHER)
# Rewards other than the routine bonus (most people who are 称职 get one), and negative consequences.
REWARD_KINDS = tuple(k for k, (_, _, v) in OUTCOME_KINDS.items() if v > 0 and k != "bonus")
NEGATIVE_KINDS = tuple(k for k, (_, _, v) in OUTCOME_KINDS.items() if v < 0)
# The one outcome shown for a person-year in the Sankey: consequences first, then advancement, then the rest.
OUTCOME_PRIORITY = (
    "demotion", "admonishment", "reassignment", "award_withdrawn", "bonus_cut", "reminder",
    "promotion", "rank_promotion", "merit", "award", "commendation", "bonus", "training", "mentoring", OTHER,
)  # fmt: skip

_DETAIL_YEAR = r"((?:19|20)\d{2})\s*年(?:度|第?[一二三四1-4]季度|平时考核|考核)"


def kind_zh(code: str) -> str:
    """Chinese name of an outcome code ('other' -> 其他)."""
    return OUTCOME_KINDS[code][0] if code in OUTCOME_KINDS else OTHER_ZH


def kind_en(code: str) -> str:
    return OUTCOME_KINDS[code][1] if code in OUTCOME_KINDS else OTHER_EN


def has_column(code: str) -> str:
    """Name of the linked table's flag column for an outcome kind, e.g. has_promotion."""
    return f"has_{code}"


def _zh_of(column: str) -> pl.Expr:
    return pl.col(column).replace_strict({k: kind_zh(k) for k in ALL_KINDS}, default=OTHER_ZH, return_dtype=pl.Utf8)


# --- outcome records -------------------------------------------------------------------------------


def _canonical_codes(outcomes: pl.DataFrame) -> pl.Expr:
    """Canonical code per record: a stored code wins; else the raw text through OUTCOME_ALIASES; else 'other'."""
    raw = pl.coalesce(pl.col("outcome_raw"), pl.col("outcome"))
    names = outcomes.select(raw.unique().drop_nulls()).to_series().to_list()
    mapping = {n: OUTCOME_ALIASES.get(normalise_text(n), OTHER) for n in names}  # distinct names: a handful
    return (
        pl.when(pl.col("outcome").is_in(list(OUTCOME_KINDS)))
        .then(pl.col("outcome"))
        .otherwise(raw.replace_strict(mapping, default=OTHER, return_dtype=pl.Utf8))
    )


def assessment_year(settings: Settings) -> tuple[pl.Expr, pl.Expr]:
    """(assessment year, year_source) expressions over an outcomes frame (see module docstring)."""
    detail_year = pl.col("detail").cast(pl.Utf8).str.extract(_DETAIL_YEAR, 1).cast(pl.Int32)
    date = pl.col("date").cast(pl.Date)
    date_year = (date.dt.year() - (date.dt.month() <= settings.outcomes.carry_months).cast(pl.Int32)).cast(pl.Int32)
    year = pl.coalesce(pl.col("year").cast(pl.Int32), detail_year, date_year)
    source = (
        pl.when(pl.col("year").is_not_null())
        .then(pl.lit("record"))
        .when(detail_year.is_not_null())
        .then(pl.lit("detail"))
        .when(date_year.is_not_null())
        .then(pl.lit("date"))
        .otherwise(pl.lit(None, dtype=pl.Utf8))
    )
    return year, source


def outcome_records(data: AssessmentData, settings: Settings) -> pl.DataFrame:
    """The outcome records with canonical `outcome`, `outcome_zh`, `valence`, and the inferred
    `assessment_year` with its `year_source` ('record' | 'detail' | 'date')."""
    o = data.outcomes
    year, source = assessment_year(settings)
    valence = {k: v for k, (_, _, v) in OUTCOME_KINDS.items()}
    return o.with_columns(
        _canonical_codes(o).alias("outcome"),
        pl.coalesce(pl.col("outcome_raw"), pl.col("outcome")).alias("outcome_raw"),
        pl.col("amount").cast(pl.Float64),
        year.alias("assessment_year"),
        source.alias("year_source"),
    ).with_columns(
        _zh_of("outcome").alias("outcome_zh"),
        pl.col("outcome").replace_strict(valence, default=0, return_dtype=pl.Int8).alias("valence"),
    )


def unknown_outcomes(data: AssessmentData) -> pl.DataFrame:
    """Outcome names not in the canonical set (stored as 'other'): outcome_raw, records. Report these."""
    o = data.outcomes
    return (
        o.with_columns(_canonical_codes(o).alias("_code"))
        .filter(pl.col("_code") == OTHER)
        .group_by(pl.coalesce("outcome_raw", "outcome").alias("outcome_raw"))
        .agg(records=pl.len().cast(pl.Int64))
        .sort(["records", "outcome_raw"], descending=[True, False])
    )


# --- linking ---------------------------------------------------------------------------------------


def quarter_counts(quarterly: pl.DataFrame) -> pl.DataFrame:
    """Per person and year: counts of each quarterly grade, records, mean score, and the attributes
    of the person's latest quarter that year."""
    counts = [(pl.col("grade") == g).sum().cast(pl.Int32).alias(c) for g, c in COUNT_COLUMNS.items()]
    attributes = [a for a in ATTRIBUTES if a in quarterly.columns]
    # Only the keys, grade and score are sorted; the attributes of each person-year's latest row are then
    # gathered by row number (sorting every string column of millions of rows was this step's memory peak).
    keyed = quarterly.lazy().select("person_id", "year", "quarter", "grade", "score").with_row_index("_row")
    per_year = (
        keyed.filter(pl.col("year").is_not_null())
        .sort("person_id", "year", "quarter", nulls_last=True)
        .group_by("person_id", "year", maintain_order=True)
        .agg(
            *counts,
            pl.len().cast(pl.Int32).alias("n_records"),
            pl.col("score").mean().alias("mean_score"),
            pl.col("_row").last(),
        )
        .collect()
    )
    latest = quarterly.select(attributes)[per_year["_row"]].get_columns() if attributes else []
    return per_year.drop("_row").hstack(latest)


def pattern_expr() -> pl.Expr:
    """Grade pattern label from the count columns (see the module docstring's table)."""
    graded = pl.col("n_good") + pl.col("n_fairly_good")
    share = pl.col("n_good") / graded
    return (
        pl.when((pl.col("n_average") + pl.col("n_poor")) > 0)
        .then(pl.lit(PATTERN_NEGATIVE))
        .when(graded < 4)
        .then(pl.lit(PATTERN_INCOMPLETE))
        .when(share >= 1.0)
        .then(pl.lit("4×好"))
        .when(share >= 0.75)
        .then(pl.lit("3×好+1×较好"))
        .when(share >= 0.5)
        .then(pl.lit("2×好+2×较好"))
        .otherwise(pl.lit("≤1×好"))
    )


def gate_expr(settings: Settings) -> pl.Expr:
    """True when the year's quarterly record meets the gate for annual 优秀 (settings.gate)."""
    ok = pl.col("n_good") >= settings.gate.min_good
    if settings.gate.no_average_or_below:
        ok = ok & ((pl.col("n_average") + pl.col("n_poor")) == 0)
    return ok


# The linked table's columns, in order.
LINKED_COLUMNS: tuple[str, ...] = (
    "person_id", "year", *ATTRIBUTES, *COUNT_COLUMNS.values(), "n_records", "mean_score", "pattern", "gate_met",
    "annual_grade", "annual_import_id", "annual_source_row", "outcomes", "outcomes_zh", "n_outcomes",
    *(has_column(k) for k in ALL_KINDS), "rewarded", "negative", "bonus",
)  # fmt: skip


def _annual_by_year(annual: pl.DataFrame) -> pl.DataFrame:
    attrs = [pl.col(a).first().alias(f"_a_{a}") for a in ATTRIBUTES if a in annual.columns]
    return (
        annual.filter(pl.col("year").is_not_null())
        .group_by("person_id", "year", maintain_order=True)
        .agg(
            pl.col("annual_grade").first(),
            pl.col("import_id").first().alias("annual_import_id"),
            pl.col("source_row").first().alias("annual_source_row"),
            *attrs,
        )
    )


def _outcomes_by_year(records: pl.LazyFrame) -> pl.LazyFrame:
    flags = [(pl.col("outcome") == k).any().alias(has_column(k)) for k in ALL_KINDS]
    return (
        records.filter(pl.col("assessment_year").is_not_null())
        .rename({"assessment_year": "_year"})
        .group_by("person_id", "_year", maintain_order=True)
        .agg(
            pl.col("outcome").unique(maintain_order=True).alias("outcomes"),
            pl.len().cast(pl.Int32).alias("n_outcomes"),
            pl.col("amount").filter(pl.col("outcome") == "bonus").sum().alias("bonus"),
            (pl.col("outcome") == "bonus").any().alias("_has_bonus"),
            *flags,
            pl.col("name").first().alias("_o_name"),
            pl.col("unit").first().alias("_o_unit"),
        )
        .rename({"_year": "year"})
        .with_columns(pl.col("year").cast(pl.Int32))
    )


def link(data: AssessmentData, settings: Settings, columns: Sequence[str] | None = None) -> pl.DataFrame:
    """One row per person and assessment year: attributes, quarterly counts (n_good, n_fairly_good,
    n_average, n_poor, n_ungraded, n_records), pattern, gate_met, annual_grade, outcomes (list of codes),
    outcomes_zh, has_<kind> flags, rewarded, negative, bonus (yuan, null when none).

    `columns` keeps only those (person_id, year and unit always): at province scale a caller that reads a few
    columns should not hold every attribute of every person-year three times over while they are joined."""
    wanted = LINKED_COLUMNS if columns is None else ("person_id", "year", "unit", *columns)
    attributes = [a for a in ATTRIBUTES if a in wanted]
    quarter_keys = ("person_id", "year", "quarter", "grade", "score")
    q = quarter_counts(data.quarterly.select(*quarter_keys, *(a for a in attributes if a in data.quarterly.columns)))
    q = q.with_columns(pl.col("year").cast(pl.Int32))
    annual_keys = ("person_id", "year", "annual_grade", "import_id", "source_row")
    a = _annual_by_year(data.annual.select(*annual_keys, *(c for c in attributes if c in data.annual.columns)))
    a = a.with_columns(pl.col("year").cast(pl.Int32))
    # Lazy from here: the optimiser drops what `wanted` does not need (the outcome lists, unread attributes).
    o = _outcomes_by_year(outcome_records(data, settings).lazy())
    q, a = q.lazy(), a.lazy()
    keys = pl.concat([f.select("person_id", "year") for f in (q, a, o)]).unique()
    on = ["person_id", "year"]
    linked = keys.join(q, on=on, how="left").join(a, on=on, how="left").join(o, on=on, how="left")
    present = linked.collect_schema().names()
    attrs = []
    for col in attributes:
        sources = [c for c in (col, f"_a_{col}", f"_o_{col}") if c in present]
        attrs.append(pl.coalesce(sources).cast(pl.Utf8).alias(col) if sources else pl.lit(None, pl.Utf8).alias(col))
    counts = [pl.col(c).fill_null(0) for c in (*COUNT_COLUMNS.values(), "n_records", "n_outcomes")]
    has = [pl.col(has_column(k)).fill_null(False) for k in ALL_KINDS]
    linked = linked.with_columns(*attrs, *counts, *has, pl.col("outcomes").fill_null(pl.lit([], pl.List(pl.Utf8))))
    zh_names = pl.col("outcomes").list.eval(
        pl.element().replace_strict({k: kind_zh(k) for k in ALL_KINDS}, default=OTHER_ZH, return_dtype=pl.Utf8)
    )
    linked = linked.with_columns(
        pattern_expr().alias("pattern"),
        gate_expr(settings).alias("gate_met"),
        zh_names.list.join("、").alias("outcomes_zh"),
        pl.any_horizontal([pl.col(has_column(k)) for k in REWARD_KINDS]).alias("rewarded"),
        pl.any_horizontal([pl.col(has_column(k)) for k in NEGATIVE_KINDS]).alias("negative"),
        pl.when(pl.col("_has_bonus").fill_null(False)).then(pl.col("bonus")).alias("bonus"),
    )
    ordered = [c for c in LINKED_COLUMNS if c in wanted]
    return linked.select(ordered).sort("unit", "person_id", "year", nulls_last=True).collect()


def _of_year(linked: pl.DataFrame, year: int | None) -> pl.DataFrame:
    return linked if year is None else linked.filter(pl.col("year") == year)


# --- summaries -------------------------------------------------------------------------------------


def main_outcome() -> pl.Expr:
    """The one outcome shown per person-year in the Sankey (OUTCOME_PRIORITY), as its Chinese name."""
    expr = pl.lit(NO_OUTCOME_ZH)
    for code in reversed(OUTCOME_PRIORITY):  # reversed so that the first in the priority list wins
        expr = pl.when(pl.col(has_column(code))).then(pl.lit(kind_zh(code))).otherwise(expr)
    return expr


def flow(data: AssessmentData, settings: Settings, year: int | None = None) -> pl.DataFrame:
    """Sankey links: quarterly pattern -> annual grade -> main outcome, counted in person-years.

    Columns: source, target, value, source_stage, target_stage (stage: pattern | annual | outcome).
    Each person-year flows once; its outcome is the first of OUTCOME_PRIORITY it had (or 无结果运用).
    """
    linked = _of_year(link(data, settings), year).with_columns(
        pl.col("annual_grade").fill_null(NO_ANNUAL_ZH).alias("_annual"), main_outcome().alias("_outcome")
    )
    first = (
        linked.group_by(source="pattern", target="_annual")
        .agg(value=pl.len())
        .with_columns(source_stage=pl.lit("pattern"), target_stage=pl.lit("annual"))
    )
    second = (
        linked.group_by(source="_annual", target="_outcome")
        .agg(value=pl.len())
        .with_columns(source_stage=pl.lit("annual"), target_stage=pl.lit("outcome"))
    )
    out = pl.concat([first, second]).with_columns(pl.col("value").cast(pl.Int64))
    return out.sort(["source_stage", "value", "source", "target"], descending=[True, True, False, False])


def _kinds_present(linked: pl.DataFrame) -> list[str]:
    if linked.height == 0:
        return []
    present = linked.select(pl.col(has_column(k)).any() for k in ALL_KINDS).row(0)
    return [k for k, p in zip(ALL_KINDS, present, strict=True) if p]


def _rates(linked: pl.DataFrame, group: str) -> pl.DataFrame:
    """Per group and outcome kind present: people, count (people with the outcome), rate."""
    kinds = _kinds_present(linked)
    schema = {group: pl.Utf8, "people": pl.Int64, "outcome": pl.Utf8, "outcome_zh": pl.Utf8,
              "count": pl.Int64, "rate": pl.Float64}  # fmt: skip
    if not kinds:
        return pl.DataFrame(schema=schema)
    long = linked.select(pl.col(group).cast(pl.Utf8), *(pl.col(has_column(k)).alias(k) for k in kinds)).unpivot(
        index=group, variable_name="outcome", value_name="has"
    )
    out = long.group_by(group, "outcome").agg(people=pl.len(), count=pl.col("has").sum())
    return out.with_columns(
        _zh_of("outcome").alias("outcome_zh"), (pl.col("count") / pl.col("people")).alias("rate")
    ).select([pl.col(c).cast(t) for c, t in schema.items()])


def rates_by_pattern(data: AssessmentData, settings: Settings, year: int | None = None) -> pl.DataFrame:
    """Outcome rates by grade pattern: pattern, people, outcome, outcome_zh, count, rate (person-years)."""
    out = _rates(_of_year(link(data, settings), year), "pattern")
    order = {p: i for i, p in enumerate(PATTERNS)}
    kind_order = {k: i for i, k in enumerate(ALL_KINDS)}
    return out.sort(
        pl.col("pattern").replace_strict(order, default=len(order), return_dtype=pl.Int32),
        pl.col("outcome").replace_strict(kind_order, default=len(kind_order), return_dtype=pl.Int32),
    )


def rates_by(data: AssessmentData, settings: Settings, by: str = "lane", year: int | None = None) -> pl.DataFrame:
    """Outcome rates by lane or unit: <by>, people, outcome, outcome_zh, count, rate (person-years)."""
    if by not in ("lane", "unit"):
        raise ValueError(f"by must be 'lane' or 'unit', not {by!r}")
    return _rates(_of_year(link(data, settings), year), by).sort(by, "outcome")


def time_to_outcome(data: AssessmentData, settings: Settings) -> pl.DataFrame:
    """Days from the end of the assessment year (31 Dec) to the outcome date, by kind:
    outcome, outcome_zh, records, median_days, p25_days, p75_days."""
    records = outcome_records(data, settings).filter(
        pl.col("date").is_not_null() & pl.col("assessment_year").is_not_null()
    )
    year_end = pl.date(pl.col("assessment_year"), 12, 31)
    days = (pl.col("date").cast(pl.Date) - year_end).dt.total_days()
    return (
        records.with_columns(days.alias("days"))
        .group_by("outcome", "outcome_zh")
        .agg(
            records=pl.len().cast(pl.Int64),
            median_days=pl.col("days").median(),
            p25_days=pl.col("days").quantile(0.25, interpolation="linear"),
            p75_days=pl.col("days").quantile(0.75, interpolation="linear"),
        )
        .sort("records", "outcome", descending=[True, False])
    )
