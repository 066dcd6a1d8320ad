"""Numbers and statistics as people read them, in Chinese or English.

p-values as 'p < 0.001' (never 1.1e-57), other numbers to three significant figures without
exponents, money with 元, dates without 00:00:00, lists joined with 、, yes/no in words, and the
detectors' statistic names (headline and the keys of a flag's `statistics` JSON) in the reader's
language. Unknown statistic keys keep their code only in English; in Chinese they read 其他统计量.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re

from analytics.i18n import pick

# Headline statistic names the detectors write in `statistic` (prefix match, longest first).
STATISTIC_NAMES: dict[str, tuple[str, str]] = {
    "D (dispersion)": ("离散度 D（获“好”次数的均匀程度）", "Dispersion D (how evenly 好 is shared)"),
    "normalised grade entropy": ("等次分布熵（标准化）", "Normalised grade entropy"),
    "isolation-forest anomaly score": ("异常程度得分（孤立森林）", "Anomaly score (isolation forest)"),
    "negative records (observed)": ("负面记录数（实际）", "Negative records (observed)"),
    "share of 好 (quarterly)": ("“好”占比（季度）", "Share of 好 (quarterly)"),
    "share of 优秀 (annual, worst year)": ("“优秀”占比（年度，最高一年）", "Share of 优秀 (annual, worst year)"),
    "alpha within unit": (
        "评鉴人宽松度（与本单位其他评鉴人比较，同分调整）",
        "Leniency against the unit's other reviewers (same score)",
    ),
    "alpha against lane": ("评鉴人宽松度（与同赛道比较，同分调整）", "Leniency against the lane (same score)"),
    "share of 好 above the unit's other reviewers": (
        "“好”占比高于本单位其他评鉴人（未按得分调整）",
        "Share of 好 above the unit's other reviewers (not score-adjusted)",
    ),
    "share of 好 above the unit's other people in the same quarters": (
        "“好”占比高于本单位同季度其他人员",
        "Share of 好 above the unit's other people in the same quarters",
    ),
    "share of grades outside the modal grade": ("主等次以外的等次占比", "Share of grades outside the modal grade"),
    "excellent_without_gate": ("未满足条件评为优秀", "优秀 without meeting the gate"),
    "rewarded_after_average": ("一般等次后仍获奖励", "Rewarded after 一般"),
    "promoted_after_average": ("一般等次后仍获提拔", "Promoted after 一般"),
    "odds ratio": ("比值比", "Odds ratio"),
    "share of 好 above the unit's other people at equal score": (
        "“好”占比高于本单位同得分段其他人员（分层风险差）",
        "Share of 好 above the unit's other people at equal score",
    ),
    "share of 好 above the unit's other people in the same quarters (Mantel-Haenszel": (
        "“好”占比高于本单位同季度其他人员（无得分，分层比较）",
        "Share of 好 above the unit's other people in the same quarters",
    ),
    "share of 好 above the unit's other people in the same quarters (not": (
        "“好”占比高于本单位同季度其他人员（未按得分调整）",
        "Share of 好 above the unit's other people in the same quarters (not score-adjusted)",
    ),
    "share of 好 above what the quarterly quotas allow": (
        "“好”占比超出季度名额",
        "Share of 好 above what the quarterly quotas allow",
    ),
    "Mantel-Haenszel": ("分层比值比（Mantel–Haenszel）", "Stratified odds ratio (Mantel–Haenszel)"),
    "Mantel–Haenszel": ("分层比值比（Mantel–Haenszel）", "Stratified odds ratio (Mantel–Haenszel)"),
}

# Keys of a flag's `statistics` JSON.
STATISTIC_KEYS: dict[str, tuple[str, str]] = {
    "D": ("离散度 D", "Dispersion D"),
    "RR": ("重复比 RR", "Repeat ratio RR"),
    "H": ("等次熵 H", "Grade entropy H"),
    "N": ("记录数", "Records"),
    "anomaly": ("异常程度", "Anomaly score"),
    "auc": ("曲线下面积 AUC", "AUC"),
    "basis": ("比较对象", "Compared with"),
    "c_max": ("最多获“好”次数", "Most times 好"),
    "c_min": ("最少获“好”次数", "Fewest times 好"),
    "center": ("中心值", "Centre"),
    "contamination": ("预设异常比例", "Assumed share of anomalies"),
    "effect": ("效应量", "Effect"),
    "expected": ("预期数", "Expected"),
    "expected_repeats": ("预期连续次数", "Expected repeats"),
    "flagged_periods": ("异常期次", "Periods flagged"),
    "l_alpha": ("宽松度（对赛道）", "Leniency (against the lane)"),
    "l_se": ("标准误（对赛道）", "Standard error (lane)"),
    "l_shrunk": ("收缩后宽松度（对赛道）", "Shrunk leniency (lane)"),
    "lane_rate": ("赛道比例", "Lane rate"),
    "longest_run": ("最长连续相同等次", "Longest run of one grade"),
    "modal_grade": ("最常见等次", "Most common grade"),
    "modal_share": ("最常见等次占比", "Share of the most common grade"),
    "n_o": ("其他评鉴人评定人次", "Graded by the others"),
    "n_r": ("本评鉴人评定人次", "Graded by this reviewer"),
    "n_people": ("人数", "People"),
    "n_quarters": ("季度数", "Quarters"),
    "neg_grades": ("较差等次数", "较差 grades"),
    "neg_outcomes": ("负面处理数", "Negative outcomes"),
    "negative": ("负面占比", "Negative share"),
    "never_good": ("从未获“好”人数", "Never 好"),
    "no_consecutive_rule": ("不得连续获“好”规则", "No-consecutive-好 rule"),
    "observed": ("实际数", "Observed"),
    "p_average": ("“一般”占比", "Share 一般"),
    "p_dispersion": ("离散度检验 p 值", "p-value (dispersion)"),
    "p_fairly": ("“较好”占比", "Share 较好"),
    "p_good": ("“好”占比", "Share 好"),
    "p_min": ("最小 p 值", "Smallest p-value"),
    "p_poor": ("“较差”占比", "Share 较差"),
    "p_repeat": ("连续检验 p 值", "p-value (repeats)"),
    "p_value": ("p 值", "p-value"),
    "q_value": ("q 值", "q-value"),
    "people": ("人数", "People"),
    "quarters": ("季度数", "Quarters"),
    "quarters_flagged": ("异常季度数", "Quarters flagged"),
    "records": ("相关记录", "Records"),
    "reference": ("参照", "Reference"),
    "repeats": ("连续获“好”次数", "Repeats"),
    "rho": ("相关系数", "Correlation"),
    "rules": ("违反的规则", "Rules broken"),
    "sd": ("标准差", "Standard deviation"),
    "share_o": ("其他评鉴人“好”占比", "Share 好 by the others"),
    "share_r": ("本评鉴人“好”占比", "Share 好 by this reviewer"),
    "slope": ("得分斜率", "Score slope"),
    "tau2": ("单位间方差", "Between-unit variance"),
    "threshold": ("判定阈值", "Threshold"),
    "top2": ("前两种等次占比", "Share of the two commonest grades"),
    "top_features": ("主要异常特征", "Main features"),
    "top_z": ("主要特征 z 值", "z of the main features"),
    "units_graded": ("评定单位数", "Units graded"),
    "w_alpha": ("宽松度（单位内）", "Leniency (within unit)"),
    "w_se": ("标准误（单位内）", "Standard error (within unit)"),
    "w_shrunk": ("收缩后宽松度（单位内）", "Shrunk leniency (within unit)"),
    "wait_mean": ("平均间隔季度", "Mean wait (quarters)"),
    "wait_sd": ("间隔标准差", "Wait SD"),
    "worst_period": ("最异常期次", "Most unusual period"),
    "z": ("z 值", "z"),
    "z_used": ("z 值", "z"),
    "or_mh": ("分层比值比", "Stratified odds ratio"),
    "strata": ("得分分层数", "Score strata"),
    "cap": ("上限", "Cap"),
    "share": ("占比", "Share"),
    "lane_share": ("赛道占比", "Lane share"),
    "parts": ("分项检验", "Tests combined"),
    "method": ("检验方法", "Method"),
    "variant": ("检验类型", "Variant"),
    "window": ("时间窗", "Window"),
    "years": ("年度", "Years"),
}

# Words that appear as values in the statistics JSON.
STATISTIC_WORDS: dict[str, tuple[str, str]] = {
    "unit": ("本单位其他评鉴人", "the unit's other reviewers"),
    "lane": ("同赛道", "the lane"),
    "unit_unscored": ("本单位其他评鉴人（无得分）", "the unit's other reviewers (no scores)"),
    "cap": ("上限", "the cap"),
    "quarter": ("季度", "quarter"),
    "true": ("是", "yes"),
    "within": ("本单位同得分段其他人员", "the unit's other people at equal score"),
    "unscored": ("本单位同季度其他人员（无得分）", "the unit's other people in the same quarters (no scores)"),
    "scores_rose": ("本单位同季度其他人员（得分随等次抬高）", "the unit's other people (scores rose with the grades)"),
    "sole": ("名额上限与同赛道", "the quotas and the lane"),
    "top": ("获“好”", "getting 好"),
    "bottom": ("获低等次", "getting the low grades"),
    "without_stars": ("除去长期获“好”者", "without the standing stars"),
    "all": ("全期", "whole period"),
    "two_years": ("近两年", "last two years"),
    "year": ("一年", "one year"),
    "来源未记录": ("来源未记录", "source not recorded"),
    "false": ("否", "no"),
}


def p_text(p: float | None) -> str:
    """'< 0.001', '0.023', or '—' when no test applies."""
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return "—"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def number_text(x: float | int | None) -> str:
    """Three significant figures, thousands separated, never an exponent; integers as they are."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    if isinstance(x, bool):
        return str(x)
    if isinstance(x, int) or float(x).is_integer() and abs(x) < 1e15:
        return f"{int(x):,}"
    if abs(x) < 0.001:
        return "< 0.001" if x > 0 else ("> −0.001" if x < 0 else "0")
    digits = max(0, 2 - int(math.floor(math.log10(abs(x)))))
    return f"{x:,.{digits}f}"


