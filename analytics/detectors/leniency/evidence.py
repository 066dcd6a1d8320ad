"""The sentences of a leniency flag: evidence and caveat, in Chinese and in English, per basis of comparison."""

from __future__ import annotations

import polars as pl

from analytics.detectors._unit_stats import num, p_text, pct, period_words

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


# Per basis: the evidence sentence in Chinese and in English; both fill the same slots in the same order
# (_slots): who, then the numbers of that basis.
_EVIDENCE: dict[str, tuple[str, str]] = {
    WITHIN: (
        "{}所评 {} 人次（{} 人）：与同单位同季度、得分处于同一五分位的人员相比，其所评人员得'好'的比例高 {} 个百分点"
        "（Mantel-Haenszel 分层比较，标准误 {} 含评鉴人之间的差异，{}）。",
        "{} graded {} person-quarters ({} people): against people of the same unit, quarter and score fifth, its "
        "people were given Good {} points more often (Mantel-Haenszel stratified comparison, SE {} including the "
        "spread between reviewers, {}).",
    ),
    UNSCORED: (
        "{}所评 {} 人次（{} 人）：与同单位同季度其他人员相比，其所评人员得'好'的比例高 {} 个百分点"
        "（Mantel-Haenszel 按季度分层，数据无得分，标准误 {} 含评鉴人之间的差异，{}）。",
        "{} graded {} person-quarters ({} people): against the unit's other people in the same quarters, its people "
        "were given Good {} points more often (Mantel-Haenszel by quarter, no scores in the data, SE {} including "
        "the spread between reviewers, {}).",
    ),
    SCORES_ROSE: (
        "{}所评 {} 人次（{} 人）：其评鉴的 {} 个季度中本单位有 {} 个季度'好'超过比例上限，超出上限的'好'有 {} 在其所评人员"
        "身上（超出本科室按上限应得的部分）；在这些季度，其所评人员得'好'的比例比本单位其他人员高 {} 个百分点"
        "（Mantel-Haenszel 按季度分层，{}）。这些人员的得分平均位于本单位第 {} 百分位，按得分分层后只高 {} 个百分点。",
        "{} graded {} person-quarters ({} people): of the {} quarters this reviewer graded, the unit went over the "
        "Good cap in {}; its people hold {} of the unit's Good above the cap in those quarters (beyond the cap's "
        "share of them), and in those quarters they were given Good {} points more often than the unit's others "
        "(Mantel-Haenszel by quarter, {}). Their scores sit at the unit's {}th percentile on average; at equal "
        "score the gap is {} points.",
    ),
    SOLE: (
        "{}：{} 个季度中有 {} 个季度'好'超过比例上限（最高 {}，{}）；全期'好'占 {}（{} 人次，{} 人），按季度名额最多 {}，"
        "同赛道平均 {}（二项检验对上限 p {}，β-二项检验对赛道 p {}；合并 p {}，q {}）。",
        "{}: of {} quarters, {} had Good above the cap (worst {}, {}); Good for {} of {} person-quarters ({} people) "
        "against at most {} by the quarterly quotas and a lane mean of {} (binomial test against the cap p {}, "
        "beta-binomial against the lane p {}; together p {}, q {}).",
    ),
}


def _who(lang: str) -> pl.Expr:
    reviewer = pl.col("subject_type") == "reviewer"
    named, unit = ("评鉴人 {}（{}）", "单位 {}") if lang == "zh" else ("Reviewer {} ({})", "Unit {}")
    return pl.when(reviewer).then(pl.format(named, "subject", "unit")).otherwise(pl.format(unit, "unit"))


def _slots(basis: str, lang: str) -> list:
    """The values of one basis's sentence, in the order of its templates."""
    f = pl.col
    if basis == WITHIN:
        return ["pq", "people", _points(f("rd")), _points(f("se_adj")), _tail(lang)]
    if basis == UNSCORED:
        return ["pq", "people", _points(f("rd_raw")), _points(f("se_raw")), _tail(lang)]
    if basis == SCORES_ROSE:
        return ["pq", "people", "quarters_r", "over_r", pct(f("excess_r") / f("unit_excess")), _points(f("rd_over")),
                _tail(lang), _points(f("score_pct")), _points(f("rd"))]  # fmt: skip
    return ["quarters", "quarters_over", pct(f("worst_share")), period_words(f("worst_t"), lang), pct(f("share")), "pq",
            "people", pct(f("allowed_share")), pct(f("lane_mean")).fill_null("—"), p_text(f("p_cap")),
            p_text(f("p_lane")), p_text(f("p_value")), p_text(f("q_value"))]  # fmt: skip


def _sentence(lang: str) -> pl.Expr:
    i = 0 if lang == "zh" else 1
    chain = pl
    for basis, templates in _EVIDENCE.items():
        chain = chain.when(pl.col("basis") == basis).then(pl.format(templates[i], _who(lang), *_slots(basis, lang)))
    return chain


def leniency_evidence() -> tuple[pl.Expr, pl.Expr]:
    return _sentence("zh"), _sentence("en")


_CAVEATS: dict[str, tuple[str, str]] = {
    UNSCORED: (
        "未按得分调整：数据没有得分，科室人员整体更优秀也会表现为'好'偏多。",
        "Not adjusted for scores: the data has none, and a section of stronger people also shows more Good.",
    ),
    SCORES_ROSE: (
        "得分与等次一同升高：该评鉴人所评人员的得分也明显偏高，按得分调整的比较无法区分宽松与实绩，宽松可能也体现在得分中。"
        "请结合本单位的'等次比例超限'预警（名额超出的季度）判断。",
        "Scores rose with the grades: this reviewer's people also score well above the rest, so the score-adjusted "
        "comparison cannot tell leniency from merit; the leniency may be in the scores too. See the unit's "
        "quota flag (the quarters over the cap).",
    ),
    "sole_reviewer": (
        "评鉴人与单位无法区分：该评鉴人是本单位唯一的评鉴人，偏高可能来自单位整体而非评鉴人本人；"
        "本判断只依据本单位'好'的比例与上限和同赛道的比较，不依据得分高低。",
        "Reviewer and unit cannot be separated: this is the unit's only reviewer, so the excess may be the unit's "
        "rather than the person's. Judged only by the unit's share of Good against the cap and its lane, not by "
        "score levels.",
    ),
    SOLE: (
        "数据未记录评鉴人，按单位判断；只依据本单位'好'的比例与上限和同赛道的比较，不依据得分高低。",
        "No reviewers in the data: judged per unit, only by its share of Good against the cap and its lane, not "
        "by score levels.",
    ),
}


def _caveat(lang: str) -> pl.Expr:
    i = 0 if lang == "zh" else 1
    basis = pl.col("basis")
    sole_reviewer = (basis == SOLE) & (pl.col("subject_type") == "reviewer")
    kind = pl.when(sole_reviewer).then(pl.lit("sole_reviewer")).otherwise(basis)
    return kind.replace_strict({k: v[i] for k, v in _CAVEATS.items()}, default=None, return_dtype=pl.Utf8)


def leniency_caveats() -> tuple[pl.Expr, pl.Expr]:
    """Caveat per basis (none for the equal-score comparison: the unit's own standard is taken out)."""
    return _caveat("zh"), _caveat("en")
