"""Labels in Chinese and English for what the app and the reports show.

Column headers, flag kinds and grade names as (zh, en) pairs. Data values (names, units,
grades as written) are never translated; only the words around them.
"""

from __future__ import annotations

import polars as pl

from analytics.vocab import ANNUAL_GRADE_EN, OUTCOME_KINDS, QUARTERLY_GRADE_EN

LANGS = ("zh", "en")

COLUMNS: dict[str, tuple[str, str]] = {
    # The strata and quarters of a flag's comparison (analytics.comparison_evidence).
    "given_good": ("获“好”人次", "Given 好"),
    "others_graded": ("本单位其他人员人次", "Others graded"),
    "others_given_good": ("其他人员获“好”人次", "Others given 好"),
    "others_good_rate": ("其他人员“好”占比", "Others' share of 好"),
    "observed_minus_expected": ("实际减期望", "Observed minus expected"),
    "weight": ("分层权重", "Stratum weight"),
    "allowed_share": ("名额允许占比", "Share the quota allows"),
    "evidence_link": ("证据", "Evidence"),
    # Survey analysis tables (pages/research_survey.py).
    "alpha": ("α 系数", "Alpha"),
    "answer": ("答案", "Answer"),
    "answers": ("答案数", "Answers"),
    "ci_low": ("95% 置信下限", "95% CI low"),
    "ci_high": ("95% 置信上限", "95% CI high"),
    "distrust_share": ("不认同比例", "Share disagreeing"),
    "trust_mean": ("认同均值", "Mean agreement"),
    "group_n": ("组内人数", "Group size"),
    "item_id": ("题号", "Item"),
    "item_ids": ("题号", "Items"),
    "item_text": ("题目", "Question"),
    "item_type": ("题型", "Type"),
    "item_group": ("维度", "Construct"),
    "items": ("题目数", "Items"),
    "levels": ("选项数", "Options"),
    "mean": ("均值", "Mean"),
    "sd": ("标准差", "SD"),
    "respondents": ("答卷人数", "Respondents"),
    "row_share": ("组内占比", "Share of group"),
    "scale": ("选项（由负到正）", "Options (negative to positive)"),
    "side": ("倾向", "Leaning"),
    "suppressed": ("人数过少已隐藏", "Suppressed (too few)"),
    "share_good": ("“好”占比", "Share of 好"),
    "rotation_flagged": ("有轮流坐庄预警", "Flagged for rotation"),
    "rotation_severity": ("轮流坐庄预警强度", "Rotation severity"),
    "leniency_flagged": ("有宽松评价预警", "Flagged for leniency"),
    "leniency_severity": ("宽松评价预警强度", "Leniency severity"),
    "about": ("涉及", "Concerns"),
    "person_id": ("人员编号", "Person ID"),
    "name": ("姓名", "Name"),
    "unit": ("单位", "Unit"),
    "unit_type": ("单位类型", "Unit type"),
    "section": ("内设机构", "Section"),
    "position_level": ("职务层次", "Position level"),
    "staff_type": ("人员类别", "Staff type"),
    "lane": ("赛道", "Lane"),
    "lane_pooled_from": ("原赛道(已合并)", "Pooled from"),
    "year": ("年度", "Year"),
    "quarter": ("季度", "Quarter"),
    "period": ("期次", "Period"),
    "grade": ("等次", "Grade"),
    "score": ("得分", "Score"),
    "fair_score": ("公平得分", "Fair score"),
    "points": ("等次分", "Grade points"),
    "reviewer": ("评鉴人", "Reviewer"),
    "annual_grade": ("年度等次", "Annual grade"),
    "outcome": ("结果运用", "Outcome"),
    "outcome_label": ("结果运用", "Outcome"),
    "outcome_raw": ("结果运用(原文)", "Outcome (as written)"),
    "date": ("日期", "Date"),
    "detail": ("说明", "Detail"),
    "amount": ("金额（元）", "Amount (CNY)"),
    "rank_in_lane": ("赛道排名", "Rank in lane"),
    "rank_change": ("名次变化", "Change"),
    "change": ("名次变化", "Change"),
    "percentile": ("百分位", "Percentile"),
    "value": ("数值", "Value"),
    "n": ("样本量", "Evidence size"),
    "people": ("人数", "People"),
    "units": ("单位数", "Units"),
    "count": ("数量", "Count"),
    "share": ("占比", "Share"),
    "good": ("好", "好 (Good)"),
    "good_share": ("“好”占比", "Share of 好"),
    "quota": ("“好”名额", "Quota of 好"),
    "quota_used": ("名额使用", "Quota used"),
    "over_quota": ("超出名额", "Over quota"),
    "over_cap": ("超过上限", "Over the cap"),
    "participants": ("参加人数", "Participants"),
    "graded": ("评定人数", "Graded"),
    "position": ("位置", "Position"),
    "flag_id": ("预警编号", "Flag ID"),
    "kind": ("类型", "Kind"),
    "kind_label": ("类型", "Kind"),
    "arrived": ("链接", "Link"),
    "no": ("序号", "No."),
    "units_in_lane": ("赛道单位数", "Units in lane"),
    "caveat": ("注意事项", "Caveat"),
    "flag_key": ("预警识别码", "Finding key"),
    "note": ("核查说明", "Note"),
    "reopened": ("重新打开", "Reopened"),
    "number": ("数值", "Number"),
    "person_name": ("人员", "Person"),
    "assignee": ("责任人", "Assignee"),
    "reviewed_at": ("核查时间", "Reviewed"),
    "reviewed_by": ("登记人", "Reviewed by"),
    "subject_type": ("对象类型", "Subject type"),
    "subject": ("对象", "Subject"),
    "period_from": ("起", "From"),
    "period_to": ("止", "To"),
    "statistic": ("统计量", "Statistic"),
    "group": ("组别", "Group"),
    "grade_en": ("等次（英文）", "Grade"),
    "lo95": ("95% 下限", "95% lower"),
    "hi95": ("95% 上限", "95% upper"),
    "lo998": ("99.8% 下限", "99.8% lower"),
    "hi998": ("99.8% 上限", "99.8% upper"),
    "stratum": ("分层", "Stratum"),
    "others": ("其他人员", "Others"),
    "statistic_value": ("统计量值", "Statistic value"),
    "statistics": ("全部统计量", "All statistics"),
    "p_value": ("p 值", "p-value"),
    "q_value": ("q 值", "q-value"),
    "severity": ("强度", "Severity"),
    "evidence": ("证据", "Evidence"),
    "evidence_zh": ("证据说明", "Evidence (Chinese)"),
    "evidence_en": ("证据说明(英文)", "Evidence"),
    "caveat_zh": ("提示", "Caveat (Chinese)"),
    "caveat_en": ("提示(英文)", "Caveat"),
    "import_id": ("导入编号", "Import ID"),
    "file_name": ("文件名", "File name"),
    "sha256": ("内容摘要", "SHA-256"),
    "rows": ("行数", "Rows"),
    "rejected": ("拒收行数", "Rejected"),
    "imported_at": ("导入时间", "Imported at"),
    "status": ("状态", "Status"),
    "layout": ("版式", "Layout"),
    "encoding": ("编码", "Encoding"),
    "header_row": ("表头行", "Header row"),
    "warnings": ("提醒", "Warnings"),
    "imported_by": ("导入人", "Imported by"),
    "source_row": ("原文件行号", "Row in file"),
    "source_sheet": ("工作表", "Sheet"),
    "sheet": ("工作表", "Sheet"),
    "row": ("行号", "Row"),
    "column": ("列", "Column"),
    "reason": ("原因", "Reason"),
    "problem": ("问题", "Problem"),
    "severity_label": ("级别", "Level"),
    "pattern": ("季度等次组合", "Quarterly pattern"),
    "rate": ("比例", "Rate"),
    "rule": ("规则", "Rule"),
    "feature": ("特征", "Feature"),
    "expected": ("期望", "Expected"),
    "observed": ("实际", "Observed"),
    "good_count": ("“好”次数", "Times 好"),
    "quarters": ("季度数", "Quarters"),
    "rank": ("名次", "Rank"),  # a ranking's position; the 职务职级 column is labelled where it is shown
    "n_in_lane": ("赛道人数", "In lane"),
    "n_ranked": ("参与排名人数", "Ranked"),
    "place": ("名次", "Place"),
    "tied": ("并列人数", "Tied"),
    "basis": ("排名依据", "Ranked on"),
    "mean_score": ("平均得分", "Mean score"),
    "grade_points": ("等次分均值", "Mean grade points"),
    "goods": ("“好”次数", "Times 好"),
    "quarters_graded": ("评定季度数", "Quarters graded"),
    "trend": ("较上期", "Since last period"),
    "fair_mean": ("公平得分均值", "Mean fair score"),
    "over": ("超出名额", "Over quota"),
    "excess": ("超出人数", "Excess"),
    "cap": ("上限", "Cap"),
    "cap_source": ("适用上限", "Cap applied"),
    "good_cap": ("“好”上限", "好 cap"),
    "good_cap_source": ("“好”上限来源", "好 cap from"),
    "excellent_cap": ("“优秀”上限", "优秀 cap"),
    "excellent_cap_source": ("“优秀”上限来源", "优秀 cap from"),
    "in_data": ("数据中有此单位", "In the data"),
    "lane_mean": ("赛道均值", "Lane mean"),
    "rewarded_share": ("奖励比例", "Share rewarded"),
    "negative_share": ("负面处理比例", "Share with a negative outcome"),
    "bonus_share": ("发放奖金比例", "Share with a bonus"),
    "bonus_min": ("奖金最低", "Lowest bonus"),
    "bonus_max": ("奖金最高", "Highest bonus"),
    "bonus_spread": ("奖金差额", "Bonus spread"),
    "rule_breaks": ("违规条数", "Rule breaks"),
    "outcome_zh": ("结果运用", "Outcome"),
    "outcomes_zh": ("结果运用", "Outcomes"),
    "gate_met": ("符合优秀条件", "Meets the 优秀 gate"),
    "first_good": ("首次获“好”", "First 好"),
    "reviewer_periods": ("评鉴季度", "Quarters reviewed"),
    "good_rate": ("“好”比例", "Share 好"),
    "records": ("记录数", "Records"),
    "median_days": ("中位天数", "Median days"),
    "file": ("文件", "File"),
    "accepted": ("可接受的值", "Accepted values"),
    "field": ("对应字段", "Field"),
    "header": ("原表头", "Header in the file"),
}

