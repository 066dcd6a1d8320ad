"""Compressed grades (central tendency, L2): units where nearly everyone gets the same grade every quarter.

DETECTORS.md section 2, L2. Per unit over all its quarters: the share in the top two grades, the longest
run of quarters without any 一般/较差, the normalised entropy H = -sum p_c ln p_c / ln 4 of its grade mix,
the grade standard deviation and the share of its most common grade.

An honest unit that respects the 40% cap still has a mix (about 40% 好, most of the rest 较好, a few 一般),
so a high top-two share or a long run without 一般 proves nothing on its own. The test is on the entropy,
against the units of the same main lane: z = (H - median) / sqrt(se^2 + tau^2), where se^2 is the sampling
variance of a plug-in entropy from N grades drawn from the lane's mix and tau^2 the spread between the
lane's honest units (1.4826 MAD squared, less the typical se^2). p = Phi(z) (low entropy), Benjamini-Hochberg
q-values across units. A unit is flagged when q < settings.leniency.alpha and one grade holds at least
settings.leniency.compression_modal_share of its grades. Severity = 1 - H / lane median (0 = as varied as
the lane, 1 = a single grade). Units with fewer than `min_graded` person-quarters, `min_quarters` quarters
or `compression_min_people` people are not judged (a unit of one or two is "compressed" by arithmetic).
"""

from __future__ import annotations

import numpy as np
import polars as pl
from scipy.stats import norm

