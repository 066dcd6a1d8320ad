"""The sentences of a leniency flag: evidence and caveat, in Chinese and in English, per basis of comparison."""

from __future__ import annotations

import polars as pl

from analytics.detectors._unit_stats import num, p_text, pct, period_of

WITHIN, UNSCORED, SCORES_ROSE, SOLE = "within", "unscored", "scores_rose", "sole"


def _points(expr: pl.Expr) -> pl.Expr:
    """A difference of shares as percentage points, '23'."""
    return (expr * 100).round(0).cast(pl.Int64).cast(pl.Utf8)


def _tail(lang: str) -> pl.Expr:
    sep = "，" if lang == "zh" else ", "
    return pl.format(
        "z = {}" + sep + "p {}" + sep + "q {}",
        num(pl.col("z_used"), 1),
        p_text(pl.col("p_value")),
        p_text(pl.col("q_value")),
    )


def leniency_evidence() -> tuple[pl.Expr, pl.Expr]:
    basis = pl.col("basis")
    reviewer = pl.col("subject_type") == "reviewer"
    who_zh = (
        pl.when(reviewer).then(pl.format("评鉴人 {}（{}）", "subject", "unit")).otherwise(pl.format("单位 {}", "unit"))
    )
    who_en = (
        pl.when(reviewer).then(pl.format("Reviewer {} ({})", "subject", "unit")).otherwise(pl.format("Unit {}", "unit"))
    )
    worst = period_of(pl.col("worst_t"))
    zh = (
        pl.when(basis == WITHIN)
        .then(pl.format(
            "{}所评 {} 人次（{} 人）：与同单位同季度、得分处于同一五分位的人员相比，其所评人员得'好'的比例高 {} 个百分点"
            "（Mantel-Haenszel 分层比较，标准误 {} 含评鉴人之间的差异，{}）。",
            who_zh, "pq", "people", _points(pl.col("rd")), _points(pl.col("se_adj")), _tail("zh")))
        .when(basis == UNSCORED)
        .then(pl.format(
            "{}所评 {} 人次（{} 人）：与同单位同季度其他人员相比，其所评人员得'好'的比例高 {} 个百分点"
            "（Mantel-Haenszel 按季度分层，数据无得分，标准误 {} 含评鉴人之间的差异，{}）。",
            who_zh, "pq", "people", _points(pl.col("rd_raw")), _points(pl.col("se_raw")), _tail("zh")))
        .when(basis == SCORES_ROSE)
        .then(pl.format(
            "{}所评 {} 人次（{} 人）：其评鉴的 {} 个季度中本单位有 {} 个季度'好'超过比例上限；在这些季度，其所评人员得'好'的"
            "比例比本单位其他人员高 {} 个百分点（Mantel-Haenszel 按季度分层，{}）。这些人员的得分平均位于本单位第 {} 百分位，"
            "按得分分层后只高 {} 个百分点。",
            who_zh, "pq", "people", "quarters_r", "over_r", _points(pl.col("rd_over")), _tail("zh"),
            _points(pl.col("score_pct")), _points(pl.col("rd"))))
        .otherwise(pl.format(
            "{}：{} 个季度中有 {} 个季度'好'超过比例上限（最高 {}，{}）；全期'好'占 {}（{} 人次，{} 人），按季度名额最多 {}，"
            "同赛道平均 {}（二项检验对上限 p {}，β-二项检验对赛道 p {}；合并 p {}，q {}）。",
            who_zh, "quarters", "quarters_over", pct(pl.col("worst_share")), worst, pct(pl.col("share")), "pq",
            "people", pct(pl.col("allowed_share")), pct(pl.col("lane_mean")).fill_null("—"),
            p_text(pl.col("p_cap")), p_text(pl.col("p_lane")), p_text(pl.col("p_value")), p_text(pl.col("q_value"))))
    )  # fmt: skip
    en = (
        pl.when(basis == WITHIN)
        .then(pl.format(
            "{} graded {} person-quarters ({} people): against people of the same unit, quarter and score fifth, its "
            "people were given Good {} points more often (Mantel-Haenszel stratified comparison, SE {} including the "
            "spread between reviewers, {}).",
            who_en, "pq", "people", _points(pl.col("rd")), _points(pl.col("se_adj")), _tail("en")))
        .when(basis == UNSCORED)
        .then(pl.format(
            "{} graded {} person-quarters ({} people): against the unit's other people in the same quarters, its people "
            "were given Good {} points more often (Mantel-Haenszel by quarter, no scores in the data, SE {} including "
            "the spread between reviewers, {}).",
            who_en, "pq", "people", _points(pl.col("rd_raw")), _points(pl.col("se_raw")), _tail("en")))
        .when(basis == SCORES_ROSE)
        .then(pl.format(
            "{} graded {} person-quarters ({} people): the unit went over the Good cap in {} of the {} quarters this "
            "reviewer graded, and in those quarters its people were given Good {} points more often than the unit's "
            "others (Mantel-Haenszel by quarter, {}). Their scores sit at the unit's {}th percentile on average; at "
            "equal score the gap is {} points.",
            who_en, "pq", "people", "over_r", "quarters_r", _points(pl.col("rd_over")), _tail("en"),
            _points(pl.col("score_pct")), _points(pl.col("rd"))))
        .otherwise(pl.format(
            "{}: Good above the cap in {} of {} quarters (worst {}, {}); Good for {} of {} person-quarters ({} people) "
            "against at most {} by the quarterly quotas and a lane mean of {} (binomial test against the cap p {}, "
            "beta-binomial against the lane p {}; together p {}, q {}).",
            who_en, "quarters_over", "quarters", pct(pl.col("worst_share")), worst, pct(pl.col("share")), "pq",
            "people", pct(pl.col("allowed_share")), pct(pl.col("lane_mean")).fill_null("—"),
            p_text(pl.col("p_cap")), p_text(pl.col("p_lane")), p_text(pl.col("p_value")), p_text(pl.col("q_value"))))
    )  # fmt: skip
    return zh, en