FLAG_KIND_LABELS: dict[str, tuple[str, str]] = {
    "rotation": ("轮流坐庄", "Rotating 好"),
    "leniency": ("老好人(宽松)", "Lenient reviewer"),
    "quota": ("超出名额", "Over quota"),
    "compression": ("等次压缩", "Compressed grades"),
    "silent_negatives": ("负面信息缺失", "Silent negatives"),
    "outlier": ("异常单位", "Unusual unit"),
    "outcome_rule": ("结果运用违规", "Outcome rule break"),
}

SUBJECT_TYPE_LABELS: dict[str, tuple[str, str]] = {
    "unit": ("单位", "Unit"),
    "section": ("内设机构", "Section"),
    "reviewer": ("评鉴人", "Reviewer"),
    "person": ("个人", "Person"),
}

# Values of coded columns shown to readers (the data keep the codes).
CODE_LABELS: dict[str, dict[str, tuple[str, str]]] = {
    "basis": {
        "score": ("得分", "score"),
        "grade": ("等次分", "grade points"),
        "index": ("指数", "index"),
        "fair": ("公平得分", "fair score"),
        "good_share": ("“好”占比", "share of 好"),
        "unscored": ("无得分", "no score"),
    },
    "layout": {"long": ("长表", "long"), "wide": ("宽表", "wide")},
    "cap_source": {
        "unit": ("本单位上限", "the unit's own"),
        "approved": ("经批准上限", "approved"),
        "general": ("通用上限", "general"),
    },
    "status": {
        "imported": ("已导入", "imported"),
        "partial": ("部分导入", "partial"),
        "undone": ("已撤销", "undone"),
        "refused": ("已拒收", "refused"),
        "duplicate": ("重复文件", "duplicate"),
    },
    "import_kind": {
        "quarterly": ("平时考核", "quarterly"),
        "annual": ("年度考核", "annual"),
        "outcomes": ("结果运用", "outcomes"),
        "survey": ("问卷", "survey"),
    },
}


