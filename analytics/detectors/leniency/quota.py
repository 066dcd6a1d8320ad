"""Quota (L1), kind 'quota', one flag per unit (DETECTORS.md section 2).

Quarters where 好 exceeds the cap (settings.quota.good_cap of the graded participants, quota = max(floor(cap * n),
good_min_quota)), years where annual 优秀 exceeds its cap (excellent_cap; excellent_cap_approved for
settings.quota.approved_units), and a lane-relative test of the unit's share of 好 over all its quarters:
p = P(BetaBinomial(N, a, b) >= K), a and b fitted by moments over the units of its lane, Benjamini-Hochberg
q-values across units. A cap breach is a rule break and is always reported; the test says how unusual the unit
is against its lane. Units smaller than settings.leniency.min_unit_size are not tested against their lane: their
quota floor (at least one 好) puts them above the lane's share by design.
"""

from __future__ import annotations

import numpy as np
import polars as pl
from scipy.stats import betabinom

from analytics.dataset import AssessmentData
from analytics.detectors._unit_stats import (
    graded_frame,
    lane_beta_binomial,
    ordered,
    p_text,
    pct,
    period_of,
    period_words,
    stats_json,
    unit_main_lane,
)
from analytics.detectors.base import empty_flags, finish_flags
from analytics.quota import excellent_cap_expr, good_cap_expr
from analytics.settings import Settings
from analytics.stats import bh_qvalues
from analytics.vocab import ANNUAL_GRADE_RANK, EXCELLENT

SEVERITY_SPAN = 0.30  # a share 30 points above the cap (or the lane) is as severe as it gets


def good_quota(n: pl.Expr, cap: float | pl.Expr, floor_quota: int) -> pl.Expr:
    """Most top grades allowed: floor(cap * n), at least `floor_quota`."""
    return pl.max_horizontal((n * cap + 1e-9).floor().cast(pl.Int64), pl.lit(floor_quota, dtype=pl.Int64))


def quarter_quotas(graded: pl.DataFrame | pl.LazyFrame, settings: Settings) -> pl.DataFrame:
    """Per unit and quarter: n graded, k given 好, the cap (the unit's own where [quota.unit_caps] sets one), the
    quota, the share of 好 and whether it went over the quota."""
    return (
        graded.lazy()
        .group_by("unit", "t")
        .agg(n=pl.len(), k=pl.col("is_good").sum())
        .collect(engine="streaming")  # counts in batches: integer sums do not depend on the order
        .with_columns(cap=good_cap_expr(settings))
        .with_columns(
            quota=good_quota(pl.col("n"), pl.col("cap"), settings.quota.good_min_quota), share=pl.col("k") / pl.col("n")
        )
        .with_columns(over=pl.col("k") > pl.col("quota"))
    )


def unit_quota_totals(quarters: pl.DataFrame) -> pl.DataFrame:
    """Per unit, from quarter_quotas: N graded, K given 好, A allowed, quarters, quarters over, median n, the worst
    quarter (highest share, then earliest), the window and the share of 好."""
    return (
        quarters.sort("unit", "share", "t", descending=[False, True, False])
        .group_by("unit", maintain_order=True)
        .agg(
            N=pl.col("n").sum(),
            K=pl.col("k").sum(),
            A=pl.col("quota").sum(),
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
    per_year = (
        rows.group_by("unit", "year")
        .agg(
            n_year=pl.len(),
            excellent=(pl.col("annual_grade") == EXCELLENT).sum(),
            lane=pl.col("lane").drop_nulls().mode().first(),
        )
        .with_columns(ecap=excellent_cap_expr(settings))
        .with_columns(
            equota=good_quota(pl.col("n_year"), pl.col("ecap"), q.good_min_quota),
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
    worst_zh, worst_en = period_words(pl.col("worst_t"), "zh"), period_words(pl.col("worst_t"), "en")
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
                    worst_zh,
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
                    worst_en,
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
        # Lazy: both counts read the quarterly rows in batches, without a copy of the graded ones.
        graded = graded_frame(data.quarterly, ("unit", "lane", "year", "quarter", "grade"))
        quarterly = unit_quota_totals(quarter_quotas(graded, settings)).join(
            unit_main_lane(graded), on="unit", how="left"
        )
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
