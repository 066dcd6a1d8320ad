"""Annual grades (年度考核) from the quarterly record, and the planted outcome-rule breaks.

Per person and complete year: 不确定等次 when fewer than two quarters were graded; 不称职 with two
较差; 基本称职 with a 较差 or three 一般; otherwise 优秀 for the best of those who pass the gate
(at least two 好, no 一般 or below), up to floor(20%) of the unit's graded people, ranked by the
number of 好 and then the mean score; everyone else 称职.

In the outcome-rule units, a few people break the rules on purpose (each recorded in demo_truth):
优秀 without two 好 (gate), 优秀 with an 一般 in the year, or a promotion/award in a year with 一般.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from analytics.demo.city import City
from analytics.demo.grades import AVERAGE, FAIRLY_GOOD, GOOD, POOR, UNGRADED, QuarterGrid, top_k_in_groups
from analytics.demo.truth import Plan

EXCELLENT, COMPETENT, BASIC, INCOMPETENT, ANNUAL_UNGRADED = range(5)  # vocab.ANNUAL_GRADES order
EXCELLENT_CAP = 0.20
BREAK_KINDS = ("excellent_min_good", "excellent_with_average", "reward_after_average")


def complete_years(quarters: int) -> int:
    return quarters // 4


def annual_record(
    grid: QuarterGrid, n_people: int, n_units: int, quarters: int, unit_of_person: np.ndarray, rng: np.random.Generator
) -> pl.DataFrame:
    """One row per person and complete year present: counts of each grade, mean score, annual grade code."""
    years = complete_years(quarters)
    if years == 0:
        return pl.DataFrame(schema={"person_idx": pl.Int64, "y": pl.Int32})
    in_year = grid.t < years * 4
    y = (grid.t[in_year] // 4).astype(np.int64)
    key = grid.person[in_year].astype(np.int64) * years + y
    size = n_people * years
    grade = grid.grade[in_year]
    counts = {
        name: np.bincount(key[grade == code], minlength=size)
        for name, code in (
            ("n_good", GOOD),
            ("n_fairly_good", FAIRLY_GOOD),
            ("n_average", AVERAGE),
            ("n_poor", POOR),
            ("n_ungraded", UNGRADED),
        )
    }
    score = grid.score[in_year]
    has = ~np.isnan(score)
    total = np.bincount(key[has], weights=score[has], minlength=size)
    n_scored = np.bincount(key[has], minlength=size)
    present = np.bincount(key, minlength=size) > 0
    del key, grade, score
    rows = np.flatnonzero(present)
    frame = pl.DataFrame(
        {
            "person_idx": (rows // years).astype(np.int64),
            "y": (rows % years).astype(np.int32),
            **{name: c[rows].astype(np.int32) for name, c in counts.items()},
            "mean_score": np.where(
                n_scored[rows] > 0, np.round(total[rows] / np.maximum(n_scored[rows], 1), 2), np.nan
            ),
        }
    ).with_columns(pl.col("mean_score").fill_nan(None))
    frame = frame.with_columns(unit_idx=pl.Series(unit_of_person[frame["person_idx"].to_numpy()]))
    return frame.with_columns(code=pl.Series(_annual_codes(frame, n_units, years, rng)))


def _annual_codes(frame: pl.DataFrame, n_units: int, years: int, rng) -> np.ndarray:
    good, avg, poor = (frame[c].to_numpy() for c in ("n_good", "n_average", "n_poor"))
    graded = good + frame["n_fairly_good"].to_numpy() + avg + poor
    code = np.full(frame.height, COMPETENT, dtype=np.int8)
    code[(poor >= 1) | (avg >= 3)] = BASIC
    code[poor >= 2] = INCOMPETENT
    code[graded < 2] = ANNUAL_UNGRADED
    eligible = (code == COMPETENT) & (good >= 2) & (avg + poor == 0)
    group = frame["unit_idx"].to_numpy().astype(np.int64) * years + frame["y"].to_numpy()
    n_group = np.bincount(group[code != ANNUAL_UNGRADED], minlength=n_units * years)
    k = np.floor(EXCELLENT_CAP * n_group + 1e-9).astype(np.int64)
    mean = frame["mean_score"].fill_null(0).to_numpy()
    merit = good * 1000.0 + mean
    code[top_k_in_groups(group, merit, eligible, k, rng.random(frame.height))] = EXCELLENT
    return code


def plant_outcome_breaks(
    grid: QuarterGrid, record: pl.DataFrame, city: City, plan: Plan, rng: np.random.Generator
) -> tuple[QuarterGrid, pl.DataFrame, pl.DataFrame]:
    """Make a few people in the outcome-rule units break the rules; returns (grid, record, breaks).

    breaks: person_idx, y, kind, detail (one row per planted break; reward breaks get their outcome
    record in outcomes.py).
    """
    units = plan.units_with("outcome_rule")
    empty = pl.DataFrame(schema={"person_idx": pl.Int64, "y": pl.Int32, "kind": pl.Utf8})
    if len(units) == 0 or record.height == 0:
        return grid, record, empty
    candidates = record.filter(pl.col("unit_idx").is_in(units.tolist()) & (pl.col("code") != ANNUAL_UNGRADED))
    candidates = candidates.with_columns(r=pl.Series(rng.random(candidates.height)))
    chosen = []
    taken: set[int] = set()
    for kind in BREAK_KINDS:  # three kinds, each a vectorised pick (one person per break unit)
        if kind == "excellent_min_good":
            ok = (pl.col("n_good") <= 1) & (pl.col("n_average") + pl.col("n_poor") == 0) & (pl.col("code") == COMPETENT)
        elif kind == "excellent_with_average":
            ok = (pl.col("code") == EXCELLENT) & (pl.col("n_fairly_good") >= 1)
        else:
            ok = (pl.col("code") == COMPETENT) & (pl.col("n_fairly_good") >= 1) & (pl.col("n_average") == 0)
        pick = (
            candidates.filter(ok & ~pl.col("person_idx").is_in(list(taken)))
            .sort("r")
            .unique("person_idx", keep="first", maintain_order=True)
            .with_columns(i=pl.int_range(pl.len()).over("unit_idx"))
            .filter(pl.col("i") < 1)
            .select("person_idx", "y", "unit_idx", pl.lit(kind).alias("kind"))
        )
        taken |= set(pick["person_idx"].to_list())
        chosen.append(pick)
    breaks = pl.concat(chosen)
    grid = _average_quarter(grid, breaks.filter(pl.col("kind") != "excellent_min_good"), rng)
    record = _apply_breaks(record, breaks)
    return grid, record, breaks


def _average_quarter(grid: QuarterGrid, targets: pl.DataFrame, rng) -> QuarterGrid:
    """Turn one 较好 quarter of each target person-year into 一般 (score 8-14 points lower)."""
    if targets.height == 0:
        return grid
    mask = np.isin(grid.person, targets["person_idx"].to_numpy()) & (grid.grade == FAIRLY_GOOD)
    rows = np.flatnonzero(mask)
    cand = pl.DataFrame(
        {"row": rows, "person_idx": grid.person[rows].astype(np.int64), "y": (grid.t[rows] // 4).astype(np.int32)}
    )
    picked = (
        cand.join(targets.select("person_idx", "y"), on=["person_idx", "y"])
        .unique(["person_idx", "y"], keep="first", maintain_order=True)["row"]
        .to_numpy()
    )
    grade, score = grid.grade.copy(), grid.score.copy()
    achievement, conduct = grid.achievement.copy(), grid.conduct.copy()
    drop = np.round(rng.uniform(8, 14, len(picked)), 1)
    grade[picked] = AVERAGE
    score[picked] = np.round(score[picked] - drop, 2)
    achievement[picked] = np.round(achievement[picked] - drop, 1)
    conduct[picked] = np.round(conduct[picked] - drop, 1)
    return QuarterGrid(
        person=grid.person,
        t=grid.t,
        unit=grid.unit,
        section=grid.section,
        grade=grade,
        score=score,
        achievement=achievement,
        conduct=conduct,
    )


def _apply_breaks(record: pl.DataFrame, breaks: pl.DataFrame) -> pl.DataFrame:
    """Counts follow the edited quarters; 'excellent_min_good' people get 优秀 and the unit's weakest 优秀 steps down."""
    keyed = record.join(breaks.select("person_idx", "y", "kind"), on=["person_idx", "y"], how="left")
    edited = pl.col("kind").is_in(["excellent_with_average", "reward_after_average"])
    keyed = keyed.with_columns(
        n_fairly_good=pl.when(edited).then(pl.col("n_fairly_good") - 1).otherwise("n_fairly_good"),
        n_average=pl.when(edited).then(pl.col("n_average") + 1).otherwise("n_average"),
        code=pl.when(pl.col("kind") == "excellent_min_good").then(pl.lit(EXCELLENT, pl.Int8)).otherwise("code"),
    )
    # Keep the unit within its 优秀 share: the weakest honest 优秀 of that unit-year becomes 称职.
    promoted = keyed.filter(pl.col("kind") == "excellent_min_good").select("unit_idx", "y").unique()
    weakest = (
        keyed.join(promoted, on=["unit_idx", "y"])
        .filter((pl.col("code") == EXCELLENT) & pl.col("kind").is_null())
        .sort("n_good", "mean_score", nulls_last=False)
        .unique(["unit_idx", "y"], keep="first", maintain_order=True)
        .select("person_idx", "y", pl.lit(True).alias("_down"))
    )
    keyed = keyed.join(weakest, on=["person_idx", "y"], how="left").with_columns(
        code=pl.when(pl.col("_down")).then(pl.lit(COMPETENT, pl.Int8)).otherwise("code")
    )
    return keyed.drop("kind", "_down")
