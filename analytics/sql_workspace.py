"""Read-only SQL for researchers over the documented tables, within the user's scope.

How it stays read-only and inside the scope (defence in depth):
1. Statement checks: exactly one statement, of type SELECT (WITH, FROM-first, VALUES, SUMMARIZE,
   DESCRIBE included), with no COPY/ATTACH/INSTALL/LOAD/PRAGMA/SET/... keyword, no file-reading
   table function (read_csv, read_parquet, glob, query, ...) and no file path as a table.
2. The store file is opened only by a separate `read_only=True` connection, which copies the rows the
   scope allows (units filtered with bound parameters; person columns pseudonymised for researchers)
   into Arrow and is closed again. `users` and `audit_log` are never copied.
3. The query itself runs in a fresh in-memory DuckDB that holds nothing but those tables, with
   `enable_external_access=false` (no files, no network, no extensions) and the configuration locked,
   so even a statement that slipped past the checks can neither read a file nor reach the store.
4. A row limit (LIMIT wrapped around the query), a size limit in bytes (the result is fetched in
   Arrow batches and stops once their nbytes pass the cap) and a time limit (a timer thread
   interrupts the connection).
5. Researchers (scope.pseudonymise) see k-anonymous tables (analytics.k_anonymity: quasi-identifiers
   generalised or rows suppressed until each combination holds >= privacy.k_min people; free-text
   survey answers apart in survey_comments), and their queries are rewritten so that every
   aggregated row counts >= k people (analytics.small_cells).
Every column comes back as a type the page and the exports can show: numbers, text, booleans,
dates and timestamps as they are; DECIMAL as DOUBLE; INTERVAL, STRUCT, LIST, MAP, UNION, BLOB,
UUID and any other type as text.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa

from analytics import k_anonymity, small_cells, store
from analytics.dataset import EVERYTHING, Scope
from analytics.errors import UserError
from analytics.privacy import pseudonym_key, pseudonymise_people, researcher_view
from analytics.schema import BY_NAME
from analytics.settings import Privacy, load_settings
from analytics.store import db_path, quote_ident

DEFAULT_ROW_LIMIT = 10_000
DEFAULT_TIMEOUT_S = 10.0
MAX_ROW_LIMIT = 1_000_000
DEFAULT_MAX_BYTES = 100 * 1024 * 1024  # what one result may weigh in the server (Arrow bytes)
_BATCH_ROWS = 4_096
# Result types shown as they are; DECIMAL becomes DOUBLE and everything else text.
_SHOWN_AS_IS = frozenset(
    ("BOOLEAN", "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT",
     "FLOAT", "DOUBLE", "VARCHAR", "DATE", "TIMESTAMP", "TIMESTAMP WITH TIME ZONE")
)  # fmt: skip

# Tables a query may see. users/audit_log hold credentials and who-did-what: never exposed.
QUERYABLE = (
    "quarterly", "annual", "outcomes", "survey_items", "survey_respondents", "survey_answers", "demo_truth",
    "imports", "rejected_rows",
)  # fmt: skip
# Tables without a unit column that can still reveal other units (file names, raw refused rows):
# shown only to users who see every unit and names as written.
UNSCOPED_ONLY = ("imports", "rejected_rows")

FORBIDDEN_KEYWORDS = frozenset(
    (
        "copy", "attach", "detach", "install", "load", "pragma", "set", "reset", "call", "export", "import",
        "create", "insert", "update", "delete", "drop", "alter", "checkpoint", "vacuum", "use", "begin", "commit",
        "rollback", "transaction", "truncate", "grant", "revoke", "prepare", "execute", "deallocate", "merge",
        "upsert",
    )
)  # fmt: skip
# Table functions that read files or run SQL text, plus functions that reveal the environment.
FORBIDDEN_FUNCTIONS = frozenset(
    (
        "read_csv", "read_csv_auto", "read_parquet", "parquet_scan", "parquet_metadata", "parquet_schema",
        "parquet_file_metadata", "parquet_kv_metadata", "read_json", "read_json_auto", "read_json_objects",
        "read_json_objects_auto", "read_ndjson", "read_ndjson_auto", "read_ndjson_objects", "read_text",
        "read_blob", "glob", "sniff_csv", "query", "query_table", "iceberg_scan", "delta_scan", "read_xlsx",
        "st_read", "sqlite_scan", "sqlite_attach", "postgres_scan", "postgres_attach", "mysql_scan", "getenv",
        "duckdb_secrets", "which_secret", "load_aws_credentials",
    )
)  # fmt: skip


class SqlRefused(UserError):
    """A statement the workspace does not run (writes, file access, several statements...)."""


class QueryTimeout(UserError):
    """The query ran past the time limit and was interrupted."""


@dataclass(frozen=True)
class QueryResult:
    frame: pl.DataFrame
    truncated: bool  # more rows than the limit existed, or the size cap was reached
    elapsed_s: float
    row_limit: int
    byte_limit_hit: bool = False  # cut at max_bytes (then `truncated` too)
    max_bytes: int = DEFAULT_MAX_BYTES
    small_groups_guarded: bool = False  # aggregated rows counting fewer than k people were left out


# ---------------------------------------------------------------- statement checks


def _tokens(sql: str) -> list[tuple[str, str]]:
    """(lower-cased text without quotes, token type name) for each token DuckDB's tokenizer sees."""
    raw = duckdb.tokenize(sql)
    out = []
    for i, (start, kind) in enumerate(raw):
        end = raw[i + 1][0] if i + 1 < len(raw) else len(sql)
        text = sql[start:end].strip()
        if kind != duckdb.token_type.string_const:
            text = text.strip('"').lower()
        out.append((text, kind.name))
    return out


