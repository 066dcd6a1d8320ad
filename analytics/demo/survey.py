"""The demo staff survey (问卷): about half the staff answer, in the shape of a real questionnaire export.

Columns as a survey platform exports them: 序号, 单位, 性别, 年龄段, 职级, 工作年限, four Likert items
(非常同意 … 非常不同意) on objectivity, trust in the reviewer, workload and use of results, a 满意度 item,
a multiple choice joined with '、' and free text. Answers hang on a latent trust that is lower in
units with a planted pattern (rotation, lenient reviewer, compression, silence), so researchers can
find that flagged units report lower trust; overall about 14% find the reviews not objective.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from analytics.demo.city import City
from analytics.demo.truth import Plan

MAX_RESPONDENTS = 20_000
AGREE = ("非常不同意", "不同意", "一般", "同意", "非常同意")
SATISFIED = ("非常不满意", "不满意", "一般", "满意", "非常满意")
ITEMS = {
    "objective": "1.您认为本单位平时考核评价客观公正",
    "trust": "2.审核领导能够全面准确评价您的工作",
    "workload": "3.平时考核增加了日常工作负担",
    "use": "4.考核结果与评先评优、职级晋升挂钩紧密",
    "satisfaction": "5.您对本单位平时考核工作总体满意度",
    "problems": "6.您认为存在的问题（多选）",
    "suggestion": "7.意见建议",
}
# Latent trust shift by the unit's planted pattern.
_TRUST_SHIFT = {
    "rotation_strict": -1.0,
    "rotation_norepeat": -0.8,
    "rotation_partial": -0.6,
    "rotation_section": -0.6,
    "rotation_bottom": -0.6,
    "rotation_star": -0.8,
    "lenient_reviewer": -0.7,
    "compression": -0.35,
    "silent_negatives": -0.25,
    "outcome_rule": -0.3,
}
# Problem options: base probability, and extra probability by pattern.
_PROBLEMS = {
    "好等次轮流坐庄": (
        0.08,
        {
            "rotation_strict": 0.5,
            "rotation_norepeat": 0.45,
            "rotation_partial": 0.35,
            "rotation_section": 0.3,
            "rotation_bottom": 0.3,
            "rotation_star": 0.4,
        },
    ),
    "审核领导把关不严": (0.08, {"lenient_reviewer": 0.45}),
    "负面信息记录不全": (0.12, {"silent_negatives": 0.4}),
    "考核流于形式": (0.1, {"compression": 0.35}),
    "指标难以量化": (0.3, {}),
    "结果运用不充分": (0.25, {"outcome_rule": 0.25}),
    "领导重视不够": (0.08, {}),
}
_SUGGESTIONS = np.array(
    [
        "建议细化指标",
        "希望加强结果反馈",
        "减少填表留痕，减轻基层负担",
        "建议增加民主测评环节",
        "考核结果应与评先评优更紧密挂钩",
    ]
)
_SUGGESTIONS_BY_PATTERN = {
    "rotation_strict": "好等次不应轮流坐庄，应按实绩评定",
    "rotation_norepeat": "好等次不应轮流，建议按实绩评定",
    "rotation_partial": "希望按实绩评定等次，不搞平均主义",
    "lenient_reviewer": "审核领导打分过松，希望加强把关",
    "silent_negatives": "负面情况也应如实记录",
    "compression": "等次拉不开差距，希望体现区分度",
}


def _likert(latent: np.ndarray, cuts: tuple[float, ...], labels: tuple[str, ...]) -> np.ndarray:
    return np.array(labels)[np.searchsorted(np.array(cuts), latent)]


def survey_frame(city: City, plan: Plan, rng: np.random.Generator) -> pl.DataFrame:
    """The raw survey sheet: every value as text, plus `source_row` (the Excel row a person sees)."""
    people = city.people.filter(pl.col("leave_t") >= city.quarters)  # current staff answer
    n = min(max(1, people.height // 2), MAX_RESPONDENTS)
    pick = np.sort(rng.choice(people.height, n, replace=False))
    resp = people[pick]
    pattern = plan.unit_pattern[resp["unit_idx"].to_numpy()]
    shift = np.vectorize(lambda p: _TRUST_SHIFT.get(p, 0.0), otypes=[float])(pattern) if n else np.zeros(0)
    trust = rng.standard_normal(n) + shift

    def item(weight: float, mean: float = 0.0) -> np.ndarray:
        return mean + weight * trust + np.sqrt(1 - weight**2) * rng.standard_normal(n)

    agree_cuts = (-1.85, -1.27, -0.45, 0.75)
    age = resp["age"].to_numpy()
    service = resp["years_of_service"].to_numpy()
    return pl.DataFrame(
        {
            "序号": (np.arange(n) + 1).astype(str),
            "单位": resp["unit"],
            "性别": resp["gender"],
            "年龄段": np.array(["30岁以下", "31-40岁", "41-50岁", "50岁以上"])[np.searchsorted([30, 40, 50], age)],
            "职级": resp["rank"],
            "工作年限": np.array(["5年以下", "5-10年", "11-20年", "20年以上"])[np.searchsorted([4, 10, 20], service)],
            ITEMS["objective"]: _likert(item(0.85), agree_cuts, AGREE),
            ITEMS["trust"]: _likert(item(0.8), agree_cuts, AGREE),
            ITEMS["workload"]: _likert(item(-0.2, 0.35), agree_cuts, AGREE),
            ITEMS["use"]: _likert(item(0.5), agree_cuts, AGREE),
            ITEMS["satisfaction"]: _likert(item(0.75, 0.1), (-1.9, -1.3, -0.4, 0.8), SATISFIED),
            ITEMS["problems"]: _problems(pattern, rng),
            ITEMS["suggestion"]: _suggestions(pattern, rng),
            "source_row": np.arange(n, dtype=np.int32) + 2,
        }
    )


def _problems(pattern: np.ndarray, rng) -> np.ndarray:
    """Chosen problems joined with '、' (at least one per respondent)."""
    n = len(pattern)
    chosen = []
    for option, (base, extra) in _PROBLEMS.items():  # a handful of options, each vectorised
        p = base + np.vectorize(lambda q, e=extra: e.get(q, 0.0), otypes=[float])(pattern) if n else np.zeros(0)
        chosen.append(np.where(rng.random(n) < p, option, ""))
    joined = pl.DataFrame({f"o{i}": c for i, c in enumerate(chosen)}).select(
        pl.concat_str(
            [pl.col(f"o{i}").replace("", None) for i in range(len(chosen))], separator="、", ignore_nulls=True
        ).alias("x")
    )["x"]
    return joined.replace("", "指标难以量化").to_numpy()


def _suggestions(pattern: np.ndarray, rng) -> pl.Series:
    n = len(pattern)
    general = _SUGGESTIONS[rng.integers(0, len(_SUGGESTIONS), n)]
    specific = np.vectorize(lambda p: _SUGGESTIONS_BY_PATTERN.get(p, ""), otypes=[str])(pattern) if n else general
    text = np.where((specific != "") & (rng.random(n) < 0.5), specific, general)
    answered = rng.random(n) < 0.45
    return pl.Series(np.where(answered, text, "").astype(str)).replace("", None)


def survey_store_tables(city: City, plan: Plan, rng: np.random.Generator) -> dict[str, pl.DataFrame]:
    """survey_items, survey_respondents, survey_answers (no import_id) via the survey importer's reshaping."""
    from analytics.survey.ingest import survey_tables

    return survey_tables(survey_frame(city, plan, rng))
