"""Silent negatives: units that never record a 一般/较差 nor a negative outcome, when their lane does.

DETECTORS.md section 3 (the pattern behind "13 negative against 1,100 reward records"). Per unit over its
quarters: person-quarters graded N and negative records k = person-quarters graded 一般/较差 + negative
outcome records (vocab.OUTCOME_KINDS with valence -1) of the unit in the years it was graded.

The lane's rate is a beta-binomial fitted by moments over the other units of the unit's main lane (all
units when the lane has fewer than settings.leniency.min_lane_units), so that honest differences between
units widen the null instead of producing flags. p = P(BetaBinomial(N, a, b) <= k), Benjamini-Hochberg
q-values across the units tested. Tested: units with >= settings.silent_negatives.min_people people over
>= min_quarters quarters; flagged: k = 0 and q < alpha. A lane that records no negatives gives no flag.
Severity = -log10(p) / 6, clipped to [0, 1] (p = 10^-6 or below is as strong as it gets).
"""

from __future__ import annotations

import numpy as np
import polars as pl
from scipy.stats import betabinom

from analytics.dataset import AssessmentData
from analytics.detectors._unit_stats import (
    NEGATIVE_OUTCOMES,
    graded_frame,
    lane_beta_binomial,
    num,
    ordered,
    p_text,
    people_per,
    period_of,
    stats_json,
    unit_main_lane,
)
from analytics.detectors.base import empty_flags, finish_flags
from analytics.settings import Settings
from analytics.stats import bh_qvalues

STRONGEST_LOG10_P = 6.0


def _negative_outcomes(outcomes: pl.DataFrame, spans: pl.DataFrame) -> pl.DataFrame:
    """Per unit: negative outcome records dated in the years the unit was graded (undated ones count too)."""
    year = pl.coalesce(pl.col("year").cast(pl.Int64), pl.col("date").dt.year().cast(pl.Int64))
    negative = outcomes.filter(pl.col("outcome").is_in(NEGATIVE_OUTCOMES)).with_columns(_year=year)
    return (
        negative.join(spans.select("unit", "t_from", "t_to"), on="unit", how="inner")
        .filter(pl.col("_year").is_null() | pl.col("_year").is_between(pl.col("t_from") // 4, pl.col("t_to") // 4))
        .group_by("unit")
        .agg(neg_outcomes=pl.len())
    )


def unit_negatives(data: AssessmentData) -> pl.DataFrame:
    """Per unit: people, quarters, N graded person-quarters, negative grades and outcomes, main lane."""
    # Counted from a lazy frame of the columns read, in batches: the graded rows are never held at once.
    graded = graded_frame(data.quarterly, ("person_id", "unit", "lane", "year", "quarter", "grade"))
    units = (
        graded.group_by("unit")
        .agg(
            quarters=pl.col("t").n_unique(),
            N=pl.len(),
            neg_grades=pl.col("is_negative").sum(),
            t_from=pl.col("t").min(),
            t_to=pl.col("t").max(),
        )
        .collect(engine="streaming")
    )
    units = units.join(people_per(graded, ["unit"]), on="unit").select("unit", "people", pl.exclude("unit", "people"))
    return (
        units.join(_negative_outcomes(data.outcomes, units), on="unit", how="left")
        .join(unit_main_lane(graded), on="unit", how="left")
        .with_columns(pl.col("neg_outcomes").fill_null(0))
        .with_columns(k=pl.min_horizontal(pl.col("neg_grades") + pl.col("neg_outcomes"), pl.col("N")))
        .sort("unit")  # a fixed order: float sums over units must not depend on group-by order
    )


def _evidence() -> tuple[pl.Expr, pl.Expr]:
    rate = num(pl.col("lane_rate") * 100, 1)
    zh = pl.format(
        "{}：{} 人 {} 个季度（{} 人次）没有一个'一般/较差'等次，也没有一条负面结果运用记录；"
        "按同赛道的记录率（每百人次 {} 条），预计约 {} 条（β-二项 P(0) {}，q {}）。",
        "unit",
        "people",
        "quarters",
        "N",
        rate,
        num(pl.col("expected"), 1),
        p_text(pl.col("p_value")),
        p_text(pl.col("q_value")),
    )
    en = pl.format(
        "{}: {} people over {} quarters ({} person-quarters) with no Average/Poor grade and no negative outcome record; "
        "at its lane's rate ({} per 100 person-quarters) about {} would be expected (beta-binomial P(0) {}, q {}).",
        "unit",
        "people",
        "quarters",
        "N",
        rate,
        num(pl.col("expected"), 1),
        p_text(pl.col("p_value")),
        p_text(pl.col("q_value")),
    )
    return zh, en


class SilentNegativesDetector:
    """Units that never record anything negative, tested against their lane's rate."""

    kind = "silent_negatives"
    name_zh = "负面信息缺失"
    name_en = "Negatives never recorded"

    def detect(self, data: AssessmentData, settings: Settings, seed: int = 0) -> pl.DataFrame:
        units = unit_negatives(data)
        if units.height == 0:
            return empty_flags()
        sn, lc = settings.silent_negatives, settings.leniency
        k = units["k"].to_numpy().astype(float)
        n = units["N"].to_numpy().astype(float)
        lanes = units["lane"].to_numpy()
        fit = n >= lc.min_graded
        a, b, reference = lane_beta_binomial(k, n, lanes, fit, lc.min_lane_units)
        tested = (
            fit
            & (units["people"].to_numpy() >= sn.min_people)
            & (units["quarters"].to_numpy() >= sn.min_quarters)
            & np.isfinite(a)
        )
        p = np.full(len(k), np.nan)
        p[tested] = betabinom.cdf(k[tested], n[tested], a[tested], b[tested])
        units = units.with_columns(
            pl.Series("p_value", p).fill_nan(None),
            pl.Series("q_value", bh_qvalues(p)).fill_nan(None),
            pl.Series("lane_rate", a / (a + b)).fill_nan(None),
            pl.Series("rho", 1 / (a + b + 1)).fill_nan(None),
            pl.Series("reference", reference.astype(str)),
        ).with_columns(expected=pl.col("N") * pl.col("lane_rate"))
        flagged = units.filter((pl.col("k") == 0) & (pl.col("q_value") < sn.alpha))
        if flagged.height == 0:
            return empty_flags()
        zh, en = _evidence()
        out = flagged.with_columns(observed=pl.col("k")).with_columns(
            kind=pl.lit(self.kind),
            subject_type=pl.lit("unit"),
            subject=pl.col("unit"),
            period_from=period_of(pl.col("t_from")),
            period_to=period_of(pl.col("t_to")),
            statistic=pl.lit("negative records (observed)"),
            statistic_value=pl.col("observed").cast(pl.Float64),
            statistics=stats_json(
                "observed",
                "expected",
                "lane_rate",
                "rho",
                "N",
                "people",
                "quarters",
                "neg_grades",
                "neg_outcomes",
                "reference",
            ),
            severity=(-pl.col("p_value").log10() / STRONGEST_LOG10_P).clip(0.0, 1.0),
            n=pl.col("N").cast(pl.Int64),
            evidence_zh=zh,
            evidence_en=en,
        )
        return ordered(finish_flags(out))


DETECTOR = SilentNegativesDetector()
