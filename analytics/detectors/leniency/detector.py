"""The leniency detector (L3, kind 'leniency'): one flag per reviewer and unit, on the fairest comparison there is.

- Units with two or more named reviewers: each reviewer against the unit's other people at equal score
  (within_unit: Mantel-Haenszel over unit x quarter x score fifth, basis 'within'); without scores, by quarter
  only (basis 'unscored', with its caveat).
- When the scores rose with the grades, the equal-score comparison explains the leniency away; then the quota
  evidence is the witness. A unit that goes over its cap names at most one reviewer for it: the one whose people
  hold the most of the unit's 好 above the cap's share (in the quarters over the cap, sum of a_t - cap n_t against
  the unit's sum of k_t - cap N_t), at least half of it, over the cap in at least SCORES_ROSE_QUARTERS quarters,
  with its people scoring above the unit's median on average. A stronger section that merely shares an over-cap
  unit with a lenient one holds less of the excess and is judged at equal score only. The named reviewer gets a
  second test (basis 'scores_rose'): in the quarters over the cap, its people's 好 against the unit's others
  (Mantel-Haenszel by quarter, without the between-reviewer spread: the rule break is the evidence). Both tests
  enter the false-discovery control; the flag keeps the one with the smaller q, and when the quota one decides
  its caveat says the leniency may be in the scores too and points to the quota flag.
- Units with one reviewer or none: sole (the unit's 好 against the cap and its lane, quarter by quarter).

A reviewer needs at least settings.leniency.min_people people and min_graded person-quarters in the unit, and
the unit's others at least min_people people. Benjamini-Hochberg q-values across every body tested. Flagged when
q < settings.leniency.alpha and the effect (the share of 好 above the comparison, in share points: RD, or the
share above what the quotas allow) reaches settings.leniency.min_effect. Severity = effect / 0.5.
Reviewer names are the data's: a name in several units is judged in each (flag_key includes the unit).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from analytics.dataset import AssessmentData
from analytics.detectors._unit_stats import graded_frame, ordered, period_of, stats_json
from analytics.detectors.base import empty_flags, finish_flags
from analytics.detectors.leniency.evidence import (
    SCORES_ROSE,
    SOLE,
    UNSCORED,
    WITHIN,
    leniency_caveats,
    leniency_evidence,
)
from analytics.detectors.leniency.quota import quarter_quotas
from analytics.detectors.leniency.sole import sole_bodies, unit_totals
from analytics.detectors.leniency.within_unit import compare, score_percentile, with_between_variance
from analytics.settings import Settings
from analytics.stats import bh_qvalues

LENIENCY_FULL = 0.50  # 50 share points above the comparison is as severe as it gets
SCORES_ROSE_PERCENTILE = 0.5  # its people's mean score percentile must be above the unit's median (scores rose)
SCORES_ROSE_QUARTERS = 2  # quarters over the cap before the quota evidence is read as the scores' witness
SCORED_SHARE = 0.5  # share of a reviewer's rows with a score before the comparison is made at equal score

STATISTIC = {
    WITHIN: "share of 好 above the unit's other people at equal score (Mantel-Haenszel risk difference)",
    UNSCORED: "share of 好 above the unit's other people in the same quarters (Mantel-Haenszel, no scores)",
    SCORES_ROSE: "share of 好 above the unit's other people in the same quarters (not score-adjusted)",
    SOLE: "share of 好 above what the quarterly quotas allow",
}


def _rows(quarterly: pl.DataFrame) -> pl.DataFrame:
    """Graded rows: unit, lane, t, person_id, is_good, score (float), reviewer (blank names as null)."""
    graded = graded_frame(quarterly, ("person_id", "unit", "lane", "year", "quarter", "grade", "score", "reviewer"))
    reviewer = (
        pl.col("reviewer").cast(pl.Utf8).str.strip_chars()
        if "reviewer" in quarterly.columns
        else pl.lit(None, dtype=pl.Utf8)
    )
    score = pl.col("score").cast(pl.Float64) if "score" in quarterly.columns else pl.lit(None, dtype=pl.Float64)
    # Categorical keys: every step groups or joins on unit, reviewer and person (millions of rows at scale).
    return graded.select(
        pl.col("unit").cast(pl.Categorical),
        "lane",
        "t",
        pl.col("person_id").cast(pl.Categorical),
        "is_good",
        score.alias("score"),
        pl.when(reviewer != "").then(reviewer).cast(pl.Categorical).alias("reviewer"),
    ).collect(engine="streaming")


def _reviewer_facts(rows: pl.DataFrame, quarters: pl.DataFrame) -> pl.DataFrame:
    """Per (unit, named reviewer): person-quarters, people, scored share, mean score percentile, window, quarters
    over the cap among its own and the unit's 好 above the cap its people hold, and the people of the rest of the unit."""
    named = rows.filter(pl.col("reviewer").is_not_null())
    per_unit = rows.lazy().group_by("unit").agg(unit_people=pl.col("person_id").n_unique()).collect(engine="streaming")
    return (
        named.group_by("unit", "reviewer")
        .agg(
            pq=pl.len(),
            people=pl.col("person_id").n_unique(),
            scored=pl.col("score").is_not_null().mean(),
            score_pct=pl.col("pct").mean(),
            t_from=pl.col("t").min(),
            t_to=pl.col("t").max(),
        )
        .join(_over_cap_quarters(named, quarters), on=["unit", "reviewer"])
        .join(per_unit, on="unit")
        .with_columns(others=pl.col("unit_people") - pl.col("people"))
    )


