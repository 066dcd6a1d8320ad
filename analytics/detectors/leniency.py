"""Leniency (老好人) and inflated grades: the quota detector (L1) and the score-adjusted leniency detector (L3).

DETECTORS.md section 2.

- kind 'quota' (L1), one flag per unit: quarters where 好 exceeds the cap (settings.quota.good_cap of the
  graded participants, quota = max(floor(cap * n), good_min_quota)), years where annual 优秀 exceeds its cap
  (excellent_cap; excellent_cap_approved for settings.quota.approved_units), and a lane-relative test of the
  unit's share of 好 over all its quarters: p = P(BetaBinomial(N, a, b) >= K), a and b fitted by moments
  over the units of its lane, Benjamini-Hochberg q-values across units. A cap breach is a rule break and is
  always reported; the test says how unusual the unit is against its lane. Units smaller than
  settings.leniency.min_unit_size are not tested against their lane: their quota floor (at least one 好)
  puts them above the lane's share by design.
- kind 'leniency' (L3), one flag per reviewer (the unit where no reviewer is named): where the unit has
  other reviewers, the reviewer against them at equal scores (analytics.fair_score.estimate_within_units:
  unit x quarter effects, one slope per unit); reviewers without scores, person by person against the
  unit's other people; otherwise the effect alpha of analytics.fair_score.estimate_leniency (grade points
  given above what the same scores earn in the same lane and quarter). One-sided z-test, q-values across
  all bodies tested, severity from the empirically-Bayes shrunk effect. Reviewer names are the data's: a
  name found in several units (namesakes, at province scale) is compared in the unit where it grades most.

Nesting (decided here): a reviewer who grades one unit only is still named, because inspectors need to know
who signed the grades, but the flag carries caveat_zh/caveat_en "评鉴人与单位无法区分" and the evidence
sentence speaks of grades given in that unit. Where the unit has other reviewers, the caveat adds how the
reviewer compares with them (the part of the effect that is the person's rather than the unit's).

Also the evidence views of the app: `funnel_data` (share of 好 against number graded, with 95% and 99.8%
limits around the lane mean) and `reviewer_mix` (grade mix of a reviewer or unit beside its lane).
"""

from __future__ import annotations

import numpy as np
import polars as pl
from scipy.stats import betabinom, norm

from analytics.dataset import AssessmentData
from analytics.detectors._unit_stats import (
    graded_rows,
    lane_beta_binomial,
    num,
    ordered,
    p_text,
    pct,
    period_of,
    stats_json,
    unit_main_lane,
)
from analytics.detectors.base import empty_flags, finish_flags
from analytics.settings import Settings
from analytics.stats import bh_qvalues
from analytics.vocab import ANNUAL_GRADE_RANK, EXCELLENT, GRADE_POINTS, GRADED, QUARTERLY_GRADE_EN

Z95, Z998 = norm.ppf(0.975), norm.ppf(0.999)
SEVERITY_SPAN = 0.30  # a share 30 points above the cap (or the lane) is as severe as it gets
LENIENCY_FULL = 0.50  # a shrunk effect of half a grade point is as severe as it gets


# ---------------------------------------------------------------- L1 quota


def _quota(n: pl.Expr, cap: float | pl.Expr, floor_quota: int) -> pl.Expr:
    """Most top grades allowed: floor(cap * n), at least `floor_quota`."""
    return pl.max_horizontal((n * cap + 1e-9).floor().cast(pl.Int64), pl.lit(floor_quota, dtype=pl.Int64))


def _quarterly_quota(graded: pl.DataFrame, settings: Settings) -> pl.DataFrame:
    """Per unit: quarters, quarters over the 好 cap, the worst quarter, totals for the lane test."""
    cap = settings.quota.good_cap
    per_quarter = (
        graded.group_by("unit", "t")
        .agg(n=pl.len(), good=pl.col("is_good").sum())
        .with_columns(quota=_quota(pl.col("n"), cap, settings.quota.good_min_quota), share=pl.col("good") / pl.col("n"))
        .with_columns(over=pl.col("good") > pl.col("quota"))
    )
    return (
        per_quarter.sort("unit", "share", "t", descending=[False, True, False])
        .group_by("unit", maintain_order=True)
        .agg(
            N=pl.col("n").sum(),
            K=pl.col("good").sum(),
            quarters=pl.len(),
            quarters_over=pl.col("over").sum(),
            median_n=pl.col("n").median(),
            worst_share=pl.col("share").first(),
            worst_t=pl.col("t").first(),
            t_from=pl.col("t").min(),
            t_to=pl.col("t").max(),
        )
        .with_columns(share=pl.col("K") / pl.col("N"))
    )


