"""Build the demo city into a store: people -> planted plan -> quarterly -> annual -> outcomes -> survey -> truth.

Each stage draws from its own random stream (spawned from the seed), so the city is the same for a
seed whatever later stages do, and the whole build is one transaction on a fresh file.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import polars as pl

from analytics import store
from analytics.demo.annual import annual_record, plant_outcome_breaks
from analytics.demo.appeals import insert_demo_appeals
from analytics.demo.city import City, build_city
from analytics.demo.grades import QuarterGrid, grade_city
from analytics.demo.outcomes import outcome_frame, with_people
from analytics.demo.plants_rotation import plant_rotations
from analytics.demo.truth import Plan, plan_patterns, truth_frame
from analytics.schema import ANNUAL, QUARTERLY
from analytics.vocab import ANNUAL_GRADES, QUARTERLY_GRADES

QUARTERLY_CHUNK_ROWS = 1_000_000
INSERT_MEMORY_LIMIT = "2GB"
_PERSON_COLUMNS = ("person_id", "name", "unit", "unit_type", "section", "position_level", "rank", "staff_type")


def _num(expr: pl.Expr) -> pl.Expr:
    """A number as JSON text (null stays null)."""
    return expr.cast(pl.Utf8)


def _json_object(pairs: list[tuple[str, pl.Expr, bool]]) -> pl.Expr:
    """{"key": value, ...} from (key, expression, is_text) pairs, leaving out nulls; null when empty."""
    parts = [
        pl.concat_str([pl.lit(f'"{key}": '), (pl.lit('"') + expr + pl.lit('"')) if is_text else _num(expr)])
        for key, expr, is_text in pairs
    ]
    body = pl.concat_str(parts, separator=", ", ignore_nulls=True)
    return pl.when(body == "").then(None).otherwise(pl.lit("{") + body + pl.lit("}"))


def quarterly_frames(city: City, grid: QuarterGrid, chunk_rows: int = QUARTERLY_CHUNK_ROWS) -> Iterator[pl.DataFrame]:
    """The quarterly table in chunks (rows ordered by quarter, then person)."""
    people = city.people.select(*_PERSON_COLUMNS, "special_group")
    reviewers = city.sections.select("reviewer")
    grade_names = pl.Series(QUARTERLY_GRADES)
    for start in range(0, len(grid), chunk_rows):
        sl = slice(start, start + chunk_rows)
        t = grid.t[sl].astype(np.int32)
        frame = pl.concat(
            [
                people[grid.person[sl]],
                reviewers[grid.section[sl]],
                pl.DataFrame(
                    {
                        "year": city.start_year + t // 4,
                        "quarter": t % 4 + 1,
                        "grade": grade_names.gather(grid.grade[sl]),
                        "score": grid.score[sl],
                        "_a": grid.achievement[sl],
                        "_c": grid.conduct[sl],
                    }
                ),
            ],
            how="horizontal_extend",
        ).with_columns(pl.col("score", "_a", "_c").fill_nan(None))
        frame = frame.with_columns(
            extra=_json_object(
                [
                    ("工作实绩", pl.col("_a"), False),
                    ("工作作风", pl.col("_c"), False),
                    ("特殊群体", pl.col("special_group"), True),
                ]
            )
        )
        yield frame.select([c for c in QUARTERLY.column_names if c in frame.columns]).cast(
            {"year": pl.Int32, "quarter": pl.Int32}
        )


def annual_frames(city: City, record: pl.DataFrame) -> Iterator[pl.DataFrame]:
    """The annual table, a year at a time: grade, mean score, and the year's quarterly counts in `extra`."""
    people = city.people.select("person_idx", *_PERSON_COLUMNS, "special_group")
    for y in sorted(record["y"].unique().to_list()) if record.height else []:
        frame = (
            record.filter(pl.col("y") == y)
            .sort("person_idx")
            .join(people, on="person_idx", how="left", maintain_order="left")
            .with_columns(
                year=(pl.col("y") + city.start_year).cast(pl.Int32),
                annual_grade=pl.lit(pl.Series(ANNUAL_GRADES)).gather(pl.col("code")),
                score=pl.col("mean_score"),
                extra=_json_object(
                    [
                        ("好次数", pl.col("n_good"), False),
                        ("较好次数", pl.col("n_fairly_good"), False),
                        ("一般次数", pl.col("n_average"), False),
                        ("较差次数", pl.col("n_poor"), False),
                        ("特殊群体", pl.col("special_group"), True),
                    ]
                ),
            )
        )
        yield frame.select([c for c in ANNUAL.column_names if c in frame.columns])


def outcome_frames(
    city: City, outcomes: pl.DataFrame, chunk_rows: int = QUARTERLY_CHUNK_ROWS
) -> Iterator[pl.DataFrame]:
    """The outcomes table in chunks, each with the people's ids, names and units."""
    for start in range(0, outcomes.height, chunk_rows):
        yield with_people(city, outcomes.slice(start, chunk_rows))


