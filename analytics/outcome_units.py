"""Each unit's use of assessment results (结果运用) with its rule breaks.

Apart from analytics.outcomes because it joins the outcome_rule detector's flags, and that detector is
built on analytics.outcomes: outcomes -> outcome_rules -> outcome_units, no import circle.
"""

from __future__ import annotations

import polars as pl

from analytics.dataset import AssessmentData
from analytics.detectors.outcome_rules import DETECTOR
from analytics.outcomes import _of_year, link
from analytics.settings import Settings


def unit_use(data: AssessmentData, settings: Settings, year: int | None = None) -> pl.DataFrame:
    """Per unit and year: people, share rewarded (提拔/职级晋升/评先评优/嘉奖/记功; the routine bonus apart),
    share with a negative consequence, bonus share, min, max and spread (max - min), and rule breaks
    (outcome_rule flags naming the unit that year)."""
    linked = _of_year(link(data, settings), year)
    use = (
        linked.group_by("unit", "year")
        .agg(
            people=pl.len(),
            rewarded_share=pl.col("rewarded").mean(),
            negative_share=pl.col("negative").mean(),
            bonus_share=pl.col("has_bonus").mean(),
            bonus_min=pl.col("bonus").min(),
            bonus_max=pl.col("bonus").max(),
        )
        .with_columns((pl.col("bonus_max") - pl.col("bonus_min")).alias("bonus_spread"))
    )
    flags = DETECTOR.detect(data, settings)
    breaks = (
        flags.with_columns(pl.col("period_from").str.slice(0, 4).cast(pl.Int32).alias("year"))
        .group_by("unit", "year")
        .agg(rule_breaks=pl.len())
    )
    return (
        use.join(breaks, on=["unit", "year"], how="left")
        .with_columns(pl.col("rule_breaks").fill_null(0).cast(pl.Int64))
        .sort("year", "unit", nulls_last=True)
    )