def check_sql(sql: str) -> str:
    """The single SELECT statement in `sql`, or SqlRefused saying why it is not run."""
    if not sql or not sql.strip():
        raise SqlRefused("请输入一条 SELECT 查询 / enter one SELECT query")
    parser = duckdb.connect(":memory:", config={"enable_external_access": False})
    try:
        statements = parser.extract_statements(sql)
    except duckdb.Error as exc:
        raise SqlRefused(f"SQL 语法错误 / syntax error: {exc}") from None
    finally:
        parser.close()
    if len(statements) != 1:
        raise SqlRefused(
            f"只能运行一条语句，收到 {len(statements)} 条 / only one statement at a time, got {len(statements)}"
        )
    if statements[0].type != duckdb.StatementType.SELECT:
        raise SqlRefused(
            f"只读：不允许 {statements[0].type.name} / read-only: {statements[0].type.name} is not allowed"
        )
    tokens = _tokens(sql)
    for i, (text, kind) in enumerate(tokens):
        if kind == "keyword" and text in FORBIDDEN_KEYWORDS:
            raise SqlRefused(f"只读：不允许 {text.upper()} / read-only: {text.upper()} is not allowed")
        if kind in ("identifier", "keyword") and text in FORBIDDEN_FUNCTIONS:
            raise SqlRefused(f"不允许读取文件的函数 {text} / file-reading function {text} is not allowed")
        previous = tokens[i - 1][0] if i else ""
        in_from = previous in ("from", "join") or (previous == "," and _inside_from(tokens, i))
        if kind == "string_const" and in_from:
            raise SqlRefused("不允许以文件路径作为表 / file paths cannot be queried as tables")
    return statements[0].query.strip()


def _inside_from(tokens: list[tuple[str, str]], i: int) -> bool:
    """Whether token i sits in a FROM list (the last clause keyword before it is FROM or JOIN)."""
    clauses = {"select", "from", "join", "where", "group", "having", "order", "limit", "on", "using", "qualify"}
    for text, kind in reversed(tokens[:i]):
        if kind == "keyword" and text in clauses:
            return text in ("from", "join")
    return False


# ---------------------------------------------------------------- the scoped snapshot


def _scoped_select(table: str, scope: Scope) -> tuple[str, list]:
    """SQL (with bound parameters) for the rows of `table` the scope may see."""
    name = quote_ident(table)
    if scope.units is None:
        return f"SELECT * FROM {name}", []
    if table == "survey_answers":
        cond, params = scope.where("unit")
        return (
            f"SELECT a.* FROM {name} a SEMI JOIN (SELECT import_id, respondent_id FROM survey_respondents "
            f"WHERE {cond}) r ON a.import_id IS NOT DISTINCT FROM r.import_id AND a.respondent_id = r.respondent_id",
            params,
        )
    if table == "survey_items":
        return f"SELECT * FROM {name}", []
    cond, params = scope.where("unit")
    return f"SELECT * FROM {name} WHERE {cond}", params


