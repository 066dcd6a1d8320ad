"""Quota checks (名额): the share of 好 per unit and quarter, and of annual 优秀 per unit and lane, against their caps.

Quarterly: quota = max(floor(good_cap x n), good_min_quota), n = people graded that quarter
(不确定等次 does not count). A unit is over when it gave more 好 than its quota.
Annual: share of 优秀 among people graded that year against excellent_cap, or excellent_cap_approved
for the units listed in settings.quota.approved_units; per unit and per lane (unit type).
A unit listed in [quota.unit_caps] has its own 好 and/or 优秀 cap, which wins over both; `cap_source`
says which cap applied (unit / approved / general). Every comparison with a cap takes it from
`good_cap_expr` / `excellent_cap_expr`, so the overview, the CLI and the checks agree.
Pure functions: frames in, frames out (DETECTORS.md L1 builds its tests on these counts).
"""

from __future__ import annotations

import polars as pl

from analytics.lanes import UNASSIGNED
from analytics.settings import Settings
from analytics.vocab import ANNUAL_GRADE_RANK, EXCELLENT, GOOD, GRADE_POINTS

_EPS = 1e-9  # 0.29 * 100 is 28.999999999999996 in floating point; the rule means 29


# Which cap a unit answers to (cap_source).
UNIT_CAP, APPROVED_CAP, GENERAL_CAP = "unit", "approved", "general"


def _floor_share(cap: float | pl.Expr, n: pl.Expr) -> pl.Expr:
    return (cap * n + _EPS).floor().cast(pl.Int64)


def _own(settings: Settings, kind: str) -> dict[str, float]:
    return {c.unit: getattr(c, kind) for c in settings.quota.unit_caps if getattr(c, kind) is not None}


def _per_unit(own: dict[str, float], otherwise: pl.Expr, unit: str) -> pl.Expr:
    if not own:
        return otherwise
    return pl.col(unit).cast(pl.Utf8).replace_strict(own, default=otherwise, return_dtype=pl.Float64)


def good_cap_expr(settings: Settings, unit: str = "unit") -> pl.Expr:
    """Each row's 好 cap: the unit's own ([quota.unit_caps]) or the general good_cap."""
    return _per_unit(_own(settings, "good_cap"), pl.lit(settings.quota.good_cap, dtype=pl.Float64), unit)


def excellent_cap_expr(settings: Settings, unit: str = "unit") -> pl.Expr:
    """Each row's 优秀 cap: the unit's own, else the approved cap for approved units, else excellent_cap."""
    q = settings.quota
    approved = pl.col(unit).cast(pl.Utf8).is_in(list(q.approved_units))
    general = pl.when(approved).then(pl.lit(q.excellent_cap_approved)).otherwise(pl.lit(q.excellent_cap))
    return _per_unit(_own(settings, "excellent_cap"), general.cast(pl.Float64), unit)


def cap_source_expr(settings: Settings, kind: str, unit: str = "unit") -> pl.Expr:
    """Which cap applies to each row's unit, for `kind` 'good_cap' or 'excellent_cap': unit / approved / general."""
    name = pl.col(unit).cast(pl.Utf8)
    source = pl.when(name.is_in(list(_own(settings, kind)))).then(pl.lit(UNIT_CAP))
    if kind == "excellent_cap":
        source = source.when(name.is_in(list(settings.quota.approved_units))).then(pl.lit(APPROVED_CAP))
    return source.otherwise(pl.lit(GENERAL_CAP))


def good_quota(n: pl.Expr, settings: Settings, cap: pl.Expr | float | None = None) -> pl.Expr:
    """The quarterly 好 quota for `n` graded people: max(floor(cap * n), minimum quota).

    The cap is the row's unit's (good_cap_expr) unless given.
    """
    cap = good_cap_expr(settings) if cap is None else cap
    return pl.max_horizontal(_floor_share(cap, n), pl.lit(settings.quota.good_min_quota))


def _unit_lane() -> pl.Expr:
    return pl.col("unit_type").fill_null(UNASSIGNED).alias("lane")


