"""One file's bytes -> checked facts, problems and notes, without touching the store.

read sheets -> cut each at its header -> tell the kind -> map columns -> melt wide layouts -> type and
check every value -> conflicts and duplicates across all sheets. Import and preview both run this; only
import goes on to write (load.py).
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field, replace

import polars as pl

from analytics.errors import UserError
from analytics.importer import columns, context, header, layout, validate
from analytics.importer.layout import RAW, REC, ROW, SHEET
from analytics.importer.sheets import read_sheets
from analytics.schema import BY_NAME
from analytics.upload_guard import DEFAULT_LIMITS, Limits, check_upload
from analytics.vocab import ANNUAL_GRADE_ALIASES, normalise_text

TABLE_OF_KIND = {"quarterly": "quarterly", "annual": "annual", "outcomes": "outcomes", "appeals": "appeals"}


@dataclass(frozen=True)
class Options:
    """What the user says beside the file: kind, the unit/period the file lacks, column choices, the sheet."""

    kind: str | None = None
    given: context.Given = context.Given()
    columns: dict[str, str] = field(default_factory=dict)  # field -> header (--map, a template)
    template: str | None = None  # the template `columns` came from, for the report
    templates: dict[str, tuple[str, dict[str, str]]] = field(default_factory=dict)  # header key -> (name, columns)
    sheet: str | None = None
    grade_aliases: dict[str, str] = field(default_factory=dict)
    score_range: tuple[float, float] = (0.0, 100.0)


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
    special: pl.DataFrame | None = None  # 专项考核 records, kept apart (special_assessments)
    columns_used: dict[str, str] = field(default_factory=dict)  # field -> header, for saving a template
    header_key: str = ""
    # Set by for_parent(): the cut sheets stayed in the parse worker, and these (sheet, row, RAW) are the
    # source rows of the problems found while reading; `reread` says how to read the file again for others.
    raw: pl.DataFrame | None = None
    reread: tuple = ()  # (kind, limits, options)


def prepare(content: bytes, file_name: str, kind: str | None = None, limits: Limits = DEFAULT_LIMITS,
            options: Options | None = None) -> Prepared:  # fmt: skip
    """Read and check a file; UserError for anything that is not a usable table of a known kind."""
    options = options or Options()
    kind = kind or options.kind
    if kind is not None and kind not in columns.KINDS:
        raise UserError(f"未知类型 unknown kind '{kind}': 可用 accepted: {', '.join(columns.KINDS)}")
    refuse_word(content, file_name)
    check_upload(content, file_name, limits)  # size, real type, zip bomb: before any parser sees the bytes
    sheets, encoding = read_sheets(content, file_name)
    del content  # in the parse worker the last reference: a big export's bytes are freed before the tables are cut
    notes: list[validate.Note] = []
    sheets = _visible_sheets(sheets, options.sheet, file_name, notes)
    tables = []
    for sheet in sheets:
        found = header.split(sheet.grid, sheet.name, file_name, sheet.merges, sheet.titles)
        if not found:
            if len(sheets) > 1:
                notes.append(
                    (f"工作表「{sheet.name}」没有可识别的表头，已跳过", f"sheet '{sheet.name}' has no header; skipped")
                )
            continue
        if len(found) > 1:
            rows = "、".join(str(t.header_row) for t in found)
            where = f"工作表「{sheet.name}」" if sheet.name else ""
            notes.append((f"{where}有 {len(found)} 个表（表头在第 {rows} 行），分别读取",
                          f"{len(found)} tables in one sheet (headers on rows {rows}), each read"))  # fmt: skip
        tables.extend(found)
    if not tables:
        first = sheets[0]
        rows = first.grid.drop(ROW).head(header.HEADER_SEARCH_ROWS).rows()
        raise header.no_header_error(file_name, first.name, [list(r) for r in rows])
    del sheets, sheet  # every cell as read: the tables hold what the rest needs (a third of the peak at 200k people)
    for table in tables:
        notes.extend(table.notes)
    chosen_kind, tables = _choose_kind(tables, kind, file_name, notes)
    if all(t.body.height == 0 for t in tables):
        raise UserError(f"{file_name}: 只有表头，没有数据行 / only a header, no data rows")
    ignored = sorted(r for t in tables for r in t.footer_rows + t.repeated_header_rows)
    _note_ignored(tables, notes)
    base = dict(file_name=file_name, kind=chosen_kind, encoding=encoding, sheets=[t.sheet for t in tables],
                header_row=tables[0].header_row, notes=notes, ignored_rows=ignored,
                reread=(chosen_kind, limits, options))  # fmt: skip
    if chosen_kind == "survey":
        return _survey(tables, base)
    return _facts(tables, base, options)


def refuse_word(content: bytes, file_name: str) -> None:
    """A Word document (.docx 登记表) is a zip too: say what it is, not "a damaged workbook"."""
    if not content.startswith(b"PK\x03\x04"):
        return
    try:
        names = zipfile.ZipFile(io.BytesIO(content)).namelist()
    except zipfile.BadZipFile:
        return
    if "word/document.xml" in names:
        raise UserError(
            f"{file_name}: 这是 Word 文档（.docx），不是表格。请在系统里把这张表导出为 Excel（xlsx）后再导入。 / "
            f"this is a Word document (.docx); export the table from the system as Excel (xlsx) and import that"
        )


def _visible_sheets(sheets, wanted: str | None, file_name: str, notes) -> list:
    """Hidden and very hidden sheets are skipped with a note; `--sheet NAME` takes exactly that sheet."""
    if wanted is not None:
        picked = [s for s in sheets if s.name == wanted]
        if not picked:
            names = "、".join(str(s.name) for s in sheets)
            raise UserError(
                f"{file_name}: 没有名为「{wanted}」的工作表；有：{names} / no sheet '{wanted}'; sheets: {names}"
            )
        return picked
    shown = [s for s in sheets if s.visible == "visible"]
    hidden = [s for s in sheets if s.visible != "visible"]
    if hidden:
        names = "、".join(f"「{s.name}」" for s in hidden)
        notes.append(
            (f"隐藏的工作表 {names} 已跳过；要导入其中一张，加 --sheet 工作表名",
             f"hidden sheets {names} skipped; to import one, add --sheet NAME")
        )  # fmt: skip
    if not shown:
        raise UserError(
            f"{file_name}: 所有工作表都是隐藏的（{'、'.join(str(s.name) for s in hidden)}）；请用 --sheet 工作表名 指定一张 / "
            f"every sheet is hidden; name one with --sheet NAME"
        )
    return shown


def detect_kind(table: header.Table) -> str | None:
    """The kind a table's headers say it is, or None.

    A table with a name column and a grade or score column is never a survey, however its other headers
    read; a survey needs the questionnaire shape: at least SURVEY_MIN_SCALES columns of scale answers.
    """
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
    if "score" in fields and {"name", "person_id"} & fields:
        return None  # scores and names, but no grade column: the user says which kind (and which column)
    if _scale_columns(table) >= SURVEY_MIN_SCALES:
        return "survey"
    return None


SURVEY_MIN_SCALES = 3


def _scale_columns(table: header.Table) -> int:
    """Question columns whose answers are on a scale (同意/满意 … or 1-5)."""
    questions = [h for h in table.headers if columns.is_question(h)]
    if len(questions) < SURVEY_MIN_SCALES:
        return 0
    try:
        from analytics.survey.ingest import SCALE_TYPES, detect_items
    except ImportError:
        return len(questions)
    items = detect_items(table.body.select(questions))
    return int(items.filter(pl.col("item_type").is_in(list(SCALE_TYPES))).height)


def _close_kinds(table: header.Table) -> tuple[str, str] | None:
    """Two kinds the headers support about equally (the user must say which), or None."""
    fields = {columns.field_of(h) for h in table.headers}
    quarterly = bool({"grade", "quarter"} & fields or layout.wide_columns(table.headers))
    if "annual_grade" in fields and quarterly and "outcome" not in fields:
        return ("quarterly", "annual")
    if _scale_columns(table) >= SURVEY_MIN_SCALES and {"name", "person_id"} & fields and quarterly:
        return ("quarterly", "survey")
    return None


def _annual_values(table: header.Table) -> bool:
    """A 等次 column holding 优秀/称职: an annual file that calls its grade just 等次."""
    grade_header = next(h for h in table.headers if columns.field_of(h) == "grade")
    values = table.body[grade_header].drop_nulls().unique().head(50).to_list()
    hits = sum(normalise_text(v) in ANNUAL_GRADE_ALIASES for v in values)
    return bool(values) and hits * 2 > len(values)


KIND_ZH = {
    "quarterly": "平时考核",
    "annual": "年度考核",
    "outcomes": "结果运用",
    "appeals": "申诉复核",
    "survey": "问卷",
}


def _choose_kind(tables, kind, file_name, notes):
    if kind is None:
        close = next((c for c in map(_close_kinds, tables) if c), None)
        if close:
            a, b = close
            raise context.MissingContext(
                f"{file_name}: 这份表既像{KIND_ZH[a]}又像{KIND_ZH[b]}，不能替你猜。请加 --kind {a} 或 --kind {b}；"
                f"网页上在「文件类型」里选择。 / this file reads as {a} and as {b} alike; add --kind {a} or --kind {b} "
                f"(in the app, choose the kind)",
                "kind",
            )
    detected = [detect_kind(t) for t in tables]
    chosen = kind or next((k for k in detected if k), None)
    if chosen is None:
        raise context.MissingContext(
            f"{file_name}: 看不出是哪类数据：没有 等次（{columns.accepted_names('grade')}）、"
            f"年度考核等次（{columns.accepted_names('annual_grade')}）、结果运用（{columns.accepted_names('outcome')}）"
            f"、申诉事项（{columns.accepted_names('appeal_subject')}）或问卷题目列。可用 --kind quarterly|annual|outcomes|appeals|survey 指定"
            f"（等次列名不在上面时，再用 --map 等次=列名）。 / cannot tell what this file holds: "
            f"no grade, annual grade, outcome, appeal or survey question column; name it with --kind",
            "kind",
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


def _facts(tables, base, options: Options) -> Prepared:
    kind, file_name = base["kind"], base["file_name"]
    parts, mappings, layouts, used = [], {}, [], {}
    for table in tables:
        where = file_name + (f"（工作表 {table.sheet}）" if table.sheet else "")
        chosen = _chosen_columns(table, options, where, base["notes"])
        mapped = columns.map_headers(table.headers, kind, chosen)
        base["notes"].extend(_mapping_notes(mapped, told=bool(options.columns) and not options.template))
        _refuse_rivals(table, mapped, where)
        shape = layout.layout_of(table.headers, mapped.fields) if kind == "quarterly" else "long"
        if shape == "long" and kind in ("quarterly", "annual"):
            _grade_by_values(table, mapped, kind, base["notes"])
        mapping = mapped.fields
        fillable = {"unit", "year", "quarter"} if kind in ("quarterly", "annual") else {"unit"}
        unknown = [h for h in table.headers if h not in mapping and not header.is_known(h)]
        validate.require_columns(set(mapping.values()) | fillable, kind, shape, where, unknown)
        records = layout.records(table.body, table.headers, mapping, shape, table.sheet)
        records = _with_context(
            records, table, set(mapping.values()), shape, kind, options.given, file_name, where, base["notes"]
        )
        validate.require_columns(set(records.columns), kind, shape, where)
        parts.append(records)
        mappings.update(mapping)
        used.update({f: h for h, f in mapping.items()})
        if shape == "wide":
            mappings.update({h: "grade" for h in layout.wide_columns(table.headers)})
        layouts.append(shape)
    records = pl.concat(parts, how="diagonal_relaxed")
    records, special = _special(records, kind, file_name, base["notes"])
    if kind in ("quarterly", "annual"):
        facts, problems, notes = validate.CHECKS[kind](records, file_name, aliases=options.grade_aliases)
        more, more_notes = validate.real_world_checks(facts, kind, file_name, options.score_range)
        problems = pl.concat([problems, more])
        notes = notes + more_notes
    else:
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
    return Prepared(layout=shape, mapping=mappings, facts=facts, problems=problems, tables=tables, special=special,
                    columns_used=used, header_key=header_key(tables[0].headers), **base)  # fmt: skip


def header_key(headers: list[str]) -> str:
    """A header's identity for templates: the column names folded, in order."""
    return "|".join(columns.header_key(h) for h in headers)


