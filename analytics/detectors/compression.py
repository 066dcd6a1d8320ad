"""Compressed grades (central tendency, L2): units where nearly everyone gets the same grade every quarter.

DETECTORS.md section 2, L2. Each unit is tested over all its quarters and over each calendar year with at
least `min_quarters` graded quarters (a unit that compresses one year only is diluted over the period:
over 90% 较好 in 2025 is 71% over three years). Per unit and window: the share in the top two grades, the longest
run of quarters without any 一般/较差, the normalised entropy H = -sum p_c ln p_c / ln 4 of its grade mix,
the grade standard deviation and the share of its most common grade.

An honest unit that respects the 40% cap still has a mix (about 40% 好, most of the rest 较好, a few 一般),
so a high top-two share or a long run without 一般 proves nothing on its own. The test is on the share of grades
outside the modal grade against the units of the same main lane in the same window: a robust random-effects
z = (share - lane median) / sqrt(m (1 - m) / N + tau^2), tau^2 from the MAD of the lane's units
(_unit_stats.robust_lane_z; all units of the window when the lane has fewer than min_lane_units), p = Phi(z).
The entropy is reported but not tested: under a quota it falls with unit size by arithmetic.
Benjamini-Hochberg q-values across every unit and window tested. A window is flagged when q <
settings.leniency.alpha and one grade holds at least settings.leniency.compression_modal_share of its grades.
One flag per unit (finding ''): the whole period when it is flagged, else the flagged year with the smallest
p, the other flagged windows named in the evidence. Severity = 1 - H / lane median (0 = as varied as the lane,
1 = a single grade). Windows with fewer than `min_graded` person-quarters, `min_quarters` quarters or
`compression_min_people` people are not judged (a unit of one or two is "compressed" by arithmetic).
"""

from __future__ import annotations

import numpy as np
import polars as pl
from scipy.stats import norm

