"""Quarterly scores and grades (平时考核) for the demo city, with the planted patterns.

Honest units grade by merit: a persistent latent ability plus quarter noise makes a score; the
lowest performances get 一般 (and rarely 较差); the best of the rest get 好 up to the unit's quota,
floor(0.4 n) and at least 1, where n is the number graded that quarter. New joiners are not graded
in their first quarter (不确定等次, probation) and a few people are on long leave. Planted units
(see truth.py) replace that rule with a queue, a no-repeat rule, compression, silence about
negatives, or a lenient section head. Everything is numpy over all person-quarters at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analytics.demo.city import City
from analytics.demo.truth import Plan

GOOD, FAIRLY_GOOD, AVERAGE, POOR, UNGRADED = range(5)  # codes in vocab.QUARTERLY_GRADES order
GOOD_CAP = 0.40
ABILITY_SHARE = 0.62  # share of a quarter's performance variance that is persistent ability
SLIP_ABILITY_SHARE = 0.3  # the same for a bad quarter (一般/较差): mostly transient
AVERAGE_BELOW, POOR_BELOW = -1.9, -2.9  # z of a quarter's slip below which it is 一般 / 较差
ROTATIONS = ("rotation_strict", "rotation_norepeat", "rotation_partial")
SUBSCORE_WEIGHTS = (0.6, 0.4)  # 工作实绩, 工作作风
STAR_ABILITY = 3.2  # a star's ability (z): 好 every quarter in an honest unit
SEASON_PEAK, SEASON_LOW = 1.6, -0.5  # a seasonal section's performance in its peak quarter and the others
LOW_UNIT_OFFSET = (-7.0, -5.0)  # score points: a unit whose people all score low (honest_sole_low)
SCORE_RAISE = 6.0  # points a lenient_scored reviewer adds to the people it grades 好
LEAVE_SHARE = 0.004  # person-quarters not graded: leave, study, investigation
AWAY_YEAR_SHARE = 0.004  # person-years away all year (secondment, long illness): not graded


@dataclass(frozen=True)
class QuarterGrid:
    """One entry per person-quarter present, ordered by quarter then person.

    person, t (0 = first quarter), unit, section: int arrays; grade: int8 code (GOOD..UNGRADED);
    score, merit (1 decimal / 2 decimals with sub-scores; NaN where the unit keeps no scores),
    achievement, conduct: sub-scores (NaN where none).
    """

    person: np.ndarray
    t: np.ndarray
    unit: np.ndarray
    section: np.ndarray
    grade: np.ndarray
    score: np.ndarray
    achievement: np.ndarray
    conduct: np.ndarray

    def __len__(self) -> int:
        return len(self.person)


def top_k_in_groups(
    group: np.ndarray, value: np.ndarray, eligible: np.ndarray, k: np.ndarray, tiebreak: np.ndarray
) -> np.ndarray:
    """True for the k[g] eligible rows with the highest value in each group g (ties broken by `tiebreak`)."""
    chosen = np.zeros(len(group), dtype=bool)
    idx = np.flatnonzero(eligible)
    if len(idx) == 0:
        return chosen
    g = group[idx]
    order = np.lexsort((tiebreak[idx], -value[idx], g))
    g_sorted = g[order]
    first = np.searchsorted(g_sorted, np.arange(len(k)))
    rank = np.arange(len(order)) - first[g_sorted]
    chosen[idx[order]] = rank < k[g_sorted]
    return chosen


def rank_in_groups(group: np.ndarray, key: np.ndarray, n_groups: int) -> np.ndarray:
    """0-based position of each row in its group when ordered by key (ascending)."""
    order = np.lexsort((key, group))
    g_sorted = group[order]
    first = np.searchsorted(g_sorted, np.arange(n_groups))
    rank = np.empty(len(group), dtype=np.int64)
    rank[order] = np.arange(len(order)) - first[g_sorted]
    return rank


def quota(n_graded: np.ndarray) -> np.ndarray:
    """Number of 好 allowed: floor(0.4 n), at least 1 (0 when nobody is graded)."""
    return np.where(n_graded > 0, np.maximum(1, np.floor(GOOD_CAP * n_graded + 1e-9)), 0).astype(np.int64)


def grade_city(city: City, plan: Plan, rng: np.random.Generator) -> QuarterGrid:
    """Scores and grades for every person-quarter present."""
    person, t = _present_rows(city)
    unit = city.people["unit_idx"].to_numpy()[person]
    section = city.people["section_idx"].to_numpy()[person].astype(np.int32)
    raw, negative, slip = _performance(city, plan, person, t, unit, rng)
    tiebreak = rng.random(len(person), dtype=np.float32)
    score, achievement, conduct = _written_scores(city, unit, raw, rng)
    del raw
    grade = _base_grades(city, plan, person, t, unit, negative, slip, rng)
    del negative, slip
    grade = _assign_goods(city, plan, person, t, unit, section, grade, score, tiebreak, rng)
    has_sub_unit = city.units["has_subscores"].to_numpy()[unit]
    score, achievement, conduct = _raise_lenient_scores(plan, has_sub_unit, section, grade, score, achievement, conduct)
    score, achievement, conduct = _edit_scores_to_agree(
        plan,
        unit,
        unit.astype(np.int64) * city.quarters + t,
        grade,
        score,
        achievement,
        conduct,
        tiebreak,
        city.n_units * city.quarters,
    )
    has_score = city.units["has_scores"].to_numpy()[unit] & (grade != UNGRADED)
    has_sub = city.units["has_subscores"].to_numpy()[unit] & (grade != UNGRADED)
    return QuarterGrid(
        person=person,
        t=t,
        unit=unit,
        section=section,
        grade=grade,
        score=np.where(has_score, score, np.nan),
        achievement=np.where(has_sub, achievement, np.nan),
        conduct=np.where(has_sub, conduct, np.nan),
    )


def _present_rows(city: City) -> tuple[np.ndarray, np.ndarray]:
    """(person, t) of every person-quarter present, ordered by quarter then person."""
    T = city.quarters
    join_t = city.people["join_t"].to_numpy()
    leave_t = city.people["leave_t"].to_numpy()
    present = (np.arange(T)[:, None] >= join_t[None, :]) & (np.arange(T)[:, None] < leave_t[None, :])
    t, person = np.nonzero(present)
    return person.astype(np.int32), t.astype(np.int16)


def _performance(city: City, plan: Plan, person, t, unit, rng) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(raw score, bad-quarter flag, slip z) per row: persistent ability plus quarter noise.

    Honest look-alikes shape the performance, never the grading rule: stars are far above their colleagues,
    a seasonal section peaks in one quarter a year, a low-scoring unit's scores run several points low.
    """
    n_rows = len(person)
    ability = rng.standard_normal(city.n_people).astype(np.float32)
    ability[plan.star] = STAR_ABILITY
    noise = rng.standard_normal(n_rows, dtype=np.float32)
    perf = np.sqrt(ABILITY_SHARE) * ability[person] + np.sqrt(1 - ABILITY_SHARE) * noise
    del noise
    section = city.people["section_idx"].to_numpy()[person]
    seasonal = plan.section_role[section] == "seasonal"
    in_season = (t % 4) == plan.section_variant[section]
    perf = perf + np.where(seasonal, np.where(in_season, SEASON_PEAK, SEASON_LOW), 0.0).astype(np.float32)
    # A bad quarter (一般/较差) is less persistent than ability: it has its own, mostly transient, cause.
    transient = rng.standard_normal(n_rows, dtype=np.float32)
    slip = np.sqrt(SLIP_ABILITY_SHARE) * ability[person] + np.sqrt(1 - SLIP_ABILITY_SHARE) * transient
    del transient
    negative = slip < AVERAGE_BELOW
    perf = np.where(negative, np.minimum(perf, slip), perf)  # the score shows the bad quarter
    unit_offset = rng.normal(0, 1.5, city.n_units).astype(np.float32)
    low = plan.unit_pattern == "honest_sole_low"
    unit_offset[low] = rng.uniform(*LOW_UNIT_OFFSET, int(low.sum()))
    raw = np.clip(84 + unit_offset[unit] + 5.5 * perf, 45, 99.4).astype(np.float64)  # written values: float64
    return raw, negative, slip


