"""SQL workspace: SELECT works within limits; writes, file access and config changes are refused; scope holds."""

from __future__ import annotations

import polars as pl
import pytest

from analytics import store
from analytics.dataset import Scope
from analytics.errors import UserError
from analytics.sql_workspace import (
    EXAMPLE_QUERIES,
    TABLE_DOCS,
    QueryTimeout,
    SqlRefused,
    check_sql,
    execute,
    run_query,
)


@pytest.fixture(scope="module")
def small_db(tmp_path_factory):
    """Two units: 财政局 (3 people, one quarter) and 辉埠镇 (2 people); one survey answer each."""
    quarterly = pl.DataFrame(
        {
            "person_id": ["p1", "p2", "p3", "p4", "p5"],
            "name": ["张三", "李四", "王五", "赵六", "钱七"],
            "unit": ["财政局", "财政局", "财政局", "辉埠镇", "辉埠镇"],
            "year": [2024] * 5,
            "quarter": [1] * 5,
            "grade": ["好", "较好", "较好", "好", "一般"],
            "reviewer": ["周主任"] * 3 + ["吴镇长"] * 2,
            "import_id": [1] * 5,
        }
    )
    respondents = pl.DataFrame({"import_id": [2, 2], "respondent_id": ["1", "2"], "unit": ["财政局", "辉埠镇"]})
    answers = pl.DataFrame({"import_id": [2, 2], "respondent_id": ["1", "2"], "item_id": ["q01"] * 2,
                            "answer": ["同意", "不同意"], "value": [4.0, 2.0]})  # fmt: skip
    tmp_db = tmp_path_factory.mktemp("sql") / "store.duckdb"
    con = store.connect(tmp_db)
    try:
        store.insert_frame(con, "quarterly", quarterly)
        store.insert_frame(con, "survey_respondents", respondents)
        store.insert_frame(con, "survey_answers", answers)
        store.insert_frame(con, "users", pl.DataFrame({"user_name": ["admin"], "password_hash": ["$argon2id$secret"]}))
    finally:
        con.close()
    return tmp_db


def test_select_with_row_limit(small_db):
    result = execute(small_db, "SELECT person_id FROM quarterly ORDER BY person_id DESC", row_limit=2)
    assert result.frame["person_id"].to_list() == ["p5", "p4"]
    assert result.truncated
    whole = execute(small_db, "SELECT count(*) AS n FROM quarterly -- trailing comment", row_limit=2)
    assert whole.frame["n"].to_list() == [5] and not whole.truncated


def test_with_and_from_first_queries_run(small_db):
    frame = run_query(small_db, "WITH g AS (FROM quarterly WHERE grade = '好') SELECT unit FROM g ORDER BY unit")
    assert frame["unit"].to_list() == ["财政局", "辉埠镇"]


@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO quarterly (person_id) VALUES ('x')",
        "DELETE FROM quarterly",
        "UPDATE quarterly SET grade = '好'",
        "DROP TABLE quarterly",
        "CREATE TABLE x AS SELECT 1",
        "ALTER TABLE quarterly ADD COLUMN x INT",
        "COPY quarterly TO '/tmp/out.csv'",
        "COPY (SELECT * FROM quarterly) TO '/tmp/out.csv'",
        "ATTACH '/tmp/other.duckdb' AS other",
        "DETACH store",
        "INSTALL httpfs",
        "LOAD httpfs",
        "PRAGMA database_list",
        "SET enable_external_access = true",
        "CALL pragma_version()",
        "EXPORT DATABASE '/tmp/dump'",
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM read_csv_auto('/etc/passwd')",
        "SELECT * FROM \"read_text\"('/etc/passwd')",
        "SELECT * FROM read_parquet('/tmp/*.parquet')",
        "SELECT * FROM glob('/etc/*')",
        "SELECT * FROM '/etc/passwd'",
        "SELECT * FROM quarterly, '/etc/passwd'",
        "SELECT * FROM query('SELECT * FROM users')",
        "SELECT getenv('HOME')",
        "SELECT 1; DROP TABLE quarterly",
        "SELECT 1; SELECT 2",
        "EXPLAIN SELECT 1",
        "",
    ],
)
def test_forbidden_statements_are_refused(small_db, sql):
    with pytest.raises(SqlRefused):
        run_query(small_db, sql)
    # Nothing changed in the store.
    assert run_query(small_db, "SELECT count(*) AS n FROM quarterly")["n"][0] == 5


def test_string_literals_outside_from_are_fine():
    assert "'好'" in check_sql("SELECT unit, '好' AS g, concat('a', 'b') FROM quarterly WHERE grade IN ('好', '较好')")


def test_users_and_audit_log_are_not_visible(small_db):
    with pytest.raises(UserError, match="users"):
        run_query(small_db, "SELECT * FROM users")
    tables = run_query(
        small_db, "SELECT table_name FROM duckdb_tables() UNION ALL SELECT view_name FROM duckdb_views()"
    )
    assert "users" not in tables["table_name"].to_list()
    assert "users" not in TABLE_DOCS and "quarterly" in TABLE_DOCS


def test_sandbox_cannot_read_files_even_past_the_checks(small_db, tmp_path):
    # The checks refuse read_csv by name; the sandbox itself must refuse too (defence in depth).
    from analytics.sql_workspace import _sandbox

    target = tmp_path / "secret.csv"
    target.write_text("a\n1\n")
    con = _sandbox({})
    try:
        with pytest.raises(Exception, match="(?i)disabled|permission"):
            con.execute(f"SELECT * FROM read_csv('{target}')").fetchall()
        with pytest.raises(Exception, match="(?i)locked"):
            con.execute("SET enable_external_access = true")
    finally:
        con.close()


