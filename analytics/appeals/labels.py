"""Words for people: the appeal, what-if and appeal-pack columns and codes in Chinese and English.

Tables keep their codes; `for_people` gives a copy with coded values in words and headers in the chosen
language (falling back to analytics.i18n for the columns every table shares).
"""

from __future__ import annotations

import polars as pl

from analytics import i18n
from analytics.appeals.records import DECISIONS, REASONS, SUBJECTS

COLUMNS: dict[str, tuple[str, str]] = {
    "appeal_date": ("申诉日期", "Appeal date"),
    "appeal_subject": ("申诉事项", "Appealed"),
    "appeal_subject_raw": ("申诉事项(原文)", "Appealed (as written)"),
    "appealed_grade": ("原等次", "Grade appealed"),
    "appeal_reason": ("申诉理由", "Reason"),
    "reason_kind": ("理由类别", "Kind of reason"),
    "decision": ("处理结果", "Decision"),
    "decision_raw": ("处理结果(原文)", "Decision (as written)"),
    "decision_date": ("答复日期", "Decision date"),
    "revised_grade": ("复核后等次", "Grade after review"),
    "attributed_reviewer": ("所涉评鉴人", "Reviewer concerned"),
    "attribution": ("评鉴人来源", "Reviewer from"),
    "appeals": ("申诉件数", "Appeals"),
    "decided": ("已决定", "Decided"),
    "changed": ("予以变更", "Changed"),
    "changed_share": ("变更比例", "Share changed"),
    "dated": ("有答复日期", "With a decision date"),
    "p25_days": ("四分之一位天数", "25th percentile, days"),
    "p75_days": ("四分之三位天数", "75th percentile, days"),
    "max_days": ("最长天数", "Longest, days"),
    "flagged": ("宽松预警", "Flagged lenient"),
    "person_quarters": ("评定人次", "Person-quarters graded"),
    "per_100": ("每百人次申诉", "Appeals per 100 graded"),
    "about_reviewer": ("针对评鉴人", "About the reviewer"),
    "recorded_grade": ("记录等次", "Recorded grade"),
    "whatif_grade": ("推演等次", "What-if grade"),
    "change": ("变化", "Change"),
    "reason": ("原因类别", "Reason"),
    "reason_zh": ("原因说明", "Explanation (Chinese)"),
    "reason_en": ("原因说明(英文)", "Explanation"),
    "recorded_good": ("记录“好”次数", "Recorded 好"),
    "whatif_good": ("推演“好”次数", "What-if 好"),
    "whatif_average_or_below": ("一般及以下次数", "一般 or below"),
    "quarters_on_record": ("有季度记录", "Quarters on record"),
    "group_people": ("参评人数", "People graded"),
    "allowed": ("名额上限", "Places allowed"),
    "places": ("优秀名额", "Places"),
    "place_rank": ("排序", "Place in line"),
    "rank_score": ("排序得分", "Score ranked on"),
    "recorded_excellent": ("记录优秀人数", "优秀 recorded"),
    "whatif_excellent": ("推演优秀人数", "优秀 in the what-if"),
    "gains": ("新增优秀", "Gain 优秀"),
    "losses": ("失去优秀", "Lose 优秀"),
    "losses_gate": ("因门槛失去", "Lost on the gate"),
    "losses_cap": ("因名额失去", "Lost on the cap"),
    "consequence": ("结果运用类别", "Consequence"),
    "consequence_zh": ("依据", "Rule (Chinese)"),
    "consequence_en": ("依据(英文)", "Rule"),
    "recorded_entitled": ("记录下应得", "Entitled as recorded"),
    "whatif_entitled": ("推演下应得", "Entitled in the what-if"),
    "recorded_outcomes": ("已有结果运用记录", "Outcome records held"),
    "recorded_grade_q": ("记录等次", "Recorded grade"),
    "alpha": ("宽松效应(等次分)", "Leniency (grade points)"),
    "se": ("标准误", "Standard error"),
    "z": ("z 值", "z"),
    "shrunk": ("收缩后效应", "Shrunk effect"),
    "alpha_within_unit": ("单位内宽松效应", "Leniency within unit"),
    "z_within_unit": ("单位内 z 值", "z within unit"),
    "units_graded": ("评定单位数", "Units graded"),
    "nested": ("仅评一个单位", "Grades one unit only"),
    "caveat": ("提示", "Caveat"),
    "flag": ("预警", "Flag"),
    "gate_met": ("符合优秀条件", "Meets the 优秀 gate"),
    "n_good": ("“好”次数", "Times 好"),
    "n_average_or_below": ("一般及以下次数", "一般 or below"),
    "quarters": ("季度数", "Quarters"),
    "lane_percentile": ("赛道内百分位", "Percentile in lane"),
    "lane_graded": ("赛道评定人数", "Graded in lane"),
    "lane_good_share": ("赛道“好”占比", "Lane share of 好"),
    "lane_mean_score": ("赛道平均得分", "Lane mean score"),
    "flag_q": ("预警 q 值", "Flag q-value"),
    "field": ("项目", "Item"),
    "value": ("内容", "Value"),
    "scenario": ("情景", "Scenario"),
    "description_zh": ("情景说明", "Scenario (Chinese)"),
    "description_en": ("情景说明(英文)", "Scenario"),
    "quarters_changed": ("季度等次变化", "Quarters moved"),
    "consequences_changed": ("结果运用变化", "Entitlements moved"),
}
CODES: dict[str, dict[str, tuple[str, str]]] = {
    "appeal_subject": SUBJECTS,
    "reason_kind": REASONS,
    "decision": DECISIONS,
    "attribution": {
        "named": ("申诉中点名", "named in the appeal"),
        "quarter": ("该季度评鉴人", "that quarter's reviewer"),
        "year": ("当年主要评鉴人", "that year's main reviewer"),
    },  # fmt: skip
    "change": {"gains": ("增加", "gains"), "loses": ("减少", "loses"), "same": ("不变", "same")},
    "reason": {"gate": ("未达门槛", "gate"), "cap": ("超出名额", "cap"), "freed": ("递补", "freed place")},
    "consequence": {
        "commendation": ("嘉奖", "commendation"),
        "merit": ("记三等功", "merit citation"),
        "promotion_priority": ("优先提拔", "promotion priority"),
    },  # fmt: skip
}
# Of a zh/en pair of columns, only the one in the reader's language is shown.
_PAIRS = ("reason", "consequence", "description", "evidence", "caveat")


