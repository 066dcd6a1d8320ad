"""Survey sheets into the documented survey tables: detect item types and scales, then reshape.

A staff survey export (问卷星, 问卷网, a hand-made Excel) has one row per respondent: an id (序号),
attribute columns (单位, 性别, 年龄段, 职级 ...) and one column per question. `detect_items` says what each
column is (likert, numeric_scale, single_choice, multiple_choice, text, attribute) and, for scales, the
answer order from most negative to most positive; the user confirms or overrides the types, then
`survey_tables` produces `survey_items`, `survey_respondents` and `survey_answers` (without import_id,
which the importer adds). Detection reads only column headers and the set of distinct answers, so it
is cheap on any number of respondents; the reshaping is one unpivot + explode + join.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import polars as pl

from analytics.schema import SURVEY_ANSWERS, SURVEY_ITEMS
from analytics.vocab import normalise_text

ITEM_TYPES = ("likert", "numeric_scale", "single_choice", "multiple_choice", "text", "attribute")
SCALE_TYPES = ("likert", "numeric_scale")
# Options of a multiple-choice answer are joined with any of these.
MULTI_SEPARATORS = r"[、;；,，|｜]"


@dataclass(frozen=True)
class ScaleFamily:
    """An ordered answer scale: levels most negative first, each a tuple of spellings (canonical first)."""

    name: str
    name_zh: str
    levels: tuple[tuple[str, ...], ...]

    def level_of(self) -> dict[str, int]:
        """Normalised spelling -> level (1 = most negative)."""
        return {normalise_text(s): i + 1 for i, spellings in enumerate(self.levels) for s in spellings}


SCALE_FAMILIES: tuple[ScaleFamily, ...] = (
    ScaleFamily(
        "agree",
        "同意程度",
        (
            ("非常不同意", "完全不同意", "很不同意"),
            ("不同意", "比较不同意", "不太同意"),
            ("一般", "不确定", "中立", "说不清", "不好说", "无所谓"),
            ("同意", "比较同意", "基本同意"),
            ("非常同意", "完全同意", "很同意"),
        ),
    ),
    ScaleFamily(
        "satisfaction",
        "满意度",
        (
            ("非常不满意", "很不满意"),
            ("不满意", "比较不满意", "不太满意"),
            ("一般", "不确定", "中立", "说不清"),
            ("满意", "比较满意", "基本满意"),
            ("非常满意", "很满意"),
        ),
    ),
    ScaleFamily(
        "conformity",
        "符合程度",
        (
            ("非常不符合", "完全不符合"),
            ("不符合", "比较不符合", "不太符合"),
            ("一般", "不确定", "说不清"),
            ("符合", "比较符合", "基本符合"),
            ("非常符合", "完全符合"),
        ),
    ),
    ScaleFamily(
        "importance",
        "重要程度",
        (
            ("非常不重要", "很不重要"),
            ("不重要", "不太重要"),
            ("一般", "说不清"),
            ("重要", "比较重要"),
            ("非常重要", "很重要"),
        ),
    ),
    ScaleFamily(
        "quality",
        "评价",
        (
            ("很差", "非常差", "差"),
            ("较差", "比较差"),
            ("一般", "中等"),
            ("较好", "比较好", "良好"),
            ("很好", "非常好", "好", "优"),
        ),
    ),
    ScaleFamily("frequency", "频率", (("从不", "从来没有"), ("很少", "偶尔"), ("有时",), ("经常",), ("总是", "一直"))),
)
FAMILY_BY_NAME = {f.name: f for f in SCALE_FAMILIES}

# Header words (after stripping numbering and 您的/所在) that make a column a respondent attribute.
UNIT_HEADERS = ("单位", "单位名称", "工作单位", "所在单位", "unit")
ATTRIBUTE_HEADERS = UNIT_HEADERS + (
    "性别", "年龄", "年龄段", "职级", "职务", "职务职级", "职务层次", "层级", "工作年限", "工龄", "参加工作年限",
    "部门", "科室", "处室", "内设机构", "股室", "学历", "文化程度", "政治面貌", "人员类别", "身份", "单位类型",
    "单位类别", "岗位", "岗位类别", "民族", "编制类型", "提交答卷时间", "所用时间", "来源", "来源详情",
    "gender", "age", "rank", "department", "section",
)  # fmt: skip
ID_HEADERS = ("序号", "编号", "问卷编号", "答卷编号", "答题序号", "id", "respondent_id", "no")
# Never stored: identifies the device of the person who answered.
DROPPED_HEADERS = ("来自ip", "ip", "ip地址", "ip来源")
TEXT_HINT = re.compile(r"意见|建议|其他|说明|原因|简述|描述|请填写|留言|看法|comment", re.I)
MULTI_HINT = re.compile(r"多选|可多选|多项|multiple", re.I)
# Leading numbering: "1.", "1、", "Q1.", "一、", "(1)", "第1题".
NUMBERING = re.compile(
    r"^\s*(?:第?\s*[0-9一二三四五六七八九十]+\s*题?[.．、:：)）]?|[qQ]\d+[.．、:：]?|[(（]\d+[)）])\s*"
)
GROUP_PREFIX = re.compile(r"^\s*[【\[]([^】\]]+)[】\]]")
LETTER_GROUP = re.compile(r"^\s*([A-Za-z])\d+[.．、:：]")


def _clean_header(header: str) -> str:
    """The attribute name a header stands for: numbering, 您的/所在的 and trailing punctuation removed."""
    text = NUMBERING.sub("", header)
    text = re.sub(r"^(您的|你的|您所在的?|你所在的?|请选择您的|请选择)", "", text.strip())
    return normalise_text(re.sub(r"[:：?？*（(].*$", "", text))


def _header_role(header: str) -> str | None:
    """'id', 'unit', 'attribute', 'dropped' or None (a question) from the header alone."""
    clean = _clean_header(header)
    bare = normalise_text(header)
    if bare in ID_HEADERS:
        return "id"
    if clean in DROPPED_HEADERS or bare in DROPPED_HEADERS:
        return "dropped"
    if clean in UNIT_HEADERS:
        return "unit"
    if clean in ATTRIBUTE_HEADERS:
        return "attribute"
    return None


def _normalised(expr: pl.Expr) -> pl.Expr:
    """Vectorised key for matching answers: trimmed, no inner spaces, lower case, '5.0' -> '5'."""
    return expr.str.replace_all(r"\s", "").str.to_lowercase().str.replace(r"^(\d+)\.0+$", "${1}")


def _clean_values(raw: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    """Every cell as trimmed text, empty cells as null."""
    return raw.with_columns(pl.col(c).cast(pl.Utf8).str.strip_chars().replace("", None).alias(c) for c in columns)


def _question_columns(raw: pl.DataFrame) -> list[str]:
    return [c for c in raw.columns if c != "source_row"]


def _detect_family(distinct: list[str]) -> ScaleFamily | None:
    keys = {normalise_text(v) for v in distinct}
    if len(keys) < 2:
        return None
    for family in SCALE_FAMILIES:
        levels = family.level_of()
        if keys <= set(levels) and len({levels[k] for k in keys}) >= 2:
            return family
    return None


def _numeric_range(distinct: list[str]) -> tuple[int, int] | None:
    """(low, high) of a 1-5 / 1-7 / 0-10 number scale when every answer is such a whole number."""
    if len(distinct) < 2 or not all(re.fullmatch(r"\d+(\.0+)?", v.strip()) for v in distinct):
        return None
    numbers = [int(float(v)) for v in distinct]
    low, high = min(numbers), max(numbers)
    if high > 10:
        return None
    top = 5 if high <= 5 else 7 if high <= 7 else 10
    return (0 if low == 0 else 1), top


def _family_scale(family: ScaleFamily, counts: dict[str, int]) -> list[str]:
    """One label per level: the spelling respondents used most, else the canonical one."""
    scale = []
    for spellings in family.levels:
        keys = {normalise_text(s) for s in spellings}
        seen = sorted(((n, v) for v, n in counts.items() if normalise_text(v) in keys), reverse=True)
        scale.append(seen[0][1] if seen else spellings[0])
    return scale


def _classify(header: str, values: pl.Series) -> tuple[str, list[str] | None, str | None]:
    """(item_type, scale, scale family name) for one question column."""
    counts = dict(values.drop_nulls().value_counts().iter_rows())
    distinct = list(counts)
    answered = sum(counts.values())
    if MULTI_HINT.search(header):
        return "multiple_choice", None, None
    family = _detect_family(distinct)
    if family is not None:
        return "likert", _family_scale(family, counts), family.name
    numeric = _numeric_range(distinct)
    if numeric is not None:
        return "numeric_scale", [str(i) for i in range(numeric[0], numeric[1] + 1)], None
    if TEXT_HINT.search(_clean_header(header)):
        return "text", None, None
    if _looks_multiple(counts):
        return "multiple_choice", None, None
    mean_length = sum(len(v) * n for v, n in counts.items()) / max(answered, 1)
    if mean_length > 30 or (answered >= 10 and len(distinct) > 0.5 * answered):
        return "text", None, None
    return "single_choice", None, None


def _looks_multiple(counts: dict[str, int]) -> bool:
    """Options joined with 、/;/, that recur across respondents (free text would not)."""
    answered = sum(counts.values())
    joined = sum(n for v, n in counts.items() if re.search(MULTI_SEPARATORS, v))
    if answered == 0 or joined < max(2, 0.1 * answered):
        return False
    options: dict[str, int] = {}
    for value, n in counts.items():
        for option in re.split(MULTI_SEPARATORS, value):
            if option.strip():
                options[option.strip()] = options.get(option.strip(), 0) + n
    mean_length = sum(len(o) for o in options) / len(options)
    return len(options) <= len(counts) and len(options) <= max(12, 0.2 * answered) and mean_length <= 20


def _group_of(header: str, item_type: str, family: str | None, scale: list[str] | None) -> str | None:
    """Construct for Cronbach's alpha: an explicit 【组】/A1. prefix, else the items sharing one scale."""
    if item_type not in SCALE_TYPES:
        return None
    if m := GROUP_PREFIX.match(header):
        return m.group(1).strip()
    if m := LETTER_GROUP.match(header):
        return m.group(1).upper()
    if family is not None:
        return FAMILY_BY_NAME[family].name_zh
    return f"{scale[0]}-{scale[-1]}分" if scale else None


