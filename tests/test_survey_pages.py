"""The research pages run (AppTest) on a store holding the sample survey, refuse writes, and respect scope."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest
from test_survey_ingest import read_sample_survey

from analytics import store
from analytics.dataset import Scope
from analytics.survey import survey_tables

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def survey_db(tmp_path_factory) -> Path:
    """The sample survey (import 1) and 40 people's grades in its four units (import 2)."""
    path = tmp_path_factory.mktemp("pages") / "store.duckdb"
    tables = survey_tables(read_sample_survey(ROOT / "tests/samples/平时考核问卷_2024.xlsx"))
    units = sorted(tables["survey_respondents"]["unit"].unique().to_list())
    quarterly = pl.DataFrame(
        {
            "person_id": [f"p{i}" for i in range(40)],
            "name": [f"干部{i}" for i in range(40)],
            "unit": [units[i % 4] for i in range(40)],
            "year": [2024] * 40,
            "quarter": [1] * 40,
            "grade": ["好" if i % 3 == 0 else "较好" for i in range(40)],
            "import_id": [2] * 40,
        }
    )
    con = store.connect(path)
    try:
        for name, frame in tables.items():
            store.insert_frame(con, name, frame.with_columns(pl.lit(1, dtype=pl.Int32).alias("import_id")))
        store.insert_frame(con, "quarterly", quarterly)
    finally:
        con.close()
    return path


def page(name: str, db: Path, monkeypatch, scope: Scope | None = None) -> AppTest:
    monkeypatch.setenv("KAOHE_DB", str(db))
    at = AppTest.from_file(str(ROOT / "pages" / name), default_timeout=60)
    if scope is not None:
        at.session_state["scope"] = scope
    return at.run()


def test_survey_page_renders_every_tab(survey_db, monkeypatch):
    at = page("research_survey.py", survey_db, monkeypatch)
    assert not at.exception
    assert len(at.tabs) == 6
    assert any("V 系数" in m.label for m in at.metric)  # the cross-tab's association, in Chinese
    assert any("轮流坐庄" in m.value for m in at.markdown)


def test_sql_page_runs_a_query_and_refuses_a_write(survey_db, monkeypatch):
    at = page("research_sql.py", survey_db, monkeypatch)
    at.text_area[0].set_value("SELECT unit, count(*) AS n FROM quarterly GROUP BY unit ORDER BY unit")
    at.button[0].click().run()
    assert not at.exception and not at.error
    assert at.dataframe[0].value.shape == (4, 2)
    at.text_area[0].set_value("DELETE FROM quarterly").run()
    at.button[0].click().run()
    assert "DELETE" in at.error[0].value


def test_sql_page_shows_a_head_only_their_unit(survey_db, monkeypatch):
    at = page("research_sql.py", survey_db, monkeypatch, scope=Scope(units=frozenset({"常山县财政局"})))
    at.text_area[0].set_value("SELECT DISTINCT unit FROM survey_respondents UNION SELECT DISTINCT unit FROM quarterly")
    at.button[0].click().run()
    assert list(at.dataframe[0].value["unit"]) == ["常山县财政局"]
