"""One person's record (立体画像): who they are, their grades and scores over time, where they stand in
their lane each quarter, who reviewed them, their annual grades and what was done with the results.

Pure functions over AssessmentData; the Person page draws them and offers the registration form.
"""

from __future__ import annotations

import io

import polars as pl

from analytics.dataset import AssessmentData
from analytics.errors import UserError
from analytics.overview import period_expr
from analytics.settings import Settings
from analytics.vocab import GOOD, GRADE_POINTS

INFO_FIELDS = ("name", "unit", "unit_type", "section", "position_level", "rank", "staff_type", "lane")


def directory(data: AssessmentData, among: tuple[str, ...] | None = None) -> pl.DataFrame:
    """Everyone on record (or the people `among`: a page naming a few), once: person_id, name, unit (latest),
    sorted by unit then name."""
    quarterly, annual = data.quarterly, data.annual
    if among is not None:
        quarterly = quarterly.filter(pl.col("person_id").is_in(among))
        annual = annual.filter(pl.col("person_id").is_in(among))
    people = pl.concat(
        [
            quarterly.select(
                "person_id", "name", "unit", pl.col("year").cast(pl.Int64), pl.col("quarter").cast(pl.Int64)
            ),
            annual.select(
                "person_id", "name", "unit", pl.col("year").cast(pl.Int64), pl.lit(5, pl.Int64).alias("quarter")
            ),
        ]
    )
    latest = (
        people.sort("year", "quarter", nulls_last=False)
        .group_by("person_id")
        .agg(pl.col("name").drop_nulls().last(), pl.col("unit").drop_nulls().last())
    )
    return latest.sort("unit", "name", "person_id", nulls_last=True)


def info(data: AssessmentData, person_id: str) -> dict:
    """The person's latest attributes (name, unit, section, level, lane …); UserError when unknown."""
    rows = data.quarterly.filter(pl.col("person_id") == person_id).sort("year", "quarter")
    if rows.height == 0:
        rows = data.annual.filter(pl.col("person_id") == person_id).sort("year")
    if rows.height == 0:
        raise UserError(f"人员 {person_id} 不在数据中 / no person {person_id!r} on record")
    last = rows.row(rows.height - 1, named=True)
    return {"person_id": person_id, **{f: last.get(f) for f in INFO_FIELDS}}


def timeline(data: AssessmentData, person_id: str) -> pl.DataFrame:
    """Quarter by quarter: period, grade, points (好 4 … 较差 1), score, reviewer, unit, lane."""
    return (
        data.quarterly.filter(pl.col("person_id") == person_id)
        .sort("year", "quarter")
        .select(
            period_expr(),
            "grade",
            pl.col("grade").replace_strict(GRADE_POINTS, default=None, return_dtype=pl.Int64).alias("points"),
            "score",
            "reviewer",
            "unit",
            "lane",
        )
    )


def lane_percentiles(
    data: AssessmentData, settings: Settings, person_id: str, visible: frozenset[str] | None = None
) -> pl.DataFrame:
    """The person's rank and percentile in their lane each quarter (100 = best), as the lane ranking
    has them (analytics.rankings.rank_people over the whole lane in `data`): the same numbers whoever
    looks. `visible` is the viewer's units: someone outside them gets an empty table."""
    from analytics.rankings import rank_people

    columns = {"period": pl.Utf8, "lane": pl.Utf8, "rank": pl.UInt32, "tied": pl.UInt32, "percentile": pl.Float64,
               "n_in_lane": pl.UInt32, "n_ranked": pl.UInt32, "basis": pl.Utf8}  # fmt: skip
    mine = data.quarterly.filter(pl.col("person_id") == person_id)
    if visible is not None:
        mine = mine.filter(pl.col("unit").is_in(sorted(visible)))
    quarters = mine.select("year", "quarter").unique().sort("year", "quarter").rows()
    found = [
        rank_people(data, settings, period=f"{y}Q{q}", visible=visible).filter(pl.col("person_id") == person_id)
        for y, q in quarters
    ]
    if not found:
        return pl.DataFrame(schema=columns)
    return pl.concat(found).select(pl.col("period"), *[pl.col(c) for c in columns if c != "period"])


def reviewers(data: AssessmentData, person_id: str) -> pl.DataFrame:
    """Who reviewed the person: reviewer, quarters, first and last period, times 好 from them, share 好."""
    rows = data.quarterly.filter((pl.col("person_id") == person_id) & pl.col("reviewer").is_not_null())
    return (
        rows.with_columns(period_expr())
        .group_by("reviewer")
        .agg(
            pl.len().cast(pl.Int64).alias("quarters"),
            pl.col("period").min().alias("period_from"),
            pl.col("period").max().alias("period_to"),
            (pl.col("grade") == GOOD).sum().cast(pl.Int64).alias("good_count"),
        )
        .with_columns((pl.col("good_count") / pl.col("quarters")).alias("good_rate"))
        .sort("period_from", "reviewer")
    )


def annual(data: AssessmentData, person_id: str) -> pl.DataFrame:
    """Annual grades with the year's count of quarterly 好."""
    goods = (
        data.quarterly.filter(pl.col("person_id") == person_id)
        .group_by("year")
        .agg(
            (pl.col("grade") == GOOD).sum().cast(pl.Int64).alias("good_count"),
            pl.len().cast(pl.Int64).alias("quarters"),
        )
    )
    return (
        data.annual.filter(pl.col("person_id") == person_id)
        .select(pl.col("year").cast(pl.Int32), "annual_grade", "unit")
        .join(goods.with_columns(pl.col("year").cast(pl.Int32)), on="year", how="left")
        .sort("year")
    )


def outcomes(data: AssessmentData, person_id: str) -> pl.DataFrame:
    """The person's outcome records, newest first."""
    return (
        data.outcomes.filter(pl.col("person_id") == person_id)
        .sort("date", "year", descending=True, nulls_last=True)
        .select("date", "year", "outcome", "outcome_raw", "detail", "amount", "unit")
    )


def form_years(data: AssessmentData, person_id: str) -> list[int]:
    """Years with a quarterly or annual record, newest first (for the registration form)."""
    years = pl.concat(
        [
            f.filter(pl.col("person_id") == person_id).select(pl.col("year").cast(pl.Int64))
            for f in (data.quarterly, data.annual)
        ]
    )
    return sorted(years["year"].drop_nulls().unique().to_list(), reverse=True)


def registration_xlsx(data: AssessmentData, settings: Settings, person_id: str, year: int) -> bytes:
    """The 考核登记表 for one person and year as xlsx bytes (analytics.register)."""
    from analytics.register import registration_form, write_registration_xlsx

    buf = io.BytesIO()
    write_registration_xlsx(registration_form(data, person_id, year, settings), buf)
    return buf.getvalue()
