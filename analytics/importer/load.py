"""Writing imports to the store: one transaction per file, content-hash dedupe, originals kept, undo.

The same content imported twice (same kind) adds nothing. The original bytes are kept under
originals_dir(db)/<sha256>, so a refused row or an undone import loses nothing. A record that repeats
one already stored (same person and period, same grade) is skipped; one that contradicts it is refused.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from datetime import datetime
from pathlib import Path

import duckdb
import polars as pl

from analytics import audit, faults, quarterly_store, store
from analytics.errors import UserError
from analytics.importer import pipeline, validate
from analytics.importer.layout import RAW, REC, ROW, SHEET
from analytics.importer.result import ImportResult, public_problems
from analytics.schema import IMPORTED_TABLES
from analytics.store import quote_ident

STORE_KEYS = {"quarterly": ("person_id", "year", "quarter"), "annual": ("person_id", "year")}
OUTCOME_SAME = ("person_id", "date", "year", "outcome_raw", "detail", "amount")
# Kinds without one grade per period: a record equal on these columns to a stored one is already there.
SAME_RECORD = {
    "outcomes": OUTCOME_SAME,
    "appeals": ("person_id", "appeal_date", "year", "quarter", "appeal_subject_raw", "appeal_reason"),
}


class _Refused(Exception):
    """Raised inside the transaction to roll it back when the store shows conflicts."""

    def __init__(self, problems: pl.DataFrame, notes: list):
        super().__init__("refused")
        self.problems, self.notes = problems, notes


def sha256_of(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def result_of(prepared: pipeline.Prepared, status: str, problems: pl.DataFrame, **counts) -> ImportResult:
    return ImportResult(
        status=status, file_name=prepared.file_name, kind=prepared.kind, layout=prepared.layout,
        header_row=prepared.header_row, encoding=prepared.encoding, notes=list(prepared.notes),
        ignored_footer_rows=prepared.ignored_rows, problems=public_problems(problems), sheets=prepared.sheets, **counts,
    )  # fmt: skip


def store_prepared(
    db, prepared: pipeline.Prepared, original: Original, partial: bool, user: str | None
) -> ImportResult:
    """Write a checked file in one transaction; refused (store untouched) when it has problems and not partial.

    `original`: the file's bytes being written beside the store (import_bytes starts that before parsing)."""
    if prepared.problems.height and not partial:
        return result_of(prepared, "refused", prepared.problems)
    digest = original.digest()
    path = store.db_path(db)
    try:
        con = store.connect(path)
    except duckdb.Error as exc:
        raise UserError(f"无法打开数据库 cannot open the store {path}: {exc}") from None
    try:
        with store.transaction(con):
            earlier = con.execute(
                "SELECT import_id FROM imports WHERE sha256 = ? AND kind = ? AND status <> 'undone' ORDER BY import_id",
                [digest, prepared.kind],
            ).fetchone()
            if earlier:
                result = result_of(prepared, "duplicate", prepared.problems.clear(), import_id=earlier[0])
                result.notes.append(
                    (f"相同内容已于导入 #{earlier[0]} 导入，本次未添加任何数据",
                     f"the same content was imported as #{earlier[0]}; nothing added")
                )  # fmt: skip
                return result
            return _write(con, prepared, digest, partial, user, original)
    except _Refused as refused:
        prepared.notes.extend(refused.notes)
        return result_of(prepared, "refused", refused.problems)
    finally:
        con.close()


def _write(con, prepared, digest: str, partial: bool, user, original: Original) -> ImportResult:
    notes: list = []
    if prepared.kind == "survey":
        problems, rows = prepared.problems, None
    else:
        rows = pipeline.fact_rows(prepared)
        store_problems, repeated = _against_store(con, prepared, rows)
        notes.extend(_repeat_note(repeated))
        problems = pl.concat([prepared.problems, store_problems])
        if problems.height and not partial:
            raise _Refused(problems, notes)
        dropped = pl.concat([problems.select(REC), repeated.select(REC)], how="vertical_relaxed")
        if dropped.height:  # an anti join copies every row even when there is nothing to drop
            rows = rows.filter(pl.col(REC).is_in(dropped[REC].implode()).not_())
    import_id = con.execute("SELECT nextval('import_seq')").fetchone()[0]
    if prepared.special is not None and prepared.special.height:
        _insert_special(con, prepared.special, import_id)
    if rows is None:
        stored = _insert_survey(con, prepared, import_id)
    else:
        stored = store.insert_frame(
            con, prepared.kind, rows.drop(REC).with_columns(pl.lit(import_id, pl.Int32).alias("import_id"))
        )
    rejected = _insert_rejected(con, prepared, problems, import_id, original)
    status = "partial" if partial and problems.height else "imported"
    prepared.notes.extend(notes)
    user = user or audit.os_actor()  # the app passes its logged-in user; the CLI is the OS user
    _insert_import(con, prepared, import_id, digest, stored, rejected, status, user)
    audit.record(con, user, "import", prepared.file_name, {"import_id": import_id, "status": status, "rows": stored})
    original.keep()
    return result_of(prepared, status, problems, import_id=import_id, rows=stored, rejected=rejected)


