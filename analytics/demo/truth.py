"""Which units, sections and people carry a planted pattern, and the `demo_truth` rows that record it.

Patterns go into distinct units chosen by size, so that detectors have clear targets and honest
units of every size remain (most units stay honest; honest = a unit with no truth row):

| pattern | what is planted | where |
|---|---|---|
| rotation_strict | 好 handed round in a strict queue; counts within 1 | units of 6-30, scores edited to agree in half |
| rotation_norepeat | nobody gets 好 two quarters running, otherwise random | units of 6-30 |
| rotation_partial | a queue for some years only, or among a subset of the unit | units of 6-30 |
| lenient_reviewer | a section head grades 好 to 65-80% of the section, scores honest | units of 25+; some heads review two sections |
| compression | almost everyone 较好: one or two 好 a quarter, never 一般 | units of 8-40 |
| silent_negatives | no 一般/较差 and no negative outcome in 12 quarters | units of 35+ (20+ when few) |
| outcome_rule | 优秀 against the gate, or a reward in a year with 一般 (see annual.py, outcomes.py) | units of 15+, three people each (one per rule) |
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import polars as pl

from analytics.demo.city import City
from analytics.schema import DEMO_TRUTH

ROTATION_PATTERNS = ("rotation_strict", "rotation_norepeat", "rotation_partial")
UNIT_PATTERNS = (*ROTATION_PATTERNS, "compression", "silent_negatives", "lenient_reviewer", "outcome_rule")

# Counts for a city of about 100 units; larger cities scale them with the number of units.
_BASE_COUNTS = {
    "silent_negatives": 4,
    "lenient_reviewer": 8,
    "compression": 4,
    "rotation_strict": 5,
    "rotation_norepeat": 4,
    "rotation_partial": 4,
    "outcome_rule": 7,
}
_SIZE_RANGE = {
    "silent_negatives": (35, 10_000),
    "lenient_reviewer": (25, 10_000),
    "compression": (8, 40),
    "rotation_strict": (6, 30),
    "rotation_norepeat": (6, 30),
    "rotation_partial": (6, 30),
    "outcome_rule": (15, 10_000),
}
_FALLBACK_RANGE = {"silent_negatives": (20, 10_000), "lenient_reviewer": (18, 10_000), "outcome_rule": (10, 10_000)}


@dataclass(frozen=True)
class Plan:
    """Per unit: its pattern ('' = honest) and variant; per section: lenient share (0 = honest)."""

    unit_pattern: np.ndarray  # str per unit
    unit_variant: np.ndarray  # str per unit: 'edited'/'honest' (strict), 'years'/'subset' (partial), ''
    lenient_share: np.ndarray  # float per section
    lenient_reviewer: np.ndarray  # str per section (reviewer name where lenient, '' otherwise)

    def units_with(self, pattern: str) -> np.ndarray:
        return np.flatnonzero(self.unit_pattern == pattern)

    def in_units(self, unit: np.ndarray, patterns: tuple[str, ...]) -> np.ndarray:
        """For each row's unit index: does the unit carry one of the patterns (bool per row)."""
        return np.isin(self.unit_pattern, patterns)[unit]