def _annual_quota(annual: pl.DataFrame, settings: Settings) -> pl.DataFrame:
    """Per unit: years graded, years with 优秀 over the cap, the worst year."""
    q = settings.quota
    rows = annual.filter(pl.col("annual_grade").is_in(list(ANNUAL_GRADE_RANK)) & pl.col("unit").is_not_null())
    approved = pl.col("unit").is_in(list(q.approved_units))
    per_year = (
        rows.group_by("unit", "year")
        .agg(
            n_year=pl.len(),
            excellent=(pl.col("annual_grade") == EXCELLENT).sum(),
            lane=pl.col("lane").drop_nulls().mode().first(),
        )
        .with_columns(ecap=pl.when(approved).then(pl.lit(q.excellent_cap_approved)).otherwise(pl.lit(q.excellent_cap)))
        .with_columns(
            equota=_quota(pl.col("n_year"), pl.col("ecap"), q.good_min_quota),
            eshare=pl.col("excellent") / pl.col("n_year"),
        )
        .with_columns(eover=pl.col("excellent") > pl.col("equota"))
    )
    return (
        per_year.sort("unit", "eshare", "year", descending=[False, True, False])
        .group_by("unit", maintain_order=True)
        .agg(
            years=pl.len(),
            years_over=pl.col("eover").sum(),
            worst_eshare=pl.col("eshare").first(),
            worst_year=pl.col("year").first(),
            ecap=pl.col("ecap").first(),
            year_from=pl.col("year").min(),
            year_to=pl.col("year").max(),
            annual_lane=pl.col("lane").drop_nulls().mode().first(),
        )
    )


def _lane_test(units: pl.DataFrame, settings: Settings) -> pl.DataFrame:
    """Beta-binomial upper-tail p-value of each unit's 好 total against its lane, with BH q-values."""
    lc = settings.leniency
    eligible = (
        (units["median_n"].fill_null(0) >= lc.min_unit_size) & (units["N"].fill_null(0) >= lc.min_graded)
    ).to_numpy()
    k = units["K"].fill_null(0).to_numpy().astype(float)
    n = units["N"].fill_null(0).to_numpy().astype(float)
    a, b, reference = lane_beta_binomial(k, n, units["lane"].to_numpy(), eligible, lc.min_lane_units)
    tested = eligible & np.isfinite(a)
    p = np.full(len(k), np.nan)
    if tested.any():
        p[tested] = betabinom.sf(k[tested] - 1, n[tested], a[tested], b[tested])
    return units.with_columns(
        pl.Series("p_lane", p).fill_nan(None),
        pl.Series("q_lane", bh_qvalues(p)).fill_nan(None),
        pl.Series("lane_mean", np.where(np.isfinite(a), a / (a + b), np.nan)).fill_nan(None),
        pl.Series("reference", reference.astype(str)),
    )


def _quota_evidence(cap: float) -> tuple[pl.Expr, pl.Expr]:
    over = pl.col("quarters_over").fill_null(0) > 0
    tested = pl.col("p_lane").is_not_null()
    has_q = pl.col("N").is_not_null()
    eover = pl.col("years_over").fill_null(0) > 0
    worst_period = period_of(pl.col("worst_t"))
    zh = pl.concat_str(
        [
            pl.format("{}：", pl.col("unit")),
            pl.when(over).then(
                pl.format(
                    "{} 个季度中有 {} 个季度'好'等次超过 {} 的比例上限（最高 {}，{}）；",
                    "quarters",
                    "quarters_over",
                    pl.lit(f"{cap:.0%}"),
                    pct(pl.col("worst_share")),
                    worst_period,
                )
            ),
            pl.when(has_q).then(pl.format("全期'好'占比 {}（{} 人次）", pct(pl.col("share")), "N")),
            pl.when(has_q & tested).then(
                pl.format(
                    "，同赛道平均 {}，β-二项检验 p {}、q {}。",
                    pct(pl.col("lane_mean")),
                    p_text(pl.col("p_lane")),
                    p_text(pl.col("q_lane")),
                )
            ),
            pl.when(has_q & ~tested).then(pl.lit("；单位规模小或人次不足，未与赛道比较。")),
            pl.when(eover).then(
                pl.format(
                    "年度'优秀'超过 {} 上限的年度 {} 个（最高 {}，{} 年）。",
                    pct(pl.col("ecap")),
                    "years_over",
                    pct(pl.col("worst_eshare")),
                    "worst_year",
                )
            ),
        ],
        ignore_nulls=True,
    )
    en = pl.concat_str(
        [
            pl.format("{}: ", pl.col("unit")),
            pl.when(over).then(
                pl.format(
                    "Good (好) above the {} cap in {} of {} quarters (worst {}, {}); ",
                    pl.lit(f"{cap:.0%}"),
                    "quarters_over",
                    "quarters",
                    pct(pl.col("worst_share")),
                    worst_period,
                )
            ),
            pl.when(has_q).then(pl.format("share of Good {} over {} person-quarters", pct(pl.col("share")), "N")),
            pl.when(has_q & tested).then(
                pl.format(
                    ", lane mean {}, beta-binomial p {}, q {}.",
                    pct(pl.col("lane_mean")),
                    p_text(pl.col("p_lane")),
                    p_text(pl.col("q_lane")),
                )
            ),
            pl.when(has_q & ~tested).then(
                pl.lit("; unit too small or too few person-quarters to test against its lane.")
            ),
            pl.when(eover).then(
                pl.format(
                    " Annual Excellent (优秀) above the {} cap in {} year(s) (worst {}, {}).",
                    pct(pl.col("ecap")),
                    "years_over",
                    pct(pl.col("worst_eshare")),
                    "worst_year",
                )
            ),
        ],
        ignore_nulls=True,
    )
    return zh, en