def detect_items(raw: pl.DataFrame) -> pl.DataFrame:
    """One row per survey column (the id column and IP addresses excluded), with type, scale and group.

    Columns: item_id (q01 ...), position (1-based column in the file), item_text (header as written),
    item_type, scale (JSON list, most negative first, for likert/numeric_scale), item_group, plus
    `family` (the scale family detected, e.g. 'agree') and `role` ('unit' for the 单位 column) for the
    confirmation screen; survey_tables drops those two.
    """
    columns = _question_columns(raw)
    clean = _clean_values(raw, columns)
    rows = []
    for position, header in enumerate(columns, start=1):
        role = _header_role(header)
        if role in ("id", "dropped"):
            continue
        if role in ("unit", "attribute"):
            item_type, scale, family = "attribute", None, None
        else:
            item_type, scale, family = _classify(header, clean[header])
        rows.append(
            {
                "position": position,
                "item_text": header,
                "item_type": item_type,
                "scale": json.dumps(scale, ensure_ascii=False) if scale else None,
                "item_group": _group_of(header, item_type, family, scale),
                "family": family,
                "role": role,
            }
        )
    schema = {
        "item_id": pl.Utf8, "position": pl.Int32, "item_text": pl.Utf8, "item_type": pl.Utf8, "scale": pl.Utf8,
        "item_group": pl.Utf8, "family": pl.Utf8, "role": pl.Utf8,
    }  # fmt: skip
    items = pl.DataFrame(rows, schema={k: v for k, v in schema.items() if k != "item_id"})
    return items.with_columns(
        pl.format("q{}", pl.int_range(1, pl.len() + 1).cast(pl.Utf8).str.zfill(2)).alias("item_id")
    ).select(list(schema))