def _visible_tables(scope: Scope) -> tuple[str, ...]:
    restricted = scope.units is not None or scope.pseudonymise
    return tuple(t for t in QUERYABLE if not (restricted and t in UNSCOPED_ONLY))


def _researcher_tables(tables: dict[str, pl.DataFrame], privacy: Privacy) -> dict[str, pl.DataFrame]:
    """Pseudonymised tables made k-anonymous, free text moved to survey_comments (analytics.k_anonymity)."""
    k = privacy.k_min
    out = k_anonymity.person_tables(tables, k, privacy.person_quasi_identifiers)
    out["outcomes"] = k_anonymity.k_anonymise(out["outcomes"], ["person_id"], ["unit"], k)
    out["survey_respondents"] = k_anonymity.respondents(out["survey_respondents"], k)
    out["survey_answers"], out[COMMENTS] = k_anonymity.split_free_text(out["survey_answers"], out["survey_items"])
    return out


def _pseudonymised(table: str, frame: pl.DataFrame, key: str) -> pl.DataFrame:
    frame = researcher_view(frame, key)
    if table == "demo_truth":
        # Person and reviewer subjects are people too.
        people = frame.filter(pl.col("subject_type").is_in(["person", "reviewer"]))
        rest = frame.filter(~pl.col("subject_type").is_in(["person", "reviewer"]))
        frame = pl.concat(
            [rest, pseudonymise_people(people.rename({"subject": "name"}), key).rename({"name": "subject"})]
        )
    return frame


@lru_cache(maxsize=4)
def _snapshot(path: str, stamp: tuple[int, int, int], scope: Scope, privacy: Privacy) -> dict[str, pa.Table]:
    """The tables a scope may see, read once per store version (mtime, size, wal mtime), scope and privacy."""
    del stamp  # part of the cache key only
    con = store.connect(path, read_only=True)
    try:
        present = {
            r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
        }  # views too
        frames = {}
        for table in _visible_tables(scope):
            if table not in present:
                frames[table] = BY_NAME[table].empty()
                continue
            query, params = _scoped_select(table, scope)
            frame = con.execute(query, params).pl()
            if scope.pseudonymise:
                frame = _pseudonymised(table, frame, pseudonym_key(path))
            frames[table] = frame
    finally:
        con.close()
    if scope.pseudonymise:
        frames = _researcher_tables(frames, privacy)
    return {name: frame.to_arrow() for name, frame in frames.items()}


def snapshot(
    db: str | os.PathLike | None, scope: Scope = EVERYTHING, privacy: Privacy | None = None
) -> dict[str, pa.Table]:
    """Arrow copies of the queryable tables within scope (cached until the store file changes)."""
    path = db_path(db)
    if not Path(path).exists():
        raise UserError(f"没有找到数据库 / no store at {path}")
    stat = Path(path).stat()
    wal = Path(str(path) + ".wal")
    # Writes land in the .wal file first: its change must refresh the snapshot too.
    stamp = (stat.st_mtime_ns, stat.st_size, wal.stat().st_mtime_ns if wal.exists() else 0)
    privacy = (privacy or load_settings().privacy) if scope.pseudonymise else Privacy()
    return _snapshot(str(Path(path).resolve()), stamp, scope, privacy)


def _sandbox(tables: dict[str, pa.Table | pl.DataFrame]) -> duckdb.DuckDBPyConnection:
    """An in-memory connection holding only `tables`, unable to touch files, configuration locked."""
    con = duckdb.connect(":memory:", config={"enable_external_access": False, "threads": 2, "memory_limit": "2GB"})
    for name, table in tables.items():
        con.register(name, table.to_arrow() if isinstance(table, pl.DataFrame) else table)
    con.execute("SET lock_configuration = true")
    return con


# ---------------------------------------------------------------- running


