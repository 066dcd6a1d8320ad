"""Which units need a look (需关注单位): 好 per unit and quarter against each unit's own cap, ordered by need.

The overview's heatmap answers one question: over the quota in the chosen quarter first, then the most open
flags, then the share of 好 furthest above the unit's cap (a share, not a count, so units of any size compare).
The quota arithmetic is analytics.quota's, so the heatmap, the headline count and `python -m analytics quota`
agree; each unit's cap is its own where [quota.unit_caps] sets one. The annual view does the same for 优秀.
Shares are per unit, so narrowing to the units a viewer may see changes no one's numbers.
"""

from __future__ import annotations

import polars as pl

from analytics import overview
from analytics.dataset import AssessmentData
from analytics.quota import annual_quota, quarterly_quota
from analytics.settings import Settings
from analytics.vocab import period_label

CELL_COLUMNS = ("unit", "lane", "period", "n", "good", "quota", "share", "cap", "cap_source", "over")


def good_share_cells(data: AssessmentData, settings: Settings, year: int, quarter: int, last: int = 8) -> pl.DataFrame:
    """Unit x quarter 好 against the unit's quota, for the `last` quarters up to and including year Q quarter.

    Columns: unit, lane (its unit type), period, n (graded), good, quota, share (good / n), cap (the unit's),
    cap_source, over.
    """
    until = period_label(year, quarter)
    shown = [p for p in overview.periods(data) if p <= until][-last:]
    if not shown:
        return pl.DataFrame(schema=dict.fromkeys(CELL_COLUMNS, pl.Utf8)).cast(
            {
                "n": pl.Int64,
                "good": pl.Int64,
                "quota": pl.Int64,
                "share": pl.Float64,
                "cap": pl.Float64,
                "over": pl.Boolean,
            }
        )
    rows = _rows_of(data, [overview.parse_period(p) for p in shown])
    quotas = quarterly_quota(AssessmentData(rows, data.annual.head(0), data.outcomes.head(0)), settings)
    return quotas.with_columns(pl.col("unit").cast(pl.Utf8), overview.period_expr()).select(CELL_COLUMNS)


def _rows_of(data: AssessmentData, quarters: list[tuple[int, int]]) -> pl.DataFrame:
    """The quarters' rows: from the overview's per-quarter slim copies where it keeps them (no full-frame scan)."""
    summary = overview._summary(data)
    if summary is not None:
        return pl.concat([summary.quarter(y, q) for y, q in quarters], how="vertical_relaxed")
    wanted = pl.DataFrame(quarters, schema={"year": pl.Int64, "quarter": pl.Int64}, orient="row")
    rows = data.quarterly.with_columns(pl.col("year").cast(pl.Int64), pl.col("quarter").cast(pl.Int64))
    return rows.join(wanted, on=["year", "quarter"], how="semi")


def open_flags_by_unit(flags: pl.DataFrame) -> pl.DataFrame:
    """unit, open_flags: flags still waiting for a look (待核查) per unit; flags without a unit are not counted."""
    waiting = flags.filter(pl.col("status") == "open") if "status" in flags.columns else flags
    return (
        waiting.filter(pl.col("unit").is_not_null())
        .group_by(pl.col("unit").cast(pl.Utf8))
        .agg(open_flags=pl.len().cast(pl.Int64))
    )


NEED_COLUMNS = ("need", "unit", "over_now", "open_flags", "share_now", "cap", "cap_source", "gap", "quarters_over")


def units_by_need(cells: pl.DataFrame, open_flags: pl.DataFrame, period: str) -> pl.DataFrame:
    """One row per unit, most in need first (need = 1): over the quota in `period`, then open flags, then share - cap.

    share_now / gap are for `period` (null when the unit had nobody graded then: it sorts after those that had);
    quarters_over counts the quarters over the quota among those shown, and breaks the remaining ties.
    """
    if cells.height == 0:
        schema = {c: pl.Utf8 for c in NEED_COLUMNS} | {"need": pl.UInt32, "open_flags": pl.Int64}
        return pl.DataFrame(schema=schema)
    now = pl.col("period") == period
    per_unit = cells.group_by("unit").agg(
        over_now=pl.col("over").filter(now).any(),
        share_now=pl.col("share").filter(now).first(),
        cap=pl.col("cap").sort_by("period").last(),
        cap_source=pl.col("cap_source").sort_by("period").last(),
        quarters_over=pl.col("over").sum().cast(pl.Int64),
    )
    return (
        per_unit.join(open_flags, on="unit", how="left")
        .with_columns(pl.col("open_flags").fill_null(0), gap=pl.col("share_now") - pl.col("cap"))
        .sort(
            ["over_now", "open_flags", "gap", "quarters_over", "unit"],
            descending=[True, True, True, True, False],
            nulls_last=True,
        )
        .with_row_index("need", offset=1)
        .select(NEED_COLUMNS)
    )


def hidden_note(need: pl.DataFrame, shown: int) -> dict:
    """What the units left out of a top-`shown` view hold: how many, how many over the quota or with open flags."""
    rest = need.slice(shown)
    return {
        "hidden": rest.height,
        "over": int(rest["over_now"].sum()) if rest.height else 0,
        "flagged": int((rest["open_flags"] > 0).sum()) if rest.height else 0,
    }


EXCELLENT_COLUMNS = ("unit", "lane", "year", "n", "excellent", "allowed", "share", "cap", "cap_source", "over")


def excellent_against_cap(data: AssessmentData, settings: Settings, year: int) -> pl.DataFrame:
    """Each unit's annual 优秀 share against its cap for the latest assessment year up to `year`, most in need first.

    Over the cap first, then the share furthest above its cap. Columns as analytics.quota.annual_quota's unit rows.
    """
    units = annual_quota(data, settings).filter(pl.col("level") == "unit")
    years = units.filter(pl.col("year") <= year)["year"]
    if years.len() == 0:
        return units.head(0).select(EXCELLENT_COLUMNS)
    return (
        units.filter(pl.col("year") == years.max())
        .with_columns(gap=pl.col("share") - pl.col("cap"))
        .sort(["over", "gap", "unit"], descending=[True, True, False])
        .select(EXCELLENT_COLUMNS)
    )