def _quota_severity(cap: float, alpha: float) -> pl.Expr:
    def clip(e: pl.Expr) -> pl.Expr:
        return e.clip(0.0, 1.0)

    rule_q = pl.when(pl.col("quarters_over").fill_null(0) > 0).then(
        clip(
            0.5 * pl.col("quarters_over") / pl.col("quarters")
            + 0.5 * clip((pl.col("worst_share") - cap) / SEVERITY_SPAN)
        )
    )
    rule_a = pl.when(pl.col("years_over").fill_null(0) > 0).then(
        clip(
            0.5 * pl.col("years_over") / pl.col("years")
            + 0.5 * clip((pl.col("worst_eshare") - pl.col("ecap")) / SEVERITY_SPAN)
        )
    )
    test = pl.when(pl.col("q_lane") < alpha).then(clip((pl.col("share") - pl.col("lane_mean")) / SEVERITY_SPAN))
    return pl.max_horizontal(rule_q.fill_null(0.0), rule_a.fill_null(0.0), test.fill_null(0.0))


class QuotaDetector:
    """L1: 好 over the quarterly cap, 优秀 over the annual cap, 好 share high against the lane."""

    kind = "quota"
    name_zh = "等次比例超限"
    name_en = "Grade shares over the cap"

    def detect(self, data: AssessmentData, settings: Settings, seed: int = 0) -> pl.DataFrame:
        graded = graded_rows(data.quarterly)
        quarterly = _quarterly_quota(graded, settings).join(unit_main_lane(graded), on="unit", how="left")
        annual = _annual_quota(data.annual, settings)
        if quarterly.height == 0 and annual.height == 0:
            return empty_flags()
        units = quarterly.join(annual, on="unit", how="full", coalesce=True).with_columns(
            pl.coalesce("lane", "annual_lane").alias("lane")
        )
        units = _lane_test(units.sort("unit"), settings)  # fixed order: float sums must not depend on group-by order
        cap, alpha = settings.quota.good_cap, settings.leniency.alpha
        flagged = units.filter(
            (pl.col("quarters_over").fill_null(0) > 0)
            | (pl.col("years_over").fill_null(0) > 0)
            | (pl.col("q_lane").fill_null(1.0) < alpha)
        )
        if flagged.height == 0:
            return empty_flags()
        zh, en = _quota_evidence(cap)
        has_q = pl.col("N").is_not_null()
        out = flagged.with_columns(
            worst_period=period_of(pl.col("worst_t")),
            good_cap=pl.lit(cap),
        ).with_columns(
            kind=pl.lit(self.kind),
            subject_type=pl.lit("unit"),
            subject=pl.col("unit"),
            period_from=pl.coalesce(period_of(pl.col("t_from")), pl.format("{}Q1", "year_from")),
            period_to=pl.coalesce(period_of(pl.col("t_to")), pl.format("{}Q4", "year_to")),
            statistic=pl.when(has_q)
            .then(pl.lit("share of 好 (quarterly)"))
            .otherwise(pl.lit("share of 优秀 (annual, worst year)")),
            statistic_value=pl.when(has_q).then(pl.col("share")).otherwise(pl.col("worst_eshare")),
            statistics=stats_json(
                "share",
                "N",
                "K",
                "quarters",
                "quarters_over",
                "good_cap",
                "worst_share",
                "worst_period",
                "lane_mean",
                "p_lane",
                "q_lane",
                "reference",
                "years",
                "years_over",
                "ecap",
                "worst_eshare",
                "worst_year",
            ),
            p_value=pl.col("p_lane"),
            q_value=pl.col("q_lane"),
            severity=_quota_severity(cap, alpha),
            n=pl.coalesce(pl.col("N"), pl.col("years")).cast(pl.Int64),
            evidence_zh=zh,
            evidence_en=en,
        )
        return ordered(finish_flags(out))


