"""Unit against unit (单位对比): the units of one lane side by side on one measure, and the people behind a unit.

Measures per unit for a quarter: share of 好 against the unit's cap, the year's share of 优秀 against its
cap, mean score, open flags. Ranks and the lane mean are taken over every unit of the lane, and only then
narrowed to the units the viewer may see (analytics.rankings does the same for people): a head sees where
their unit stands among all, and the other units only as the count and the mean. Flags are known only for
the units the viewer may see, so the flags measure ranks among those.
"""

from __future__ import annotations

import polars as pl

from analytics.dataset import AssessmentData
from analytics.lanes import UNASSIGNED
from analytics.rankings import only_visible, rank_text
from analytics.settings import Settings
from analytics.unit_need import excellent_against_cap, good_share_cells

# measure -> ((Chinese, English) name, drawn as a share?)
MEASURES: dict[str, tuple[tuple[str, str], bool]] = {
    "good_share": (("“好”占比", "Share of 好"), True),
    "excellent_share": (("年度“优秀”占比", "Share of 优秀 (annual)"), True),
    "mean_score": (("平均得分", "Mean score"), False),
    "open_flags": (("待核查预警", "Open flags"), False),
}
CAPS = ("good_share", "excellent_share")  # measures with a cap per unit
COMPARE_COLUMNS = ("unit", "lane", "measure", "value", "cap", "rank", "units_in_lane", "lane_mean")


def unit_measures(
    data: AssessmentData, settings: Settings, year: int, quarter: int, visible: frozenset[str] | None = None
) -> pl.DataFrame:
    """Every measure but flags per unit, ranked within the unit's lane (unit type) over all units, then narrowed.

    Long form: unit, lane, measure, value, cap (share measures: the unit's own), rank (1 = highest; ties
    share), units_in_lane (units of the lane with a value), lane_mean (their mean). `data` must hold every
    unit (the whole lane); only the `visible` units' rows (None = all) come back.
    """
    good = good_share_cells(data, settings, year, quarter, last=1).select(
        "unit", "lane", good_share="share", good_share_cap="cap"
    )
    excellent = excellent_against_cap(data, settings, year).select(
        "unit", pl.col("lane").alias("annual_lane"), excellent_share="share", excellent_share_cap="cap"
    )
    rows = data.quarterly.filter((pl.col("year") == year) & (pl.col("quarter") == quarter))
    scores = (
        rows.filter(pl.col("score").is_not_null() & pl.col("unit").is_not_null())
        .group_by(pl.col("unit").cast(pl.Utf8))
        .agg(mean_score=pl.col("score").cast(pl.Float64).mean())
    )
    wide = (
        good.join(excellent, on="unit", how="full", coalesce=True)
        .join(scores, on="unit", how="left")
        .with_columns(pl.coalesce("lane", "annual_lane", pl.lit(UNASSIGNED)).alias("lane"))
    )
    long = pl.concat(
        [
            wide.select(
                "unit",
                "lane",
                pl.lit(m).alias("measure"),
                pl.col(m).cast(pl.Float64).alias("value"),
                (pl.col(f"{m}_cap") if m in CAPS else pl.lit(None)).cast(pl.Float64).alias("cap"),
            )
            for m in MEASURES
            if m != "open_flags"
        ]
    )
    return only_visible(_ranked(long), visible).sort("measure", "lane", "unit")


def _ranked(long: pl.DataFrame) -> pl.DataFrame:
    group = ["measure", "lane"]
    return long.with_columns(
        pl.col("value").rank("min", descending=True).over(group).cast(pl.Int64).alias("rank"),
        pl.col("value").is_not_null().sum().over(group).cast(pl.Int64).alias("units_in_lane"),
        pl.col("value").mean().over(group).alias("lane_mean"),
    ).select(COMPARE_COLUMNS)


def lanes_of(measures: pl.DataFrame) -> list[str]:
    return measures["lane"].drop_nulls().unique().sort().to_list()


def compare(measures: pl.DataFrame, measure: str, lane: str, open_flags: pl.DataFrame | None = None) -> pl.DataFrame:
    """The units of `lane` on `measure` (from unit_measures), highest first, units without a value last.

    open_flags (unit, open_flags: analytics.unit_need.open_flags_by_unit) feeds the flags measure: flags are
    known only for the units the viewer may see, so that measure ranks among those (0 for a unit without any).
    """
    if measure not in MEASURES:
        raise ValueError(f"unknown measure {measure!r}; known: {sorted(MEASURES)}")
    part = measures.filter(pl.col("lane") == lane)
    if measure == "open_flags":
        counts = (
            open_flags if open_flags is not None else pl.DataFrame(schema={"unit": pl.Utf8, "open_flags": pl.Int64})
        )
        units = part.select("unit", "lane").unique()
        flagged = units.join(counts, on="unit", how="left").select(
            "unit",
            "lane",
            pl.lit(measure).alias("measure"),
            pl.col("open_flags").fill_null(0).cast(pl.Float64).alias("value"),
            pl.lit(None, dtype=pl.Float64).alias("cap"),
        )
        part = _ranked(flagged)
    else:
        part = part.filter(pl.col("measure") == measure)
    return part.sort(["value", "unit"], descending=[True, False], nulls_last=True).select(COMPARE_COLUMNS)


def top_and_marked(compared: pl.DataFrame, top: int, marked: frozenset[str], everything: bool = False) -> pl.DataFrame:
    """The first `top` units of `compared` and every `marked` one (the viewer's own), in compared's order."""
    if everything:
        return compared
    keep = (pl.int_range(pl.len()) < top) | pl.col("unit").is_in(sorted(marked))
    return compared.filter(keep)


PEOPLE_COLUMNS = ("person_id", "name", "place", "percentile", "lane", "section", "value", "goods")


def unit_people(ranked: pl.DataFrame, unit: str, lang: str = "zh") -> pl.DataFrame:
    """A unit's people with their place in their whole lane (ranked from analytics.rankings.rank_people), best first."""
    mine = ranked.filter(pl.col("unit") == unit)
    return (
        mine.sort(["lane", "rank", "name"], nulls_last=True).with_columns(rank_text(lang=lang)).select(PEOPLE_COLUMNS)
    )