def pick(pair: tuple[str, str], lang: str) -> str:
    """The zh or en half of a label pair."""
    return pair[1] if lang == "en" else pair[0]


def column_label(column: str, lang: str) -> str:
    """Header for a column; unknown columns (sub-scores, survey items) stay as written."""
    pair = COLUMNS.get(column)
    if pair:
        return pick(pair, lang)
    if len(column) == 6 and column[4] == "Q" and column[:4].isdigit() and column[5] in "1234":
        # A quarter as a column (a person x quarter grid): in words, like every other period shown.
        return f"{column[:4]}年{'一二三四'[int(column[5]) - 1]}季度" if lang == "zh" else f"{column[:4]} Q{column[5]}"
    return column


def kind_label(kind: str, lang: str) -> str:
    pair = FLAG_KIND_LABELS.get(kind)
    return pick(pair, lang) if pair else kind


def outcome_label(code: str, lang: str) -> str:
    """Name of an outcome kind code (vocab.OUTCOME_KINDS); other codes stay as written."""
    entry = OUTCOME_KINDS.get(code)
    if entry is None:
        return {"other": pick(("其他", "Other"), lang), "none": pick(("无", "None"), lang)}.get(code, code)
    return entry[1] if lang == "en" else entry[0]


def grade_label(grade: str, lang: str) -> str:
    """Legend text for a grade: the grade as written, with its English name in the English UI."""
    english = QUARTERLY_GRADE_EN.get(grade) or ANNUAL_GRADE_EN.get(grade)
    return f"{grade} ({english})" if lang == "en" and english else grade