# ---------------------------------------------------------------- L3 score-adjusted leniency

_SEPARATED, _UNSCORED, _LANE = "unit", "unit_unscored", "lane"


def _named_reviewers(quarterly: pl.DataFrame) -> pl.DataFrame:
    """Graded rows with a reviewer name (only the columns the models read), with each unit's number of reviewers."""
    reviewer = pl.col("reviewer").cast(pl.Utf8) if "reviewer" in quarterly.columns else pl.lit(None, dtype=pl.Utf8)
    kept = quarterly.select(
        "person_id", "unit", "lane", "year", "quarter", "grade", "score", reviewer.alias("reviewer")
    )
    named = kept.filter(
        pl.col("grade").is_in(GRADED) & pl.col("reviewer").is_not_null() & (pl.col("reviewer").str.strip_chars() != "")
    )
    return named.with_columns(reviewers_in_unit=pl.col("reviewer").n_unique().over("unit"))


def _reviewer_rows(quarterly: pl.DataFrame) -> pl.DataFrame:
    """Graded rows with a reviewer, of units with at least two reviewers: the rows of the within-unit comparisons."""
    return _named_reviewers(quarterly).filter(pl.col("reviewers_in_unit") >= 2)


def _within_unit_effects(rows: pl.DataFrame, settings: Settings) -> pl.DataFrame:
    """Reviewers against the other reviewers of their unit, at equal scores (the model with unit x quarter effects).

    `rows`: graded rows with a reviewer, of units with at least two reviewers (`_reviewer_rows`). Fitting the
    model with gamma_(unit, t) takes the unit's own standard each quarter (its quota, its culture) out, and alpha
    is the reviewer's departure from it: analytics.fair_score.estimate_within_units, one exact fit over all
    units at once. The score enters as its percentile within the unit and quarter: a quota grade is a rank rule
    inside the unit, so only the order of scores there carries merit, and a straight line in raw points
    underrates leniency towards a section of high scorers (their 好 look earned by the line's extrapolation).
    Each unit has its own slope (how steeply its grades follow that order depends on its grade mix: a unit
    that gives nearly everyone 较好 has almost none), so a unit's shape is never read as a reviewer's leniency.
    """
    from analytics.fair_score import estimate_within_units

    if rows.height == 0:
        return pl.DataFrame()
    score = pl.col("score").cast(pl.Float64)
    percentile = ((score.rank("average") - 0.5) / score.count()).over("unit", "year", "quarter")
    rows = rows.select(
        "unit",
        "reviewer",
        "year",
        "quarter",
        x=percentile,
        y=pl.col("grade").replace_strict(GRADE_POINTS, return_dtype=pl.Float64),
    )
    effects = estimate_within_units(rows, settings.leniency.ridge, slope_by="unit")
    # One row per reviewer name: a name found in several units (at province scale mostly namesakes) is
    # compared in the unit where it grades most, as the lane model places it.
    effects = (
        effects.sort(["reviewer", "graded", "unit"], descending=[False, True, False])
        .unique("reviewer", keep="first", maintain_order=True)
        .filter(pl.col("n") >= 0.5 * pl.col("graded"), pl.col("alpha").is_not_null())
        .select(pl.col("reviewer").alias("subject"), w_alpha="alpha", w_se="se", w_z="z", w_p="p_value", w_n="n")
    )
    return effects.with_columns(w_shrunk=_shrunk(effects, settings.leniency.min_graded))


def _shrunk(effects: pl.DataFrame, min_graded: int) -> pl.Expr:
    """Empirical-Bayes shrinkage over all blocks together: tau^2 = max(0, mean alpha^2 - mean SE^2) (DETECTORS.md)."""
    pool = effects.filter((pl.col("w_n") >= min_graded) & pl.col("w_se").is_finite())
    tau2 = max(0.0, float((pool["w_alpha"] ** 2).mean() or 0.0) - float((pool["w_se"] ** 2).mean() or 0.0))
    return (tau2 / (tau2 + pl.col("w_se") ** 2) * pl.col("w_alpha")).fill_nan(None)