def leniency_caveats() -> tuple[pl.Expr, pl.Expr]:
    basis = pl.col("basis")
    reviewer = pl.col("subject_type") == "reviewer"
    zh = (
        pl.when(basis == UNSCORED)
        .then(pl.lit("未按得分调整：数据没有得分，科室人员整体更优秀也会表现为'好'偏多。"))
        .when(basis == SCORES_ROSE)
        .then(pl.lit(
            "得分与等次一同升高：该评鉴人所评人员的得分也明显偏高，按得分调整的比较无法区分宽松与实绩，宽松可能也体现在得分中。"
            "请结合本单位的'等次比例超限'预警（名额超出的季度）判断。"))
        .when((basis == SOLE) & reviewer)
        .then(pl.concat_str([pl.lit(
            "评鉴人与单位无法区分：该评鉴人是本单位唯一的评鉴人，偏高可能来自单位整体而非评鉴人本人；"
            "本判断只依据本单位'好'的比例与上限和同赛道的比较，不依据得分高低。")], ignore_nulls=True))
        .when(basis == SOLE)
        .then(pl.concat_str([pl.lit(
            "数据未记录评鉴人，按单位判断；只依据本单位'好'的比例与上限和同赛道的比较，不依据得分高低。")],
            ignore_nulls=True))
    )  # fmt: skip
    en = (
        pl.when(basis == UNSCORED)
        .then(pl.lit("Not adjusted for scores: the data has none, and a section of stronger people also shows more Good."))
        .when(basis == SCORES_ROSE)
        .then(pl.lit(
            "Scores rose with the grades: this reviewer's people also score well above the rest, so the score-adjusted "
            "comparison cannot tell leniency from merit; the leniency may be in the scores too. See the unit's "
            "quota flag (the quarters over the cap)."))
        .when((basis == SOLE) & reviewer)
        .then(pl.concat_str([pl.lit(
            "Reviewer and unit cannot be separated: this is the unit's only reviewer, so the excess may be the unit's "
            "rather than the person's. Judged only by the unit's share of Good against the cap and its lane, not by "
            "score levels.")], ignore_nulls=True))
        .when(basis == SOLE)
        .then(pl.concat_str([pl.lit(
            "No reviewers in the data: judged per unit, only by its share of Good against the cap and its lane, not "
            "by score levels.")], ignore_nulls=True))
    )  # fmt: skip
    return zh, en