def relabel(frame: pl.DataFrame, lang: str) -> pl.DataFrame:
    """A copy with headers in the chosen language (duplicates get a suffix, so nothing collides)."""
    seen: dict[str, int] = {}
    names = []
    for column in frame.columns:
        label = column_label(column, lang)
        seen[label] = seen.get(label, 0) + 1
        names.append(label if seen[label] == 1 else f"{label} ({seen[label]})")
    return frame.rename(dict(zip(frame.columns, names, strict=True)))


def kind_labels(kinds: pl.Series | list[str], lang: str) -> list[str]:
    return [kind_label(k, lang) for k in kinds]


def code_labels(frame: pl.DataFrame, column: str, lang: str, table: str | None = None) -> pl.DataFrame:
    """A copy with a coded column's values in words (CODE_LABELS[table or column]); unknown codes stay."""
    labels = CODE_LABELS.get(table or column)
    if table == "flag_kind":
        labels = FLAG_KIND_LABELS
    if not labels or column not in frame.columns:
        return frame
    mapping = {code: pick(pair, lang) for code, pair in labels.items()}
    return frame.with_columns(pl.col(column).cast(pl.Utf8).replace(mapping))


def outcome_words(lang: str) -> dict[str, str]:
    """Words of the outcome-use views (grade patterns, outcome names, 'no outcome') in the reader's language.

    Grades themselves stay as written; in Chinese the mapping is empty.
    """
    if lang != "en":
        return {}
    from analytics import outcomes

    words = dict(outcomes.PATTERNS)
    words.update({zh: en for zh, en, _ in OUTCOME_KINDS.values()})
    words.update(
        {
            outcomes.OTHER_ZH: outcomes.OTHER_EN,
            outcomes.NO_OUTCOME_ZH: "No outcome",
            outcomes.NO_ANNUAL_ZH: "No annual grade",
        }
    )
    return words


def translate_values(frame: pl.DataFrame, columns: list[str], words: dict[str, str]) -> pl.DataFrame:
    """A copy with the given text columns' values replaced through `words` (others unchanged)."""
    if not words:
        return frame
    return frame.with_columns(pl.col(c).replace(words) for c in columns if c in frame.columns)


def with_outcome_labels(frame: pl.DataFrame, lang: str, column: str = "outcome") -> pl.DataFrame:
    """Adds `outcome_label`: the outcome code's name in the reader's language."""
    if column not in frame.columns:
        return frame
    codes = frame[column].unique().drop_nulls().to_list()
    return frame.with_columns(pl.col(column).replace({c: outcome_label(c, lang) for c in codes}).alias("outcome_label"))


def problem_table(problems: pl.DataFrame, lang: str) -> pl.DataFrame:
    """The importer's problems with the reason in the reader's language (file, sheet, row, column, value, reason, accepted)."""
    if problems.height == 0 and not problems.columns:
        return problems
    reason = "reason" if lang == "en" or "reason_zh" not in problems.columns else "reason_zh"
    keep = [c for c in ("file", "sheet", "row", "column", "value") if c in problems.columns]
    tail = [c for c in ("accepted",) if c in problems.columns]
    return problems.select(*keep, pl.col(reason).alias("reason"), *tail)