def _unscored_effects(rows: pl.DataFrame, settings: Settings) -> pl.DataFrame:
    """Reviewers whose grades carry no scores: their people's share of 好 against the rest of their unit's people.

    Person-level comparison (each person's share of quarters with 好), because a person's merit persists:
    z = (mean_r - mean_others) / (s sqrt(1/n_r + 1/n_others)), s the spread between the unit's people.
    `rows` as for `_within_unit_effects`.
    """
    if rows.height == 0:
        return pl.DataFrame()
    people = (
        rows.group_by("unit", "reviewer", "person_id")
        .agg(f=(pl.col("grade") == "好").mean(), m=pl.len(), scored=pl.col("score").is_not_null().mean())
        .sort("unit", "reviewer", "person_id")
    )  # fixed order: float sums must not depend on group-by order
    per_unit = pl.col("f")
    people = people.with_columns(
        u_n=per_unit.count().over("unit"), u_sum=per_unit.sum().over("unit"), u_sq=(per_unit**2).sum().over("unit")
    )
    mine = people.group_by("unit", "reviewer").agg(
        n_r=pl.len(),
        sum_r=pl.col("f").sum(),
        pq=pl.col("m").sum(),
        scored=pl.col("scored").mean(),
        u_n=pl.col("u_n").first(),
        u_sum=pl.col("u_sum").first(),
        u_sq=pl.col("u_sq").first(),
    )
    # One row per reviewer name, in the unit where it grades most (as in `_within_unit_effects`).
    mine = mine.sort(["reviewer", "pq", "unit"], descending=[False, True, False]).unique(
        "reviewer", keep="first", maintain_order=True
    )
    s2 = (pl.col("u_sq") - pl.col("u_sum") ** 2 / pl.col("u_n")) / (pl.col("u_n") - 1)
    out = (
        mine.filter(pl.col("scored") < 0.5)
        .with_columns(
            share_r=pl.col("sum_r") / pl.col("n_r"),
            share_o=(pl.col("u_sum") - pl.col("sum_r")) / (pl.col("u_n") - pl.col("n_r")),
            n_o=pl.col("u_n") - pl.col("n_r"),
            s=s2.sqrt(),
        )
        .with_columns(d=pl.col("share_r") - pl.col("share_o"))
        .with_columns(u_z=pl.col("d") / (pl.col("s") * (1 / pl.col("n_r") + 1 / pl.col("n_o")).sqrt()))
        .filter(
            (pl.col("n_r") >= settings.leniency.min_people)
            & (pl.col("n_o") >= settings.leniency.min_people)
            & pl.col("u_z").is_finite()
        )
    )
    return out.with_columns(pl.Series("u_p", norm.sf(out["u_z"].to_numpy()), dtype=pl.Float64)).select(
        pl.col("reviewer").alias("subject"), "share_r", "share_o", "n_r", "n_o", "d", "u_z", "u_p", "pq"
    )


def _combine(
    lane_effects: pl.DataFrame, within: pl.DataFrame, unscored: pl.DataFrame, settings: Settings
) -> pl.DataFrame:
    """One test per grading body: within its unit where possible, else against its lane; BH q-values across all."""
    lc = settings.leniency
    bodies = lane_effects.rename({"alpha": "l_alpha", "se": "l_se", "z": "l_z", "p_value": "l_p", "shrunk": "l_shrunk"})
    reviewer = pl.col("level") == "reviewer"
    for extra in (within, unscored):
        if extra.height:
            bodies = bodies.join(extra, on="subject", how="full", coalesce=True)
    optional = {
        **dict.fromkeys(
            ("w_alpha", "w_se", "w_z", "w_p", "w_shrunk", "share_r", "share_o", "d", "u_z", "u_p"), pl.Float64
        ),
        **dict.fromkeys(("w_n", "n_r", "n_o", "pq"), pl.UInt32),
    }
    bodies = bodies.with_columns(
        [pl.lit(None, dtype=t).alias(c) for c, t in optional.items() if c not in bodies.columns]
    )
    # Unscored reviewers are absent from the score model: complete who/where from the quarterly rows later.
    bodies = bodies.with_columns(pl.col("level").fill_null("reviewer"))
    basis = (
        pl.when(reviewer & pl.col("w_p").is_not_null())
        .then(pl.lit(_SEPARATED))
        .when(reviewer & pl.col("u_p").is_not_null())
        .then(pl.lit(_UNSCORED))
        .when(pl.col("l_p").is_not_null())
        .then(pl.lit(_LANE))
    )
    bodies = bodies.with_columns(basis=basis).with_columns(
        p_value=pl.when(pl.col("basis") == _SEPARATED)
        .then("w_p")
        .when(pl.col("basis") == _UNSCORED)
        .then("u_p")
        .otherwise("l_p"),
        effect=pl.when(pl.col("basis") == _SEPARATED)
        .then("w_shrunk")
        .when(pl.col("basis") == _UNSCORED)
        .then("d")
        .otherwise("l_shrunk"),
        evidence_n=pl.coalesce(
            pl.when(pl.col("basis") == _SEPARATED).then("w_n"),
            pl.when(pl.col("basis") == _UNSCORED).then("pq"),
            pl.col("n"),
        ).cast(pl.Int64),
    )
    tested = pl.col("p_value").is_not_null() & (pl.col("evidence_n") >= lc.min_graded)
    bodies = bodies.with_columns(pl.when(tested).then("p_value").alias("p_value"))
    q = bh_qvalues(bodies["p_value"].fill_null(np.nan).to_numpy())
    return bodies.with_columns(pl.Series("q_value", q).fill_nan(None))


