"""The demo written as real-looking exports goes through the importer and comes out as it went in."""

from __future__ import annotations

from pathlib import Path

import duckdb
import fastexcel
import polars as pl
import pytest

from analytics.demo import write_exports
from analytics.importer import import_paths

PERSON = ["person_id", "name", "unit", "unit_type", "section", "position_level", "rank", "staff_type"]


@pytest.fixture(scope="module")
def exports(demo_db: Path, tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("exports")
    return {p.name: p for p in write_exports(demo_db, out, max_rows_per_workbook=15_000)}


def imported(path: Path, tmp: Path, table: str) -> pl.DataFrame:
    db = tmp / (path.stem + ".duckdb")
    [result] = import_paths(db, [path])
    assert result.status == "imported", result.report("en")
    with duckdb.connect(str(db), read_only=True) as con:
        return con.sql(f"SELECT * FROM {table}").pl()


def original(demo_db: Path, sql: str) -> pl.DataFrame:
    with duckdb.connect(str(demo_db), read_only=True) as con:
        return con.sql(sql).pl()


def sub(key: str, dtype=pl.Float64) -> pl.Expr:
    """One field of the `extra` JSON."""
    return pl.col("extra").str.json_path_match(f"$.{key}").cast(dtype, strict=False).alias(key)


QUARTERLY_SQL = "SELECT * FROM quarterly"


def same(a: pl.DataFrame, b: pl.DataFrame, key: list[str]) -> None:
    assert a.height == b.height
    assert a.sort(key).select(sorted(a.columns)).equals(b.sort(key).select(sorted(a.columns)))


def test_files_written(exports):
    names = set(exports)
    assert {
        "平时考核_宽表_GB18030.csv",
        "平时考核_长表_UTF8.csv",
        "年度考核.csv",
        "结果运用.xlsx",
        "平时考核问卷.xlsx",
    } <= names
    assert sum(n.startswith("平时考核_长表_") and n.endswith(".xlsx") for n in names) == 2  # ~23k rows, 15k per book
    raw = exports["平时考核_宽表_GB18030.csv"].read_bytes()
    assert b"\r\n" in raw and raw.decode("gb18030").startswith("人员编号")
    assert exports["年度考核.csv"].read_bytes().startswith(b"\xef\xbb\xbf")


def test_long_xlsx_has_title_blank_row_and_footer(exports):
    book = sorted(p for n, p in exports.items() if n.endswith(".xlsx") and n.startswith("平时考核_长表"))[0]
    rows = fastexcel.read_excel(book).load_sheet(0, header_row=None).to_polars().rows()
    assert rows[0][0].endswith("年度公务员平时考核结果汇总表") and "—" in rows[0][0]
    assert all(v is None for v in rows[1])
    assert rows[2][:3] == ("序号", "人员编号", "姓名")
    assert rows[-1][0].startswith("填表人：") and any(v and v.startswith("制表日期") for v in rows[-1])


@pytest.mark.parametrize("name", ["平时考核_长表_xlsx", "平时考核_长表_UTF8.csv"])
def test_quarterly_long_round_trip(name, exports, demo_db, tmp_path):
    paths = (
        sorted(p for n, p in exports.items() if n.startswith("平时考核_长表") and n.endswith(".xlsx"))
        if name.endswith("xlsx")
        else [exports[name]]
    )
    back = pl.concat([imported(p, tmp_path, "quarterly") for p in paths])
    cols = [*PERSON, "year", "quarter", "grade", "score", "reviewer"]
    ours = original(demo_db, QUARTERLY_SQL)
    a = ours.select(*cols, sub("工作实绩"), sub("工作作风"), sub("特殊群体", pl.Utf8))
    b = back.select(*cols, sub("工作实绩"), sub("工作作风"), sub("特殊群体", pl.Utf8))
    same(a, b, ["person_id", "year", "quarter"])


def test_quarterly_wide_gb18030_round_trip(exports, demo_db, tmp_path):
    back = imported(exports["平时考核_宽表_GB18030.csv"], tmp_path, "quarterly")
    ours = original(demo_db, QUARTERLY_SQL)
    cols = [*PERSON, "year", "quarter", "grade"]
    same(ours.select(cols), back.select(cols), ["person_id", "year", "quarter"])
    groups = back.select(sub("备注", pl.Utf8)).drop_nulls()["备注"]
    assert {"选调生", "挂职干部"} <= set(groups)


def test_annual_round_trip(exports, demo_db, tmp_path):
    back = imported(exports["年度考核.csv"], tmp_path, "annual")
    ours = original(demo_db, "SELECT * FROM annual")
    counts = [*(sub(k, pl.Int64) for k in ("好次数", "较好次数", "一般次数", "较差次数")), sub("特殊群体", pl.Utf8)]
    cols = [*PERSON, "year", "annual_grade", "score"]
    same(ours.select(*cols, *counts), back.select(*cols, *counts), ["person_id", "year"])


def test_outcomes_round_trip(exports, demo_db, tmp_path):
    back = imported(exports["结果运用.xlsx"], tmp_path, "outcomes")
    ours = original(demo_db, "SELECT * FROM outcomes")
    cols = ["person_id", "name", "unit", "date", "year", "outcome", "outcome_raw", "detail", "amount"]
    same(ours.select(cols), back.select(cols), cols[:7])


def test_survey_round_trip(exports, demo_db, tmp_path):
    imported(exports["平时考核问卷.xlsx"], tmp_path, "survey_items")
    with duckdb.connect(str(tmp_path / "平时考核问卷.duckdb"), read_only=True) as con:
        back = {
            t: con.sql(f"SELECT * EXCLUDE (import_id) FROM {t}").pl()
            for t in ("survey_items", "survey_respondents", "survey_answers")
        }
    assert back["survey_respondents"].height > 900
    for table, key in (
        ("survey_items", ["item_id"]),
        ("survey_respondents", ["respondent_id"]),
        ("survey_answers", ["respondent_id", "item_id", "answer"]),
    ):
        ours = original(demo_db, f"SELECT * EXCLUDE (import_id) FROM {table}")
        same(ours, back[table], key)