def quarterly_quota(data, settings: Settings) -> pl.DataFrame:
    """Per unit and quarter: n graded, good, quota, share, over (good > quota), excess.

    Example: n = 5 and a 40% cap give a quota of 2; n = 2 gives floor(0.8) = 0, raised to the minimum 1.
    """
    # Only the columns counted: a filter of the whole frame copied every column of every row (0.8 GB at 200k people).
    graded = (
        data.quarterly.lazy()
        .select("unit", "unit_type", "year", "quarter", "person_id", "grade")
        .filter(pl.col("grade").is_in(list(GRADE_POINTS)))
    )
    out = (
        graded.with_columns(_unit_lane())
        .group_by("unit", "year", "quarter")
        .agg(
            pl.col("lane").mode().sort().first(),
            pl.col("person_id").n_unique().cast(pl.Int64).alias("n"),
            pl.col("person_id").filter(pl.col("grade") == GOOD).n_unique().cast(pl.Int64).alias("good"),
        )
        .with_columns(good_cap_expr(settings).alias("cap"), cap_source_expr(settings, "good_cap").alias("cap_source"))
        .with_columns(good_quota(pl.col("n"), settings, pl.col("cap")).alias("quota"))
    )
    return (
        out.with_columns(
            (pl.col("good") / pl.col("n")).alias("share"),
            (pl.col("good") > pl.col("quota")).alias("over"),
            (pl.col("good") - pl.col("quota")).clip(lower_bound=0).alias("excess"),
        )
        .select("unit", "lane", "year", "quarter", "n", "good", "quota", "share", "cap", "cap_source", "over", "excess")
        .sort("year", "quarter", "lane", "unit")
        .collect()
    )


def annual_quota(data, settings: Settings) -> pl.DataFrame:
    """Per unit and year, then per lane and year (`level` says which): n graded, excellent, cap, allowed, share, over.

    A unit's cap is its own, the approved or the general one (`cap_source`); a lane's is the general one.
    """
    q = settings.quota
    graded = (
        data.annual.select("unit", "unit_type", "year", "person_id", "annual_grade")
        .filter(pl.col("annual_grade").is_in(list(ANNUAL_GRADE_RANK)))
        .with_columns(_unit_lane())
    )
    counts = [
        pl.col("person_id").n_unique().cast(pl.Int64).alias("n"),
        pl.col("person_id").filter(pl.col("annual_grade") == EXCELLENT).n_unique().cast(pl.Int64).alias("excellent"),
    ]
    units = (
        graded.group_by("unit", "year")
        .agg(pl.col("lane").mode().sort().first(), *counts)
        .with_columns(
            pl.lit("unit").alias("level"),
            excellent_cap_expr(settings).alias("cap"),
            cap_source_expr(settings, "excellent_cap").alias("cap_source"),
        )
    )
    lanes = (
        graded.group_by("lane", "year")
        .agg(*counts)
        .with_columns(
            pl.lit("lane").alias("level"),
            pl.lit(None, dtype=pl.Utf8).alias("unit"),
            pl.lit(q.excellent_cap, dtype=pl.Float64).alias("cap"),
            pl.lit(GENERAL_CAP).alias("cap_source"),
        )
    )
    columns = ["level", "lane", "unit", "year", "n", "excellent", "cap", "cap_source"]
    both = pl.concat([units.select(columns), lanes.select(columns)])
    return (
        both.with_columns(
            _floor_share(pl.col("cap"), pl.col("n")).alias("allowed"),
            (pl.col("excellent") / pl.col("n")).alias("share"),
        )
        .with_columns((pl.col("share") > pl.col("cap") + _EPS).alias("over"))
        .sort("year", "lane", pl.col("level") == "unit", "unit")
    )


def caps_table(data, settings: Settings) -> pl.DataFrame:
    """Which caps apply to each unit: unit, good_cap, good_cap_source, excellent_cap, excellent_cap_source, in_data.

    Units named in [quota.unit_caps] that the data do not hold are listed too (in_data false): a misspelt
    name there would otherwise leave its unit on the general cap without a word.
    """
    present = pl.concat([f.select(pl.col("unit").cast(pl.Utf8)) for f in (data.quarterly, data.annual)])
    present = present.drop_nulls().unique().with_columns(in_data=pl.lit(True))
    named = pl.DataFrame({"unit": [c.unit for c in settings.quota.unit_caps]}, schema={"unit": pl.Utf8})
    return (
        present.join(named, on="unit", how="full", coalesce=True)
        .with_columns(pl.col("in_data").fill_null(False))
        .with_columns(
            good_cap_expr(settings).alias("good_cap"),
            cap_source_expr(settings, "good_cap").alias("good_cap_source"),
            excellent_cap_expr(settings).alias("excellent_cap"),
            cap_source_expr(settings, "excellent_cap").alias("excellent_cap_source"),
        )
        .select("unit", "good_cap", "good_cap_source", "excellent_cap", "excellent_cap_source", "in_data")
        .sort(pl.col("good_cap_source") == GENERAL_CAP, pl.col("excellent_cap_source") == GENERAL_CAP, "unit")
    )