def _leniency_caveats() -> tuple[pl.Expr, pl.Expr]:
    basis = pl.col("basis")
    sole = (pl.col("level") == "reviewer") & (pl.col("units_graded").fill_null(1) <= 1)
    zh = (
        pl.when(basis == _UNSCORED)
        .then(pl.lit("未按得分调整：数据没有得分，科室人员整体更优秀也会表现为'好'偏多。"))
        .when((basis == _LANE) & sole)
        .then(
            pl.lit(
                "评鉴人与单位无法区分：该评鉴人只评本单位，且本单位没有其他评鉴人可比，偏高可能来自单位整体而非评鉴人本人；"
                "各单位的得分也未必在同一尺度上。"
            )
        )
        .when((basis == _LANE) & (pl.col("level") == "unit"))
        .then(
            pl.lit(
                "数据未记录评鉴人，按单位估计；各单位的得分未必在同一尺度上，得分普遍较低的单位在配额内评'好'也会显得宽松。"
            )
        )
    )
    en = (
        pl.when(basis == _UNSCORED)
        .then(
            pl.lit("Not adjusted for scores: the data has none, and a section of stronger people also shows more Good.")
        )
        .when((basis == _LANE) & sole)
        .then(
            pl.lit(
                "Reviewer and unit cannot be separated: this reviewer grades only this unit and the unit has no other "
                "reviewer to compare with, so the excess may be the unit's rather than the person's; scores of different "
                "units may not be on one scale."
            )
        )
        .when((basis == _LANE) & (pl.col("level") == "unit"))
        .then(
            pl.lit(
                "No reviewers in the data: estimated per unit. Scores of different units may not be on one scale, and a unit "
                "whose people score lower looks lenient when it uses its quota."
            )
        )
    )
    return zh, en


def _leniency_evidence() -> tuple[pl.Expr, pl.Expr]:
    basis = pl.col("basis")
    reviewer = pl.col("level") == "reviewer"
    who_zh = (
        pl.when(reviewer)
        .then(pl.format("评鉴人 {}（{}）", "subject", "unit"))
        .otherwise(pl.format("单位 {}", "subject"))
    )
    who_en = (
        pl.when(reviewer)
        .then(pl.format("Reviewer {} ({})", "subject", "unit"))
        .otherwise(pl.format("Unit {}", "subject"))
    )
    tail_zh = pl.format(
        "z = {}，p {}，q {}", num(pl.col("z_used"), 1), p_text(pl.col("p_value")), p_text(pl.col("q_value"))
    )
    tail_en = pl.format(
        "z = {}, p {}, q {}", num(pl.col("z_used"), 1), p_text(pl.col("p_value")), p_text(pl.col("q_value"))
    )
    zh = (
        pl.when(basis == _SEPARATED)
        .then(
            pl.format(
                "{}所评 {} 人次：在得分相同的条件下，等次比本单位其他评鉴人同季度平均高 {} 个等次分（标准误 {}，{}；收缩后 {}）。",
                who_zh,
                "w_n",
                num(pl.col("w_alpha")),
                num(pl.col("w_se")),
                tail_zh,
                num(pl.col("w_shrunk")),
            )
        )
        .when(basis == _UNSCORED)
        .then(
            pl.format(
                "{}所评 {} 人平均 {} 的季度得'好'，本单位其他评鉴人所评 {} 人为 {}（按人比较，{}）。",
                who_zh,
                "n_r",
                pct(pl.col("share_r")),
                "n_o",
                pct(pl.col("share_o")),
                tail_zh,
            )
        )
        .otherwise(
            pl.format(
                "{}所评 {} 人次（{} 人）：在得分相同的条件下，等次比同赛道同季度平均高 {} 个等次分（标准误 {}，{}；收缩后 {}）。",
                who_zh,
                "n",
                "people",
                num(pl.col("l_alpha")),
                num(pl.col("l_se")),
                tail_zh,
                num(pl.col("l_shrunk")),
            )
        )
    )
    en = (
        pl.when(basis == _SEPARATED)
        .then(
            pl.format(
                "{} graded {} person-quarters: at equal scores, grades run {} grade points above the unit's other reviewers "
                "in the same quarters (SE {}, {}; shrunk {}).",
                who_en,
                "w_n",
                num(pl.col("w_alpha")),
                num(pl.col("w_se")),
                tail_en,
                num(pl.col("w_shrunk")),
            )
        )
        .when(basis == _UNSCORED)
        .then(
            pl.format(
                "{}: its {} people got Good in {} of their quarters on average, against {} for the unit's other {} people "
                "(person-level comparison, {}).",
                who_en,
                "n_r",
                pct(pl.col("share_r")),
                pct(pl.col("share_o")),
                "n_o",
                tail_en,
            )
        )
        .otherwise(
            pl.format(
                "{} graded {} person-quarters ({} people): at equal scores, grades run {} grade points above the lane "
                "and quarter (SE {}, {}; shrunk {}).",
                who_en,
                "n",
                "people",
                num(pl.col("l_alpha")),
                num(pl.col("l_se")),
                tail_en,
                num(pl.col("l_shrunk")),
            )
        )
    )
    return zh, en


