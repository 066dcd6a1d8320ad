"""The data behind the one-screen overview (一屏掌控) and the filters every page shares.

Pure functions over AssessmentData and flag frames: what the periods, lanes and units are,
narrowing data to the sidebar's choice, and the headline numbers, grade mix, 好-share
heatmap, lane extremes and strongest warnings a department head looks at first.
"""

from __future__ import annotations

import re

import polars as pl

from analytics.dataset import AssessmentData
from analytics.quota import quarterly_quota
from analytics.settings import Settings
from analytics.vocab import GOOD, GRADE_POINTS, QUARTERLY_GRADES, period_label

_PERIOD = re.compile(r"^(\d{4})Q([1-4])$")


def period_expr() -> pl.Expr:
    """'2024Q1' from the year and quarter columns."""
    return pl.concat_str([pl.col("year").cast(pl.Utf8), pl.lit("Q"), pl.col("quarter").cast(pl.Utf8)]).alias("period")


def parse_period(label: str) -> tuple[int, int]:
    """(year, quarter) from '2024Q1'.

    >>> parse_period("2024Q3")
    (2024, 3)
    """
    match = _PERIOD.match(label or "")
    if not match:
        raise ValueError(f"not a period label: {label!r} (expected like 2024Q1)")
    return int(match.group(1)), int(match.group(2))


def periods(data: AssessmentData) -> list[str]:
    """Quarter labels present in the quarterly data, oldest first."""
    q = data.quarterly.select("year", "quarter").drop_nulls().unique().sort("year", "quarter")
    return [period_label(y, k) for y, k in q.iter_rows()]


def years(data: AssessmentData) -> list[int]:
    """Years present anywhere (quarterly, annual, outcomes), oldest first."""
    found = pl.concat([f.select(pl.col("year").cast(pl.Int64)) for f in (data.quarterly, data.annual, data.outcomes)])
    return found.drop_nulls().unique().sort("year")["year"].to_list()


def lanes(data: AssessmentData) -> list[str]:
    return data.quarterly["lane"].drop_nulls().unique().sort().to_list()


def units(data: AssessmentData) -> list[str]:
    names = pl.concat([data.quarterly.select("unit"), data.annual.select("unit"), data.outcomes.select("unit")])
    return names["unit"].drop_nulls().unique().sort().to_list()


def restrict_frame(
    frame: pl.DataFrame, units: tuple[str, ...] | None = None, lanes: tuple[str, ...] | None = None
) -> pl.DataFrame:
    """Rows of the chosen units and lanes (None or empty = all); columns a frame lacks are not filtered on.

    A ranking's pooled rows match the lane they were pooled from too.
    """
    if units and "unit" in frame.columns:
        frame = frame.filter(pl.col("unit").is_in(list(units)))
    if lanes and "lane" in frame.columns:
        cond = pl.col("lane").is_in(list(lanes))
        if "lane_pooled_from" in frame.columns:
            cond = cond | pl.col("lane_pooled_from").is_in(list(lanes))
        frame = frame.filter(cond)
    return frame


def restrict(
    data: AssessmentData, units: tuple[str, ...] | None = None, lanes: tuple[str, ...] | None = None
) -> AssessmentData:
    """Data narrowed to the sidebar's units and lanes; outcomes follow the people kept."""
    if not units and not lanes:
        return data
    quarterly = restrict_frame(data.quarterly, units, lanes)
    annual = restrict_frame(data.annual, units, lanes)
    outcomes = restrict_frame(data.outcomes, units)
    if lanes:
        kept = pl.concat([quarterly.select("person_id"), annual.select("person_id")]).unique()
        outcomes = outcomes.join(kept, on="person_id", how="semi")
    return AssessmentData(quarterly=quarterly, annual=annual, outcomes=outcomes)


def _quarter(data: AssessmentData, year: int, quarter: int) -> pl.DataFrame:
    return data.quarterly.filter((pl.col("year") == year) & (pl.col("quarter") == quarter))


def _previous(year: int, quarter: int) -> tuple[int, int]:
    return (year, quarter - 1) if quarter > 1 else (year - 1, 4)