def plan_patterns(city: City, rng: np.random.Generator) -> tuple[City, Plan]:
    """Choose the planted units and lenient sections (distinct units, by size).

    Returns the city updated for the plan (a lenient head reviewing two sections is written as the
    reviewer of both; rotation units keep everyone present all along; rotation and lenient units
    keep scores) and the plan.
    """
    units = city.units
    size = units["size"].to_numpy()
    n_units = units.height
    pattern = np.full(n_units, "", dtype=object)
    scale = max(1.0, n_units / 100)
    n_sec = units["n_sections"].to_numpy()
    for name, base in _BASE_COUNTS.items():
        want = max(1, int(round(base * scale)))
        lo, hi = _SIZE_RANGE[name]
        ok = (pattern == "") & (size >= lo) & (size <= hi)
        if name == "lenient_reviewer":
            ok &= n_sec >= 3
        if ok.sum() < want and name in _FALLBACK_RANGE:
            lo, hi = _FALLBACK_RANGE[name]
            ok = (pattern == "") & (size >= lo) & (size <= hi) & ((n_sec >= 2) if name == "lenient_reviewer" else True)
        chosen = rng.permutation(np.flatnonzero(ok))[:want]
        # Keep at least half the units honest in tiny cities.
        room = max(0, n_units // 2 - int((pattern != "").sum()))
        pattern[chosen[:room]] = name
    variant = np.full(n_units, "", dtype=object)
    for name, options in (("rotation_strict", ("edited", "honest")), ("rotation_partial", ("years", "subset"))):
        idx = np.flatnonzero(pattern == name)
        variant[idx] = np.array(options, dtype=object)[np.arange(len(idx)) % 2]
    share, reviewer, sections = _lenient_sections(city, pattern, rng)
    rotating = np.isin(pattern, ROTATION_PATTERNS)
    people = (
        city.people.with_columns(_rotating=pl.Series(rotating[city.people["unit_idx"].to_numpy()]))
        .with_columns(
            join_t=pl.when("_rotating").then(0).otherwise("join_t").cast(pl.Int32),
            leave_t=pl.when("_rotating").then(city.quarters).otherwise("leave_t").cast(pl.Int32),
        )
        .drop("_rotating")
    )
    plan = Plan(
        unit_pattern=pattern.astype(str),
        unit_variant=variant.astype(str),
        lenient_share=share,
        lenient_reviewer=reviewer,
    )
    # Rotation and lenient units keep scores, so merit decoupling (R3) and score-adjusted leniency (L3) have data.
    scored = pl.Series(np.isin(pattern, (*ROTATION_PATTERNS, "lenient_reviewer")))
    units = city.units.with_columns(has_scores=pl.col("has_scores") | scored)
    return dataclasses.replace(city, units=units, sections=sections, people=people), plan


def _lenient_sections(city: City, pattern: np.ndarray, rng) -> tuple[np.ndarray, np.ndarray, pl.DataFrame]:
    """In each lenient unit, the first section's head grades leniently; in every third, the head reviews two sections."""
    sections = city.sections
    n_sec = sections.height
    share = np.zeros(n_sec)
    reviewer = np.full(n_sec, "", dtype=object)
    lenient_units = np.flatnonzero(pattern == "lenient_reviewer")
    offsets = city.units["section_offset"].to_numpy()[lenient_units]
    first = offsets + 1
    two = (np.arange(len(lenient_units)) % 3 == 2) & (city.units["n_sections"].to_numpy()[lenient_units] >= 3)
    second = offsets[two] + 2
    u_share = rng.uniform(0.65, 0.8, len(lenient_units))
    share[first] = u_share
    share[second] = u_share[two]
    names = sections["reviewer"].to_numpy().astype(object)
    reviewer_idx = sections["reviewer_person_idx"].to_numpy().copy()
    reviewer_idx[second] = reviewer_idx[first[two]]
    names[second] = names[first[two]]
    reviewer[first] = names[first]
    reviewer[second] = names[second]
    sections = sections.with_columns(reviewer=pl.Series(names.astype(str)), reviewer_person_idx=pl.Series(reviewer_idx))
    return share, reviewer.astype(str), sections


def truth_frame(
    city: City, plan: Plan, outcome_breaks: pl.DataFrame, extra: list[pl.DataFrame] | tuple = ()
) -> pl.DataFrame:
    """The demo_truth rows: one per planted unit, lenient reviewer and rule-breaking person.

    `extra`: rows from other planting modules (e.g. plants_rotation; DEMO_TRUTH's columns, others dropped).
    """
    units = city.units.with_columns(pattern=pl.Series(plan.unit_pattern), variant=pl.Series(plan.unit_variant)).filter(
        pl.col("pattern").is_in(
            ["rotation_strict", "rotation_norepeat", "rotation_partial", "compression", "silent_negatives"]
        )
    )
    unit_rows = units.select(
        pl.col("pattern"),
        pl.lit("unit").alias("subject_type"),
        pl.col("unit").alias("subject"),
        pl.col("unit"),
        pl.format("{} 人; {}", pl.col("size"), _unit_detail()).alias("detail"),
    )
    sections = city.sections.with_columns(
        share=pl.Series(plan.lenient_share), lenient=pl.Series(plan.lenient_reviewer)
    ).filter(pl.col("share") > 0)
    reviewer_rows = (
        sections.join(city.units.select("unit_idx", "unit"), on="unit_idx")
        .group_by("unit", "lenient", maintain_order=True)
        .agg(pl.col("section"), pl.col("share").first(), pl.col("size").sum())
        .select(
            pl.lit("lenient_reviewer").alias("pattern"),
            pl.lit("reviewer").alias("subject_type"),
            pl.col("lenient").alias("subject"),
            pl.col("unit"),
            pl.format(
                "评鉴人给本科室约{}%的人评'好'（评分如实）; sections: {}; {} 人",
                (pl.col("share") * 100).round(0).cast(pl.Int32),
                pl.col("section").list.join("、"),
                pl.col("size"),
            ).alias("detail"),
        )
    )
    frames = [unit_rows, reviewer_rows, outcome_breaks.select(DEMO_TRUTH.column_names)]
    frames += [f.select(DEMO_TRUTH.column_names) for f in extra if f.height]
    return pl.concat([f.cast(DEMO_TRUTH.polars_schema()) for f in frames], how="vertical")


def _unit_detail() -> pl.Expr:
    return (
        pl.when((pl.col("pattern") == "rotation_strict") & (pl.col("variant") == "edited"))
        .then(pl.lit("strict queue, everyone in turn; scores edited to agree with the grades"))
        .when(pl.col("pattern") == "rotation_strict")
        .then(pl.lit("strict queue, everyone in turn; scores left honest"))
        .when(pl.col("pattern") == "rotation_norepeat")
        .then(pl.lit("nobody gets 好 two quarters running, otherwise random"))
        .when((pl.col("pattern") == "rotation_partial") & (pl.col("variant") == "years"))
        .then(pl.lit("merit in the first year, strict queue afterwards"))
        .when(pl.col("pattern") == "rotation_partial")
        .then(pl.lit("strict queue among a subset (~60%) of the unit, merit for the rest"))
        .when(pl.col("pattern") == "compression")
        .then(pl.lit("almost everyone 较好 every quarter: one or two 好, never 一般"))
        .otherwise(pl.lit("no 一般/较差 and no negative outcome over all quarters"))
    )