def _body_places(quarterly: pl.DataFrame, subjects: pl.Series) -> pl.DataFrame:
    """Per grading body (reviewer, else unit) among `subjects`: main unit and lane, people, units graded, quarters.

    Only the flagged bodies' rows are read, and only the columns needed: the whole frame is wide and long.
    """
    has_reviewer = "reviewer" in quarterly.columns
    subject = pl.coalesce(pl.col("reviewer").cast(pl.Utf8), pl.col("unit")) if has_reviewer else pl.col("unit")
    kept = [c for c in ("person_id", "unit", "lane", "year", "quarter", "grade", "reviewer") if c in quarterly.columns]
    rows = (
        quarterly.lazy()
        .select(kept)
        .with_columns(_subject=subject)
        .filter(pl.col("_subject").is_in(subjects.implode()) & pl.col("grade").is_in(GRADED))
        .with_columns(t=pl.col("year").cast(pl.Int64) * 4 + pl.col("quarter").cast(pl.Int64) - 1)
        .collect()
    )
    main = (
        rows.group_by("_subject", "unit", "lane")
        .len()
        .sort(["_subject", "len", "unit"], descending=[False, True, False])
        .group_by("_subject", maintain_order=True)
        .agg(p_unit=pl.col("unit").first(), p_lane=pl.col("lane").first())
    )
    return (
        rows.group_by("_subject")
        .agg(
            t_from=pl.col("t").min(),
            t_to=pl.col("t").max(),
            p_people=pl.col("person_id").n_unique(),
            p_units=pl.col("unit").n_unique(),
        )
        .join(main, on="_subject")
        .rename({"_subject": "subject"})
    )


class LeniencyDetector:
    """L3: grades above what the scores earn, against the unit's other reviewers where possible, else the lane."""

    kind = "leniency"
    name_zh = "评鉴宽松（老好人）"
    name_en = "Lenient grading (score-adjusted)"

    def detect(self, data: AssessmentData, settings: Settings, seed: int = 0) -> pl.DataFrame:
        from analytics.fair_score import estimate_leniency  # the model lives with the fair score

        quarterly = data.quarterly
        if quarterly.height == 0:
            return empty_flags()
        lane_fit = estimate_leniency(quarterly, settings, level="reviewer")
        rows = _reviewer_rows(quarterly)
        bodies = _combine(
            lane_fit.effects, _within_unit_effects(rows, settings), _unscored_effects(rows, settings), settings
        )
        lc = settings.leniency
        flagged = bodies.filter((pl.col("q_value") < lc.alpha) & (pl.col("effect") >= lc.min_effect))
        if flagged.height == 0:
            return empty_flags()
        zh, en = _leniency_evidence()
        czh, cen = _leniency_caveats()
        out = (
            flagged.join(_body_places(quarterly, flagged["subject"]), on="subject", how="left")
            .with_columns(
                unit=pl.coalesce("unit", "p_unit"),
                lane=pl.coalesce("lane", "p_lane"),
                people=pl.coalesce("people", "p_people"),
                units_graded=pl.coalesce("units_graded", "p_units"),
                z_used=pl.when(pl.col("basis") == _SEPARATED)
                .then("w_z")
                .when(pl.col("basis") == _UNSCORED)
                .then("u_z")
                .otherwise("l_z"),
                slope=pl.lit(lane_fit.slope),
            )
            .with_columns(
                kind=pl.lit(self.kind),
                subject_type=pl.col("level"),
                period_from=period_of(pl.col("t_from")),
                period_to=period_of(pl.col("t_to")),
                statistic=pl.when(pl.col("basis") == _SEPARATED)
                .then(pl.lit("alpha within unit (grade points, score-adjusted)"))
                .when(pl.col("basis") == _UNSCORED)
                .then(pl.lit("share of 好 above the unit's other reviewers (not score-adjusted)"))
                .otherwise(pl.lit("alpha against lane (grade points, score-adjusted)")),
                statistic_value=pl.when(pl.col("basis") == _SEPARATED)
                .then("w_alpha")
                .when(pl.col("basis") == _UNSCORED)
                .then("d")
                .otherwise("l_alpha"),
                statistics=stats_json(
                    "basis",
                    "effect",
                    "z_used",
                    "w_alpha",
                    "w_se",
                    "w_shrunk",
                    "l_alpha",
                    "l_se",
                    "l_shrunk",
                    "share_r",
                    "share_o",
                    "n_r",
                    "n_o",
                    "people",
                    "units_graded",
                    "slope",
                ),
                severity=(pl.col("effect") / LENIENCY_FULL).clip(0.0, 1.0),
                n=pl.col("evidence_n"),
                evidence_zh=zh,
                evidence_en=en,
                caveat_zh=czh,
                caveat_en=cen,
            )
        )
        return ordered(finish_flags(out))