def execute(
    db: str | os.PathLike | None,
    sql: str,
    row_limit: int = DEFAULT_ROW_LIMIT,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    scope: Scope | None = None,
    extra_tables: dict[str, pl.DataFrame] | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    privacy: Privacy | None = None,
) -> QueryResult:
    """Run one read-only query; the result with whether it was cut at the row or byte limit.

    `extra_tables` (e.g. {'flags': run_detectors(...)} computed within the same scope) are exposed
    next to the stored tables; they must not use a documented table's name. `privacy`: k and the
    quasi-identifiers for researchers (default: settings.privacy).
    """
    scope = scope or EVERYTHING
    query = check_sql(sql)
    privacy = privacy or load_settings().privacy
    if scope.pseudonymise:
        query = small_cells.guard(query, privacy.k_min)
    row_limit = max(1, min(int(row_limit), MAX_ROW_LIMIT))
    tables: dict[str, pa.Table | pl.DataFrame] = dict(snapshot(db, scope, privacy))
    for name, frame in (extra_tables or {}).items():
        if name in QUERYABLE or name == COMMENTS:  # (the store's own `flags` table is not queryable here)
            raise ValueError(f"extra table {name!r} would hide the documented table of that name")
        tables[name] = frame
    con = _sandbox(tables)
    timer = threading.Timer(timeout_s, con.interrupt)
    started = time.perf_counter()
    timer.start()
    try:
        wrapped = f"SELECT * FROM (\n{query}\n) AS _q"  # duplicate column names become a, a_1
        columns = con.execute(f"DESCRIBE {wrapped}").fetchall()
        shown = ", ".join(_rendered(name, kind) for name, kind, *_ in columns)
        reader = con.execute(f"SELECT {shown} FROM ({wrapped}) AS _r LIMIT {row_limit + 1}").to_arrow_reader(
            _BATCH_ROWS
        )
        batches, size, byte_cut = [], 0, False
        for batch in reader:
            if size + batch.nbytes > max_bytes:
                # Keep the rows of this batch that still fit (rows weigh about the same), then stop reading.
                fit = (max_bytes - size) * batch.num_rows // max(batch.nbytes, 1)
                batches.append(batch.slice(0, fit))
                byte_cut = True
                break
            batches.append(batch)
            size += batch.nbytes
        frame = pl.from_arrow(pa.Table.from_batches(batches, schema=reader.schema))
    except duckdb.InterruptException:
        raise QueryTimeout(f"查询超过 {timeout_s:g} 秒，已中止 / query stopped after {timeout_s:g} s") from None
    except duckdb.Error as exc:
        if time.perf_counter() - started >= timeout_s:
            raise QueryTimeout(f"查询超过 {timeout_s:g} 秒，已中止 / query stopped after {timeout_s:g} s") from None
        raise UserError(f"查询出错 / query failed: {exc}") from None
    finally:
        timer.cancel()
        con.close()
    elapsed = time.perf_counter() - started
    return QueryResult(
        frame.head(row_limit), frame.height > row_limit or byte_cut, elapsed, row_limit,
        byte_limit_hit=byte_cut, max_bytes=max_bytes, small_groups_guarded=scope.pseudonymise,
    )  # fmt: skip


def _rendered(name: str, kind: str) -> str:
    """One result column as a type every page and export can show (see the module's docstring)."""
    column = quote_ident(name)
    if kind in _SHOWN_AS_IS:
        return column
    if kind.startswith("DECIMAL"):
        return f"CAST({column} AS DOUBLE) AS {column}"
    return f"CAST({column} AS VARCHAR) AS {column}"


def run_query(
    db: str | os.PathLike | None,
    sql: str,
    row_limit: int = DEFAULT_ROW_LIMIT,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    scope: Scope | None = None,
    extra_tables: dict[str, pl.DataFrame] | None = None,
) -> pl.DataFrame:
    """The rows of one read-only query (at most row_limit) as a Polars frame; see `execute`."""
    return execute(db, sql, row_limit, timeout_s, scope, extra_tables).frame


# ---------------------------------------------------------------- documentation and examples