def _chosen_columns(table, options: Options, where: str, notes) -> dict[str, str]:
    """field -> header from --map / a named template, else from a saved template whose header is this one."""
    chosen = dict(options.columns)
    if not chosen and options.templates:
        hit = options.templates.get(header_key(table.headers))
        if hit:
            name, chosen = hit[0], dict(hit[1])
            shown = "、".join(f"{columns.FIELD_ZH.get(f, f)}={h}" for f, h in chosen.items())
            notes.append(
                (
                    f"表头与映射模板「{name}」相同，已套用：{shown}",
                    f"the header matches template '{name}'; applied: {shown}",
                )
            )
    elif chosen and options.template:
        shown = "、".join(f"{columns.FIELD_ZH.get(f, f)}={h}" for f, h in chosen.items())
        notes.append(
            (f"已套用映射模板「{options.template}」：{shown}", f"template '{options.template}' applied: {shown}")
        )
    missing = [h for h in chosen.values() if h not in table.headers]
    if missing:
        raise UserError(
            f"{where}: 指定的列不在表中：{'、'.join(missing)}；表中的列：{'、'.join(table.headers)} / "
            f"columns named in --map are not in the file: {', '.join(missing)}"
        )
    return chosen


def _grade_by_values(table, mapped: columns.Mapping, kind: str, notes) -> None:
    found = columns.grade_by_values(table.body, table.headers, mapped, kind)
    if found:
        notes.append((f"表头没有等次列；列「{found}」的值都是等次，按等次读取（不对时用 --map 等次=列名 指定）",
                      f"no grade column by name; every value of '{found}' is a grade, so it is read as the grade "
                      f"(if wrong, name the column with --map grade=COLUMN)"))  # fmt: skip


