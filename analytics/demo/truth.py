"""Which units, sections and people carry a planted pattern, and the `demo_truth` rows that record it.

Patterns go into distinct units chosen by size, so that detectors have clear targets and honest
units of every size remain (honest = a unit whose truth rows, if any, are all `honest_*` look-alikes):

| pattern | what is planted | where |
|---|---|---|
| rotation_strict | 好 handed round in a strict queue; counts within 1 | units of 6-30, scores edited to agree in half |
| rotation_norepeat | nobody gets 好 two quarters running, otherwise random | units of 6-30 |
| rotation_partial | a queue for some years only, or among a subset of the unit | units of 6-30 |
| lenient_reviewer | a section head grades 好 to 65-80% of the section, scores honest, within the unit's quota | units of 25+; some heads review two sections |
| lenient_scored | a section head grades 好 to 70-80% of the section and raises those people's scores; the extra 好 go over the unit's cap | units of 25+ |
| lenient_sole | the unit's only reviewer gives 好 to 55-70% every quarter (over the 40% cap), scores honest | sole-reviewer units of 6-12 |
| compression | almost everyone 较好: one or two 好 a quarter, never 一般 | units of 8-40 |
| compression_year | the same in one year only (the other years honest) | units of 8-40 |
| silent_negatives | no 一般/较差 and no negative outcome in 12 quarters | units of 35+ (20+ when few) |
| outcome_rule | 优秀 against the gate, or a reward in a year with 一般 (see annual.py, outcomes.py) | units of 15+, three people each (one per rule) |

Honest look-alikes (graded by merit under the quota; the detectors must stay quiet on them):

| pattern | what makes it look suspicious | where |
|---|---|---|
| honest_star | one or two people so strong they get 好 every quarter | units of 8-30 |
| honest_seasonal | a section whose work peaks in one quarter of the year (its people get 好 then) | units of 15-60 |
| honest_turnover | staff come and go: a third join late or leave early | units of 10-30 |
| honest_sole_low | the principal grades everyone and the unit's scores run 5-7 points low | sole-reviewer units of 5-12 |
| honest_small | a unit of 4-6 people (a quota of 1 or 2 好) | every honest unit of that size |

Every truth row names the people the plant acts on (`people`, person_ids) and its quarters
(`period_from`, `period_to`), so the evaluation can check that the plant is findable at all.
Other planting modules add their rows through `truth_frame(..., extra=[frame, ...])`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import polars as pl

from analytics.demo.city import City
from analytics.schema import DEMO_TRUTH

ROTATION_PATTERNS = ("rotation_strict", "rotation_norepeat", "rotation_partial")
LENIENCY_PATTERNS = ("lenient_reviewer", "lenient_scored", "lenient_sole")
COMPRESSION_PATTERNS = ("compression", "compression_year")
LOOKALIKES = ("honest_star", "honest_seasonal", "honest_turnover", "honest_sole_low")
UNIT_PATTERNS = (
    *ROTATION_PATTERNS,
    *COMPRESSION_PATTERNS,
    "silent_negatives",
    *LENIENCY_PATTERNS,
    "outcome_rule",
    *LOOKALIKES,
)
SMALL_UNIT = (4, 6)  # honest units of this many people are recorded as honest_small

# Counts for a city of about 100 units; larger cities scale them with the number of units.
# Order is priority: sole-reviewer plants first (few units qualify), honest look-alikes last.
_BASE_COUNTS = {
    "lenient_sole": 3,
    "honest_sole_low": 3,
    "silent_negatives": 4,
    "lenient_reviewer": 5,
    "lenient_scored": 2,
    "compression": 2,
    "compression_year": 2,
    "rotation_strict": 5,
    "rotation_norepeat": 4,
    "rotation_partial": 4,
    "outcome_rule": 7,
    "honest_star": 3,
    "honest_seasonal": 3,
    "honest_turnover": 3,
}
_SIZE_RANGE = {
    "lenient_sole": (6, 12),
    "honest_sole_low": (5, 12),
    "silent_negatives": (35, 10_000),
    "lenient_reviewer": (25, 10_000),
    "lenient_scored": (25, 10_000),
    "compression": (8, 40),
    "compression_year": (8, 40),
    "rotation_strict": (6, 30),
    "rotation_norepeat": (6, 30),
    "rotation_partial": (6, 30),
    "outcome_rule": (15, 10_000),
    "honest_star": (8, 30),
    "honest_seasonal": (15, 60),
    "honest_turnover": (10, 30),
}
_FALLBACK_RANGE = {
    "silent_negatives": (20, 10_000),
    "lenient_reviewer": (18, 10_000),
    "lenient_scored": (18, 10_000),
    "outcome_rule": (10, 10_000),
}
_SOLE = ("lenient_sole", "honest_sole_low")  # need a unit whose principal reviews everyone
_SECTIONED = {"lenient_reviewer": 3, "lenient_scored": 3, "honest_seasonal": 2}  # sections a unit needs
TURNOVER_SHARE = 0.35  # of an honest_turnover unit's staff (not its reviewers): join late or leave early
STARS = 2  # people per honest_star unit who are so strong they get 好 every quarter


@dataclass(frozen=True)
class Plan:
    """Per unit: its pattern ('' = honest) and variant; per section: its role; per person: star.

    unit_variant: 'edited'/'honest' (rotation_strict), 'years'/'subset' (rotation_partial), the year index
    (compression_year), ''. section_role: 'lenient', 'lenient_scored', 'seasonal' or ''; section_variant: the
    quarter (0-3) of a seasonal section's peak. lenient_share: share of 好 a lenient reviewer gives (0 = honest),
    per section; per unit for lenient_sole (unit_share).
    """

    unit_pattern: np.ndarray  # str per unit
    unit_variant: np.ndarray  # str per unit
    lenient_share: np.ndarray  # float per section
    lenient_reviewer: np.ndarray  # str per section (reviewer name where lenient, '' otherwise)
    section_role: np.ndarray  # str per section
    section_variant: np.ndarray  # int per section
    unit_share: np.ndarray  # float per unit: share of 好 in lenient_sole units (0 elsewhere)
    star: np.ndarray  # bool per person

    def units_with(self, pattern: str) -> np.ndarray:
        return np.flatnonzero(self.unit_pattern == pattern)

    def in_units(self, unit: np.ndarray, patterns: tuple[str, ...]) -> np.ndarray:
        """For each row's unit index: does the unit carry one of the patterns (bool per row)."""
        return np.isin(self.unit_pattern, patterns)[unit]


