"""The store's tables: one documented schema that importers write and everyone else reads.

Researchers query these names directly (SQL workspace, DuckDB CLI), so they are a public
contract: add columns, never rename. `extra` holds every source column we do not model
(sub-scores, 备注, ...) as a JSON object, so nothing a user gave us is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

_POLARS_TYPES = {
    "VARCHAR": pl.Utf8,
    "JSON": pl.Utf8,
    "INTEGER": pl.Int32,
    "DOUBLE": pl.Float64,
    "DATE": pl.Date,
    "TIMESTAMP": pl.Datetime("us"),
    "BOOLEAN": pl.Boolean,
    "BIGINT": pl.Int64,
}


@dataclass(frozen=True)
class Table:
    name: str
    grain: str  # one row per ...
    columns: tuple[tuple[str, str, str], ...]  # (name, duckdb type, meaning)
    view: bool = False  # a view over stored tables (analytics.quarterly_store), not a table of its own

    def ddl(self) -> str:
        cols = ",\n  ".join(f'"{n}" {t}' for n, t, _ in self.columns)
        return f'CREATE TABLE IF NOT EXISTS "{self.name}" (\n  {cols}\n)'

    @property
    def column_names(self) -> list[str]:
        return [n for n, _, _ in self.columns]

    def polars_schema(self) -> dict[str, pl.DataType]:
        """The Polars types DuckDB returns for this table (for empty frames and tests)."""
        return {n: _POLARS_TYPES[t.split()[0]] for n, t, _ in self.columns}

    def empty(self) -> pl.DataFrame:
        return pl.DataFrame(schema=self.polars_schema())


_PERSON = (
    ("person_id", "VARCHAR", "人员编号; derived from name + unit when the file has none (see imports.warnings)"),
    ("name", "VARCHAR", "姓名"),
    ("unit", "VARCHAR", "单位"),
    ("unit_type", "VARCHAR", "单位类型: 综合管理, 行政执法, 窗口服务, 乡镇街道, 法检 ..."),
    ("section", "VARCHAR", "内设机构/科室"),
    ("position_level", "VARCHAR", "职务层次: 领导班子成员, 中层正职, 中层副职, 一般干部"),
    ("rank", "VARCHAR", "职务职级"),
    ("staff_type", "VARCHAR", "人员类别: 公务员/参公/事业"),
    ("lane", "VARCHAR", "考核类别/赛道 as written in the file (NULL: derived by analytics.lanes)"),
)
_TRACE = (
    ("extra", "JSON", "every other source column, {header: value}"),
    ("import_id", "INTEGER", "imports.import_id that brought the row"),
    ("source_row", "INTEGER", "row (sheet) or line (CSV) number a person sees in the original file"),
    ("source_sheet", "VARCHAR", "sheet name for workbooks, NULL for CSV"),
)

QUARTERLY = Table(
    "quarterly",
    "person and quarter",
    _PERSON
    + (
        ("year", "INTEGER", "考核年度"),
        ("quarter", "INTEGER", "季度 1-4 (monthly exports: the month's quarter)"),
        ("grade", "VARCHAR", "好, 较好, 一般, 较差, 不确定等次; 不参加考核 = not assessed (never counted as a grade)"),
        ("score", "DOUBLE", "得分, 0-100 where present"),
        ("reviewer", "VARCHAR", "评鉴人/审核人"),
        (
            "month",
            "INTEGER",
            "月份 1-12 where the unit grades monthly (one row per person and month); NULL for quarterly grades",
        ),
    )
    + _TRACE,
)

PERSON_COLUMNS = [n for n, _, _ in _PERSON]
QUARTERLY = Table(QUARTERLY.name, QUARTERLY.grain, QUARTERLY.columns, view=True)
# The quarterly view's storage (analytics.quarterly_store): each distinct set of person attributes once, and
# narrow facts that point at it. Not queryable in the SQL workspace (it reads the view, scoped by unit).
_PERSON_KEY = ("person_key", "INTEGER", "quarterly_people.person_key: the person's attributes on this row")
QUARTERLY_PEOPLE = Table(
    "quarterly_people",
    "distinct combination of a person's attributes on quarterly rows (a person moved between units has several)",
    (_PERSON_KEY, *_PERSON),
)
QUARTERLY_FACTS = Table(
    "quarterly_facts",
    "person and quarter, without the person's attributes (the quarterly view joins them)",
    (_PERSON_KEY, *(c for c in QUARTERLY.columns if c[0] not in PERSON_COLUMNS)),
)


def quarterly_view_sql() -> str:
    """The `quarterly` view: the documented columns, in order, from facts joined to their attributes."""
    cols = ", ".join(f'{"p" if n in PERSON_COLUMNS else "f"}."{n}"' for n in QUARTERLY.column_names)
    # In the facts' stored order, as the table read before the split: a parallel join would shuffle the rows.
    return (
        f'SELECT {cols} FROM "{QUARTERLY_FACTS.name}" f JOIN "{QUARTERLY_PEOPLE.name}" p USING (person_key) '
        "ORDER BY f.rowid"
    )


SPECIAL_ASSESSMENTS = Table(
    "special_assessments",
    "person and special assessment (专项考核 written where a quarter goes; kept apart from the quarters)",
    _PERSON
    + (
        ("year", "INTEGER", "考核年度 where known"),
        ("period_text", "VARCHAR", "the period cell as written (专项考核 …)"),
        ("grade", "VARCHAR", "等次: canonical where it is a quarterly grade, else as written"),
        ("score", "DOUBLE", "得分 where present"),
    )
    + _TRACE,
)

IMPORT_TEMPLATES = Table(
    "import_templates",
    "saved column mapping (import wizard template)",
    (
        ("name", "VARCHAR", "template name (--template NAME)"),
        ("header_key", "VARCHAR", "the file's header, folded; a file with the same header gets the template"),
        ("columns", "JSON", "{field: header as written}"),
        ("kind", "VARCHAR", "the kind it was saved for"),
        ("created_at", "TIMESTAMP", "when"),
    ),
)

ANNUAL = Table(
    "annual",
    "person and year",
    _PERSON
    + (
        ("year", "INTEGER", "考核年度"),
        ("annual_grade", "VARCHAR", "优秀, 称职, 基本称职, 不称职, 不确定等次 (事业: 合格, 基本合格, 不合格)"),
        ("score", "DOUBLE", "年度得分 where present"),
    )
    + _TRACE,
)

OUTCOMES = Table(
    "outcomes",
    "outcome record",
    (
        ("person_id", "VARCHAR", "人员编号"),
        ("name", "VARCHAR", "姓名"),
        ("unit", "VARCHAR", "单位"),
        ("date", "DATE", "日期 of the decision"),
        ("year", "INTEGER", "assessment year the outcome answers to (inferred; see analytics.outcomes)"),
        ("outcome", "VARCHAR", "canonical code (vocab.OUTCOME_KINDS) or 'other'"),
        ("outcome_raw", "VARCHAR", "结果运用 as written"),
        ("detail", "VARCHAR", "说明/事由"),
        ("amount", "DOUBLE", "金额 (yuan), for bonuses"),
    )
    + _TRACE,
)

APPEALS = Table(
    "appeals",
    "appeal (申诉/复核)",
    (
        ("person_id", "VARCHAR", "人员编号 of the person appealing"),
        ("name", "VARCHAR", "姓名"),
        ("unit", "VARCHAR", "单位"),
        ("section", "VARCHAR", "内设机构/科室"),
        ("appeal_date", "DATE", "申诉日期: when the appeal was filed"),
        ("year", "INTEGER", "the assessment year appealed"),
        ("quarter", "INTEGER", "the quarter appealed (quarterly grades), else NULL"),
        ("appeal_subject", "VARCHAR", "what is appealed: quarterly_grade, annual_grade, outcome, other"),
        ("appeal_subject_raw", "VARCHAR", "申诉事项 as written"),
        ("appealed_grade", "VARCHAR", "the grade appealed against (原等次), where given"),
        ("appeal_reason", "VARCHAR", "申诉理由 as written"),
        ("reason_kind", "VARCHAR", "reason by keywords: reviewer, quota, rotation, facts, procedure, other"),
        ("reviewer", "VARCHAR", "the reviewer the appeal names (评鉴人)"),
        ("decision", "VARCHAR", "changed, kept, not_accepted, withdrawn, pending"),
        ("decision_raw", "VARCHAR", "处理结果 as written"),
        ("decision_date", "DATE", "答复日期: when it was decided"),
        ("revised_grade", "VARCHAR", "the grade after review (复核后等次), where changed"),
        ("detail", "VARCHAR", "说明/备注"),
    )
    + _TRACE,
)

IMPORTS = Table(
    "imports",
    "import",
    (
        ("import_id", "INTEGER", "sequence"),
        ("kind", "VARCHAR", "quarterly, annual, outcomes, appeals, survey"),
        ("file_name", "VARCHAR", "the name the user gave (never used as a path)"),
        ("sha256", "VARCHAR", "content hash; the original is kept under data/originals/<sha256>"),
        ("rows", "INTEGER", "rows stored"),
        ("rejected", "INTEGER", "rows refused (partial imports)"),
        ("imported_at", "TIMESTAMP", "when"),
        ("status", "VARCHAR", "imported, partial, undone"),
        ("layout", "VARCHAR", "long or wide"),
        ("encoding", "VARCHAR", "detected text encoding (CSV) or NULL"),
        ("header_row", "INTEGER", "row number of the header as the user sees it"),
        ("warnings", "JSON", "list of warnings shown in the import report"),
        ("imported_by", "VARCHAR", "user name, where logins are on"),
    ),
)

REJECTED_ROWS = Table(
    "rejected_rows",
    "refused row, in partial imports",
    (
        ("import_id", "INTEGER", "imports.import_id"),
        ("source_sheet", "VARCHAR", "sheet name or NULL"),
        ("source_row", "INTEGER", "row/line number as the user sees it"),
        ("column", "VARCHAR", "the column at fault, as written in the file"),
        ("value", "VARCHAR", "the value at fault"),
        ("reason", "VARCHAR", "why it was refused, with the accepted values"),
        ("raw", "JSON", "the whole row as read"),
    ),
)

SURVEY_ITEMS = Table(
    "survey_items",
    "survey question",
    (
        ("import_id", "INTEGER", "the survey's import"),
        ("item_id", "VARCHAR", "stable id: q01, q02, ..."),
        ("position", "INTEGER", "column order in the file"),
        ("item_text", "VARCHAR", "the header as written"),
        ("item_type", "VARCHAR", "likert, numeric_scale, single_choice, multiple_choice, text, attribute"),
        ("scale", "JSON", "ordered answer labels, most negative first (likert/scales)"),
        ("item_group", "VARCHAR", "construct the item belongs to (for Cronbach's alpha), may be NULL"),
    ),
)

SURVEY_RESPONDENTS = Table(
    "survey_respondents",
    "respondent",
    (
        ("import_id", "INTEGER", "the survey's import"),
        ("respondent_id", "VARCHAR", "序号 or row-derived id"),
        ("unit", "VARCHAR", "respondent's 单位 (joins to quarterly.unit)"),
        ("attributes", "JSON", "{attribute: value}: 性别, 年龄段, 职级, 工作年限 ..."),
        ("source_row", "INTEGER", "row number as the user sees it"),
    ),
)

SURVEY_ANSWERS = Table(
    "survey_answers",
    "respondent and answer (one row per chosen option for multiple choice)",
    (
        ("import_id", "INTEGER", "the survey's import"),
        ("respondent_id", "VARCHAR", "survey_respondents.respondent_id"),
        ("item_id", "VARCHAR", "survey_items.item_id"),
        ("answer", "VARCHAR", "the answer (one option) as written"),
        ("value", "DOUBLE", "position on the scale, 1 = most negative (likert/scales), else NULL"),
    ),
)

DEMO_TRUTH = Table(
    "demo_truth",
    "pattern planted in the demo city",
    (
        (
            "pattern",
            "VARCHAR",
            "rotation_*, lenient_*, compression*, silent_negatives, outcome_rule; honest_* for honest look-alikes",
        ),
        ("subject_type", "VARCHAR", "unit, section, reviewer, person"),
        ("subject", "VARCHAR", "as written in the data"),
        ("unit", "VARCHAR", "单位"),
        ("detail", "VARCHAR", "what was planted"),
        ("section", "VARCHAR", "内设机构 the plant lives in (NULL: the whole unit)"),
        (
            "people",
            "VARCHAR",
            "person_ids the plant acts on, comma-separated (the evaluation's findability test reads them)",
        ),
        ("period_from", "VARCHAR", "first quarter of the plant, '2024Q1'"),
        ("period_to", "VARCHAR", "last quarter of the plant"),
    ),
)

USERS = Table(
    "users",
    "user of the app",
    (
        ("user_name", "VARCHAR PRIMARY KEY", "login name"),
        ("role", "VARCHAR", "admin, head, inspector, researcher"),
        ("units", "JSON", "units in scope; NULL = all"),
        ("password_hash", "VARCHAR", "argon2id hash"),
        ("disabled", "BOOLEAN", "no login when true"),
        ("failed_logins", "INTEGER", "consecutive failures"),
        ("locked_until", "TIMESTAMP", "no login before"),
        ("created_at", "TIMESTAMP", "when"),
    ),
)

SESSIONS = Table(
    "sessions",
    "login session (a signed token in the browser's cookie; the token itself is never stored)",
    (
        ("session_id", "VARCHAR PRIMARY KEY", "sha256 of the token's random id"),
        ("user_name", "VARCHAR", "whose session"),
        ("issued_at", "TIMESTAMP", "login time"),
        ("expires_at", "TIMESTAMP", "no use after"),
        ("revoked_at", "TIMESTAMP", "ended by logout, disabling or a new password; NULL while valid"),
        ("revoked_why", "VARCHAR", "logout, disabled, password changed"),
    ),
)

AUDIT_LOG = Table(
    "audit_log",
    "audited action (append-only)",
    (
        ("at", "TIMESTAMP", "when"),
        ("user_name", "VARCHAR", "who (or 'cli', 'anonymous')"),
        (
            "action",
            "VARCHAR",
            "login, login_failed, view_person, open_flag, review_flag, export, import, undo, user_change, sql",
        ),
        ("target", "VARCHAR", "what"),
        ("detail", "JSON", "more"),
    ),
)

FLAG_REVIEWS = Table(
    "flag_reviews",
    "review of a flag (append-only: the latest row per flag_key is the flag's status)",
    (
        ("flag_key", "VARCHAR", "the finding reviewed (analytics.detectors.base: stable across recomputation)"),
        ("status", "VARCHAR", "open 待核查, confirmed 核实, dismissed 误报, resolved 已整改"),
        ("assignee", "VARCHAR", "who follows it up"),
        ("note", "VARCHAR", "what was found or done"),
        ("reviewed_at", "TIMESTAMP", "when"),
        ("reviewed_by", "VARCHAR", "who recorded it (user name, or 'cli')"),
        ("store_version", "VARCHAR", "the data the finding was reviewed on (a resolved finding found again on "
         "later data reopens)"),
        ("kind", "VARCHAR", "flag kind, for reading the table on its own"),
        ("subject", "VARCHAR", "flag subject, as in the flag"),
        ("unit", "VARCHAR", "flag unit, as in the flag"),
    ),
)  # fmt: skip

FLAGS = Table(
    "flags",
    "flag of the latest detector run (analytics.flag_store; columns as analytics.detectors.base.FLAG_SCHEMA)",
    (
        ("flag_id", "VARCHAR", "one run's result: hash of kind, subject type, subject, unit, window"),
        ("flag_key", "VARCHAR", "the finding across runs: hash of kind, subject type, subject, unit, finding"),
        ("finding", "VARCHAR", "the detector's label for what was found ('' when one per subject)"),
        ("kind", "VARCHAR", "rotation, leniency, quota, compression, silent_negatives, outlier, outcome_rule"),
        ("subject_type", "VARCHAR", "unit, section, reviewer, person"),
        ("subject", "VARCHAR", "as written in the data"),
        ("unit", "VARCHAR", "单位"),
        ("lane", "VARCHAR", "赛道"),
        ("period_from", "VARCHAR", "first period, '2024Q1'"),
        ("period_to", "VARCHAR", "last period"),
        ("statistic", "VARCHAR", "headline statistic"),
        ("statistic_value", "DOUBLE", "its value"),
        ("statistics", "VARCHAR", "JSON object of every statistic computed"),
        ("p_value", "DOUBLE", "p where a test applies"),
        ("q_value", "DOUBLE", "Benjamini-Hochberg q"),
        ("severity", "DOUBLE", "0-1"),
        ("n", "BIGINT", "evidence size"),
        ("evidence_zh", "VARCHAR", "evidence in Chinese"),
        ("evidence_en", "VARCHAR", "evidence in English"),
        ("caveat_zh", "VARCHAR", "caveat in Chinese, NULL when none"),
        ("caveat_en", "VARCHAR", "caveat in English"),
        ("store_version", "VARCHAR", "the data version the detectors ran on (analytics.snapshots.data_version)"),
        ("settings_hash", "VARCHAR", "hash of the settings they ran with"),
        ("detector_version", "VARCHAR", "hash of the detectors' code"),
    ),
)

FLAG_RUNS = Table(
    "flag_runs",
    "detector run (one per store version, settings and detector version)",
    (
        ("store_version", "VARCHAR", "data version the run covers"),
        ("settings_hash", "VARCHAR", "hash of the settings"),
        ("detector_version", "VARCHAR", "hash of the detectors' code"),
        ("started_at", "TIMESTAMP", "when it started"),
        ("finished_at", "TIMESTAMP", "when its flags were stored"),
        ("flags", "INTEGER", "flags stored"),
        ("seconds", "DOUBLE", "time the detectors took"),
        ("errors", "JSON", "detector kinds that failed, with the error's name"),
    ),
)

TABLES: tuple[Table, ...] = (
    QUARTERLY,
    ANNUAL,
    OUTCOMES,
    APPEALS,
    SPECIAL_ASSESSMENTS,
    IMPORT_TEMPLATES,
    IMPORTS,
    REJECTED_ROWS,
    SURVEY_ITEMS,
    SURVEY_RESPONDENTS,
    SURVEY_ANSWERS,
    DEMO_TRUTH,
    USERS,
    SESSIONS,
    AUDIT_LOG,
    FLAG_REVIEWS,
    FLAGS,
    FLAG_RUNS,
    QUARTERLY_PEOPLE,
    QUARTERLY_FACTS,
)
BY_NAME: dict[str, Table] = {t.name: t for t in TABLES}
# Tables that hold assessment facts and carry import_id (undo removes from these).
IMPORTED_TABLES = (
    "quarterly",
    "special_assessments",
    "annual",
    "outcomes",
    "appeals",
    "survey_items",
    "survey_respondents",
    "survey_answers",
    "rejected_rows",
)


def markdown() -> str:
    """The documented tables as markdown (README's "Stored tables" section is this text)."""
    parts = []
    for t in TABLES:
        rows = "\n".join(f"| `{n}` | {typ.split()[0]} | {meaning} |" for n, typ, meaning in t.columns)
        kind = f" (a view over `{QUARTERLY_FACTS.name}` and `{QUARTERLY_PEOPLE.name}`)" if t.view else ""
        parts.append(
            f"### `{t.name}`: one row per {t.grain}{kind}\n\n| column | type | meaning |\n|---|---|---|\n{rows}\n"
        )
    return "\n".join(parts)