def money_text(x: float | None, lang: str = "zh") -> str:
    if x is None:
        return "—"
    return f"{x:,.0f} 元" if lang == "zh" else f"¥{x:,.0f}"


def date_text(value: dt.date | dt.datetime | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d") if value.time() == dt.time(0) else value.strftime("%Y-%m-%d %H:%M")
    return value.isoformat()


_PERIOD = re.compile(r"^(\d{4})Q([1-4])$")


def is_period(text: str) -> bool:
    """'2025Q2' (a quarter label as the data and flags write it)."""
    return bool(_PERIOD.match(text or ""))


def period_words(label: str | None, lang: str) -> str:
    """'2025Q2' -> '2025年第二季度' / '2025 Q2'; a year or anything else stays as written."""
    m = _PERIOD.match(label or "")
    if not m:
        return label or "—"
    year, quarter = m.group(1), int(m.group(2))
    return f"{year}年第{'一二三四'[quarter - 1]}季度" if lang == "zh" else f"{year} Q{quarter}"


def period_ticks(labels: list, lang: str) -> list:
    """Chart-axis form of quarter labels: '2025Q2' -> '2025年二季度' / '2025 Q2'; other values unchanged."""

    def one(label):
        m = _PERIOD.match(label) if isinstance(label, str) else None
        if not m:
            return label
        return f"{m.group(1)}年{'一二三四'[int(m.group(2)) - 1]}季度" if lang == "zh" else f"{m.group(1)} Q{m.group(2)}"

    return [one(label) for label in labels]


def period_span(first: str | None, last: str | None, lang: str) -> str:
    """'2024年第一季度—2025年第四季度', or one period when both ends agree."""
    if not first and not last:
        return "—"
    if not last or first == last:
        return period_words(first or last, lang)
    return (
        f"{period_words(first, lang)}至{period_words(last, lang)}"
        if lang == "zh"
        else (f"{period_words(first, lang)}–{period_words(last, lang)}")
    )


def statistic_name(name: str | None, lang: str) -> str:
    """The headline statistic in the reader's language (the detectors write English names)."""
    if not name:
        return "—"
    for known in sorted(STATISTIC_NAMES, key=len, reverse=True):
        if name.startswith(known):
            return pick(STATISTIC_NAMES[known], lang)
    return name if lang == "en" else "检验统计量"


def key_label(key: str, lang: str) -> str:
    pair = STATISTIC_KEYS.get(key)
    if pair:
        return pick(pair, lang)
    return key if lang == "en" else "其他统计量"


def value_text(key: str, value: object, lang: str) -> str:
    """One statistic's value as text: p-values as p < 0.001, lists with 、, codes as words."""
    if isinstance(value, dict):
        return f"{len(value)} 项" if lang == "zh" else f"{len(value)} items"
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        return f"共 {len(value)} 项检验（见预警说明）" if lang == "zh" else f"{len(value)} tests (see the evidence)"
    if isinstance(value, list):
        return (
            "、".join(value_text(key, v, lang) for v in value)
            if lang == "zh"
            else ", ".join(value_text(key, v, lang) for v in value)
        )
    if isinstance(value, bool):
        return pick(STATISTIC_WORDS["true" if value else "false"], lang)
    if isinstance(value, (int, float)):
        return p_text(float(value)) if key.startswith("p_") or key in ("p", "q", "q_value") else number_text(value)
    if value is None:
        return "—"
    text = str(value)
    if text in STATISTIC_WORDS:
        return pick(STATISTIC_WORDS[text], lang)
    if text in STATISTIC_NAMES:
        return pick(STATISTIC_NAMES[text], lang)
    from analytics.detectors.outliers import FEATURES

    if text in FEATURES:
        return FEATURES[text][1] if lang == "en" else FEATURES[text][0]
    if is_period(text):
        return period_words(text, lang)
    if text.startswith("(D + 0.1) x RR"):
        return pick(("（D + 0.1）× RR 的下尾概率：固定边际下的蒙特卡洛检验（Besag–Clifford 序贯停止）或精确计算",
                     text), lang)  # fmt: skip
    if lang == "en" and "、" in text:
        text = text.replace("、", ", ")
    source = _SOURCE.match(text)
    if source and lang == "en":
        return f"import #{source.group(1)}, row {source.group(2)}"
    return text  # data as written (a grade, a name)


_SOURCE = re.compile(r"^导入#(\d+|\?)第(\d+|\?)行$")


def statistics_rows(statistics: str | None, lang: str) -> list[tuple[str, str, float | None]]:
    """(label, value as text, value as a number or None) for each entry of a flag's statistics JSON."""
    try:
        values = json.loads(statistics or "{}")
    except json.JSONDecodeError:
        values = {}
    if not isinstance(values, dict):
        values = {"value": values}
    rows = []
    for key, value in values.items():
        number = float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
        rows.append((key_label(key, lang), value_text(key, value, lang), number))
    return rows