def _written_scores(city: City, unit, raw, rng) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scores as units write them: 0.6 工作实绩 + 0.4 工作作风 (2 decimals) where kept, else one score (1 decimal)."""
    has_sub = city.units["has_subscores"].to_numpy()[unit]
    spread = rng.standard_normal(len(raw), dtype=np.float32) * np.float32(2.5)
    conduct = np.round(np.clip(raw + spread, 40, 100), 1)
    achievement = np.round(np.clip((raw - SUBSCORE_WEIGHTS[1] * conduct) / SUBSCORE_WEIGHTS[0], 30, 100), 1)
    combined = np.round(SUBSCORE_WEIGHTS[0] * achievement + SUBSCORE_WEIGHTS[1] * conduct, 2)
    return np.where(has_sub, combined, np.round(raw, 1)), achievement, conduct


def _base_grades(city: City, plan: Plan, person, t, unit, negative, slip, rng) -> np.ndarray:
    """较好 for everyone, 一般/较差 for bad quarters (not where the plan silences them), 不确定等次 where not graded.

    Not graded: a new joiner's first quarter (probation, most of them), a year away, a quarter's leave.
    """
    n_rows, T = len(person), city.quarters
    join_t = city.people["join_t"].to_numpy()[person]
    joined_now = (t == join_t) & (join_t > 0) & (rng.random(n_rows, dtype=np.float32) < 0.7)
    years = max(T // 4, 1)
    away_year = rng.random(city.n_people * years) < AWAY_YEAR_SHARE
    away = away_year[person.astype(np.int64) * years + np.minimum(t // 4, years - 1)]
    on_leave = rng.random(n_rows, dtype=np.float32) < LEAVE_SHARE
    ungraded = (joined_now | away | on_leave) & ~plan.in_units(unit, ROTATIONS)
    grade = np.full(n_rows, FAIRLY_GOOD, dtype=np.int8)
    grade[negative] = AVERAGE
    grade[slip < POOR_BELOW] = POOR
    silenced = plan.in_units(unit, ("rotation_strict", "rotation_partial", "compression", "silent_negatives"))
    silenced |= _compressed_year(plan, unit, t)
    grade[silenced & (grade != FAIRLY_GOOD)] = FAIRLY_GOOD
    grade[ungraded] = UNGRADED
    return grade


def _compressed_year(plan: Plan, unit, t) -> np.ndarray:
    """Rows of compression_year units in their compressed year."""
    year = np.where(plan.unit_pattern == "compression_year", plan.unit_variant, "-1").astype(np.int64)
    return (plan.unit_pattern == "compression_year")[unit] & (year[unit] == t // 4)


def _assign_goods(city: City, plan: Plan, person, t, unit, section, grade, score, tiebreak, rng) -> np.ndarray:
    """好 within each unit's quota: lenient sections first, then merit, compression or rotation.

    A 'lenient' head's 好 come out of the unit's quota; a 'lenient_scored' head's come on top of it (the unit
    goes over its cap), and a lenient sole reviewer's quota is its own share of the unit.
    """
    T, n_units = city.quarters, city.n_units
    group = unit.astype(np.int64) * T + t
    graded = grade != UNGRADED
    n_graded = np.bincount(group[graded], minlength=n_units * T)
    k_unit = quota(n_graded)
    sole_k = np.round(plan.unit_share.repeat(T) * n_graded).astype(np.int64)
    k_unit = np.where(plan.unit_share.repeat(T) > 0, np.maximum(sole_k, k_unit), k_unit)
    candidate = graded & (grade == FAIRLY_GOOD)

    # Lenient sections: their head gives 好 to a fixed share of the section.
    lenient_row = (plan.lenient_share > 0)[section]
    within_quota = (plan.section_role == "lenient")[section]
    sec_group = section.astype(np.int64) * T + t
    sec_graded = np.bincount(sec_group[graded & lenient_row], minlength=len(plan.lenient_share) * T)
    k_section = np.round(plan.lenient_share.repeat(T) * sec_graded).astype(np.int64)
    lenient_good = top_k_in_groups(sec_group, score, candidate & lenient_row, k_section, tiebreak)
    k_rest = k_unit - np.bincount(group[lenient_good & within_quota], minlength=n_units * T)
    # A lenient_scored section's people are left out of the rest's quota (the rest keep 40% of themselves).
    scored_rows = graded & lenient_row & ~within_quota
    k_rest -= np.floor(GOOD_CAP * np.bincount(group[scored_rows], minlength=n_units * T) + 1e-9).astype(np.int64)
    # The lenient_scored section's other people still compete for the unit's quota.
    candidate_rest = candidate & ~(lenient_row & (within_quota | lenient_good))

    # Compression: one 好 a quarter (two or more in units of 15+); in compression_year units only that year.
    size = city.units["size"].to_numpy()
    compressed_k = np.where(size >= 15, np.maximum(1, np.round(0.08 * size)), 1).astype(np.int64).repeat(T)
    compressed = (plan.unit_pattern == "compression").repeat(T)
    year_units = plan.unit_pattern == "compression_year"
    year_of = np.where(year_units, plan.unit_variant, "-1").astype(np.int64)
    compressed |= (year_units[:, None] & (np.arange(T)[None, :] // 4 == year_of[:, None])).ravel()
    k_rest = np.maximum(np.where(compressed, np.minimum(compressed_k, k_rest), k_rest), 0)

    rotating = plan.in_units(unit, ROTATIONS)
    good = lenient_good | top_k_in_groups(group, score, candidate_rest & ~rotating, k_rest, tiebreak)
    good |= _rotation_goods(plan, unit, person, t, score, tiebreak, T, n_units, k_unit, rng) & candidate
    grade = grade.copy()
    grade[good] = GOOD
    return grade


def _queue_goods(pos: np.ndarray, size: np.ndarray, k: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Strict queue: position p gets 好 in quarter t when (p - t k) mod n < k (everyone in turn)."""
    return np.mod(pos - t.astype(np.int64) * k, np.maximum(size, 1)) < k