def label(column: str, lang: str) -> str:
    pair = COLUMNS.get(column)
    return i18n.pick(pair, lang) if pair else i18n.column_label(column, lang)


def for_people(frame: pl.DataFrame, lang: str) -> pl.DataFrame:
    """A copy for reading: codes in words, booleans as 是/否, one language of each zh/en pair, headers translated."""
    out = frame
    for column, codes in CODES.items():
        if column in out.columns and out.schema[column] == pl.Utf8:
            out = out.with_columns(pl.col(column).replace({k: i18n.pick(v, lang) for k, v in codes.items()}))
    yes, no = ("是", "否") if lang == "zh" else ("yes", "no")
    out = out.with_columns(
        pl.when(pl.col(c)).then(pl.lit(yes)).otherwise(pl.lit(no)).alias(c)
        for c, t in out.schema.items()
        if t == pl.Boolean
    )
    other = "en" if lang == "zh" else "zh"
    drop = [f"{p}_{other}" for p in _PAIRS if f"{p}_{other}" in out.columns]
    out = out.drop(drop)
    names = {c: label(c, lang) for c in out.columns}
    for p in _PAIRS:  # the kept half of a pair is the column itself for the reader
        if f"{p}_{lang}" in out.columns and p not in out.columns:
            names[f"{p}_{lang}"] = label(p if p in COLUMNS else f"{p}_{lang}", lang)
    return out.rename(_unique(names))


def _unique(names: dict[str, str]) -> dict[str, str]:
    seen: dict[str, int] = {}
    out = {}
    for column, name in names.items():
        seen[name] = seen.get(name, 0) + 1
        out[column] = name if seen[name] == 1 else f"{name} ({seen[name]})"
    return out