def _against_store(con, prepared, rows: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(problems for records contradicting stored ones, records already stored as they are)."""
    kind = prepared.kind
    none = rows.head(0).select(REC)
    if kind in STORE_KEYS or kind in SAME_RECORD:  # a first import of its kind has nothing to meet (0.5 s at 200k)
        empty = quarterly_store.row_count(con) == 0 if kind == "quarterly" else not _has_rows(con, kind)
        if empty:
            return validate.empty_problems(), none
    if kind in STORE_KEYS:
        grade = validate.GRADE_FIELD[kind]
        keys = STORE_KEYS[kind]
        on = " AND ".join(f"s.{quote_ident(k)} = i.{quote_ident(k)}" for k in keys)
        if kind == "quarterly":  # a month-grading unit has one row per month of the quarter
            on += " AND s.month IS NOT DISTINCT FROM i.month"
            keys = (*keys, "month")
        sql = (
            f"SELECT i.{quote_ident(REC)}, s.import_id, s.source_row, s.source_sheet, s.{quote_ident(grade)} AS stored, "
            f"s.{quote_ident(grade)} = i.{quote_ident(grade)} AS same FROM _incoming i JOIN {quote_ident(kind)} s ON {on}"
        )
        found = _query_with(con, rows.select(REC, *keys, grade), sql)
        if found.height == 0:
            return validate.empty_problems(), none
        same = found.filter(pl.col("same"))
        clash = prepared.facts.join(found.filter(~pl.col("same")), on=REC, how="inner")
        return _store_conflicts(clash, grade, prepared.file_name), same.select(REC, "import_id")
    if kind in SAME_RECORD:
        same = SAME_RECORD[kind]
        on = " AND ".join(f"s.{quote_ident(k)} IS NOT DISTINCT FROM i.{quote_ident(k)}" for k in same)
        sql = f"SELECT DISTINCT i.{quote_ident(REC)}, s.import_id FROM _incoming i JOIN {quote_ident(kind)} s ON {on}"
        found = _query_with(con, rows.select(REC, *same), sql)
        return validate.empty_problems(), found
    return validate.empty_problems(), none


def _has_rows(con, table: str) -> bool:
    return con.execute(f"SELECT 1 FROM {quote_ident(table)} LIMIT 1").fetchone() is not None


def _query_with(con, frame: pl.DataFrame, sql: str) -> pl.DataFrame:
    con.register("_incoming", frame.to_arrow())
    try:
        return con.sql(sql).pl()
    finally:
        con.unregister("_incoming")


def _store_conflicts(clash: pl.DataFrame, grade: str, file: str) -> pl.DataFrame:
    sheet = pl.col("source_sheet")
    at_zh = pl.concat_str(
        [pl.lit("导入 #"), pl.col("import_id").cast(pl.Utf8),
         pl.when(sheet.is_not_null()).then(pl.lit(" 工作表「") + sheet + pl.lit("」")).otherwise(pl.lit(" ")),
         pl.lit("第 "), pl.col("source_row").cast(pl.Utf8), pl.lit(" 行为 "), pl.col("stored")]
    )  # fmt: skip
    at_en = pl.concat_str(
        [pl.lit("import #"), pl.col("import_id").cast(pl.Utf8),
         pl.when(sheet.is_not_null()).then(pl.lit(" sheet '") + sheet + pl.lit("'")).otherwise(pl.lit("")),
         pl.lit(" row "), pl.col("source_row").cast(pl.Utf8), pl.lit(" has "), pl.col("stored")]
    )  # fmt: skip
    zh, en = validate.REASONS["conflict_store"]
    undo_it = pl.col("import_id").cast(pl.Utf8)
    reason = (
        pl.concat_str([pl.lit(zh + "："), at_zh, pl.lit("；若本文件是更正，先撤销该导入（python -m analytics undo "),
                       undo_it, pl.lit("）")]),
        pl.concat_str([pl.lit(en + ": "), at_en, pl.lit("; if this file corrects it, undo that import first "
                       "(python -m analytics undo "), undo_it, pl.lit(")")]),
    )  # fmt: skip
    accepted = "与库中一致，或先撤销旧导入 / agree with the store, or undo the older import"
    return validate.problems_where(clash, pl.lit(True), grade, "conflict_store", accepted, file, reason)


def _repeat_note(repeated: pl.DataFrame) -> list:
    if repeated.height == 0:
        return []
    ids = "、".join(f"#{i}" for i in sorted(repeated["import_id"].unique().to_list()))
    n = repeated[REC].n_unique()
    return [
        (
            f"{n} 条记录已在库中（导入 {ids}），未重复存入",
            f"{n} records are already in the store (import {ids}); not added again",
        )
    ]


def _insert_special(con, special: pl.DataFrame, import_id: int) -> None:
    from analytics.schema import SPECIAL_ASSESSMENTS

    schema = SPECIAL_ASSESSMENTS.polars_schema()
    frame = special.select(
        *[(pl.col(c) if c in special.columns else pl.lit(None)).cast(schema[c]).alias(c)
          for c in SPECIAL_ASSESSMENTS.column_names if c not in ("import_id", "source_row", "source_sheet")],
        pl.col(ROW).cast(pl.Int32).alias("source_row"), pl.col(SHEET).alias("source_sheet"),
        pl.lit(import_id, pl.Int32).alias("import_id"),
    )  # fmt: skip
    store.insert_frame(con, "special_assessments", frame)


def _insert_survey(con, prepared, import_id: int) -> int:
    for table, frame in prepared.survey.items():
        store.insert_frame(con, table, frame.with_columns(pl.lit(import_id, pl.Int32).alias("import_id")))
    return prepared.survey["survey_respondents"].height


def _insert_rejected(con, prepared, problems: pl.DataFrame, import_id: int, original: Original) -> int:
    """One rejected_rows row per problem, with the whole source row as read; returns refused source rows."""
    if problems.height == 0:
        return 0
    raw = _raw_rows(prepared, problems, original) if prepared.tables else None
    frame = problems if raw is None else problems.join(raw, on=["sheet", "row"], how="left", nulls_equal=True)
    rejected = frame.select(
        pl.lit(import_id, pl.Int32).alias("import_id"),
        pl.col("sheet").alias("source_sheet"),
        pl.col("row").alias("source_row"),
        pl.col("column"),
        pl.col("value"),
        pl.concat_str(
            [pl.col("reason_zh"), pl.lit(" / "), pl.col("reason"), pl.lit("；可用 accepted: "), pl.col("accepted")]
        ).alias("reason"),
        (pl.col(RAW) if raw is not None else pl.lit(None, pl.Utf8)).alias("raw"),
    )
    store.insert_frame(con, "rejected_rows", rejected)
    return problems.select("sheet", "row").unique().height


def _raw_rows(prepared, problems: pl.DataFrame, original: Original) -> pl.DataFrame:
    """The problems' source rows as read: those the parse looked up, and the file read again for the rest
    (rows refused against the store, in a partial import)."""
    raw = pipeline.raw_rows(prepared, problems)
    if prepared.raw is None:
        return raw
    missing = problems.select("sheet", "row").unique().join(raw, on=["sheet", "row"], how="anti", nulls_equal=True)
    if missing.height == 0:
        return raw
    from analytics import parse_isolation

    return pl.concat([raw, parse_isolation.raw_rows(original.read(), prepared, missing)], how="vertical_relaxed")


def _insert_import(con, prepared, import_id, digest, stored, rejected, status, user) -> None:
    warnings = json.dumps([f"{zh} / {en}" for zh, en in prepared.notes], ensure_ascii=False)
    row = pl.DataFrame(
        {
            "import_id": [import_id], "kind": [prepared.kind], "file_name": [prepared.file_name], "sha256": [digest],
            "rows": [stored], "rejected": [rejected], "imported_at": [datetime.now()], "status": [status],
            "layout": [prepared.layout], "encoding": [prepared.encoding], "header_row": [prepared.header_row],
            "warnings": [warnings], "imported_by": [user],
        },
        schema_overrides={"import_id": pl.Int32, "rows": pl.Int32, "rejected": pl.Int32, "header_row": pl.Int32,
                          "encoding": pl.Utf8, "imported_by": pl.Utf8},
    )  # fmt: skip
    store.insert_frame(con, "imports", row)


class Original:
    """A file's original bytes, hashed and written under originals_dir(db) in a thread while the file is parsed
    and checked (a 300 MB export takes a second), named by its hash once the import is stored (`keep`), and
    removed when it is not (the end of the `with` block). Once written, the importer needs no copy in memory."""

    def __init__(self, db, content: bytes):
        self.folder = store.originals_dir(store.db_path(db))
        self.content: bytes | None = content
        self.partial = self.folder / f".{os.getpid()}.{threading.get_ident()}.{id(self)}.tmp"
        self.sha256 = ""
        self.failure: BaseException | None = None
        self.writer = threading.Thread(target=self._write, daemon=True)

    def __enter__(self) -> Original:
        self.writer.start()
        return self

    def _write(self) -> None:
        try:
            self.sha256 = sha256_of(self.content)
            self.folder.mkdir(parents=True, exist_ok=True)
            self.partial.write_bytes(self.content)
        except BaseException as exc:  # noqa: BLE001 - reported by _written(), in the importing thread
            self.failure = exc
        finally:
            self.content = None

    def digest(self) -> str:
        self.writer.join()
        return self.sha256

    def read(self) -> bytes:
        """The bytes again, from the copy on disk (to read the file a second time)."""
        self._written()
        return self.partial.read_bytes()

    def keep(self) -> Path:
        """The original under its hash (written once; the name is the hash, never the user's)."""
        self._written()
        target = self.folder / self.sha256
        if not target.exists():
            os.replace(self.partial, target)
        return target

    def _written(self) -> None:
        self.writer.join()
        if self.failure is None:
            return
        if isinstance(self.failure, OSError) and faults.is_disk_full(self.failure):
            raise UserError(" / ".join(faults.disk_full(self.folder))) from None
        raise self.failure

    def __exit__(self, *exc) -> None:
        self.writer.join()
        self.partial.unlink(missing_ok=True)  # never leave a half-written or unwanted copy behind


def list_imports(db=None) -> pl.DataFrame:
    """Every import, newest last (an empty frame when there is no store yet)."""
    path = store.db_path(db)
    if not path.exists():
        from analytics.schema import IMPORTS

        return IMPORTS.empty()
    con = store.connect(path, read_only=True)
    try:
        return con.sql("SELECT * FROM imports ORDER BY import_id").pl()
    finally:
        con.close()


def undo(db, import_id: int, user: str | None = None) -> int:
    """Remove one import's rows from every imported table and mark it 'undone' (audited as `user`, else
    the OS user, in the same transaction); the original stays."""
    path = store.db_path(db)
    if not path.exists():
        raise UserError(f"没有数据库 no store at {path}")
    con = store.connect(path)
    try:
        found = con.execute("SELECT status FROM imports WHERE import_id = ?", [import_id]).fetchone()
        if found is None:
            raise UserError(
                f"没有编号为 {import_id} 的导入 / no import with id {import_id} (see `python -m analytics imports`)"
            )
        if found[0] == "undone":
            raise UserError(f"导入 #{import_id} 已撤销 / import #{import_id} was already undone")
        removed = 0
        with store.transaction(con):
            for table in IMPORTED_TABLES:
                if table == "quarterly":  # a view: its rows are removed from the tables behind it
                    removed += quarterly_store.delete_import(con, import_id)
                    continue
                removed += (
                    con.execute(f"DELETE FROM {quote_ident(table)} WHERE import_id = ? RETURNING 1", [import_id])
                    .pl()
                    .height
                )
            con.execute("UPDATE imports SET status = 'undone' WHERE import_id = ?", [import_id])
            audit.record(con, user or audit.os_actor(), "undo", f"import #{import_id}", {"rows": removed})
        return removed
    finally:
        con.close()


# --- mapping templates -----------------------------------------------------------------------------------


def templates(db) -> dict[str, tuple[str, dict[str, str]]]:
    """Saved mapping templates by header key: {header_key: (name, {field: header})}; {} without a store."""
    path = store.db_path(db)
    if not path.exists():
        return {}
    con = store.connect(path, read_only=True)
    try:
        if not con.execute("SELECT 1 FROM information_schema.tables WHERE table_name = 'import_templates'").fetchone():
            return {}
        rows = con.execute("SELECT header_key, name, columns FROM import_templates ORDER BY created_at").fetchall()
    finally:
        con.close()
    return {key: (name, json.loads(cols)) for key, name, cols in rows}


def template_named(db, name: str) -> dict[str, str]:
    """The columns of the template called `name`; UserError listing the saved ones when there is none."""
    found = {n: cols for n, cols in templates(db).values()}
    if name not in found:
        known = "、".join(sorted(found)) or "（还没有 none yet）"
        raise UserError(f"没有名为「{name}」的映射模板；已保存：{known} / no template '{name}'; saved: {known}")
    return found[name]


def save_template(db, name: str, header_key: str, columns: dict[str, str], kind: str) -> None:
    """Save (or replace) a named mapping for files with this header."""
    con = store.connect(store.db_path(db))
    try:
        with store.transaction(con):
            con.execute("DELETE FROM import_templates WHERE name = ? OR header_key = ?", [name, header_key])
            con.execute(
                "INSERT INTO import_templates VALUES (?, ?, ?, ?, ?)",
                [name, header_key, json.dumps(columns, ensure_ascii=False), kind, datetime.now()],
            )
    finally:
        con.close()