def _rotation_goods(plan: Plan, unit, person, t, score, tiebreak, T: int, n_units: int, k_unit, rng) -> np.ndarray:
    """好 for the rotation units: strict queue, no-repeat, and partial (some years, or a subset)."""
    good = np.zeros(len(unit), dtype=bool)
    rows = np.flatnonzero(plan.in_units(unit, ROTATIONS))
    if len(rows) == 0:
        return good
    pattern = plan.unit_pattern[unit[rows]]
    variant = plan.unit_variant[unit[rows]]
    u, p, tt = unit[rows], person[rows], t[rows]
    k = k_unit[u.astype(np.int64) * T + tt]
    # Queue position: a random order of the unit's people (everyone is present in rotation units).
    first_rows = rows[tt == 0]
    key = rng.random(len(first_rows))
    pos_of_person = np.zeros(person.max() + 1, dtype=np.int64)
    pos_of_person[person[first_rows]] = rank_in_groups(unit[first_rows].astype(np.int64), key, n_units)
    size = np.bincount(unit[first_rows], minlength=n_units)
    pos = pos_of_person[p]

    strict = pattern == "rotation_strict"
    good[rows[strict]] = _queue_goods(pos[strict], size[u[strict]], k[strict], tt[strict])

    # Partial, 'years': merit in the first year, a strict queue from the second.
    years = (pattern == "rotation_partial") & (variant == "years")
    later = years & (tt >= 4)
    good[rows[later]] = _queue_goods(pos[later], size[u[later]], k[later], tt[later] - 4)
    early = years & (tt < 4)
    group = u.astype(np.int64) * T + tt
    kk = np.zeros(n_units * T, dtype=np.int64)
    kk[group[early]] = k[early]
    good[rows] |= top_k_in_groups(group, score[rows], early, kk, tiebreak[rows])

    # Partial, 'subset': the first ~60% of the queue rotates strictly over its share of the quota.
    subset_unit = (pattern == "rotation_partial") & (variant == "subset")
    m = np.maximum(4, np.round(0.6 * size)).astype(np.int64)
    in_subset = subset_unit & (pos < m[u])
    k_sub = np.maximum(1, np.round(k * m[u] / np.maximum(size[u], 1))).astype(np.int64)
    good[rows[in_subset]] = _queue_goods(pos[in_subset], m[u[in_subset]], k_sub[in_subset], tt[in_subset])
    outside = subset_unit & ~in_subset
    kk = np.zeros(n_units * T, dtype=np.int64)
    kk[group[subset_unit]] = np.maximum(k - k_sub, 0)[subset_unit]
    good[rows] |= top_k_in_groups(group, score[rows], outside, kk, tiebreak[rows])

    # No-repeat: each quarter a random k among those without 好 last quarter.
    norepeat = pattern == "rotation_norepeat"
    had_good = np.zeros(person.max() + 1, dtype=bool)
    draw = rng.random(len(rows))
    for q in range(T):  # quarters, not rows: each step is vectorised over all no-repeat units
        now = norepeat & (tt == q)
        kk = np.zeros(n_units * T, dtype=np.int64)
        kk[group[now]] = k[now]
        chosen = top_k_in_groups(group, draw, now & ~had_good[p], kk, tiebreak[rows])
        good[rows[chosen]] = True
        had_good[p[now]] = False
        had_good[p[chosen]] = True
    return good