def _streams(seed: int) -> list[np.random.Generator]:
    return [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(6)]


def generate(persons: int = 2000, seed: int = 7, quarters: int = 12, start_year: int = 2023):
    """The city and its records in memory: (city, plan, grid, annual record, outcomes, truth)."""
    r_city, r_plan, r_grades, r_annual, r_outcomes, _ = _streams(seed)
    city = build_city(persons, r_city, quarters, start_year)
    city, plan = plan_patterns(city, r_plan)
    grid = grade_city(city, plan, r_grades)
    grid, plan, hidden_rotations = plant_rotations(city, plan, grid, seed)  # own stream: the rest stays as it was
    unit_of_person = city.people["unit_idx"].to_numpy()
    record = annual_record(grid, city.n_people, city.n_units, quarters, unit_of_person, r_annual)
    grid, record, breaks = plant_outcome_breaks(grid, record, city, plan, r_annual)
    outcomes = outcome_frame(city, record, breaks, plan.units_with("silent_negatives"), r_outcomes)
    truth = truth_frame(city, plan, _break_truth(city, breaks), extra=[hidden_rotations])
    return city, plan, grid, record, outcomes, truth


def _break_truth(city: City, breaks: pl.DataFrame) -> pl.DataFrame:
    what = {
        "excellent_min_good": "年度优秀但好等次不足2次 (rule: 优秀 gate, at least 2 好)",
        "excellent_with_average": "年度优秀但当年有一般等次 (rule: 优秀 gate, no 一般 or below)",
        "reward_after_average": "当年有一般等次却获提拔/评优 (rule: no promotion or award in a year with 一般)",
    }
    people = city.people.select("person_idx", "person_id", "unit")
    return breaks.join(people, on="person_idx", how="left").select(
        pl.lit("outcome_rule").alias("pattern"),
        pl.lit("person").alias("subject_type"),
        pl.col("person_id").alias("subject"),
        pl.col("unit"),
        pl.format(
            "{}: {}; {}", pl.col("y") + city.start_year, pl.col("kind"), pl.col("kind").replace_strict(what, default="")
        ).alias("detail"),
        pl.col("person_id").alias("people"),
        pl.format("{}Q1", pl.col("y") + city.start_year).alias("period_from"),
        pl.format("{}Q4", pl.col("y") + city.start_year).alias("period_to"),
    )


def build_demo(
    db_path: str | os.PathLike,
    persons: int = 2000,
    seed: int = 7,
    quarters: int = 12,
    start_year: int = 2023,
    survey: bool = True,
) -> dict:
    """Build the demo city into a fresh store at db_path (an existing file is replaced).

    Deterministic for a seed. Returns a summary: counts per table, units, people, seconds.

    >>> build_demo("data/demo.duckdb")  # doctest: +SKIP
    {'persons': 2000, 'units': 93, 'quarterly': 23456, ...}
    """
    started = time.perf_counter()
    city, plan, grid, record, outcomes, truth = generate(persons, seed, quarters, start_year)
    survey_tables = _survey_tables(city, plan, seed) if survey else {}
    path = Path(db_path)
    for stale in (path, path.with_name(path.name + ".wal")):
        stale.unlink(missing_ok=True)
    counts: dict[str, int] = {"quarterly": 0}
    con = store.connect(path)
    try:
        con.execute("SET enable_progress_bar = false")
        # Large inserts are written out as they come instead of piling up in memory.
        con.execute("SET memory_limit = ?", [INSERT_MEMORY_LIMIT])
        with store.transaction(con):
            for frame in quarterly_frames(city, grid):
                counts["quarterly"] += store.insert_frame(con, "quarterly", frame)
            counts["annual"] = sum(store.insert_frame(con, "annual", f) for f in annual_frames(city, record))
            counts["outcomes"] = sum(store.insert_frame(con, "outcomes", f) for f in outcome_frames(city, outcomes))
            counts["demo_truth"] = store.insert_frame(con, "demo_truth", truth)
            counts["appeals"] = insert_demo_appeals(con, seed)  # drawn from the stored grades and truth
            for table, frame in survey_tables.items():
                counts[table] = store.insert_frame(con, table, frame)
    finally:
        con.close()
    return {
        "db": str(path),
        "persons": city.n_people,
        "units": city.n_units,
        "sections": city.sections.height,
        "quarters": quarters,
        "seed": seed,
        **counts,
        "planted": truth.group_by("pattern").len().sort("pattern").rows(),
        "seconds": round(time.perf_counter() - started, 2),
    }


def _survey_tables(city: City, plan: Plan, seed: int) -> dict[str, pl.DataFrame]:
    from analytics.demo.survey import survey_store_tables

    return survey_store_tables(city, plan, _streams(seed)[5])