def good_share(frame: pl.DataFrame) -> float | None:
    """Share of 好 among the people graded (不确定等次 does not count, as in analytics.quota), None when nobody."""
    graded = frame.filter(pl.col("grade").is_in(list(GRADE_POINTS)))
    if graded.height == 0:
        return None
    return float((graded["grade"] == GOOD).sum()) / graded.height


def headline(data: AssessmentData, settings: Settings, year: int, quarter: int) -> dict:
    """The numbers across the top of the overview for one quarter.

    people/units present, share of 好 among the graded against the cap (and last quarter's share),
    and how many units gave more 好 than their quota (analytics.quota).
    """
    now = _quarter(data, year, quarter)
    before = _quarter(data, *_previous(year, quarter))
    quotas = quarterly_quota(AssessmentData(now, data.annual.head(0), data.outcomes.head(0)), settings)
    over = quotas.filter(pl.col("over")).height
    cap = settings.quota.good_cap
    return {
        "period": period_label(year, quarter),
        "people": now["person_id"].n_unique(),
        "units": now["unit"].n_unique(),
        "good_share": good_share(now),
        "previous_good_share": good_share(before),
        "cap": cap,
        "units_over_quota": over,
        "people_total": data.quarterly["person_id"].n_unique(),
    }


def grade_mix(data: AssessmentData, last: int | None = None) -> pl.DataFrame:
    """Count and share of each grade per quarter (every grade listed, zeros included), oldest first."""
    q = data.quarterly.filter(pl.col("year").is_not_null() & pl.col("quarter").is_not_null())
    if q.height == 0:
        return pl.DataFrame(schema={"period": pl.Utf8, "grade": pl.Utf8, "count": pl.Int64, "share": pl.Float64})
    counts = q.with_columns(period_expr()).group_by("period", "grade").agg(count=pl.len().cast(pl.Int64))
    all_periods = counts.select("period").unique()
    grid = all_periods.join(pl.DataFrame({"grade": list(QUARTERLY_GRADES)}), how="cross")
    out = (
        grid.join(counts, on=["period", "grade"], how="left")
        .with_columns(pl.col("count").fill_null(0))
        .with_columns(share=pl.col("count") / pl.col("count").sum().over("period"))
        .with_columns(order=pl.col("grade").replace_strict(list(QUARTERLY_GRADES), list(range(5)), default=9))
        .sort("period", "order")
        .drop("order")
    )
    if last:
        keep = sorted(out["period"].unique().to_list())[-last:]
        out = out.filter(pl.col("period").is_in(keep))
    return out


def good_share_by_unit(data: AssessmentData, last: int = 8, top: int | None = None) -> pl.DataFrame:
    """Unit x quarter share of 好 (the heatmap), last `last` quarters; units ordered by their latest share.

    `top` keeps the units with the highest latest share (for a compact screen).
    """
    q = data.quarterly.filter(pl.col("year").is_not_null() & pl.col("quarter").is_not_null())
    schema = {"unit": pl.Utf8, "period": pl.Utf8, "n": pl.Int64, "good": pl.Int64, "share": pl.Float64}
    if q.height == 0:
        return pl.DataFrame(schema=schema)
    q = q.with_columns(period_expr())
    keep = sorted(q["period"].unique().to_list())[-last:]
    cells = (
        q.filter(pl.col("period").is_in(keep))
        .group_by("unit", "period")
        .agg(n=pl.len().cast(pl.Int64), good=(pl.col("grade") == GOOD).sum().cast(pl.Int64))
        .with_columns(share=pl.col("good") / pl.col("n"))
    )
    latest = cells.sort("period").group_by("unit").agg(latest=pl.col("share").last(), mean=pl.col("share").mean())
    order = latest.sort(["latest", "mean", "unit"], descending=[True, True, False])
    if top:
        order = order.head(top)
    ranked = order.with_row_index("order").select("unit", "order")
    return cells.join(ranked, on="unit", how="inner").sort("order", "period").drop("order").select(list(schema))


def flags_by_kind(flags: pl.DataFrame) -> pl.DataFrame:
    """Open flags per kind with their strongest severity, most flags first."""
    if flags.height == 0:
        return pl.DataFrame(schema={"kind": pl.Utf8, "count": pl.Int64, "severity": pl.Float64})
    return (
        flags.group_by("kind")
        .agg(count=pl.len().cast(pl.Int64), severity=pl.col("severity").max())
        .sort(["count", "kind"], descending=[True, False])
    )