def _raise_lenient_scores(plan: Plan, has_sub, section, grade, score, achievement, conduct):
    """A lenient_scored reviewer writes higher scores for the people it grades 好, so scores agree with grades.

    Where the unit keeps sub-scores, they are raised and the score recombined from them (0.6/0.4), as written.
    """
    raised = (plan.section_role == "lenient_scored")[section] & (grade == GOOD)
    if not raised.any():
        return score, achievement, conduct
    bump = np.where(raised, SCORE_RAISE, 0.0)
    achievement = np.round(np.minimum(achievement + bump, 100.0), 1)
    conduct = np.round(np.minimum(conduct + bump, 100.0), 1)
    combined = np.round(SUBSCORE_WEIGHTS[0] * achievement + SUBSCORE_WEIGHTS[1] * conduct, 2)
    score = np.where(has_sub, combined, np.round(np.minimum(score + bump, 99.4), 1))
    return score, achievement, conduct


def _edit_scores_to_agree(plan: Plan, unit, group, grade, score, achievement, conduct, tiebreak, n_groups: int):
    """In 'edited' strict-rotation units, hand the quarter's best scores to the people given 好."""
    edited = ((plan.unit_pattern == "rotation_strict") & (plan.unit_variant == "edited"))[unit]
    if not edited.any():
        return score, achievement, conduct
    rows = np.flatnonzero(edited)
    g = group[rows]
    by_score = rank_in_groups(g, -score[rows], n_groups)  # 0 = best score
    by_grade = rank_in_groups(g, grade[rows].astype(np.float64) + tiebreak[rows] * 0.5, n_groups)  # 好 first
    # Row with grade-rank r receives the score of the row with score-rank r (same group).
    order_score = np.lexsort((by_score, g))
    order_grade = np.lexsort((by_grade, g))
    score, achievement, conduct = score.copy(), achievement.copy(), conduct.copy()
    for values in (score, achievement, conduct):
        values[rows[order_grade]] = values[rows[order_score]].copy()
    return score, achievement, conduct