from analytics.dataset import AssessmentData
from analytics.detectors._unit_stats import (
    graded_rows,
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
from analytics.vocab import GRADED, QUARTERLY_GRADE_EN

SHARES = ("p_good", "p_fairly", "p_average", "p_poor")
LN4 = float(np.log(4.0))


def _xlogx(expr: pl.Expr) -> pl.Expr:
    return pl.when(expr > 0).then(expr * expr.log()).otherwise(0.0)


def _longest_clean_run(graded: pl.DataFrame) -> pl.DataFrame:
    """Per unit: the longest run of consecutive quarters without any 一般/较差."""
    per_quarter = graded.group_by("unit", "t").agg(neg=pl.col("is_negative").sum()).sort("unit", "t")
    breaks = (pl.col("neg") > 0) | (pl.col("t").diff().over("unit").fill_null(1) != 1)
    return (
        per_quarter.with_columns(run=breaks.cast(pl.Int64).cum_sum().over("unit"))
        .filter(pl.col("neg") == 0)
        .group_by("unit", "run")
        .len()
        .group_by("unit")
        .agg(longest_run=pl.col("len").max())
    )


def unit_grade_mix(graded: pl.DataFrame) -> pl.DataFrame:
    """Per unit: N, quarters, people, grade shares, entropy H (0..1), grade SD, modal grade and share, top-two share."""
    counts = graded.group_by("unit").agg(
        N=pl.len(),
        quarters=pl.col("t").n_unique(),
        people=pl.col("person_id").n_unique(),
        t_from=pl.col("t").min(),
        t_to=pl.col("t").max(),
        sd=pl.col("points").cast(pl.Float64).std(ddof=0),
        **{s: (pl.col("grade") == g).mean() for s, g in zip(SHARES, GRADED, strict=True)},
    )
    entropy = -pl.sum_horizontal([_xlogx(pl.col(s)) for s in SHARES]) / LN4
    modal = pl.concat_list(SHARES).list.arg_max()
    return counts.with_columns(
        H=entropy,
        modal_share=pl.max_horizontal(SHARES),
        modal_grade=modal.replace_strict(dict(enumerate(GRADED)), return_dtype=pl.Utf8),
        top2=pl.col("p_good") + pl.col("p_fairly"),
        negative=pl.col("p_average") + pl.col("p_poor"),
    )


def _entropy_test(units: pl.DataFrame, settings: Settings) -> pl.DataFrame:
    """Random-effects z of each unit's entropy against its lane (or all units when the lane is small)."""
    lc = settings.leniency
    ok = pl.col("eligible")
    # The lane's grade mix gives the sampling variance of an entropy estimated from N grades.
    lane_mix = [
        (
            pl.when(ok).then(pl.col(s) * pl.col("N")).sum().over("lane")
            / pl.when(ok).then(pl.col("N")).sum().over("lane")
        ).alias(f"l_{s}")
        for s in SHARES
    ]
    all_mix = [
        (pl.when(ok).then(pl.col(s) * pl.col("N")).sum() / pl.when(ok).then(pl.col("N")).sum()).alias(f"a_{s}")
        for s in SHARES
    ]
    units = units.with_columns(_m=ok.sum().over("lane")).with_columns(own=pl.col("_m") >= lc.min_lane_units)
    units = units.with_columns(lane_mix + all_mix)
    ref = {s: pl.when(pl.col("own")).then(pl.col(f"l_{s}")).otherwise(pl.col(f"a_{s}")) for s in SHARES}
    e1 = pl.sum_horizontal([_xlogx(ref[s]) for s in SHARES])
    e2 = pl.sum_horizontal([pl.when(ref[s] > 0).then(ref[s] * ref[s].log() ** 2).otherwise(0.0) for s in SHARES])
    units = units.with_columns(var_h=((e2 - e1**2) / pl.col("N") / LN4**2).clip(lower_bound=1e-12))
    for scope, over in (("l", ["lane"]), ("a", None)):
        med = pl.when(ok).then(pl.col("H")).median()
        med = med.over(over) if over else med
        units = units.with_columns(med.alias(f"{scope}_center"))
        mad = pl.when(ok).then((pl.col("H") - pl.col(f"{scope}_center")).abs()).median()
        typical = pl.when(ok).then(pl.col("var_h")).median()
        mad, typical = (mad.over(over), typical.over(over)) if over else (mad, typical)
        units = units.with_columns(((1.4826 * mad) ** 2 - typical).clip(lower_bound=0.0).alias(f"{scope}_tau2"))
    units = units.with_columns(
        center=pl.when("own").then("l_center").otherwise("a_center"),
        tau2=pl.when("own").then("l_tau2").otherwise("a_tau2"),
        reference=pl.when("own").then(pl.lit("lane")).otherwise(pl.lit("all")),
    ).with_columns(z=pl.when(ok).then((pl.col("H") - pl.col("center")) / (pl.col("var_h") + pl.col("tau2")).sqrt()))
    p = norm.cdf(units["z"].fill_null(np.nan).to_numpy())
    return units.with_columns(
        pl.Series("p_value", p).fill_nan(None), pl.Series("q_value", bh_qvalues(p)).fill_nan(None)
    )


def _evidence() -> tuple[pl.Expr, pl.Expr]:
    zh = pl.format(
        "{}：{} 个季度 {} 人次（{} 人）中 {} 为'{}'（'好' {}，'一般/较差' {}）；等次分布熵 {}，同赛道中位数 {}；"
        "等次标准差 {}；最长连续 {} 个季度无'一般/较差'（z = {}，p {}，q {}）。",
        "unit",
        "quarters",
        "N",
        "people",
        pct(pl.col("modal_share")),
        "modal_grade",
        pct(pl.col("p_good")),
        pct(pl.col("negative")),
        num(pl.col("H")),
        num(pl.col("center")),
        num(pl.col("sd")),
        "longest_run",
        num(pl.col("z"), 1),
        p_text(pl.col("p_value")),
        p_text(pl.col("q_value")),
    )
    en = pl.format(
        "{}: {} of {} person-quarters ({} people, {} quarters) got {} (Good {}, Average/Poor {}); grade entropy {} "
        "against a lane median of {}; grade SD {}; {} quarters running without Average/Poor (z = {}, p {}, q {}).",
        "unit",
        pct(pl.col("modal_share")),
        "N",
        "people",
        "quarters",
        pl.format("{} ({})", pl.col("modal_grade").replace_strict(QUARTERLY_GRADE_EN, default=None), "modal_grade"),
        pct(pl.col("p_good")),
        pct(pl.col("negative")),
        num(pl.col("H")),
        num(pl.col("center")),
        num(pl.col("sd")),
        "longest_run",
        num(pl.col("z"), 1),
        p_text(pl.col("p_value")),
        p_text(pl.col("q_value")),
    )
    return zh, en


class CompressionDetector:
    """L2: nearly everyone in the same grade, quarter after quarter, against the lane's spread of units."""

    kind = "compression"
    name_zh = "等次趋中（压缩）"
    name_en = "Compressed grades"

    def detect(self, data: AssessmentData, settings: Settings, seed: int = 0) -> pl.DataFrame:
        graded = graded_rows(data.quarterly)
        if graded.height == 0:
            return empty_flags()
        lc = settings.leniency
        units = (
            unit_grade_mix(graded)
            .join(_longest_clean_run(graded), on="unit", how="left")
            .join(unit_main_lane(graded), on="unit", how="left")
            .with_columns(
                pl.col("longest_run").fill_null(0),
                eligible=(pl.col("N") >= lc.min_graded)
                & (pl.col("quarters") >= lc.min_quarters)
                & (pl.col("people") >= lc.compression_min_people),
            )
        )
        units = _entropy_test(units.sort("unit"), settings)  # fixed order for float sums
        flagged = units.filter((pl.col("q_value") < lc.alpha) & (pl.col("modal_share") >= lc.compression_modal_share))
        if flagged.height == 0:
            return empty_flags()
        zh, en = _evidence()
        out = flagged.with_columns(
            kind=pl.lit(self.kind),
            subject_type=pl.lit("unit"),
            subject=pl.col("unit"),
            period_from=period_of(pl.col("t_from")),
            period_to=period_of(pl.col("t_to")),
            statistic=pl.lit("normalised grade entropy"),
            statistic_value=pl.col("H"),
            statistics=stats_json(
                "H",
                "center",
                "tau2",
                "z",
                "sd",
                "modal_grade",
                "modal_share",
                "top2",
                "negative",
                "longest_run",
                *SHARES,
                "N",
                "people",
                "quarters",
                "reference",
            ),
            severity=(1 - pl.col("H") / pl.col("center")).clip(0.0, 1.0).fill_null(0.0),
            n=pl.col("N").cast(pl.Int64),
            evidence_zh=zh,
            evidence_en=en,
        )
        return ordered(finish_flags(out))


DETECTOR = CompressionDetector()
