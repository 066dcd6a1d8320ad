"""The evidence views of the leniency and quota flags: the funnel plot and a reviewer's grade mix beside its lane."""

from __future__ import annotations

import polars as pl
from scipy.stats import norm

from analytics.dataset import AssessmentData
from analytics.detectors._unit_stats import graded_rows, unit_main_lane
from analytics.settings import Settings
from analytics.vocab import GRADED, QUARTERLY_GRADE_EN

Z95, Z998 = norm.ppf(0.975), norm.ppf(0.999)


def funnel_data(
    data: AssessmentData,
    settings: Settings,
    lane: str | None = None,
    year: int | None = None,
    quarter: int | None = None,
) -> pl.DataFrame:
    """Per unit: share of 好 against number graded, with 95% and 99.8% binomial limits around its lane's mean.

    Units are placed in their main lane; `year`/`quarter` select periods (all when None). Limits use the normal
    approximation p0 ± z sqrt(p0 (1 - p0) / n), clipped to [0, 1].
    """
    graded = graded_rows(data.quarterly)
    if year is not None:
        graded = graded.filter(pl.col("year") == year)
    if quarter is not None:
        graded = graded.filter(pl.col("quarter") == quarter)
    units = (
        graded.group_by("unit")
        .agg(n=pl.len(), good=pl.col("is_good").sum())
        .join(unit_main_lane(graded), on="unit", how="left")
    )
    if lane is not None:
        units = units.filter(pl.col("lane") == lane)
    p0 = pl.col("good").sum().over("lane") / pl.col("n").sum().over("lane")
    se = (pl.col("lane_mean") * (1 - pl.col("lane_mean")) / pl.col("n")).sqrt()
    return (
        units.with_columns(share=pl.col("good") / pl.col("n"), lane_mean=p0)
        .with_columns(
            lo95=(pl.col("lane_mean") - Z95 * se).clip(0.0, 1.0),
            hi95=(pl.col("lane_mean") + Z95 * se).clip(0.0, 1.0),
            lo998=(pl.col("lane_mean") - Z998 * se).clip(0.0, 1.0),
            hi998=(pl.col("lane_mean") + Z998 * se).clip(0.0, 1.0),
            cap=pl.lit(settings.quota.good_cap),
        )
        .select(
            "unit",
            "lane",
            pl.col("n").cast(pl.Int64),
            pl.col("good").cast(pl.Int64),
            "share",
            "lane_mean",
            "lo95",
            "hi95",
            "lo998",
            "hi998",
            "cap",
        )
        .sort("lane", "n", "unit", nulls_last=True)
    )


def reviewer_mix(data: AssessmentData, reviewer: str | None = None, unit: str | None = None) -> pl.DataFrame:
    """Grade mix of a reviewer (or a unit) beside its lane(s): long frame group, name, grade, grade_en, n, share.

    `group` is 'subject' for the reviewer/unit and 'lane' for all graded rows of the lanes it grades in.
    """
    graded = graded_rows(data.quarterly)
    if reviewer is not None:
        mine = pl.col("reviewer") == reviewer
        name = reviewer
    elif unit is not None:
        mine = pl.col("unit") == unit
        name = unit
    else:
        raise ValueError("reviewer_mix needs a reviewer or a unit")
    subject = graded.filter(mine)
    lanes = subject["lane"].unique().to_list()
    lane_rows = graded.filter(pl.col("lane").is_in(lanes))
    lane_name = " / ".join(sorted(str(x) for x in lanes))
    grid = pl.DataFrame(
        {"grade": list(GRADED), "grade_en": [QUARTERLY_GRADE_EN[g] for g in GRADED], "order": list(range(len(GRADED)))}
    )

    def mix(rows: pl.DataFrame, group: str, label: str) -> pl.DataFrame:
        counts = rows.group_by("grade").agg(n=pl.len())
        return (
            grid.join(counts, on="grade", how="left")
            .with_columns(pl.col("n").fill_null(0).cast(pl.Int64))
            .with_columns(
                share=pl.when(pl.col("n").sum() > 0).then(pl.col("n") / pl.col("n").sum()).otherwise(0.0),
                group=pl.lit(group),
                name=pl.lit(label),
            )
        )

    return (
        pl.concat([mix(subject, "subject", name), mix(lane_rows, "lane", lane_name)])
        .sort("group", "order", descending=[True, False])
        .select("group", "name", "grade", "grade_en", "n", "share")
    )