from analytics.dataset import AssessmentData
from analytics.detectors._unit_stats import (
    graded_frame,
    num,
    ordered,
    p_text,
    pct,
    people_per,
    period_of,
    robust_lane_z,
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


WHOLE = "all"  # the window label of the whole period; years are '2025'


def _quarters(graded: pl.LazyFrame) -> pl.DataFrame:
    """Per unit and quarter: graded, the count of each grade, the sums of grade points and of their squares.

    Counted in batches (streaming): the sums are of whole numbers, so they come out the same in any order."""
    points = pl.col("points").cast(pl.Float64)
    return (
        graded.group_by("unit", "t")
        .agg(
            n=pl.len(),
            s1=points.sum(),
            s2=(points * points).sum(),
            **{s: (pl.col("grade") == g).sum() for s, g in zip(SHARES, GRADED, strict=True)},
        )
        .collect(engine="streaming")
    )


def _windows(quarters: pl.DataFrame) -> pl.DataFrame:
    """Every unit-quarter twice: once in the whole period, once in its calendar year (`window`). The windows are
    built from the quarter counts, not the rows: the rows are the bulk at province scale."""
    return pl.concat(
        [quarters.with_columns(window=pl.lit(WHOLE)), quarters.with_columns(window=(pl.col("t") // 4).cast(pl.Utf8))]
    )


def _people(graded: pl.LazyFrame) -> pl.DataFrame:
    """Per unit and window: the distinct people graded."""
    return pl.concat(
        [
            people_per(graded, ["unit"]).with_columns(window=pl.lit(WHOLE)),
            people_per(graded, ["unit", (pl.col("t") // 4).cast(pl.Utf8).alias("window")]),
        ],
        how="diagonal",
    )


def _longest_clean_run(windows: pl.DataFrame) -> pl.DataFrame:
    """Per unit and window: the longest run of consecutive quarters without any 一般/较差."""
    keys = ["unit", "window"]
    per_quarter = windows.select(*keys, "t", neg=pl.col("p_average") + pl.col("p_poor")).sort(*keys, "t")
    breaks = (pl.col("neg") > 0) | (pl.col("t").diff().over(keys).fill_null(1) != 1)
    return (
        per_quarter.with_columns(run=breaks.cast(pl.Int64).cum_sum().over(keys))
        .filter(pl.col("neg") == 0)
        .group_by(*keys, "run")
        .len()
        .group_by(keys)
        .agg(longest_run=pl.col("len").max())
    )


def unit_grade_mix(windows: pl.DataFrame, people: pl.DataFrame) -> pl.DataFrame:
    """Per unit and window (from _windows and _people): N, quarters, people, grade shares, entropy H (0..1), grade
    SD, modal grade and share."""
    keys = ["unit", "window"]
    counts = (
        windows.group_by(keys)
        .agg(
            pl.col("n").sum().alias("N"),
            pl.len().alias("quarters"),
            pl.col("t").min().alias("t_from"),
            pl.col("t").max().alias("t_to"),
            *[pl.col(c).sum() for c in ("s1", "s2", *SHARES)],
        )
        .with_columns([(pl.col(s) / pl.col("N")).alias(s) for s in SHARES])
        .with_columns(sd=(pl.col("s2") / pl.col("N") - (pl.col("s1") / pl.col("N")) ** 2).clip(lower_bound=0.0).sqrt())
        .join(people, on=keys, how="left")
        .drop("s1", "s2")
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


def _spread_test(units: pl.DataFrame, settings: Settings) -> pl.DataFrame:
    """Lower tail of each window's share of grades outside its modal grade, against its lane in that window.

    A compressed unit puts almost every grade in one; an honest unit under the quota keeps about 40% 好 beside
    its 较好, whatever its size. The reference is robust (_unit_stats.robust_lane_z: the median unit of the lane
    and window, the spread between units from the MAD), so the lane's other compressed units cannot hide one.
    The lane's median entropy in the window is kept for the evidence.
    """
    lc = settings.leniency
    ok = pl.col("eligible")
    for scope, over in (("l", ["lane", "window"]), ("a", ["window"])):
        units = units.with_columns(pl.when(ok).then(pl.col("H")).median().over(over).alias(f"{scope}_center"))
    units = units.with_columns(outside=1 - pl.col("modal_share"))
    units = robust_lane_z(units, "outside", "N", "eligible", ["lane", "window"], lc.min_lane_units)
    p = norm.cdf(units["z_lane"].fill_null(np.nan).to_numpy())
    return units.with_columns(
        center=pl.when(pl.col("reference") == "lane").then("l_center").otherwise("a_center"),
        lane_outside=pl.col("lane_mean"),
        p_value=pl.Series(p).fill_nan(None),
        q_value=pl.Series(bh_qvalues(p)).fill_nan(None),
    )


def _numbers() -> list[pl.Expr | str]:
    """The slots both languages' evidence share, after their own opening: grade mix, the test, entropy, SD, run."""
    return [
        pct(pl.col("p_good")),
        pct(pl.col("negative")),
        pct(1 - pl.col("modal_share")),
        pct(pl.col("lane_outside")),
        p_text(pl.col("p_value")),
        p_text(pl.col("q_value")),
        num(pl.col("H")),
        num(pl.col("center")),
        num(pl.col("sd")),
        "longest_run",
    ]


def _also(template: str, whole: str, sep: str) -> pl.Expr:
    """'Also compressed: ...' naming the other flagged windows (null when there are none)."""
    others = pl.col("other_windows")
    return pl.when(others != "").then(
        pl.format(template, others.str.replace_all(WHOLE, whole).str.replace_all(",", sep))
    )


def _evidence() -> tuple[pl.Expr, pl.Expr]:
    window_zh = pl.when(pl.col("window") == WHOLE).then(pl.lit("全期")).otherwise(pl.format("{} 年", "window"))
    window_en = (
        pl.when(pl.col("window") == WHOLE).then(pl.lit("over the whole period")).otherwise(pl.format("in {}", "window"))
    )
    grade_en = pl.format(
        "{} ({})", pl.col("modal_grade").replace_strict(QUARTERLY_GRADE_EN, default=None), "modal_grade"
    )
    zh = pl.format(
        "{}：{} {} 个季度 {} 人次（{} 人）中 {} 为'{}'（'好' {}，'一般/较差' {}），其他等次只占 {}，"
        "同赛道同期中位 {}（随机效应 z 检验 p {}，q {}）；等次分布熵 {}，同赛道同期中位数 {}；等次标准差 {}；"
        "最长连续 {} 个季度无'一般/较差'。",
        "unit", window_zh, "quarters", "N", "people", pct(pl.col("modal_share")), "modal_grade", *_numbers(),
    )  # fmt: skip
    en = pl.format(
        "{} {}: {} of {} person-quarters ({} people, {} quarters) got {} (Good {}, Average/Poor {}), other "
        "grades only {} against a lane median of {} in the same window (random-effects z test p {}, q {}); grade "
        "entropy {} against a lane median of {}; grade SD {}; {} quarters running without Average/Poor.",
        "unit", window_en, pct(pl.col("modal_share")), "N", "people", "quarters", grade_en, *_numbers(),
    )  # fmt: skip
    return (
        pl.concat_str([zh, _also("同样趋中的还有：{}。", "全期", "、")], ignore_nulls=True),
        pl.concat_str([en, _also(" Also compressed: {}.", "whole period", ", ")], ignore_nulls=True),
    )


def _caveats() -> tuple[pl.Expr, pl.Expr]:
    """A year-only finding says that the whole period does not show it (so the reader knows why the window is short)."""
    year_only = pl.col("window") != WHOLE
    zh = pl.when(year_only).then(
        pl.format("仅 {} 年趋中，全期未达到阈值（全期一个等次占 {}）。", "window", pct(pl.col("whole_modal_share")))
    )
    en = pl.when(year_only).then(
        pl.format(
            "Compressed in {} only; the whole period does not reach the threshold (one grade holds {} overall).",
            "window",
            pct(pl.col("whole_modal_share")),
        )
    )
    return zh, en


def tested_windows(data: AssessmentData, settings: Settings) -> pl.DataFrame:
    """Every unit and window with its grade mix, eligibility and the lane test (_spread_test); empty without grades.

    The flags and their evidence charts (analytics.comparisons) both read this, so they show the same test."""
    # A lazy frame, aggregated in batches by each part: the graded rows are never held at once.
    graded = graded_frame(data.quarterly, ("person_id", "unit", "lane", "year", "quarter", "grade"))
    if graded.select(pl.len()).collect().item() == 0:
        return pl.DataFrame()
    lc = settings.leniency
    windows = _windows(_quarters(graded))
    keys = ["unit", "window"]
    units = (
        unit_grade_mix(windows, _people(graded))
        .join(_longest_clean_run(windows), on=keys, how="left")
        .join(unit_main_lane(graded), on="unit", how="left")
        .with_columns(
            pl.col("longest_run").fill_null(0),
            eligible=(pl.col("N") >= lc.min_graded)
            & (pl.col("quarters") >= lc.min_quarters)
            & (pl.col("people") >= lc.compression_min_people),
        )
    )
    return _spread_test(units.sort(keys), settings)  # fixed order for float sums


class CompressionDetector:
    """L2: nearly everyone in the same grade, quarter after quarter, against the lane's spread of units."""

    kind = "compression"
    name_zh = "等次趋中（压缩）"
    name_en = "Compressed grades"

    def detect(self, data: AssessmentData, settings: Settings, seed: int = 0) -> pl.DataFrame:
        units = tested_windows(data, settings)
        if units.height == 0:
            return empty_flags()
        lc = settings.leniency
        hit = (pl.col("q_value") < lc.alpha) & (pl.col("modal_share") >= lc.compression_modal_share)
        units = units.with_columns(
            hit=hit.fill_null(False),
            whole_modal_share=pl.col("modal_share").filter(pl.col("window") == WHOLE).first().over("unit"),
        )
        flagged = (
            units.filter("hit")
            .sort(
                ["unit", pl.col("window") == WHOLE, "p_value", "window"],
                descending=[False, True, False, False],
            )
            .with_columns(other_windows=pl.col("window").sort().str.join(",").over("unit"))
            .unique("unit", keep="first", maintain_order=True)
            .with_columns(
                other_windows=pl.col("other_windows")
                .str.split(",")
                .list.set_difference(pl.concat_list("window"))
                .list.sort()
                .list.join(",")
            )
        )
        if flagged.height == 0:
            return empty_flags()
        zh, en = _evidence()
        czh, cen = _caveats()
        out = flagged.with_columns(
            kind=pl.lit(self.kind),
            subject_type=pl.lit("unit"),
            subject=pl.col("unit"),
            finding=pl.lit(""),
            period_from=period_of(pl.col("t_from")),
            period_to=period_of(pl.col("t_to")),
            statistic=pl.lit("share of grades outside the modal grade"),
            statistic_value=1 - pl.col("modal_share"),
            statistics=stats_json(
                "window",
                "other_windows",
                "H",
                "center",
                "lane_outside",
                "tau2_lane",
                "z_lane",
                "sd",
                "modal_grade",
                "modal_share",
                "whole_modal_share",
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
            caveat_zh=czh,
            caveat_en=cen,
        )
        return ordered(finish_flags(out))


DETECTOR = CompressionDetector()