COMMENTS = "survey_comments"  # researchers only: free-text answers with nothing that names their author
COMMENTS_DOCS = [
    ("import_id", "INTEGER", "the survey's import"),
    ("item_id", "VARCHAR", "survey_items.item_id of an open (text) question"),
    ("answer", "VARCHAR", "the answer as written; no respondent id, sorted by text (研究人员视图 researcher view)"),
]


def table_docs(scope: Scope | None = None) -> dict[str, list[tuple[str, str, str]]]:
    """{table: [(column, type, meaning)]} for the tables a query in this scope can see."""
    scope = scope or EVERYTHING
    docs = {t: list(BY_NAME[t].columns) for t in _visible_tables(scope)}
    if scope.pseudonymise:
        docs[COMMENTS] = COMMENTS_DOCS
    return docs


TABLE_DOCS: dict[str, list[tuple[str, str, str]]] = table_docs()


@dataclass(frozen=True)
class ExampleQuery:
    title_zh: str
    title_en: str
    sql: str


EXAMPLE_QUERIES: tuple[ExampleQuery, ...] = (
    ExampleQuery(
        "各单位各季度“好”等次占比",
        "Share of 好 by unit and quarter",
        """SELECT unit, year, quarter,
       count(*) AS graded,
       round(avg(CASE WHEN grade = '好' THEN 1 ELSE 0 END), 3) AS share_good
FROM quarterly
WHERE grade <> '不确定等次'
GROUP BY unit, year, quarter
HAVING count(*) >= 5
ORDER BY unit, year, quarter""",
    ),
    ExampleQuery(
        "问卷：各单位认为考核不客观的比例与“好”等次占比",
        "Survey: share distrusting reviews by unit, with the unit's share of 好",
        """WITH trust_items AS (
  SELECT import_id, item_id, scale FROM survey_items
  WHERE item_type IN ('likert', 'numeric_scale') AND regexp_matches(item_text, '客观|公正|公平|准确|可信|信任')
), trust AS (
  SELECT r.unit,
         count(DISTINCT r.respondent_id) AS respondents,
         avg(a.value) AS trust_mean,
         avg(CASE WHEN a.value < (json_array_length(t.scale) + 1) / 2.0 THEN 1 ELSE 0 END) AS distrust_share
  FROM survey_answers a
  JOIN trust_items t ON a.item_id = t.item_id AND a.import_id IS NOT DISTINCT FROM t.import_id
  JOIN survey_respondents r ON a.respondent_id = r.respondent_id AND a.import_id IS NOT DISTINCT FROM r.import_id
  GROUP BY r.unit
), grades AS (
  SELECT unit, avg(CASE WHEN grade = '好' THEN 1 ELSE 0 END) AS share_good
  FROM quarterly WHERE grade <> '不确定等次' GROUP BY unit
)
SELECT t.unit, t.respondents, round(t.trust_mean, 3) AS trust_mean,
       round(t.distrust_share, 3) AS distrust_share, round(g.share_good, 3) AS share_good
FROM trust t JOIN grades g USING (unit)
WHERE t.respondents >= 5
ORDER BY distrust_share DESC""",
    ),
    ExampleQuery(
        "问卷：各题答案分布",
        "Survey: answer distribution per item",
        """SELECT i.item_id, i.item_text, a.answer, count(*) AS n,
       round(count(*) / sum(count(*)) OVER (PARTITION BY i.import_id, i.item_id), 3) AS share
FROM survey_answers a
JOIN survey_items i ON a.item_id = i.item_id AND a.import_id IS NOT DISTINCT FROM i.import_id
WHERE i.item_type IN ('likert', 'numeric_scale', 'single_choice', 'multiple_choice')
GROUP BY i.import_id, i.item_id, i.item_text, a.answer, a.value
ORDER BY i.item_id, a.value NULLS LAST, n DESC""",
    ),
    ExampleQuery(
        "年度优秀人员的季度“好”次数",
        "Quarterly 好 count of people rated annual 优秀",
        """SELECT a.year, q.good_count, count(*) AS people
FROM annual a
JOIN (SELECT person_id, year, count(*) FILTER (WHERE grade = '好') AS good_count
      FROM quarterly GROUP BY person_id, year) q USING (person_id, year)
WHERE a.annual_grade = '优秀'
GROUP BY a.year, q.good_count
ORDER BY a.year, q.good_count""",
    ),
)