def _mapping_notes(mapped: columns.Mapping, told: bool) -> list[validate.Note]:
    """Stage columns, and (`told`: the user's own --map) each column chosen; a template has its own note."""
    notes = []
    for stages in mapped.stages.values():
        earlier = "、".join(f"「{h}」" for h in stages[:-1])
        notes.append(
            (f"等次有 {len(stages)} 个环节：取最后一个「{stages[-1]}」为等次，前面的 {earlier} 作为依据保存在 extra",
             f"{len(stages)} stages of the grade: the last, '{stages[-1]}', is the grade; the earlier ones are kept in extra")
        )  # fmt: skip
    for name, column in mapped.chosen.items() if told else ():
        notes.append((f"列「{column}」按指定作为 {columns.FIELD_ZH.get(name, name)}",
                      f"column '{column}' used as {name}, as chosen"))  # fmt: skip
    return notes


def _refuse_rivals(table, mapped: columns.Mapping, where: str) -> None:
    """Two columns naming one field: the same values are fine (the first is used); different values are refused."""
    used = {f: h for h, f in mapped.fields.items()}
    for name, others in mapped.rivals.items():
        first = used[name]
        for other in others:
            differ = table.body.filter(
                pl.col(first).is_not_null() & pl.col(other).is_not_null() & (pl.col(first) != pl.col(other))
            )
            if differ.height:
                row = differ.row(0, named=True)
                raise UserError(
                    f"{where}: 列「{first}」和「{other}」都是 {columns.FIELD_ZH.get(name, name)}，但内容不同"
                    f"（第 {row[ROW]} 行：{row[first]} 与 {row[other]}，共 {differ.height} 行不同）。请用 --map "
                    f"{columns.FIELD_ZH.get(name, name)}=列名 指定用哪一列 / columns '{first}' and '{other}' both name "
                    f"{name} with different values (row {row[ROW]}: {row[first]} vs {row[other]}); choose one with --map"
                )


