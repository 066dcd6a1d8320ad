"""The assessment vocabulary: grades, annual grades, outcome kinds, periods.

One place for the words the rules use, so the importer, the detectors and the
app agree on spelling, order and meaning (DOMAIN.md, Assessments).
"""

from __future__ import annotations

# Quarterly (平时考核) grades, best first. 不确定等次 = not graded this quarter.
GOOD, FAIRLY_GOOD, AVERAGE, POOR, UNGRADED = "好", "较好", "一般", "较差", "不确定等次"
QUARTERLY_GRADES: tuple[str, ...] = (GOOD, FAIRLY_GOOD, AVERAGE, POOR, UNGRADED)
GRADED: tuple[str, ...] = (GOOD, FAIRLY_GOOD, AVERAGE, POOR)  # the four real grades, best first
GRADE_POINTS: dict[str, int] = {GOOD: 4, FAIRLY_GOOD: 3, AVERAGE: 2, POOR: 1}
NEGATIVE_GRADES: tuple[str, ...] = (AVERAGE, POOR)  # "一般 or below"
QUARTERLY_GRADE_EN = {
    GOOD: "Good",
    FAIRLY_GOOD: "Fairly good",
    AVERAGE: "Average",
    POOR: "Poor",
    UNGRADED: "Not graded",
}
# Spellings seen in exports -> canonical grade (keys are compared after normalise_text).
QUARTERLY_GRADE_ALIASES: dict[str, str] = {
    "好": GOOD,
    "优": GOOD,
    "good": GOOD,
    "a": GOOD,
    "较好": FAIRLY_GOOD,
    "比较好": FAIRLY_GOOD,
    "fairlygood": FAIRLY_GOOD,
    "b": FAIRLY_GOOD,
    "一般": AVERAGE,
    "average": AVERAGE,
    "c": AVERAGE,
    "较差": POOR,
    "差": POOR,
    "poor": POOR,
    "d": POOR,
    "不确定等次": UNGRADED,
    "不确定": UNGRADED,
    "不定等次": UNGRADED,
    "未定等次": UNGRADED,
    "ungraded": UNGRADED,
}

# Annual (年度考核) grades, best first; 事业单位 use 合格 wording, stored as written.
EXCELLENT, COMPETENT, BASIC, INCOMPETENT = "优秀", "称职", "基本称职", "不称职"
ANNUAL_GRADES: tuple[str, ...] = (EXCELLENT, COMPETENT, BASIC, INCOMPETENT, UNGRADED, "合格", "基本合格", "不合格")
ANNUAL_GRADE_RANK: dict[str, int] = {  # 4 = best; 事业 wording maps onto the same ladder
    EXCELLENT: 4,
    COMPETENT: 3,
    "合格": 3,
    BASIC: 2,
    "基本合格": 2,
    INCOMPETENT: 1,
    "不合格": 1,
}
ANNUAL_GRADE_EN = {
    EXCELLENT: "Excellent",
    COMPETENT: "Competent",
    BASIC: "Basically competent",
    INCOMPETENT: "Incompetent",
    UNGRADED: "Not graded",
    "合格": "Qualified",
    "基本合格": "Basically qualified",
    "不合格": "Unqualified",
}
ANNUAL_GRADE_ALIASES: dict[str, str] = {
    "优秀": EXCELLENT,
    "excellent": EXCELLENT,
    "称职": COMPETENT,
    "competent": COMPETENT,
    "基本称职": BASIC,
    "basicallycompetent": BASIC,
    "不称职": INCOMPETENT,
    "incompetent": INCOMPETENT,
    "不确定等次": UNGRADED,
    "不确定": UNGRADED,
    "不定等次": UNGRADED,
    "未定等次": UNGRADED,
    "合格": "合格",
    "qualified": "合格",
    "基本合格": "基本合格",
    "不合格": "不合格",
    "unqualified": "不合格",
}

# Outcome use (结果运用): canonical code -> (Chinese, English, valence).
# valence: +1 reward/advancement, -1 negative consequence, 0 development/neutral.
OUTCOME_KINDS: dict[str, tuple[str, str, int]] = {
    "promotion": ("提拔", "Promotion", 1),
    "rank_promotion": ("职级晋升", "Rank promotion", 1),
    "award": ("评先评优", "Award", 1),
    "commendation": ("嘉奖", "Commendation", 1),
    "merit": ("记三等功", "Merit citation", 1),
    "bonus": ("考核奖金", "Bonus", 1),
    "training": ("培训", "Training", 0),
    "mentoring": ("导师帮带", "Mentoring", 0),
    "reminder": ("谈话提醒", "Warning talk", -1),
    "admonishment": ("诫勉", "Admonishment", -1),
    "reassignment": ("调整岗位", "Reassignment", -1),
    "demotion": ("降职降级", "Demotion", -1),
    "award_withdrawn": ("取消评优资格", "Award eligibility withdrawn", -1),
    "bonus_cut": ("扣减奖金", "Bonus cut", -1),
}
OUTCOME_ALIASES: dict[str, str] = {
    "提拔": "promotion",
    "提拔任用": "promotion",
    "提任": "promotion",
    "promotion": "promotion",
    "职级晋升": "rank_promotion",
    "晋升职级": "rank_promotion",
    "职级晋升优先": "rank_promotion",
    "rankpromotion": "rank_promotion",
    "评先评优": "award",
    "评优": "award",
    "评先": "award",
    "表彰": "award",
    "award": "award",
    "嘉奖": "commendation",
    "commendation": "commendation",
    "记三等功": "merit",
    "三等功": "merit",
    "记功": "merit",
    "merit": "merit",
    "考核奖金": "bonus",
    "年度考核奖金": "bonus",
    "绩效奖金": "bonus",
    "奖金": "bonus",
    "bonus": "bonus",
    "培训": "training",
    "教育培训": "training",
    "training": "training",
    "导师帮带": "mentoring",
    "帮带": "mentoring",
    "mentoring": "mentoring",
    "谈话提醒": "reminder",
    "提醒谈话": "reminder",
    "约谈": "reminder",
    "warning": "reminder",
    "诫勉": "admonishment",
    "诫勉谈话": "admonishment",
    "admonishment": "admonishment",
    "调整岗位": "reassignment",
    "岗位调整": "reassignment",
    "调岗": "reassignment",
    "reassignment": "reassignment",
    "降职降级": "demotion",
    "降职": "demotion",
    "降级": "demotion",
    "demotion": "demotion",
    "取消评优资格": "award_withdrawn",
    "取消评先评优资格": "award_withdrawn",
    "扣减奖金": "bonus_cut",
    "扣发奖金": "bonus_cut",
    "核减奖金": "bonus_cut",
}

QUARTER_NAMES_ZH = {1: "第一季度", 2: "第二季度", 3: "第三季度", 4: "第四季度"}


def normalise_text(value: str) -> str:
    """Fold a cell or header for matching: full-width -> half-width, no spaces, lower case.

    >>> normalise_text(" Ｑ１ 季度 ")
    'q1季度'
    """
    folded = "".join(
        chr(ord(ch) - 0xFEE0) if 0xFF01 <= ord(ch) <= 0xFF5E else (" " if ch == "\u3000" else ch) for ch in value
    )
    return "".join(folded.split()).lower()


def period_label(year: int, quarter: int) -> str:
    """'2024Q1' style label used in flags, CLI arguments and charts."""
    return f"{year}Q{quarter}"


def period_index(year: int, quarter: int) -> int:
    """Consecutive integer for a quarter, so that 'next quarter' is +1 across years."""
    return year * 4 + quarter - 1