def _over_cap_quarters(named: pl.DataFrame, quarters: pl.DataFrame) -> pl.DataFrame:
    """Per (unit, reviewer): quarters graded, of them over the unit's cap, and in those quarters the 好 its people
    got above the cap's share of them (sum of a_t - cap n_t, `excess_r`) beside the unit's 好 above the cap's share
    of the whole unit (sum of k_t - cap N_t, `unit_excess`): whose people hold the unit's excess."""
    f = pl.col
    per = (
        named.lazy()
        .group_by("unit", "reviewer", "t")
        .agg(n_r=pl.len(), a_r=f("is_good").sum())
        .collect(engine="streaming")  # integer counts: the engine's order does not matter
        .join(quarters.select("unit", "t", "n", "k", "cap", "over"), on=["unit", "t"])
    )
    over = f("over")
    return per.group_by("unit", "reviewer").agg(
        quarters_r=pl.len(),
        over_r=over.sum(),
        # rounded: a float sum's last digit follows the group's row order, and these decide who is named
        excess_r=(f("a_r") - f("cap") * f("n_r")).filter(over).sum().round(9),
        unit_excess=(f("k") - f("cap") * f("n")).filter(over).sum().round(9),
    )


def _several(rows: pl.DataFrame) -> pl.DataFrame:
    """The rows of units with two or more named reviewers, with each score's percentile in its unit and quarter."""
    return (
        rows.lazy()
        .drop("lane")  # not read by the within-unit tests, and a string column of millions of rows
        .filter(pl.col("reviewer").n_unique().over("unit") >= 2)
        .with_columns(pct=score_percentile())
        .collect()
    )


def _within_bodies(several: pl.DataFrame, quarters: pl.DataFrame, settings: Settings) -> pl.DataFrame:
    """Reviewers of units with two or more named reviewers (`_several`), each with its test on the fairest basis."""
    lc = settings.leniency
    if several.height == 0:
        return pl.DataFrame()
    facts = _reviewer_facts(several, quarters).filter(
        (pl.col("people") >= lc.min_people) & (pl.col("others") >= lc.min_people) & (pl.col("pq") >= lc.min_graded)
    )
    keys = ["unit", "reviewer"]
    scored = pl.col("scored") >= SCORED_SHARE
    adj = compare(several, by_score=True).join(facts.select(*keys, "scored"), on=keys)
    adj = with_between_variance(adj, scored).filter(scored)
    # The comparison by quarter only is needed where scores are missing (cheap to skip elsewhere).
    unscored_units = facts.filter(~scored).select("unit").unique()
    raw_rows = several.join(unscored_units, on="unit", how="semi")
    raw = compare(raw_rows, by_score=False, clustered=True).join(facts.select(*keys, "scored"), on=keys)
    # Without scores the spread between sections includes their people's merit: its own tau^2 where it can.
    unscored_pool = raw.join(facts.filter(~scored).select(keys), on=keys, how="semi").height >= 5
    raw = with_between_variance(raw, ~scored if unscored_pool else pl.lit(True))
    # Who holds the unit's extra 好 in the quarters it went over its cap: the rule break is the evidence here,
    # so the spread between honest sections (tau^2) is not added (the caveat says what that leaves open).
    over_cap = several.join(quarters.filter("over").select("unit", "t"), on=["unit", "t"], how="semi")
    over = with_between_variance(compare(over_cap, by_score=False).join(facts.select(keys), on=keys), pl.lit(True), 0.0)
    bodies = (
        facts.join(adj.select(*keys, "rd", se_adj="se", z_adj="z", p_adj="p", tau2_adj="tau2"), on=keys, how="left")
        .join(raw.select(*keys, rd_raw="rd", se_raw="se", z_raw="z", p_raw="p", tau2_raw="tau2"), on=keys, how="left")
        .join(over.select(*keys, rd_over="rd", se_over="se", z_over="z", p_over="p"), on=keys, how="left")
    )
    unscored = ~scored
    tested = bodies.with_columns(
        basis=pl.when(unscored).then(pl.lit(UNSCORED)).otherwise(pl.lit(WITHIN)),
        p=pl.when(unscored).then("p_raw").otherwise("p_adj"),
        effect=pl.when(unscored).then("rd_raw").otherwise("rd"),
        z_used=pl.when(unscored).then("z_raw").otherwise("z_adj"),
    )
    witness = _quota_witness(bodies).with_columns(
        basis=pl.lit(SCORES_ROSE), p=pl.col("p_over"), effect=pl.col("rd_over"), z_used=pl.col("z_over")
    )
    return (
        pl.concat([tested, witness])
        .with_columns(subject=pl.col("reviewer"), subject_type=pl.lit("reviewer"))
        .filter(pl.col("p").is_not_null())
    )