def _with_context(records, table, fields: set[str], shape: str, kind: str, given, file_name: str, where: str,
                  notes) -> pl.DataFrame:  # fmt: skip
    """Fill unit, year and period the table lacks from the user, the title rows or the file name; ask otherwise."""
    found = context.found_in(table.titles, file_name)
    fills: dict[str, str] = {}

    def take(key: str) -> object | None:
        value = getattr(given, key)
        if value is not None:
            notes.append(context.given_note(key, value))
            return value
        if key in found:
            notes.append(context.note(key, found[key]))
            return found[key].value
        return None

    if "unit" not in fields:
        unit = take("unit")
        if unit is not None:
            fills["unit"] = str(unit)
        elif "person_id" not in fields and kind in ("quarterly", "annual"):
            raise context.missing("unit", where)
    if kind == "quarterly" and shape == "long" and "quarter" not in fields:
        month = given.month if given.quarter is not None else (found["month"].value if "month" in found else None)
        quarter = take("quarter")
        if quarter is None:
            raise context.missing("period", where)
        fills["quarter"] = f"{month}月" if month else f"Q{quarter}"
    if kind in ("quarterly", "annual") and "year" not in fields and not _periods_have_years(records, fills):
        year = take("year")
        if year is None:
            raise context.missing("year", where)
        fills["year"] = str(year)
    if not fills:
        return records
    return records.with_columns(
        *[pl.lit(v, dtype=pl.Utf8).alias(k) for k, v in fills.items()],
        *[layout.source("（表外）", k) for k in fills],
    )


