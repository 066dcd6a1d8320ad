"""What the app shows for one queue: the person x quarter grid, the count histogram against H0, the tests."""

from __future__ import annotations

import math

import numpy as np
import polars as pl

from analytics.dataset import AssessmentData
from analytics.settings import Settings
from analytics.vocab import GOOD, GRADED


def _cells(data: AssessmentData, unit: str, section: str | None) -> pl.DataFrame:
    q = data.quarterly.filter(pl.col("unit") == unit)
    if section is not None:
        q = q.filter(pl.col("section") == section)
    return (
        q.filter(pl.col("person_id").is_not_null() & pl.col("year").is_not_null() & pl.col("quarter").is_not_null())
        .select(
            "person_id",
            "name" if "name" in q.columns else pl.lit(None, dtype=pl.Utf8).alias("name"),
            (pl.col("year").cast(pl.Int64) * 4 + pl.col("quarter").cast(pl.Int64) - 1).alias("period"),
            "grade",
            pl.col("grade").is_in(GRADED).fill_null(False).alias("eligible"),
            (pl.col("grade") == GOOD).fill_null(False).alias("good"),
        )
        .unique(["person_id", "period"], keep="first", maintain_order=True)
    )


def _expected_histogram(cells: pl.DataFrame) -> np.ndarray:
    """Expected number of people with each count of 好 under H0: each C_i is a sum of independent
    Bernoulli(p_t) over the quarters person i was eligible (Poisson-binomial), computed exactly."""
    eligible = cells.filter(pl.col("eligible"))
    if eligible.height == 0:
        return np.zeros(1)
    p_t = eligible.group_by("period").agg(pl.col("good").mean().alias("p"))
    periods = p_t["period"].sort()
    people = eligible["person_id"].unique().sort()
    prob = np.zeros((len(people), len(periods)))
    coded = eligible.join(p_t, on="period").select(
        pl.col("person_id").replace_strict(people, pl.int_range(len(people), eager=True)).alias("i"),
        pl.col("period").replace_strict(periods, pl.int_range(len(periods), eager=True)).alias("t"),
        "p",
    )
    prob[coded["i"].to_numpy(), coded["t"].to_numpy()] = coded["p"].to_numpy()
    dist = np.zeros((len(people), len(periods) + 1))
    dist[:, 0] = 1.0
    for t in range(len(periods)):  # one convolution step per quarter, all people at once
        step = prob[:, t, None]
        dist = dist * (1 - step) + np.concatenate([np.zeros((len(people), 1)), dist[:, :-1]], axis=1) * step
    return dist.sum(axis=0)


def _label(col: str) -> pl.Expr:
    return pl.format("{}Q{}", pl.col(col) // 4, pl.col(col) % 4 + 1)


def evidence(
    data: AssessmentData, unit: str, section: str | None = None, settings: Settings | None = None, seed: int = 0
) -> dict:
    """What the app shows for one unit (or one of its sections).

    - grid: person x quarter, columns person_id, name, period ('2024Q1'), grade, eligible, good, order;
      people are ordered by the first quarter they got 好, so a queue shows as a staircase.
    - counts: count, observed (people with that many 好), expected under H0 (exact).
    - statistics: the whole-period 好 test of this unit or section (its q-value is within the unit's own tests);
      tests: every test of the unit's queues (rotation_table restricted to the unit).
    """
    from analytics.detectors.rotation import rotation_table

    settings = settings or Settings()
    cells = _cells(data, unit, section)
    first_good = cells.filter(pl.col("good")).group_by("person_id").agg(pl.col("period").min().alias("first_good"))
    order = (
        cells.group_by("person_id")
        .agg(pl.col("name").first())
        .join(first_good, on="person_id", how="left")
        .sort(["first_good", "name", "person_id"], nulls_last=True)
        .with_row_index("order")
        .select("person_id", pl.col("order").cast(pl.Int64))
    )
    grid = (
        cells.join(order, on="person_id")
        .sort(["order", "period"])
        .select("person_id", "name", _label("period").alias("period"), "grade", "eligible", "good", "order")
    )
    observed = cells.filter(pl.col("eligible")).group_by("person_id").agg(pl.col("good").sum().alias("count"))
    expected = _expected_histogram(cells)
    counts = (
        pl.DataFrame({"count": np.arange(len(expected), dtype=np.int64), "expected": expected})
        .join(
            observed.group_by("count").agg(pl.len().alias("observed")).cast({"count": pl.Int64}), on="count", how="left"
        )
        .with_columns(pl.col("observed").fill_null(0).cast(pl.Int64))
        .select("count", "observed", "expected")
        .sort("count")
    )
    tests = rotation_table(data, settings, seed, unit=unit)
    mine = tests.filter(
        (pl.col("section").is_null() if section is None else pl.col("section") == section)
        & (pl.col("variant") == "top")
        & (pl.col("window") == "all")
    )
    statistics = mine.row(0, named=True) if mine.height else {}
    statistics = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in statistics.items()}
    return {"grid": grid, "counts": counts, "statistics": statistics, "tests": tests}
