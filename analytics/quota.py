"""Quota checks (名额): the share of 好 per unit and quarter, and of annual 优秀 per unit and lane, against their caps.

Quarterly: quota = max(floor(good_cap x n), good_min_quota), n = people graded that quarter
(不确定等次 does not count). A unit is over when it gave more 好 than its quota.
Annual: share of 优秀 among people graded that year against excellent_cap, or excellent_cap_approved
for the units listed in settings.quota.approved_units; per unit and per lane (unit type).
Pure functions: frames in, frames out (DETECTORS.md L1 builds its tests on these counts).
"""

from __future__ import annotations

import polars as pl

from analytics.lanes import UNASSIGNED
from analytics.settings import Settings
from analytics.vocab import ANNUAL_GRADE_RANK, EXCELLENT, GOOD, GRADE_POINTS

_EPS = 1e-9  # 0.29 * 100 is 28.999999999999996 in floating point; the rule means 29


def _floor_share(cap: float | pl.Expr, n: pl.Expr) -> pl.Expr:
    return (cap * n + _EPS).floor().cast(pl.Int64)


def good_quota(n: pl.Expr, settings: Settings) -> pl.Expr:
    """The quarterly 好 quota for `n` graded people: max(floor(cap * n), minimum quota)."""
    q = settings.quota
    return pl.max_horizontal(_floor_share(q.good_cap, n), pl.lit(q.good_min_quota))


def _unit_lane() -> pl.Expr:
    return pl.col("unit_type").fill_null(UNASSIGNED).alias("lane")


def quarterly_quota(data, settings: Settings) -> pl.DataFrame:
    """Per unit and quarter: n graded, good, quota, share, over (good > quota), excess.

    Example: n = 5 and a 40% cap give a quota of 2; n = 2 gives floor(0.8) = 0, raised to the minimum 1.
    """
    q = settings.quota
    graded = data.quarterly.filter(pl.col("grade").is_in(list(GRADE_POINTS)))
    out = (
        graded.with_columns(_unit_lane())
        .group_by("unit", "year", "quarter")
        .agg(
            pl.col("lane").mode().sort().first(),
            pl.col("person_id").n_unique().cast(pl.Int64).alias("n"),
            pl.col("person_id").filter(pl.col("grade") == GOOD).n_unique().cast(pl.Int64).alias("good"),
        )
        .with_columns(good_quota(pl.col("n"), settings).alias("quota"))
    )
    return (
        out.with_columns(
            (pl.col("good") / pl.col("n")).alias("share"),
            (pl.col("good") > pl.col("quota")).alias("over"),
            (pl.col("good") - pl.col("quota")).clip(lower_bound=0).alias("excess"),
            pl.lit(q.good_cap).alias("cap"),
        )
        .select("unit", "lane", "year", "quarter", "n", "good", "quota", "share", "cap", "over", "excess")
        .sort("year", "quarter", "lane", "unit")
    )


def annual_quota(data, settings: Settings) -> pl.DataFrame:
    """Per unit and year, then per lane and year (`level` says which): n graded, excellent, cap, allowed, share, over."""
    q = settings.quota
    graded = data.annual.filter(pl.col("annual_grade").is_in(list(ANNUAL_GRADE_RANK))).with_columns(_unit_lane())
    counts = [
        pl.col("person_id").n_unique().cast(pl.Int64).alias("n"),
        pl.col("person_id").filter(pl.col("annual_grade") == EXCELLENT).n_unique().cast(pl.Int64).alias("excellent"),
    ]
    approved = pl.col("unit").is_in(list(q.approved_units))
    units = (
        graded.group_by("unit", "year")
        .agg(pl.col("lane").mode().sort().first(), *counts)
        .with_columns(
            pl.lit("unit").alias("level"),
            pl.when(approved).then(pl.lit(q.excellent_cap_approved)).otherwise(pl.lit(q.excellent_cap)).alias("cap"),
        )
    )
    lanes = (
        graded.group_by("lane", "year")
        .agg(*counts)
        .with_columns(
            pl.lit("lane").alias("level"),
            pl.lit(None, dtype=pl.Utf8).alias("unit"),
            pl.lit(q.excellent_cap).alias("cap"),
        )
    )
    columns = ["level", "lane", "unit", "year", "n", "excellent", "cap"]
    both = pl.concat([units.select(columns), lanes.select(columns)])
    return (
        both.with_columns(
            _floor_share(pl.col("cap"), pl.col("n")).alias("allowed"),
            (pl.col("excellent") / pl.col("n")).alias("share"),
        )
        .with_columns((pl.col("share") > pl.col("cap") + _EPS).alias("over"))
        .sort("year", "lane", pl.col("level") == "unit", "unit")
    )
