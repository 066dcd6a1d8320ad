"""One file's bytes -> checked facts, problems and notes, without touching the store.

read sheets -> cut each at its header -> tell the kind -> map columns -> melt wide layouts -> type and
check every value -> conflicts and duplicates across all sheets. Import and preview both run this; only
import goes on to write (load.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from analytics.errors import UserError
from analytics.importer import columns, header, layout, validate
from analytics.importer.layout import RAW, REC, ROW, SHEET
from analytics.importer.sheets import read_sheets
from analytics.schema import BY_NAME
from analytics.upload_guard import DEFAULT_LIMITS, Limits, check_upload
from analytics.vocab import ANNUAL_GRADE_ALIASES, normalise_text

TABLE_OF_KIND = {"quarterly": "quarterly", "annual": "annual", "outcomes": "outcomes", "appeals": "appeals"}


@dataclass
class Prepared:
    """What a file holds, checked: facts (typed, with trace columns), problems and notes."""

    file_name: str
    kind: str
    layout: str
    encoding: str | None
    sheets: list[str | None]
    header_row: int
    mapping: dict[str, str]
    facts: pl.DataFrame
    problems: pl.DataFrame
    notes: list[validate.Note] = field(default_factory=list)
    ignored_rows: list[int] = field(default_factory=list)
    survey: dict[str, pl.DataFrame] | None = None
    survey_raw: pl.DataFrame | None = None
    tables: list[header.Table] = field(default_factory=list)  # the cut sheets, for raw_rows()


def prepare(content: bytes, file_name: str, kind: str | None = None, limits: Limits = DEFAULT_LIMITS) -> Prepared:
    """Read and check a file; UserError for anything that is not a usable table of a known kind."""
    if kind is not None and kind not in columns.KINDS:
        raise UserError(f"未知类型 unknown kind '{kind}': 可用 accepted: {', '.join(columns.KINDS)}")
    check_upload(content, file_name, limits)  # size, real type, zip bomb: before any parser sees the bytes
    sheets, encoding = read_sheets(content, file_name)
    notes: list[validate.Note] = []
    tables = []
    for sheet in sheets:
        table = header.split(sheet.grid, sheet.name, file_name)
        if table is None:
            if len(sheets) > 1:
                notes.append(
                    (f"工作表「{sheet.name}」没有可识别的表头，已跳过", f"sheet '{sheet.name}' has no header; skipped")
                )
            continue
        tables.append(table)
    if not tables:
        first = sheets[0]
        rows = first.grid.drop(ROW).head(header.HEADER_SEARCH_ROWS).rows()
        raise header.no_header_error(file_name, first.name, [list(r) for r in rows])
    chosen_kind, tables = _choose_kind(tables, kind, file_name, notes)
    if all(t.body.height == 0 for t in tables):
        raise UserError(f"{file_name}: 只有表头，没有数据行 / only a header, no data rows")
    ignored = sorted(r for t in tables for r in t.footer_rows + t.repeated_header_rows)
    _note_ignored(tables, notes)
    base = dict(file_name=file_name, kind=chosen_kind, encoding=encoding, sheets=[t.sheet for t in tables],
                header_row=tables[0].header_row, notes=notes, ignored_rows=ignored)  # fmt: skip
    if chosen_kind == "survey":
        return _survey(tables, base)
    return _facts(tables, base)


def detect_kind(table: header.Table) -> str | None:
    """The kind a table's headers say it is, or None."""
    fields = {columns.field_of(h) for h in table.headers}
    wide = bool(layout.wide_columns(table.headers))
    if len(fields & columns.APPEAL_FIELDS) >= 2 or "appeal_subject" in fields:
        return "appeals"
    if "outcome" in fields:
        return "outcomes"
    if "annual_grade" in fields and not ({"grade", "quarter"} & fields or wide):
        return "annual"
    if {"grade", "quarter"} & fields or wide:
        if "quarter" not in fields and not wide and _annual_values(table):
            return "annual"
        return "quarterly"
    if sum(columns.is_question(h) for h in table.headers) >= 2:
        return "survey"
    return None


def _annual_values(table: header.Table) -> bool:
    """A 等次 column holding 优秀/称职: an annual file that calls its grade just 等次."""
    grade_header = next(h for h in table.headers if columns.field_of(h) == "grade")
    values = table.body[grade_header].drop_nulls().unique().head(50).to_list()
    hits = sum(normalise_text(v) in ANNUAL_GRADE_ALIASES for v in values)
    return bool(values) and hits * 2 > len(values)


def _choose_kind(tables, kind, file_name, notes):
    detected = [detect_kind(t) for t in tables]
    chosen = kind or next((k for k in detected if k), None)
    if chosen is None:
        raise UserError(
            f"{file_name}: 看不出是哪类数据：没有 等次（{columns.accepted_names('grade')}）、"
            f"年度考核等次（{columns.accepted_names('annual_grade')}）、结果运用（{columns.accepted_names('outcome')}）"
            f"、申诉事项（{columns.accepted_names('appeal_subject')}）或问卷题目列。可用 --kind quarterly|annual|outcomes|appeals|survey 指定。 / cannot tell what this file holds: "
            f"no grade, annual grade, outcome, appeal or survey question column; name it with --kind"
        )
    kept = [t for t, k in zip(tables, detected, strict=True) if k in (chosen, None)]
    if not kept:  # the user named a kind no sheet looks like: take them at their word
        return chosen, tables
    for table, found in zip(tables, detected, strict=True):
        if found not in (chosen, None):
            notes.append(
                (f"工作表「{table.sheet}」是 {found} 数据，本次按 {chosen} 导入，已跳过；请用 --kind {found} 再导入一次",
                 f"sheet '{table.sheet}' holds {found} data and was skipped in this {chosen} import; "
                 f"import the file again with --kind {found}")
            )  # fmt: skip
    return chosen, kept


