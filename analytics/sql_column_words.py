"""What the queryable tables' columns mean, in Chinese and in English, for the SQL workspace's table list.

analytics.schema documents the store for developers (one mixed-language line per column); a researcher reading
the SQL page reads these words in the language of the page. Column names stay as written: they are what a query
types. `column_words` falls back to the schema's own line for a column not listed here.
"""

from __future__ import annotations

from analytics.i18n import pick

TYPE_WORDS = {
    "VARCHAR": ("文本", "text"),
    "INTEGER": ("整数", "integer"),
    "DOUBLE": ("数值", "number"),
    "DATE": ("日期", "date"),
    "TIMESTAMP": ("时间", "time"),
    "BOOLEAN": ("是/否", "yes/no"),
    "JSON": ("JSON", "JSON"),
}

# Meanings shared by every table that has the column.
COMMON = {
    "person_id": (
        "人员编号（文件没有时由姓名和单位生成）",
        "person id (made from name and unit when the file has none)",
    ),
    "name": ("姓名", "name"),
    "unit": ("单位", "unit"),
    "unit_type": (
        "单位类型：综合管理、行政执法、窗口服务、乡镇街道、法检等",
        "unit type (general administration, law enforcement, service window, township …)",
    ),
    "section": ("内设机构/科室", "section"),
    "position_level": ("职务层次：领导班子成员、中层正职、中层副职、一般干部", "position level"),
    "rank": ("职务职级", "post and rank"),
    "staff_type": ("人员类别：公务员、参公、事业", "staff type (civil servant, managed as such, public institution)"),
    "lane": (
        "考核类别（赛道），文件未写明时按规则推定",
        "assessment lane as written (derived by the lane rules when absent)",
    ),
    "year": ("考核年度", "assessment year"),
    "quarter": ("季度（1–4）", "quarter (1–4)"),
    "score": ("得分（有则记录）", "score, where present"),
    "reviewer": ("评鉴人/审核人", "reviewer"),
    "month": (
        "月份（按月考核的单位；按季度考核为空）",
        "month, where a unit grades monthly (empty for quarterly grades)",
    ),
    "extra": ("原文件中其余各列，{列名: 值}", "every other column of the file, {header: value}"),
    "import_id": ("导入批次编号（`imports.import_id`）", "the import that brought the row (`imports.import_id`)"),
    "source_row": ("原文件中的行号", "row number in the original file"),
    "source_sheet": ("工作表名称（CSV 为空）", "sheet name (empty for CSV)"),
    "detail": ("说明/事由", "details"),
    "subject_type": ("对象类型：单位、科室、评鉴人、人员", "subject type: unit, section, reviewer, person"),
    "subject": ("对象（按数据原样）", "subject, as written in the data"),
}
# Meanings that depend on the table.
BY_TABLE = {
    "quarterly": {
        "grade": (
            "等次：好、较好、一般、较差、不确定等次（不参加考核不计为等次）",
            "grade: 好, 较好, 一般, 较差, 不确定等次",
        ),
    },
    "annual": {
        "annual_grade": (
            "年度等次：优秀、称职、基本称职、不称职、不确定等次（事业：合格等）",
            "annual grade: 优秀, 称职 …",
        ),
        "score": ("年度得分（有则记录）", "annual score, where present"),
    },
    "outcomes": {
        "date": ("决定日期", "date of the decision"),
        "year": ("对应的考核年度（推定）", "assessment year the outcome answers to (inferred)"),
        "outcome": ("结果运用类别（规范代码，其他为 `other`）", "outcome kind (canonical code, or other)"),
        "outcome_raw": ("结果运用（原文）", "outcome as written"),
        "amount": ("金额（元，奖金）", "amount in yuan (bonuses)"),
    },
    "survey_items": {
        "import_id": ("问卷的导入批次", "the survey's import"),
        "item_id": ("题目编号：`q01`、`q02`……", "item id: q01, q02, …"),
        "position": ("在文件中的列序", "column order in the file"),
        "item_text": ("题目（原文表头）", "the question as written"),
        "item_type": (
            "题型：量表、数值量表、单选、多选、文本、属性",
            "item type: likert, numeric scale, single or multiple choice, text, attribute",
        ),
        "scale": ("选项顺序（最负面在前）", "answer options in order, most negative first"),
        "item_group": (
            "所属维度（用于信度分析），可为空",
            "construct the item belongs to (for reliability), may be empty",
        ),
    },
    "survey_respondents": {
        "import_id": ("问卷的导入批次", "the survey's import"),
        "respondent_id": ("答卷编号（序号或按行生成）", "respondent id (serial number or from the row)"),
        "unit": ("答卷人所在单位（可与 `quarterly.unit` 关联）", "respondent's unit (joins `quarterly.unit`)"),
        "attributes": (
            "答卷人属性：性别、年龄段、职级、工作年限等",
            "respondent attributes: sex, age band, rank, years of service …",
        ),
    },
    "survey_answers": {
        "import_id": ("问卷的导入批次", "the survey's import"),
        "respondent_id": (
            "答卷编号（`survey_respondents.respondent_id`）",
            "respondent (`survey_respondents.respondent_id`)",
        ),
        "item_id": ("题目编号（`survey_items.item_id`）", "item (`survey_items.item_id`)"),
        "answer": ("答案（一个选项，原文）", "the answer (one option) as written"),
        "value": ("在量表上的位置，1 为最负面（非量表为空）", "position on the scale, 1 = most negative (else empty)"),
    },
    "survey_comments": {
        "import_id": ("问卷的导入批次", "the survey's import"),
        "item_id": ("开放题编号（`survey_items.item_id`）", "open question (`survey_items.item_id`)"),
        "answer": (
            "答案原文（不含答卷人编号，按文字排序）",
            "the answer as written (no respondent id, sorted by text)",
        ),
    },
    "demo_truth": {
        "pattern": (
            "演示数据中植入的模式（轮流坐庄、宽松、趋中、负面缺失、违规运用；`honest_*` 为对照）",
            "planted pattern (honest ones are look-alikes)",
        ),
        "unit": ("单位", "unit"),
        "detail": ("植入了什么", "what was planted"),
        "section": ("所在内设机构（为空：整个单位）", "section of the plant (empty: the whole unit)"),
        "people": ("涉及的人员编号，逗号分隔", "person ids the plant acts on, comma-separated"),
        "period_from": ("起始季度", "first quarter"),
        "period_to": ("结束季度", "last quarter"),
    },
    "imports": {
        "import_id": ("导入批次编号", "import number"),
        "kind": (
            "数据类型：平时考核、年度考核、结果运用、申诉、问卷",
            "kind: quarterly, annual, outcomes, appeals, survey",
        ),
        "file_name": ("用户上传的文件名", "the file name the user gave"),
        "sha256": ("文件内容校验值（原件按此保存）", "content hash (the original is kept under it)"),
        "rows": ("入库行数", "rows stored"),
        "rejected": ("拒收行数（部分导入）", "rows refused (partial imports)"),
        "imported_at": ("导入时间", "when"),
        "status": ("状态：已导入、部分导入、已撤销", "status: imported, partial, undone"),
        "layout": ("表格形式：长表或宽表", "layout: long or wide"),
        "encoding": ("文本编码（CSV）", "text encoding (CSV)"),
        "header_row": ("表头所在行号", "row number of the header"),
        "warnings": ("导入报告中的提示", "warnings shown in the import report"),
        "imported_by": ("导入人", "imported by"),
    },
    "rejected_rows": {
        "import_id": ("导入批次编号（`imports.import_id`）", "the import (`imports.import_id`)"),
        "source_row": ("原文件中的行号", "row number as the user sees it"),
        "column": ("出错的列（原文件列名）", "the column at fault, as written"),
        "value": ("出错的值", "the value at fault"),
        "reason": ("拒收原因及可接受的值", "why it was refused, with the accepted values"),
        "raw": ("原始整行", "the whole row as read"),
    },
}


def column_words(table: str, column: str, schema_meaning: str, lang: str) -> str:
    """The column's meaning in the reader's language (the schema's line where none is written here)."""
    pair = BY_TABLE.get(table, {}).get(column) or COMMON.get(column)
    return pick(pair, lang) if pair else schema_meaning


def type_words(duckdb_type: str, lang: str) -> str:
    """'VARCHAR' -> 文本 / text."""
    pair = TYPE_WORDS.get(duckdb_type.split()[0].upper())
    return pick(pair, lang) if pair else duckdb_type.lower()