def apply_item_types(items: pl.DataFrame, raw: pl.DataFrame, item_types: dict[str, str] | None) -> pl.DataFrame:
    """Confirmed types (keyed by item_id or header) replace detected ones; scales follow the new type.

    A column forced to likert whose answers fit no known scale gets its answers in sorted order
    (numbers numerically): the confirmation screen must show that order for the user to check.
    """
    if not item_types:
        return items
    unknown = set(item_types.values()) - set(ITEM_TYPES)
    if unknown:
        raise ValueError(f"unknown item type(s) {sorted(unknown)}; use one of {', '.join(ITEM_TYPES)}")
    clean = _clean_values(raw, _question_columns(raw))
    rows = []
    for row in items.iter_rows(named=True):  # one per column, not per respondent
        wanted = item_types.get(row["item_id"], item_types.get(row["item_text"]))
        if wanted and wanted != row["item_type"]:
            row = {**row, **_retyped(row["item_text"], wanted, clean[row["item_text"]])}
        rows.append(row)
    return pl.DataFrame(rows, schema=items.schema)


def _retyped(header: str, item_type: str, values: pl.Series) -> dict:
    counts = dict(values.drop_nulls().value_counts().iter_rows())
    distinct = list(counts)
    family, scale = None, None
    if item_type in SCALE_TYPES:
        fam = _detect_family(distinct)
        numeric = _numeric_range(distinct)
        if fam is not None:
            family, scale = fam.name, _family_scale(fam, counts)
        elif numeric is not None:
            scale = [str(i) for i in range(numeric[0], numeric[1] + 1)]
        else:
            numeric_key = all(re.fullmatch(r"-?\d+(\.\d+)?", v) for v in distinct)
            scale = sorted(distinct, key=(lambda v: float(v)) if numeric_key else None)
    role = "attribute" if item_type == "attribute" else None
    return {
        "item_type": item_type,
        "scale": json.dumps(scale, ensure_ascii=False) if scale else None,
        "item_group": _group_of(header, item_type, family, scale),
        "family": family,
        "role": "unit" if item_type == "attribute" and _header_role(header) == "unit" else role,
    }