def _periods_have_years(records: pl.DataFrame, fills: dict[str, str]) -> bool:
    if "quarter" in fills or "quarter" not in records.columns:
        return False
    from analytics.importer.normalise import periods

    year, quarter, _ = periods(records["quarter"].drop_nulls().unique())
    return year.len() > year.null_count()


def _special(records: pl.DataFrame, kind: str, file_name: str, notes) -> tuple[pl.DataFrame, pl.DataFrame | None]:
    """专项考核 in the quarter column: a special assessment, kept apart (special_assessments), never a refusal."""
    if kind != "quarterly" or "quarter" not in records.columns:
        return records, None
    from analytics.importer.normalise import is_special

    mask = is_special(records["quarter"])
    if not mask.any():
        return records, None
    special, rest = records.filter(mask), records.filter(~mask)
    rows = "、".join(str(r) for r in special[ROW].head(20).to_list())
    notes.append(
        (f"{special.height} 条专项考核记录（第 {rows} 行）不是季度等次，另存于 special_assessments，不计入季度统计",
         f"{special.height} special assessment (专项考核) records (rows {rows}) are no quarter's grade: kept apart in "
         f"special_assessments, not counted in quarters")
    )  # fmt: skip
    special = validate.special_records(special, file_name)
    if special["year"].null_count() and "quarter" in rest.columns:  # the year the file's quarters are in
        from analytics.importer.normalise import periods

        years = periods(rest["quarter"])[0].drop_nulls()
        if years.len():
            special = special.with_columns(pl.col("year").fill_null(int(years.mode()[0])))
    return rest, special


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


def for_parent(prepared: Prepared) -> Prepared:
    """What the importing process needs of a parse: the cut sheets (every cell as text) and the facts' source
    headers stay behind, so the parse worker hands back a third of the data. The problems' source rows are
    looked up now (rejected_rows keeps them); rows refused later, against the store, are read again (reread)."""
    if prepared.kind == "survey" or prepared.raw is not None:
        return prepared
    grade = layout.col(validate.GRADE_FIELD.get(prepared.kind, ""))  # named in conflicts with the store
    facts = prepared.facts.select(c for c in prepared.facts.columns if not c.startswith("__col_") or c == grade)
    tables = [replace(t, body=t.body.clear()) for t in prepared.tables]
    return replace(prepared, facts=facts, tables=tables, raw=raw_rows(prepared, prepared.problems))


def raw_rows(prepared: Prepared, problems: pl.DataFrame) -> pl.DataFrame:
    """(sheet, row, RAW) for the source rows the problems name: each whole row as read, as JSON.

    After for_parent() only the rows looked up in the worker are known; callers read the file again for others.
    """
    if prepared.raw is not None:
        return prepared.raw.join(problems.select("sheet", "row").unique(), on=["sheet", "row"], nulls_equal=True)
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