def strongest(flags: pl.DataFrame, k: int = 5) -> pl.DataFrame:
    """The k strongest flags: severity first, then the smallest q-value."""
    return flags.sort(["severity", "q_value"], descending=[True, False], nulls_last=True).head(k)


EXTREME_COLUMNS = ("lane", "position", "rank", "name", "unit", "value")


def lane_extremes(ranked: pl.DataFrame, k: int = 2, rank_col: str = "rank") -> pl.DataFrame:
    """Top k and bottom k of each lane from a ranking (analytics.rankings.rank_people).

    Columns lane, position ('▲' top, '▼' bottom), rank, name, unit, value; people without a rank are
    left out; lanes smaller than 2k show each person once.
    """
    wanted = [c for c in EXTREME_COLUMNS if c != "position"]
    if ranked.height == 0 or any(c not in ranked.columns for c in wanted):
        return pl.DataFrame(schema={c: pl.Utf8 for c in EXTREME_COLUMNS})
    ranked = ranked.filter(pl.col(rank_col).is_not_null())
    order = pl.struct(rank_col, "person_id" if "person_id" in ranked.columns else "name").rank("ordinal").over("lane")
    size = pl.len().over("lane")
    marked = ranked.with_columns(
        position=pl.when(order <= k).then(pl.lit("▲")).when(size - order < k).then(pl.lit("▼")).otherwise(None)
    )
    return marked.filter(pl.col("position").is_not_null()).sort("lane", rank_col).select(list(EXTREME_COLUMNS))


def change_arrows(frame: pl.DataFrame, column: str = "rank_change", out: str = "change") -> pl.DataFrame:
    """A text column showing a rank change as ▲3 (up), ▼2 (down), ＝ (same) or blank (new)."""
    if column not in frame.columns:
        return frame
    value = pl.col(column)
    text = (
        pl.when(value > 0)
        .then(pl.lit("▲") + value.cast(pl.Utf8))
        .when(value < 0)
        .then(pl.lit("▼") + (-value).cast(pl.Utf8))
        .when(value == 0)
        .then(pl.lit("＝"))
        .otherwise(pl.lit(""))
    )
    return frame.with_columns(text.alias(out))


def quota_use(data: AssessmentData, settings: Settings, year: int, quarter: int) -> pl.DataFrame:
    """Each unit's use of its 好 quota in one quarter, units over their quota first."""
    now = AssessmentData(_quarter(data, year, quarter), data.annual.head(0), data.outcomes.head(0))
    return quarterly_quota(now, settings).sort(["over", "share", "unit"], descending=[True, True, False])


def select_flags(
    flags: pl.DataFrame,
    kinds: tuple[str, ...] | None = None,
    min_severity: float = 0.0,
    order: str = "severity",
    year: int | None = None,
) -> pl.DataFrame:
    """Flags of the chosen kinds at or above a severity (and touching `year`), strongest first or smallest q first."""
    out = flags
    if year is not None:
        first = pl.col("period_from").str.slice(0, 4).cast(pl.Int32, strict=False)
        last = pl.coalesce(pl.col("period_to"), pl.col("period_from")).str.slice(0, 4).cast(pl.Int32, strict=False)
        out = out.filter((first <= year) & (last >= year))
    if kinds:
        out = out.filter(pl.col("kind").is_in(list(kinds)))
    if min_severity > 0:
        out = out.filter(pl.col("severity") >= min_severity)
    if order == "q_value":
        return out.sort(["q_value", "severity"], descending=[False, True], nulls_last=True)
    return out.sort(["severity", "q_value"], descending=[True, False], nulls_last=True)


def flag_list(flags: pl.DataFrame, lang: str) -> pl.DataFrame:
    """The columns an inspector scans, with the evidence sentence in the reader's language."""
    from analytics.i18n import kind_label

    text = "evidence_en" if lang == "en" else "evidence_zh"
    labels = {k: kind_label(k, lang) for k in flags["kind"].unique().to_list()}
    return flags.select(
        pl.col("kind").replace_strict(labels, default=pl.col("kind")).alias("kind_label"),
        "subject",
        "unit",
        "lane",
        "period_from",
        "period_to",
        "severity",
        "q_value",
        "n",
        pl.col(text).alias("evidence"),
        "flag_id",
    )