DETECTORS = [QuotaDetector(), LeniencyDetector()]


# ---------------------------------------------------------------- evidence views


def funnel_data(
    data: AssessmentData,
    settings: Settings,
    lane: str | None = None,
    year: int | None = None,
    quarter: int | None = None,
) -> pl.DataFrame:
    """Per unit: share of 好 against number graded, with 95% and 99.8% binomial limits around its lane's mean.

    Units are placed in their main lane; `year`/`quarter` select periods (all when None). Limits use the normal
    approximation p0 ± z sqrt(p0 (1 - p0) / n), clipped to [0, 1].
    """
    graded = graded_rows(data.quarterly)
    if year is not None:
        graded = graded.filter(pl.col("year") == year)
    if quarter is not None:
        graded = graded.filter(pl.col("quarter") == quarter)
    units = (
        graded.group_by("unit")
        .agg(n=pl.len(), good=pl.col("is_good").sum())
        .join(unit_main_lane(graded), on="unit", how="left")
    )
    if lane is not None:
        units = units.filter(pl.col("lane") == lane)
    p0 = pl.col("good").sum().over("lane") / pl.col("n").sum().over("lane")
    se = (pl.col("lane_mean") * (1 - pl.col("lane_mean")) / pl.col("n")).sqrt()
    return (
        units.with_columns(share=pl.col("good") / pl.col("n"), lane_mean=p0)
        .with_columns(
            lo95=(pl.col("lane_mean") - Z95 * se).clip(0.0, 1.0),
            hi95=(pl.col("lane_mean") + Z95 * se).clip(0.0, 1.0),
            lo998=(pl.col("lane_mean") - Z998 * se).clip(0.0, 1.0),
            hi998=(pl.col("lane_mean") + Z998 * se).clip(0.0, 1.0),
            cap=pl.lit(settings.quota.good_cap),
        )
        .select(
            "unit",
            "lane",
            pl.col("n").cast(pl.Int64),
            pl.col("good").cast(pl.Int64),
            "share",
            "lane_mean",
            "lo95",
            "hi95",
            "lo998",
            "hi998",
            "cap",
        )
        .sort("lane", "n", "unit", nulls_last=True)
    )


def reviewer_mix(data: AssessmentData, reviewer: str | None = None, unit: str | None = None) -> pl.DataFrame:
    """Grade mix of a reviewer (or a unit) beside its lane(s): long frame group, name, grade, grade_en, n, share.

    `group` is 'subject' for the reviewer/unit and 'lane' for all graded rows of the lanes it grades in.
    """
    graded = graded_rows(data.quarterly)
    if reviewer is not None:
        mine = pl.col("reviewer") == reviewer
        name = reviewer
    elif unit is not None:
        mine = pl.col("unit") == unit
        name = unit
    else:
        raise ValueError("reviewer_mix needs a reviewer or a unit")
    subject = graded.filter(mine)
    lanes = subject["lane"].unique().to_list()
    lane_rows = graded.filter(pl.col("lane").is_in(lanes))
    lane_name = " / ".join(sorted(str(x) for x in lanes))
    grid = pl.DataFrame(
        {"grade": list(GRADED), "grade_en": [QUARTERLY_GRADE_EN[g] for g in GRADED], "order": list(range(len(GRADED)))}
    )

    def mix(rows: pl.DataFrame, group: str, label: str) -> pl.DataFrame:
        counts = rows.group_by("grade").agg(n=pl.len())
        return (
            grid.join(counts, on="grade", how="left")
            .with_columns(pl.col("n").fill_null(0).cast(pl.Int64))
            .with_columns(
                share=pl.when(pl.col("n").sum() > 0).then(pl.col("n") / pl.col("n").sum()).otherwise(0.0),
                group=pl.lit(group),
                name=pl.lit(label),
            )
        )

    return (
        pl.concat([mix(subject, "subject", name), mix(lane_rows, "lane", lane_name)])
        .sort("group", "order", descending=[True, False])
        .select("group", "name", "grade", "grade_en", "n", "share")
    )