def _respondent_ids(raw: pl.DataFrame) -> pl.Expr:
    """序号/编号 when it is present and unique, else 'r' + the row number a person sees."""
    by_row = pl.format("r{}", pl.col("source_row"))
    for header in _question_columns(raw):
        if _header_role(header) == "id":
            ids = raw[header].cast(pl.Utf8).str.strip_chars().str.replace(r"^(\d+)\.0+$", "${1}")
            if ids.null_count() == 0 and ids.n_unique() == raw.height and (ids != "").all():
                return pl.lit(ids).alias("respondent_id")
    return by_row.alias("respondent_id")


def _respondents(raw: pl.DataFrame, items: pl.DataFrame) -> pl.DataFrame:
    attributes = items.filter(pl.col("item_type") == "attribute")
    unit_cols = attributes.filter(pl.col("role") == "unit")["item_text"].to_list()
    other = attributes.filter(pl.col("role").is_null() | (pl.col("role") != "unit"))["item_text"].to_list()
    keys = {h: (_clean_header(h) or h) for h in other}
    encoded = pl.struct([pl.col(h).alias(keys[h]) for h in other]).struct.json_encode() if other else pl.lit("{}")
    unit = pl.col(unit_cols[0]) if unit_cols else pl.lit(None, dtype=pl.Utf8)
    return raw.select(
        pl.col("respondent_id"),
        unit.alias("unit"),
        encoded.alias("attributes"),
        pl.col("source_row").cast(pl.Int32),
    )