def _quota_witness(bodies: pl.DataFrame) -> pl.DataFrame:
    """The one reviewer per over-cap unit that the quota evidence names (module docstring): scored, its people
    above the unit's median score, over the cap in at least SCORES_ROSE_QUARTERS of its quarters, holding the most
    of the unit's 好 above the cap and at least half of it; ties go to the stronger equal-score evidence."""
    f = pl.col
    named = (
        (f("scored") >= SCORED_SHARE)
        & (f("score_pct") > SCORES_ROSE_PERCENTILE)
        & (f("over_r") >= SCORES_ROSE_QUARTERS)
        & (f("unit_excess") > 0)
        & (2 * f("excess_r") >= f("unit_excess"))
        & f("p_over").is_not_null()
    )
    return (
        bodies.filter(named)
        .sort([f("unit").cast(pl.Utf8), "excess_r", "p_adj", f("reviewer").cast(pl.Utf8)],
              descending=[False, True, False, False], nulls_last=True)
        .unique("unit", keep="first", maintain_order=True)
    )  # fmt: skip


class LeniencyDetector:
    """L3: a reviewer's 好 against the unit's other people at equal score; a sole reviewer against the cap and lane."""

    kind = "leniency"
    name_zh = "评鉴宽松（老好人）"
    name_en = "Lenient grading (score-adjusted)"

    def detect(self, data: AssessmentData, settings: Settings, seed: int = 0) -> pl.DataFrame:
        rows = _rows(data.quarterly)
        if rows.height == 0:
            return empty_flags()
        lc = settings.leniency
        quarters = quarter_quotas(rows, settings)
        totals = unit_totals(rows, quarters, settings)
        sole = sole_bodies(rows, totals, settings).with_columns(z_used=pl.lit(None, dtype=pl.Float64))
        sole = sole.drop("lane", "reviewer", "reviewers")
        several = _several(rows)
        del rows  # the within-unit tests work on `several`: not both copies of millions of rows at once
        within = _within_bodies(several, quarters, settings)
        del several
        text = [pl.col(c).cast(pl.Utf8) for c in ("unit", "subject", "reviewer")]
        parts = [
            f.with_columns([e for e in text if e.meta.output_name() in f.columns]) for f in (within, sole) if f.height
        ]
        if not parts:
            return empty_flags()
        bodies = pl.concat(parts, how="diagonal_relaxed")
        bodies = bodies.sort("unit", "subject", "basis")  # fixed order: BH ranks ties by position
        bodies = bodies.with_columns(
            p_value=pl.col("p"), q_value=pl.Series(bh_qvalues(bodies["p"].fill_null(np.nan).to_numpy())).fill_nan(None)
        )
        flagged = bodies.filter((pl.col("q_value") < lc.alpha) & (pl.col("effect") >= lc.min_effect))
        # One flag per reviewer and unit: of its tests (equal score, quota witness) the one with the smaller q.
        flagged = flagged.sort("unit", "subject", "q_value", "p_value", "basis").unique(
            ["unit", "subject_type", "subject"], keep="first", maintain_order=True
        )
        if flagged.height == 0:
            return empty_flags()
        flagged = flagged.join(totals.select(pl.col("unit").cast(pl.Utf8), "lane"), on="unit", how="left")
        # Each basis fills its own columns; the sentences of the others read nulls.
        absent = [c for c in (*_STATISTICS, "worst_t", "worst_share") if c not in flagged.columns]
        flagged = flagged.with_columns([pl.lit(None, dtype=pl.Float64).alias(c) for c in absent])
        zh, en = leniency_evidence()
        czh, cen = leniency_caveats()
        out = flagged.with_columns(
            kind=pl.lit(self.kind),
            finding=pl.lit(""),
            period_from=period_of(pl.col("t_from")),
            period_to=period_of(pl.col("t_to")),
            statistic=pl.col("basis").replace_strict(STATISTIC, return_dtype=pl.Utf8),
            statistic_value=pl.col("effect"),
            statistics=stats_json(*_STATISTICS),
            severity=(pl.col("effect") / LENIENCY_FULL).clip(0.0, 1.0),
            n=pl.col("pq").cast(pl.Int64),
            evidence_zh=zh,
            evidence_en=en,
            caveat_zh=czh,
            caveat_en=cen,
        )
        return ordered(finish_flags(out))


_STATISTICS = (
    "basis", "effect", "z_used", "rd", "se_adj", "z_adj", "p_adj", "tau2_adj", "rd_raw", "se_raw", "z_raw", "p_raw",
    "tau2_raw", "rd_over", "se_over", "z_over", "p_over", "score_pct", "scored", "quarters_r", "over_r", "excess_r", "unit_excess", "people", "others", "share", "allowed_share",
    "lane_mean", "tau2_lane", "z_lane", "p_cap", "p_lane", "quarters", "quarters_over",
)  # fmt: skip