def test_timeout_interrupts_a_long_query(small_db):
    with pytest.raises(QueryTimeout):
        run_query(small_db, "SELECT count(*) FROM range(100000000000) a", timeout_s=0.5)


def test_a_scoped_user_sees_only_their_units(small_db):
    scope = Scope(units=frozenset({"辉埠镇"}))
    frame = run_query(small_db, "SELECT DISTINCT unit FROM quarterly", scope=scope)
    assert frame["unit"].to_list() == ["辉埠镇"]
    answers = run_query(small_db, "SELECT respondent_id FROM survey_answers", scope=scope)
    assert answers["respondent_id"].to_list() == ["2"]
    with pytest.raises(UserError):
        run_query(small_db, "SELECT * FROM imports", scope=scope)


def test_researcher_sees_pseudonyms_that_still_join(small_db):
    scope = Scope(pseudonymise=True)
    frame = run_query(small_db, "SELECT person_id, name, reviewer FROM quarterly ORDER BY unit", scope=scope)
    assert not set(frame["name"]) & {"张三", "李四", "王五", "赵六", "钱七"}
    assert frame["person_id"].str.starts_with("P-").all()
    assert frame["reviewer"].n_unique() == 2


def test_extra_tables_are_queryable(small_db):
    flags = pl.DataFrame({"unit": ["财政局"], "kind": ["rotation"]})
    frame = run_query(small_db, "SELECT q.unit, count(*) AS n FROM quarterly q SEMI JOIN flags USING (unit) GROUP BY 1",
                      extra_tables={"flags": flags})  # fmt: skip
    assert frame.rows() == [("财政局", 3)]


@pytest.mark.parametrize("example", EXAMPLE_QUERIES, ids=lambda e: e.title_en)
def test_example_queries_run(small_db, example):
    result = execute(small_db, example.sql)
    assert result.frame.width >= 2


@pytest.mark.parametrize("example", EXAMPLE_QUERIES, ids=lambda e: e.title_en)
def test_example_queries_run_for_researchers_with_the_small_group_guard(small_db, example):
    result = execute(small_db, example.sql, scope=Scope(pseudonymise=True))
    assert result.frame.width >= 2 and result.small_groups_guarded


def test_every_duckdb_type_comes_back_showable(small_db):
    """The attack: INTERVAL or STRUCT results crashed the page (and so skipped the audit)."""
    sql = """SELECT INTERVAL 3 DAY AS i, {'x': 1, 'y': 'a'} AS s, [1, 2] AS l, MAP {'k': 1} AS m,
                    union_value(n := 3)::UNION(n INTEGER, t VARCHAR) AS u, 'ab'::BLOB AS b, 12.50::DECIMAL(10, 2) AS d,
                    TIME '10:30:00' AS t, 170141183460469231731687303715884105727::HUGEINT AS h,
                    '00000000-0000-0000-0000-000000000001'::UUID AS uu, 'x'::ENUM_TEST AS e, 1 AS a, 2 AS a"""
    sql = sql.replace("'x'::ENUM_TEST AS e", "'好' AS e")
    frame = execute(small_db, sql).frame
    assert frame.row(0) == ("3 days", "{'x': 1, 'y': a}", "[1, 2]", "{k=1}", "3", "ab", 12.5, "10:30:00",
                            "170141183460469231731687303715884105727", "00000000-0000-0000-0000-000000000001", "好", 1, 2)  # fmt: skip
    assert frame.columns[-2:] == ["a", "a_1"]  # duplicate names made unique, not a crash
    assert all(t in (pl.Utf8, pl.Float64, pl.Int32) for t in frame.dtypes)


def test_a_result_over_the_byte_cap_is_cut_not_materialised(small_db):
    """The attack: a 2 GB frame built in the server in 2 s (no cap beyond rows)."""
    sql = "SELECT i, repeat('x', 1000) AS pad FROM range(200000) t(i)"
    result = execute(small_db, sql, row_limit=1_000_000, max_bytes=2 * 1024 * 1024)
    assert result.byte_limit_hit and result.truncated
    assert 0 < result.frame.height < 200_000
    assert result.frame.estimated_size() <= 3 * 1024 * 1024
    small = execute(small_db, "SELECT 1 AS x", max_bytes=2 * 1024 * 1024)
    assert not small.byte_limit_hit and not small.truncated


def test_formula_column_alias_never_reaches_the_download_header(small_db):
    from analytics import export

    frame = execute(small_db, """SELECT 1 AS "=HYPERLINK(""http://evil"",""x"")", '=1+1' AS "+cmd" """).frame
    csv = export.to_bytes(frame, "csv").decode("utf-8-sig")
    header, row = csv.splitlines()[:2]
    assert not any(cell.lstrip('"').startswith(("=", "+", "-", "@")) for cell in header.split(","))
    assert "'=HYPERLINK" in header and "'+cmd" in header and row.endswith("'=1+1")
    import io

    import openpyxl

    book = openpyxl.load_workbook(io.BytesIO(export.to_bytes(frame, "xlsx")))
    cells = [c.value for c in next(book.active.iter_rows())]
    assert all(not str(v).startswith(("=", "+")) for v in cells)