def _scale_keys(items: pl.DataFrame) -> pl.DataFrame:
    """(item_id, key, value): every accepted spelling of every scale point, 1 = most negative."""
    rows = []
    for row in items.filter(pl.col("item_type").is_in(SCALE_TYPES)).iter_rows(named=True):
        scale = json.loads(row["scale"]) if row["scale"] else []
        rows += [(row["item_id"], label, float(i)) for i, label in enumerate(scale, start=1)]
        if row["family"]:
            levels = FAMILY_BY_NAME[row["family"]].levels
            rows += [(row["item_id"], s, float(i)) for i, spellings in enumerate(levels, start=1) for s in spellings]
    frame = pl.DataFrame(rows, schema={"item_id": pl.Utf8, "key": pl.Utf8, "value": pl.Float64}, orient="row")
    return frame.with_columns(_normalised(pl.col("key")).alias("key")).unique(["item_id", "key"], keep="first")


def _answers(raw: pl.DataFrame, items: pl.DataFrame) -> pl.DataFrame:
    questions = items.filter(pl.col("item_type") != "attribute").select("item_id", "item_text", "item_type")
    if questions.height == 0:
        return SURVEY_ANSWERS.empty().drop("import_id")
    long = raw.select(["respondent_id", *questions["item_text"].to_list()]).unpivot(
        index="respondent_id", variable_name="item_text", value_name="answer"
    )
    long = long.join(questions, on="item_text", how="left").filter(pl.col("answer").is_not_null())
    is_multi = pl.col("item_type") == "multiple_choice"
    long = (
        long.with_columns(
            pl.when(is_multi)
            .then(pl.col("answer").str.replace_all(MULTI_SEPARATORS, "\x1f"))
            .otherwise(pl.col("answer"))
            .str.split("\x1f")
            .alias("answer")
        )
        .explode("answer", empty_as_null=True)
        .with_columns(pl.col("answer").str.strip_chars())
        .filter(pl.col("answer") != "")
    )
    # Someone ticking the same option twice is one choice.
    long = long.unique(["respondent_id", "item_id", "answer"], keep="first", maintain_order=True)
    long = long.with_columns(_normalised(pl.col("answer")).alias("key")).join(
        _scale_keys(items), on=["item_id", "key"], how="left"
    )
    return long.select("respondent_id", "item_id", "answer", "value")


def survey_tables(raw: pl.DataFrame, item_types: dict[str, str] | None = None) -> dict[str, pl.DataFrame]:
    """The three survey tables (without import_id) from a survey sheet with original headers.

    `raw`: every value as text plus an integer `source_row`. `item_types` ({item_id or header: type})
    overrides detection, e.g. after the user confirmed the types. Rows with no answer at all are skipped.
    """
    if "source_row" not in raw.columns:
        raise ValueError("raw survey frame needs a source_row column")
    columns = _question_columns(raw)
    clean = _clean_values(raw, columns)
    items = apply_item_types(detect_items(raw), raw, item_types)
    kept = items["item_text"].to_list()
    if kept:
        clean = clean.filter(pl.any_horizontal(pl.col(c).is_not_null() for c in kept))
    clean = clean.with_columns(_respondent_ids(clean))
    return {
        "survey_items": items.select([c for c in SURVEY_ITEMS.column_names if c != "import_id"]),
        "survey_respondents": _respondents(clean, items),
        "survey_answers": _answers(clean, items),
    }


def read_items_scale(items: pl.DataFrame) -> dict[str, list[str]]:
    """{item_id: scale labels} for the scale items of a survey_items frame."""
    scaled = items.filter(pl.col("scale").is_not_null())
    return {i: json.loads(s) for i, s in zip(scaled["item_id"], scaled["scale"], strict=True)}
