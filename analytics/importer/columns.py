"""Column names: the alias table (DATA_CONTRACT.md) and which fields each kind of file stores.

Headers are matched after `header_key()`: normalise_text (full-width, spaces, case) plus dropping the
marks people add to headers (`*姓名`, `姓名：`, `person_id` vs `person id`). Whatever does not match a
field of the file's kind is kept in `extra`, so nothing the user gave is dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import polars as pl

from analytics.vocab import (
    ANNUAL_GRADE_ALIASES,
    ANNUAL_GRADES,
    QUARTERLY_GRADE_ALIASES,
    QUARTERLY_GRADES,
    normalise_text,
)

KINDS = ("quarterly", "annual", "outcomes", "appeals", "survey")

# field -> accepted header spellings, Chinese first (the report lists them in this order).
ALIASES: dict[str, tuple[str, ...]] = {
    "person_id": ("人员编号", "工号", "编号", "人员代码", "身份编号", "person_id", "id", "staff_id", "employee_id"),
    "name": (
        "姓名",
        "名字",
        "人员姓名",
        "职工姓名",
        "用户姓名",
        "被评议人",
        "评测对象",
        "被考核人",
        "考核对象",
        "申诉人",
        "申诉人姓名",
        "name",
    ),
    "unit": (
        "单位",
        "单位名称",
        "所在单位",
        "工作单位",
        "处室（单位）",
        "处室(单位)",
        "工作部门",
        "处室名称",
        "部门名称",
        "工作单位及职务",
        "unit",
        "organisation",
        "organization",
    ),
    "unit_type": ("单位类型", "单位类别", "单位性质", "unit_type"),
    "section": (
        "内设机构",
        "科室",
        "处室",
        "部门",
        "股室",
        "所在科室",
        "所在处室",
        "所在部门",
        "section",
        "department",
    ),
    "position_level": ("职务层次", "层级", "职务类别", "人员层级", "position_level", "level"),
    "rank": ("职务", "职级", "职务职级", "现任职务", "rank"),
    "staff_type": ("人员类别", "人员身份", "身份", "staff_type"),
    "lane": ("考核类别", "赛道", "分类", "考核分类", "lane"),
    "year": ("年度", "考核年度", "年份", "year"),
    "quarter": ("季度", "考核季度", "期次", "考核期次", "quarter", "period"),
    "grade": (
        "等次",
        "考核等次",
        "平时考核等次",
        "审定等次",
        "考核结果",
        "平时考核结果",
        "最终评定等次",
        "评价等次",
        "最终等次",
        "建议等次",
        "建议评定等次",
        "评定等次",
        "grade",
    ),
    "score": ("得分", "分数", "综合得分", "总分", "考核得分", "最终得分", "评价得分", "总得分", "测评得分", "score"),
    "reviewer": ("评鉴人", "审核人", "考核人", "评价人", "主管领导", "reviewer"),
    "annual_grade": (
        "年度考核等次",
        "年度等次",
        "年度考核结果",
        "考核等级",
        "考核结论类别",
        "考核结论",
        "年度考核推荐等次",
        "年度考核结论",
        "annual_grade",
    ),
    "outcome": ("结果运用", "运用类型", "运用情况", "奖惩类型", "运用方式", "outcome"),
    "date": ("日期", "时间", "运用日期", "决定日期", "date"),
    "detail": ("说明", "备注", "事由", "detail", "note"),
    "amount": ("金额", "金额（元）", "金额(元)", "amount"),
    # Appeals (申诉/复核登记表); analytics.appeals.records checks their values.
    "appeal_date": ("申诉日期", "申请日期", "提出日期", "申诉时间", "复核申请日期", "appeal_date"),
    "appeal_subject": ("申诉事项", "复核事项", "申诉内容", "申诉对象", "申诉类型", "复核内容", "appeal_subject"),
    "appeal_reason": ("申诉理由", "申诉原因", "复核理由", "理由", "appeal_reason", "reason"),
    "appealed_grade": ("原等次", "原考核等次", "申诉等次", "原结果", "appealed_grade"),
    "decision": ("处理结果", "复核结果", "申诉结果", "处理决定", "复核决定", "处理意见", "decision"),
    "decision_date": ("答复日期", "处理日期", "复核日期", "办结日期", "决定时间", "decision_date"),
    "revised_grade": ("复核后等次", "调整后等次", "变更后等次", "revised_grade"),
}

FIELD_ZH: dict[str, str] = {field: spellings[0] for field, spellings in ALIASES.items()}

_PERSON_FIELDS = ("person_id", "name", "unit", "unit_type", "section", "position_level", "rank", "staff_type", "lane")
# The fields each kind stores; other recognised columns (e.g. 备注 in a quarterly file) go to `extra`.
KIND_FIELDS: dict[str, tuple[str, ...]] = {
    "quarterly": _PERSON_FIELDS + ("year", "quarter", "grade", "score", "reviewer"),
    "annual": _PERSON_FIELDS + ("year", "annual_grade", "score"),
    "outcomes": ("person_id", "name", "unit", "date", "year", "outcome", "detail", "amount"),
    "appeals": (
        "person_id",
        "name",
        "unit",
        "section",
        "appeal_date",
        "year",
        "quarter",
        "appeal_subject",
        "appeal_reason",
        "appealed_grade",
        "reviewer",
        "decision",
        "decision_date",
        "revised_grade",
        "detail",
    ),
    "survey": (),
}
APPEAL_FIELDS = frozenset(KIND_FIELDS["appeals"]) - set(_PERSON_FIELDS) - {"year", "quarter", "reviewer", "detail"}

# Headers that are not fields but show a row is a header (序号, survey attributes ...).
OTHER_HEADER_WORDS = frozenset(
    {
        "序号",
        "备注",
        "性别",
        "年龄",
        "年龄段",
        "学历",
        "政治面貌",
        "民族",
        "工作年限",
        "工龄",
        "出生年月",
        "入职年份",
        "no",
        "remark",
    }
)
# Survey questions: `1.您认为…`, `Q3 …`, `第5题`, or anything addressed to 您; a number marker must be followed
# by words (`92.1` is a score, not question 92).
_QUESTION = re.compile(r"^(?:\d{1,3}[.、．)）]\s*[^\d\s.]|q\d{1,3}[.、．:：)]|第\d{1,3}题)|您")
_MARKS = re.compile(r"[*＊:：_\-]")
# `民主评价得分（95分）`, `2023年度考核推荐等次`: what brackets and a leading year add to a known name.
_BRACKETS = re.compile(r"[（(][^）)]*[）)]")
_LEADING_YEAR = re.compile(r"^\d{4}(?=年)")
# A stage of one decision: 分管局领导建议等次, 机关党委（人事处）审定意见, 党组会建议等次 (the last stage is the grade).
_STAGE = re.compile(
    r"(建议|审定|审核|初评|初审|复核|评定|确定|党组|党委|领导|处室|单位|最终|推荐).*(等次|意见|等级|结果|结论)$"
)
_STAGE_EXACT = frozenset({"等次", "考核等次", "平时考核等次", "年度考核等次"})


def header_key(header: str) -> str:
    """Fold a header for alias matching: `＊ Person ID：` -> `personid`."""
    return _MARKS.sub("", normalise_text(header))


_LOOKUP: dict[str, str] = {header_key(alias): field for field, spellings in ALIASES.items() for alias in spellings}


def field_of(header: str | None) -> str | None:
    """The field a header names, or None: the alias table, then without brackets and a leading year, then stages."""
    if not header:
        return None
    key = header_key(header)
    if key in _LOOKUP:
        return _LOOKUP[key]
    bare = _LEADING_YEAR.sub("", _BRACKETS.sub("", key))
    if bare in _LOOKUP:
        return _LOOKUP[bare]
    if is_stage(header):
        return "annual_grade" if "年度" in key else "grade"
    return None


def is_stage(header: str | None) -> bool:
    """A column holding one stage of the grading decision (建议等次, 审定意见 ...), not a plain 等次 column."""
    if not header:
        return False
    key = _BRACKETS.sub("", header_key(header))
    return key not in _STAGE_EXACT and bool(_STAGE.search(key)) and not key.endswith(("人", "日期", "时间"))


def is_question(header: str | None) -> bool:
    """A survey question header (`1.您认为本单位…`)."""
    return bool(header) and bool(_QUESTION.search(normalise_text(header)))


def accepted_names(field: str) -> str:
    """`等次, 考核等次, …, grade` for messages about a missing column."""
    return ", ".join(ALIASES[field])


def field_named(word: str) -> str | None:
    """The field a user names in `--map 等次=…`: the English field name or any of its aliases."""
    word = word.strip()
    if word in ALIASES:
        return word
    return _LOOKUP.get(header_key(word))


@dataclass
class Mapping:
    """Headers -> fields, with what the choice rested on.

    `fields` maps each used header to its field. `stages` lists, per grade field, the stage columns in
    order when the last stage was taken as the grade (the earlier ones stay in `extra` as evidence).
    `rivals` lists, per field, other headers naming the same field: the pipeline compares their values.
    """

    fields: dict[str, str]
    stages: dict[str, list[str]] = field(default_factory=dict)
    rivals: dict[str, list[str]] = field(default_factory=dict)
    chosen: dict[str, str] = field(default_factory=dict)  # field -> header the user chose (--map, a template)


def map_headers(headers: list[str], kind: str, chosen: dict[str, str] | None = None) -> Mapping:
    """Map source headers to the kind's fields.

    A column the user chose (`chosen`, field -> header) wins. Among several columns naming one grade field,
    a plain one (等次) wins over stage columns, else the last stage is the grade; any other field named
    twice keeps the first and lists the rest as rivals (refused later when their values differ).
    """
    allowed = set(KIND_FIELDS[kind])
    chosen = dict(chosen or {})
    by_field: dict[str, list[str]] = {}
    for header in headers:
        found = field_of(header)
        if kind == "annual" and found == "grade":
            found = "annual_grade"  # an annual file often says just 等次
        if kind == "appeals" and found in ("grade", "annual_grade"):
            found = "appealed_grade"  # the grade an appeal is about
        if found in allowed:
            by_field.setdefault(found, []).append(header)
    result = Mapping(fields={}, chosen=chosen)
    for name, header in chosen.items():
        result.fields[header] = name
    for name, candidates in by_field.items():
        if name in chosen:
            continue
        candidates = [h for h in candidates if h not in result.fields]
        if not candidates:
            continue
        if name in ("grade", "annual_grade") and len(candidates) > 1:
            plain = [h for h in candidates if not is_stage(h)]
            stages = [h for h in candidates if is_stage(h)]
            if plain:
                candidates = plain
            else:
                result.stages[name] = stages
                result.fields[stages[-1]] = name
                continue
        result.fields[candidates[0]] = name
        if len(candidates) > 1:
            result.rivals[name] = candidates[1:]
    ordered = {h: result.fields[h] for h in headers if h in result.fields}
    result.fields = ordered
    return result


def grade_by_values(body: pl.DataFrame, headers: list[str], mapping: Mapping, kind: str) -> str | None:
    """The one unnamed column whose every value is a grade of `kind` (好/较好/一般/较差, or 优秀/称职/...), when the
    header gave no grade column: systems give it local names (评定档次, 考评结果) that no alias list can hold."""
    field = {"quarterly": "grade", "annual": "annual_grade"}.get(kind)
    if field is None or field in mapping.fields.values():
        return None
    if kind == "quarterly":
        vocab = set(QUARTERLY_GRADES) | set(QUARTERLY_GRADE_ALIASES)
    else:
        vocab = set(ANNUAL_GRADES) | set(ANNUAL_GRADE_ALIASES)
    free = [h for h in headers if h not in mapping.fields and h in body.columns]
    hits = []
    for header in free:  # a handful of columns; each test is one vectorised pass
        values = body[header].cast(pl.Utf8).str.strip_chars().drop_nulls()
        values = values.filter(values != "")
        if values.len() and values.is_in(list(vocab)).all():
            hits.append(header)
    if len(hits) != 1:
        return None
    mapping.fields[hits[0]] = field
    mapping.fields = {h: mapping.fields[h] for h in headers if h in mapping.fields}
    return hits[0]


def alias_markdown() -> str:
    """The alias table as markdown (README's "Column names" table is this text)."""
    rows = "\n".join(f"| `{f}` | {', '.join(spellings)} |" for f, spellings in ALIASES.items())
    return f"| field | accepted column names |\n|---|---|\n{rows}\n"
