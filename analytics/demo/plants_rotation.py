"""Rotation where it hides: planted in otherwise honest units of the demo city after merit grading.

| pattern | what is planted | where |
|---|---|---|
| rotation_section | one section (内设机构, 5+ people) hands its 好 round in a strict queue, 40% a quarter; the rest of the unit is graded by merit on what is left of the quota | units of 15-39 with such a section |
| rotation_bottom | 好 by merit, but the 一般 (about 12% a quarter) is handed round in turn (longest wait first) among those not given 好 | units of 30-45 |
| rotation_star | the unit's strongest person gets 好 every quarter; the rest of the quota goes round the others in turn | units of 8-25 |

Each plant keeps the unit's number of 好 per quarter (its quota use), so only who gets it changes. The queue
skips people who are not graded that quarter. Truth rows name the people the queue acts on (for the star,
the others) and the whole period. Deterministic for the demo seed; its own random stream, so the rest of
the city is unchanged.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import polars as pl

from analytics.demo.city import City
from analytics.demo.grades import AVERAGE, FAIRLY_GOOD, GOOD, POOR, UNGRADED, QuarterGrid, top_k_in_groups
from analytics.demo.truth import Plan

PATTERNS = ("rotation_section", "rotation_bottom", "rotation_star")
_BASE_COUNTS = {"rotation_section": 4, "rotation_bottom": 3, "rotation_star": 3}  # per 100 units
_SIZE_RANGE = {"rotation_section": (15, 39), "rotation_bottom": (30, 45), "rotation_star": (8, 25)}
SECTION_MIN = 5
BOTTOM_SHARE = 0.12
_STREAM = 0x524F54  # 'ROT': this module's own stream of the demo seed


def _choose(city: City, plan: Plan, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Honest units (no other plant) for each pattern, distinct; for sections, the planted section per unit."""
    size = city.units["size"].to_numpy()
    free = plan.unit_pattern == ""
    sections = city.sections
    first_of_unit = city.units["section_offset"].to_numpy()
    sec_unit = sections["unit_idx"].to_numpy()
    staff_section = sections["section_idx"].to_numpy() != first_of_unit[sec_unit]  # not the leaders' group
    big = staff_section & (sections["size"].to_numpy() >= SECTION_MIN)
    has_section = np.bincount(sec_unit[big], minlength=city.n_units) > 0
    scale = max(1.0, city.n_units / 100)
    chosen = {}
    for name in PATTERNS:
        lo, hi = _SIZE_RANGE[name]
        ok = free & (size >= lo) & (size <= hi) & (has_section if name == "rotation_section" else True)
        pick = rng.permutation(np.flatnonzero(ok))[: max(1, int(round(_BASE_COUNTS[name] * scale)))]
        pick = pick[: max(0, int(free.sum()) // 4)]  # most honest units stay honest
        free[pick] = False
        chosen[name] = np.sort(pick)
    # The planted section: the largest staff section of each chosen unit.
    units = chosen["rotation_section"]
    cand = np.flatnonzero(big & np.isin(sec_unit, units))
    order = cand[np.lexsort((-sections["size"].to_numpy()[cand], sec_unit[cand]))]
    first = np.unique(sec_unit[order], return_index=True)[1]
    chosen["section_idx"] = order[first]
    return chosen


def _in_turn(scope: np.ndarray, person: np.ndarray, t: np.ndarray, eligible: np.ndarray, k: np.ndarray,
             quarters: int, n_scopes: int, rng) -> np.ndarray:  # fmt: skip
    """Handed round in turn: each quarter the k[scope, t] eligible people who have waited longest since they
    last got it (first time round: a random queue order). Quarter by quarter, all scopes at once."""
    members, row_member = np.unique(scope.astype(np.int64) * (int(person.max()) + 1) + person, return_inverse=True)
    last = -1.0 - rng.random(len(members))  # before the first quarter, in a random order
    chosen = np.zeros(len(scope), dtype=bool)
    group = scope.astype(np.int64) * quarters + t
    tiebreak = np.zeros(len(scope))
    for q in range(quarters):  # twelve steps, each over every planted scope
        now = eligible & (t == q)
        pick = top_k_in_groups(group, -last[row_member], now, k, tiebreak)
        chosen |= pick
        last[row_member[pick]] = q
    return chosen


def plant_rotations(city: City, plan: Plan, grid: QuarterGrid, seed: int) -> tuple[QuarterGrid, Plan, pl.DataFrame]:
    """The grid with the hidden rotations planted, the plan naming them (for the survey), and their demo_truth rows."""
    rng = np.random.default_rng([seed, _STREAM])
    chosen = _choose(city, plan, rng)
    T = city.quarters
    grade = grid.grade.copy()
    tiebreak = rng.random(len(grade))
    candidate = (grade == GOOD) | (grade == FAIRLY_GOOD)
    truth = []

    # Section: the section's 好 by queue (40% of those graded); the rest of the unit by merit on what is left.
    units = chosen["rotation_section"]
    if len(units):
        sec_of_unit = np.full(city.n_units, -1)
        sec_of_unit[city.sections["unit_idx"].to_numpy()[chosen["section_idx"]]] = chosen["section_idx"]
        in_unit = np.isin(grid.unit, units)
        in_sec = in_unit & (grid.section == sec_of_unit[grid.unit])
        rows = np.flatnonzero(in_sec)
        local = np.searchsorted(units, grid.unit[rows])
        graded = np.bincount(local * T + grid.t[rows], weights=grade[rows] != UNGRADED, minlength=len(units) * T)
        k_sec = np.floor(0.4 * graded + 1e-9).astype(np.int64)
        sec_good = _in_turn(local, grid.person[rows], grid.t[rows], candidate[rows], k_sec, T, len(units), rng)
        unit_rows = np.flatnonzero(in_unit)
        u_local = np.searchsorted(units, grid.unit[unit_rows])
        total = np.bincount(u_local * T + grid.t[unit_rows], weights=grade[unit_rows] == GOOD, minlength=len(units) * T)
        rest_k = np.maximum(
            total.astype(np.int64)
            - np.bincount(local * T + grid.t[rows], weights=sec_good, minlength=len(units) * T).astype(np.int64),
            0,
        )
        rest = ~in_sec[unit_rows] & candidate[unit_rows]
        rest_good = top_k_in_groups(u_local * T + grid.t[unit_rows], grid.score[unit_rows], rest, rest_k,
                                    tiebreak[unit_rows])  # fmt: skip
        grade[unit_rows[candidate[unit_rows]]] = FAIRLY_GOOD
        grade[unit_rows[rest_good]] = GOOD
        grade[rows[sec_good]] = GOOD
        truth.append(_rows(city, grid, "rotation_section", rows))

    # Star: the strongest person 好 whenever graded; the others take the rest of the quota in turn.
    units = chosen["rotation_star"]
    if len(units):
        rows = np.flatnonzero(np.isin(grid.unit, units))
        local = np.searchsorted(units, grid.unit[rows])
        # The strongest: the most 好 under merit grading, then the best mean score.
        merit = pl.DataFrame({"u": local, "p": grid.person[rows], "g": grade[rows] == GOOD,
                              "s": np.nan_to_num(grid.score[rows])})  # fmt: skip
        star = merit.group_by("u", "p").agg(pl.col("g").sum(), pl.col("s").mean())
        star = star.sort(["u", "g", "s", "p"], descending=[False, True, True, False])
        star_of = star.group_by("u", maintain_order=True).agg(pl.col("p").first()).sort("u")["p"].to_numpy()
        is_star = grid.person[rows] == star_of[local]
        total = np.bincount(local * T + grid.t[rows], weights=grade[rows] == GOOD, minlength=len(units) * T)
        star_good = is_star & (grade[rows] != UNGRADED)
        k_rest = np.maximum(
            total.astype(np.int64)
            - np.bincount(local * T + grid.t[rows], weights=star_good, minlength=len(units) * T).astype(np.int64),
            0,
        )
        others = ~is_star
        queue = _in_turn(local[others], grid.person[rows][others], grid.t[rows][others], candidate[rows][others],
                         k_rest, T, len(units), rng)  # fmt: skip
        grade[rows[candidate[rows]]] = FAIRLY_GOOD
        grade[rows[star_good]] = GOOD
        grade[rows[others][queue]] = GOOD
        truth.append(_rows(city, grid, "rotation_star", rows[others]))

    # Bottom: 好 by merit; about 10% of those graded get 一般, in turn, among those not given 好.
    units = chosen["rotation_bottom"]
    if len(units):
        rows = np.flatnonzero(np.isin(grid.unit, units))
        local = np.searchsorted(units, grid.unit[rows])
        rest = (grade[rows] == FAIRLY_GOOD) | (grade[rows] == AVERAGE) | (grade[rows] == POOR)
        graded = np.bincount(local * T + grid.t[rows], weights=rest | (grade[rows] == GOOD), minlength=len(units) * T)
        k_bottom = np.where(graded > 0, np.maximum(1, np.round(BOTTOM_SHARE * graded)), 0).astype(np.int64)
        low = _in_turn(local, grid.person[rows], grid.t[rows], rest, k_bottom, T, len(units), rng)
        grade[rows[rest]] = FAIRLY_GOOD
        grade[rows[low]] = AVERAGE
        truth.append(_rows(city, grid, "rotation_bottom", rows))
    pattern = plan.unit_pattern.astype(object)
    for name in PATTERNS:
        pattern[chosen[name]] = name
    plan = dataclasses.replace(plan, unit_pattern=pattern.astype(str))
    return dataclasses.replace(grid, grade=grade), plan, pl.concat(truth, how="vertical") if truth else _empty()


_DETAIL = {
    "rotation_section": "科室内'好'轮流（严格队列，每季度约40%），其余人员按实绩; "
    "one section hands 好 round in a strict queue, the rest of the unit by merit",
    "rotation_bottom": "'好'按实绩，'一般'在未获'好'者中轮流（每季度约12%）; "
    "好 by merit, 一般 handed round in turn (longest wait first) among those not given 好",
    "rotation_star": "实绩最突出者每季度评'好'，其余名额在其他人中轮流; "
    "the strongest person gets 好 every quarter, the rest of the quota goes round the others",
}


def _empty() -> pl.DataFrame:
    cols = ("pattern", "subject_type", "subject", "unit", "detail", "section", "people", "period_from", "period_to")
    return pl.DataFrame(schema=dict.fromkeys(cols, pl.Utf8))


def _rows(city: City, grid: QuarterGrid, pattern: str, rows: np.ndarray) -> pl.DataFrame:
    """One truth row per planted unit: the people the queue acts on, the whole period."""
    people = city.people.select("person_idx", "person_id", "unit_idx", "section")
    acted = (
        pl.DataFrame({"person_idx": grid.person[rows].astype(np.int64)})
        .unique()
        .join(people.with_columns(pl.col("person_idx").cast(pl.Int64)), on="person_idx")
        .group_by("unit_idx")
        .agg(pl.col("person_id").sort().str.join(",").alias("people"), pl.col("section").first(), pl.len().alias("n"))
        .join(city.units.select(pl.col("unit_idx").cast(people.schema["unit_idx"]), "unit"), on="unit_idx")
        .sort("unit_idx")
    )
    last = city.quarters - 1
    period = [f"{city.start_year + t // 4}Q{t % 4 + 1}" for t in (0, last)]
    is_section = pattern == "rotation_section"
    return acted.select(
        pl.lit(pattern).alias("pattern"),
        pl.lit("section" if is_section else "unit").alias("subject_type"),
        (pl.col("section") if is_section else pl.col("unit")).alias("subject"),
        "unit",
        pl.format("{} 人; {}", pl.col("n"), pl.lit(_DETAIL[pattern])).alias("detail"),
        (pl.col("section") if is_section else pl.lit(None, dtype=pl.Utf8)).alias("section"),
        "people",
        pl.lit(period[0]).alias("period_from"),
        pl.lit(period[1]).alias("period_to"),
    )