def _note_ignored(tables, notes) -> None:
    for table in tables:
        where = f"工作表「{table.sheet}」" if table.sheet else ""
        where_en = f"sheet '{table.sheet}' " if table.sheet else ""
        if table.footer_rows:
            rows = "、".join(map(str, table.footer_rows))
            notes.append((f"{where}表尾说明行已忽略（第 {rows} 行）", f"{where_en}footer lines ignored (rows {rows})"))
        if table.repeated_header_rows:
            rows = "、".join(map(str, table.repeated_header_rows))
            notes.append(
                (f"{where}重复的表头行已忽略（第 {rows} 行）", f"{where_en}repeated header rows ignored ({rows})")
            )


def _facts(tables, base) -> Prepared:
    kind, file_name = base["kind"], base["file_name"]
    parts, mappings, layouts = [], {}, []
    for table in tables:
        mapping, warnings = columns.map_headers(table.headers, kind)
        base["notes"].extend(warnings)
        shape = layout.layout_of(table.headers, mapping) if kind == "quarterly" else "long"
        where = file_name + (f"（工作表 {table.sheet}）" if table.sheet else "")
        validate.require_columns(set(mapping.values()), kind, shape, where)
        parts.append(layout.records(table.body, table.headers, mapping, shape, table.sheet))
        mappings.update(mapping)
        if shape == "wide":
            mappings.update({h: "grade" for h in layout.wide_columns(table.headers)})
        layouts.append(shape)
    records = pl.concat(parts, how="diagonal_relaxed")
    facts, problems, notes = validate.CHECKS[kind](records, file_name)
    base["notes"].extend(notes)
    bad = problems.select(REC).unique()
    checked = facts.filter(pl.col(REC).is_in(bad[REC].implode()).not_()) if bad.height else facts
    good, dup_notes = validate.duplicates(checked, kind, stored_columns(kind))
    base["notes"].extend(dup_notes)
    conflict = validate.conflicts(good, kind, file_name)
    rejected = facts.join(bad, on=REC, how="semi")
    facts = pl.concat([good, rejected], how="diagonal_relaxed") if rejected.height else good
    if not facts[REC].is_sorted():  # sorting gathers every column: only when dropping records broke the order
        facts = facts.sort(REC)
    problems = pl.concat([problems, conflict]).sort("sheet", "row", REC, nulls_last=False, maintain_order=True)
    shape = layouts[0] if len(set(layouts)) == 1 else "mixed"
    return Prepared(layout=shape, mapping=mappings, facts=facts, problems=problems, tables=tables, **base)


def stored_columns(kind: str) -> list[str]:
    """The documented columns a kind fills from the file (no import_id / trace columns)."""
    skip = {"import_id", "source_row", "source_sheet"}
    return [c for c in BY_NAME[TABLE_OF_KIND[kind]].column_names if c not in skip]


def fact_rows(prepared: Prepared) -> pl.DataFrame:
    """The facts as the store's table (without import_id), with REC to trace them."""
    facts = prepared.facts
    table = BY_NAME[TABLE_OF_KIND[prepared.kind]]
    schema = table.polars_schema()
    return facts.select(
        *[
            (pl.col(c) if c in facts.columns else pl.lit(None)).cast(schema[c]).alias(c)
            for c in stored_columns(prepared.kind)
        ],
        pl.col(ROW).cast(pl.Int32).alias("source_row"),
        pl.col(SHEET).alias("source_sheet"),
        pl.col(REC),
    )


def raw_rows(prepared: Prepared, problems: pl.DataFrame) -> pl.DataFrame:
    """(sheet, row, RAW) for the source rows the problems name: each whole row as read, as JSON."""
    parts = [
        layout.raw_rows(t.body, t.headers, t.sheet, problems.filter(pl.col("sheet").eq_missing(t.sheet))["row"])
        for t in prepared.tables
    ]
    empty = pl.DataFrame(schema={SHEET: pl.Utf8, ROW: pl.Int32, RAW: pl.Utf8})
    return pl.concat([empty, *parts], how="vertical_relaxed").rename({SHEET: "sheet", ROW: "row"})


def _survey(tables, base) -> Prepared:
    """Survey files: the raw table (headers as written, values as text, source_row) goes to analytics.survey."""
    raw = pl.concat([t.body.rename({ROW: "source_row"}) for t in tables], how="diagonal_relaxed")
    try:
        from analytics.survey.ingest import survey_tables
    except ImportError:
        raise UserError("问卷导入尚不可用（analytics.survey 缺失） / survey import is not available yet") from None
    try:
        frames = survey_tables(raw)
    except ValueError as exc:
        raise UserError(f"{base['file_name']}: 问卷无法读取 / the survey cannot be read: {exc}") from None
    empty = validate.empty_problems()
    return Prepared(layout="long", mapping={h: "survey" for h in tables[0].headers}, facts=raw, problems=empty,
                    survey=frames, survey_raw=raw, **base)  # fmt: skip