def plan_patterns(city: City, rng: np.random.Generator) -> tuple[City, Plan]:
    """Choose the planted units, lenient and seasonal sections, and stars (distinct units, by size).

    Returns the city updated for the plan (a lenient head reviewing two sections is written as the
    reviewer of both; rotation units keep everyone present all along; turnover units lose and gain staff;
    rotation and lenient units keep scores) and the plan.
    """
    units = city.units
    size = units["size"].to_numpy()
    n_units = units.height
    pattern = np.full(n_units, "", dtype=object)
    scale = max(1.0, n_units / 100)
    n_sec = units["n_sections"].to_numpy()
    sole = units["sole_reviewer"].to_numpy()
    for name, base in _BASE_COUNTS.items():
        want = max(1, int(round(base * scale)))
        for lo, hi in (_SIZE_RANGE[name], _FALLBACK_RANGE.get(name)):
            ok = (pattern == "") & (size >= lo) & (size <= hi) & (sole if name in _SOLE else ~sole)
            ok &= n_sec >= _SECTIONED.get(name, 0)
            if ok.sum() >= want or name not in _FALLBACK_RANGE:
                break
        chosen = rng.permutation(np.flatnonzero(ok))[:want]
        if not name.startswith("honest"):  # keep at least half the units honest in tiny cities
            chosen = chosen[: max(0, n_units // 2 - int(np.isin(pattern, UNIT_PATTERNS[:-4]).sum()))]
        pattern[chosen] = name
    variant = np.full(n_units, "", dtype=object)
    for name, options in (("rotation_strict", ("edited", "honest")), ("rotation_partial", ("years", "subset"))):
        idx = np.flatnonzero(pattern == name)
        variant[idx] = np.array(options, dtype=object)[np.arange(len(idx)) % 2]
    one_year = np.flatnonzero(pattern == "compression_year")
    variant[one_year] = rng.integers(0, max(1, city.quarters // 4), len(one_year)).astype(str)
    unit_share = np.where(pattern == "lenient_sole", rng.uniform(0.55, 0.7, n_units), 0.0)
    sections, roles = _sections(city, pattern, rng)
    people = _presence_for_plan(city, pattern, rng)
    plan = Plan(
        unit_pattern=pattern.astype(str),
        unit_variant=variant.astype(str),
        lenient_share=roles["share"],
        lenient_reviewer=roles["reviewer"],
        section_role=roles["role"],
        section_variant=roles["season"],
        unit_share=unit_share,
        star=_stars(city, pattern, rng),
    )
    # Rotation and lenient units keep scores, so merit decoupling (R3) and score-adjusted leniency (L3) have data.
    scored = pl.Series(np.isin(pattern, (*ROTATION_PATTERNS, *LENIENCY_PATTERNS, "honest_sole_low")))
    units = city.units.with_columns(has_scores=pl.col("has_scores") | scored)
    return dataclasses.replace(city, units=units, sections=sections, people=people), plan


def _presence_for_plan(city: City, pattern: np.ndarray, rng) -> pl.DataFrame:
    """Rotation units keep everyone all along; in turnover units a share of the staff join late or leave early."""
    people = city.people
    unit = people["unit_idx"].to_numpy()
    rotating = np.isin(pattern, ROTATION_PATTERNS)[unit]
    join_t, leave_t = people["join_t"].to_numpy().copy(), people["leave_t"].to_numpy().copy()
    join_t[rotating], leave_t[rotating] = 0, city.quarters
    T = city.quarters
    if T >= 6:
        reviewer = people["is_head"].to_numpy() | people["is_principal"].to_numpy()
        moving = (pattern == "honest_turnover")[unit] & ~reviewer & (rng.random(len(unit)) < TURNOVER_SHARE)
        late = moving & (rng.random(len(unit)) < 0.5)
        when = rng.integers(2, T - 2, len(unit))
        join_t[late], leave_t[late] = when[late], T
        early = moving & ~late
        join_t[early], leave_t[early] = 0, when[early]
    return people.with_columns(join_t=pl.Series(join_t.astype(np.int32)), leave_t=pl.Series(leave_t.astype(np.int32)))


def _stars(city: City, pattern: np.ndarray, rng) -> np.ndarray:
    """In each honest_star unit, STARS of its general staff (not reviewers) chosen at random."""
    people = city.people
    unit = people["unit_idx"].to_numpy()
    eligible = (pattern == "honest_star")[unit] & ~(people["is_head"].to_numpy() | people["is_principal"].to_numpy())
    key = np.where(eligible, rng.random(len(unit)), np.inf)
    order = np.lexsort((key, unit))
    first = np.searchsorted(unit[order], np.arange(city.n_units))
    rank = np.empty(len(unit), dtype=np.int64)
    rank[order] = np.arange(len(unit)) - first[unit[order]]
    return eligible & (rank < STARS)


def _sections(city: City, pattern: np.ndarray, rng) -> tuple[pl.DataFrame, dict[str, np.ndarray]]:
    """Lenient and seasonal sections: in each such unit the first section (after the leaders).

    In every second lenient_reviewer unit the lenient head reviews two sections (written as the reviewer of both).
    """
    sections = city.sections
    n_sec = sections.height
    share = np.zeros(n_sec)
    role = np.full(n_sec, "", dtype=object)
    season = np.zeros(n_sec, dtype=np.int64)
    offsets = city.units["section_offset"].to_numpy()
    n_sections = city.units["n_sections"].to_numpy()
    names = sections["reviewer"].to_numpy().astype(object)
    reviewer_idx = sections["reviewer_person_idx"].to_numpy().copy()

    lenient_units = np.flatnonzero(pattern == "lenient_reviewer")
    first = offsets[lenient_units] + 1
    two = (np.arange(len(lenient_units)) % 2 == 1) & (n_sections[lenient_units] >= 3)
    second = offsets[lenient_units][two] + 2
    u_share = rng.uniform(0.65, 0.8, len(lenient_units))
    share[first], role[first] = u_share, "lenient"
    share[second], role[second] = u_share[two], "lenient"
    reviewer_idx[second] = reviewer_idx[first[two]]
    names[second] = names[first[two]]

    scored = offsets[np.flatnonzero(pattern == "lenient_scored")] + 1
    share[scored], role[scored] = rng.uniform(0.7, 0.8, len(scored)), "lenient_scored"
    seasonal = offsets[np.flatnonzero(pattern == "honest_seasonal")] + 1
    role[seasonal] = "seasonal"
    season[seasonal] = rng.integers(0, 4, len(seasonal))

    lenient = np.isin(role, ("lenient", "lenient_scored"))
    reviewer = np.where(lenient, names, "")
    sections = sections.with_columns(reviewer=pl.Series(names.astype(str)), reviewer_person_idx=pl.Series(reviewer_idx))
    return sections, {"share": share, "role": role.astype(str), "season": season, "reviewer": reviewer.astype(str)}


# ---------------------------------------------------------------- truth rows


def _period(city: City, t: pl.Expr) -> pl.Expr:
    return pl.format("{}Q{}", t // 4 + city.start_year, t % 4 + 1)


def _people_of(city: City, key: str) -> pl.DataFrame:
    """key (unit_idx or section_idx) -> its people's ids, comma-separated, in id order."""
    return city.people.group_by(key).agg(people=pl.col("person_id").sort().str.join(","))


def truth_frame(
    city: City, plan: Plan, outcome_breaks: pl.DataFrame, extra: list[pl.DataFrame] | tuple = ()
) -> pl.DataFrame:
    """The demo_truth rows: one per planted unit, lenient reviewer, look-alike unit and rule-breaking person.

    `extra`: rows from other planting modules (any subset of DEMO_TRUTH's columns; the rest are null).
    """
    last = city.quarters - 1
    units = city.units.with_columns(pattern=pl.Series(plan.unit_pattern), variant=pl.Series(plan.unit_variant)).join(
        _people_of(city, "unit_idx"), on="unit_idx", how="left"
    )
    year = pl.col("variant").cast(pl.Int64, strict=False)
    unit_rows = units.filter(
        pl.col("pattern").is_in([*ROTATION_PATTERNS, *COMPRESSION_PATTERNS, "silent_negatives", "honest_turnover"])
    ).select(
        pl.col("pattern"),
        pl.lit("unit").alias("subject_type"),
        pl.col("unit").alias("subject"),
        pl.col("unit"),
        pl.format("{} 人; {}", pl.col("size"), _unit_detail()).alias("detail"),
        pl.lit(None, dtype=pl.Utf8).alias("section"),
        pl.col("people"),
        pl.when(pl.col("pattern") == "compression_year")
        .then(_period(city, year * 4))
        .when((pl.col("pattern") == "rotation_partial") & (pl.col("variant") == "years"))
        .then(_period(city, pl.lit(min(4, last))))
        .otherwise(_period(city, pl.lit(0)))
        .alias("period_from"),
        pl.when(pl.col("pattern") == "compression_year")
        .then(_period(city, pl.min_horizontal(year * 4 + 3, pl.lit(last))))
        .otherwise(_period(city, pl.lit(last)))
        .alias("period_to"),
    )
    frames = [unit_rows, _section_rows(city, plan), _sole_rows(city, plan, units), _star_rows(city, plan, units)]
    frames += [_small_rows(city, plan, units), outcome_breaks, *extra]
    schema = DEMO_TRUTH.polars_schema()
    return pl.concat(
        [f.select([pl.col(c).cast(t) if c in f.columns else pl.lit(None, dtype=t).alias(c) for c, t in schema.items()])
         for f in frames],
        how="vertical",
    )  # fmt: skip


def _section_rows(city: City, plan: Plan) -> pl.DataFrame:
    """Lenient reviewers (one row per reviewer, all their sections) and seasonal sections."""
    last = city.quarters - 1
    sections = (
        city.sections.with_columns(
            share=pl.Series(plan.lenient_share),
            lenient=pl.Series(plan.lenient_reviewer),
            role=pl.Series(plan.section_role),
            season=pl.Series(plan.section_variant),
        )
        .filter(pl.col("role") != "")
        .join(_people_of(city, "section_idx"), on="section_idx", how="left")
        .join(city.units.select("unit_idx", "unit"), on="unit_idx")
    )
    lenient = (
        sections.filter(pl.col("role") != "seasonal")
        .group_by("unit", "lenient", "role", maintain_order=True)
        .agg(pl.col("section"), pl.col("share").first(), pl.col("size").sum(), pl.col("people").str.join(","))
        .select(
            pl.when(pl.col("role") == "lenient")
            .then(pl.lit("lenient_reviewer"))
            .otherwise(pl.lit("lenient_scored"))
            .alias("pattern"),
            pl.lit("reviewer").alias("subject_type"),
            pl.col("lenient").alias("subject"),
            pl.col("unit"),
            pl.format(
                "评鉴人给本科室约{}%的人评'好'{}; sections: {}; {} 人",
                (pl.col("share") * 100).round(0).cast(pl.Int32),
                pl.when(pl.col("role") == "lenient")
                .then(pl.lit("（评分如实，占本单位名额）"))
                .otherwise(pl.lit("（同时抬高这些人的得分，超出本单位名额）")),
                pl.col("section").list.join("、"),
                pl.col("size"),
            ).alias("detail"),
            pl.col("section").list.join("、").alias("section"),
            pl.col("people"),
        )
    )
    seasonal = sections.filter(pl.col("role") == "seasonal").select(
        pl.lit("honest_seasonal").alias("pattern"),
        pl.lit("section").alias("subject_type"),
        pl.col("section").alias("subject"),
        pl.col("unit"),
        pl.format("科室业绩集中在每年第{}季度（按实绩评定，季节性岗位）; {} 人", pl.col("season") + 1, "size").alias(
            "detail"
        ),
        pl.col("section"),
        pl.col("people"),
    )
    both = pl.concat([lenient, seasonal], how="vertical")
    return both.with_columns(period_from=_period(city, pl.lit(0)), period_to=_period(city, pl.lit(last)))


def _sole_rows(city: City, plan: Plan, units: pl.DataFrame) -> pl.DataFrame:
    """Sole reviewers: the lenient ones (subject: the reviewer) and the honest ones of low-scoring units."""
    principals = city.people.filter("is_principal").select("unit_idx", reviewer=pl.col("name"))
    share = pl.Series("share", plan.unit_share)
    return (
        units.with_columns(share)
        .filter(pl.col("pattern").is_in(_SOLE))
        .join(principals, on="unit_idx")
        .select(
            pl.col("pattern"),
            pl.lit("reviewer").alias("subject_type"),
            pl.col("reviewer").alias("subject"),
            pl.col("unit"),
            pl.when(pl.col("pattern") == "lenient_sole")
            .then(pl.format("唯一评鉴人每季度给约{}%的人评'好'（超过40%上限，评分如实）; {} 人",
                            (pl.col("share") * 100).round(0).cast(pl.Int32), "size"))
            .otherwise(pl.format("唯一评鉴人按名额评'好'，但本单位得分普遍偏低（如实）; {} 人", "size"))
            .alias("detail"),
            pl.col("people"),
            period_from=_period(city, pl.lit(0)),
            period_to=_period(city, pl.lit(city.quarters - 1)),
        )
    )  # fmt: skip


def _star_rows(city: City, plan: Plan, units: pl.DataFrame) -> pl.DataFrame:
    stars = (
        city.people.filter(pl.Series(plan.star))
        .group_by("unit_idx")
        .agg(stars=pl.col("person_id").sort().str.join(","))
    )
    return units.join(stars, on="unit_idx").select(
        pl.lit("honest_star").alias("pattern"),
        pl.lit("unit").alias("subject_type"),
        pl.col("unit").alias("subject"),
        pl.col("unit"),
        pl.format("{} 人; 实绩突出者每季度都评'好'（按实绩）", "size").alias("detail"),
        pl.col("stars").alias("people"),
        period_from=_period(city, pl.lit(0)),
        period_to=_period(city, pl.lit(city.quarters - 1)),
    )


def _small_rows(city: City, plan: Plan, units: pl.DataFrame) -> pl.DataFrame:
    lo, hi = SMALL_UNIT
    return units.filter((pl.col("pattern") == "") & pl.col("size").is_between(lo, hi)).select(
        pl.lit("honest_small").alias("pattern"),
        pl.lit("unit").alias("subject_type"),
        pl.col("unit").alias("subject"),
        pl.col("unit"),
        pl.format("{} 人的小单位（按实绩，名额 1-2 个'好'）", "size").alias("detail"),
        pl.col("people"),
        period_from=_period(city, pl.lit(0)),
        period_to=_period(city, pl.lit(city.quarters - 1)),
    )


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
        .when(pl.col("pattern") == "compression_year")
        .then(pl.lit("almost everyone 较好 in one year (one or two 好 a quarter, never 一般); merit otherwise"))
        .when(pl.col("pattern") == "honest_turnover")
        .then(pl.lit("staff come and go (a third join late or leave early); merit grading"))
        .otherwise(pl.lit("no 一般/较差 and no negative outcome over all quarters"))
    )
