"""Small cells in researchers' SQL: every aggregated row must count at least k people.

The rule (applied to researchers' queries only, after the statement checks):
every SELECT that aggregates (GROUP BY, GROUP BY ALL, or an aggregate function such as count,
avg, sum, in its select list or HAVING), at any depth (CTEs, subqueries, each side of a UNION),
gets one more HAVING condition: `count(DISTINCT <person>) >= k`, where <person> is the person key
of the first table in its FROM that names people (person_id in quarterly/annual/outcomes;
import_id + respondent_id in the survey tables). When that FROM is a subquery, a CTE or
survey_comments (one answer per row), rows are counted instead: count(*) >= k.
A group with fewer than k people therefore never appears, whatever the select list shows. An
aggregate over a single person (`WHERE person_id = …`) returns no row.

Rows that do not aggregate are the k-anonymous tables' rows themselves (analytics.k_anonymity).
The rewrite works on DuckDB's own parse tree (json_serialize_sql / json_deserialize_sql), so it
follows the query exactly as DuckDB reads it; a query it cannot rewrite is refused, never run unguarded.
"""

from __future__ import annotations

import json
from functools import cache

import duckdb

from analytics.errors import UserError

# Table -> the columns naming one person in it.
PERSON_KEYS = {
    "quarterly": ("person_id",),
    "annual": ("person_id",),
    "outcomes": ("person_id",),
    "survey_respondents": ("import_id", "respondent_id"),
    "survey_answers": ("import_id", "respondent_id"),
}
ROW_TABLES = ("survey_comments",)  # one person's answer per row, no person key
NO_PEOPLE = ("survey_items", "demo_truth")  # rows that are not people


def guard(sql: str, k: int) -> str:
    """`sql` with every aggregating SELECT limited to groups of >= k people (see the module's rule)."""
    con = duckdb.connect(":memory:", config={"enable_external_access": False})
    try:
        tree = json.loads(con.execute("SELECT json_serialize_sql(?::VARCHAR)", [sql]).fetchone()[0])
        if tree.get("error"):
            raise UserError(f"SQL 语法错误 / syntax error: {tree.get('error_message', '')}")
        aggregates = _aggregate_names()
        statement = tree["statements"][0]
        ctes = set()
        _walk(statement, k, aggregates, ctes)
        rewritten = con.execute("SELECT json_deserialize_sql(?::JSON)", [json.dumps(tree)]).fetchone()[0]
    except duckdb.Error as exc:
        raise UserError(f"无法为小群体保护改写此查询 / this query cannot be checked for small groups: {exc}") from None
    finally:
        con.close()
    return rewritten


@cache
def _aggregate_names() -> frozenset[str]:
    con = duckdb.connect(":memory:")
    try:
        rows = con.execute("SELECT DISTINCT function_name FROM duckdb_functions() WHERE function_type = 'aggregate'")
        return frozenset(r[0].lower() for r in rows.fetchall()) | {"count_star"}
    finally:
        con.close()


def _walk(node, k: int, aggregates: frozenset[str], ctes: set[str]) -> None:
    """Visit every dict of the tree; guard each aggregating SELECT node (children first)."""
    if isinstance(node, list):
        for item in node:
            _walk(item, k, aggregates, ctes)
        return
    if not isinstance(node, dict):
        return
    cte_map = node.get("cte_map")
    if isinstance(cte_map, dict):
        ctes.update(
            entry["key"].lower() for entry in cte_map.get("map", []) if isinstance(entry, dict) and "key" in entry
        )
    for value in node.values():
        _walk(value, k, aggregates, ctes)
    if node.get("type") == "SELECT_NODE" and _aggregates(node, aggregates):
        condition = _people_condition(node.get("from_table"), k, ctes)
        if condition is not None:
            having = node.get("having")
            node["having"] = condition if having is None else _and(having, condition)


def _aggregates(node: dict, aggregates: frozenset[str]) -> bool:
    if node.get("group_expressions") or node.get("group_sets"):
        return True
    if node.get("aggregate_handling") not in (None, "STANDARD_HANDLING"):
        return True
    return _has_aggregate(node.get("select_list"), aggregates) or _has_aggregate(node.get("having"), aggregates)


def _has_aggregate(expr, aggregates: frozenset[str]) -> bool:
    """An aggregate function call in an expression, not counting subqueries (they are guarded themselves)."""
    if isinstance(expr, list):
        return any(_has_aggregate(e, aggregates) for e in expr)
    if not isinstance(expr, dict):
        return False
    if expr.get("class") == "SUBQUERY" or expr.get("class") == "WINDOW":
        return False
    if expr.get("class") == "FUNCTION" and str(expr.get("function_name", "")).lower() in aggregates:
        return True
    return any(_has_aggregate(v, aggregates) for v in expr.values() if isinstance(v, (dict, list)))


def _first_table(source) -> dict | None:
    """The leftmost table reference in a FROM tree."""
    if not isinstance(source, dict):
        return None
    if source.get("type") == "JOIN":
        return _first_table(source.get("left")) or _first_table(source.get("right"))
    return source


def _people_condition(source, k: int, ctes: set[str]) -> dict | None:
    table = _first_table(source)
    if table is None or table.get("type") == "EMPTY":
        return _parse_having("count(*)", k)  # SELECT count(*) with no FROM: harmless, but keep the rule simple
    name = str(table.get("table_name", "")).lower() if table.get("type") == "BASE_TABLE" else ""
    if name in NO_PEOPLE and name not in ctes:
        return None
    if name in PERSON_KEYS and name not in ctes:
        qualifier = table.get("alias") or table.get("table_name")
        cols = [f'"{qualifier}"."{c}"' for c in PERSON_KEYS[name]]
        key = cols[0] if len(cols) == 1 else "(" + ", ".join(cols) + ")"
        return _parse_having(f"count(DISTINCT {key})", k)
    return _parse_having("count(*)", k)


@cache
def _having_cached(measure: str, k: int) -> str:
    con = duckdb.connect(":memory:")
    try:
        tree = json.loads(
            con.execute("SELECT json_serialize_sql(?)", [f"SELECT 1 HAVING {measure} >= {int(k)}"]).fetchone()[0]
        )
    finally:
        con.close()
    return json.dumps(tree["statements"][0]["node"]["having"])


def _parse_having(measure: str, k: int) -> dict:
    return json.loads(_having_cached(measure, k))


def _and(left: dict, right: dict) -> dict:
    return {
        "class": "CONJUNCTION",
        "type": "CONJUNCTION_AND",
        "alias": "",
        "query_location": 0,
        "children": [left, right],
    }
