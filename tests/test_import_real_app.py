"""The upload page on real exports: the unit asked in a field, a column chosen in the mapping step, a kind chosen."""

from __future__ import annotations

from pathlib import Path

from analytics import store
from tests.test_app import (  # noqa: F401 - autouse: app.py navigation
    _navigation_mode,
    first_admin,
    metric,
    no_exception,
    open_app,
)

REAL = Path(__file__).parent / "samples" / "real"


def stored(db: Path, sql: str) -> list[tuple]:
    con = store.connect(db, read_only=True)
    try:
        return con.sql(sql).fetchall()
    finally:
        con.close()


def upload(at, name: str):
    return at.file_uploader[0].set_value((name, (REAL / name).read_bytes(), "application/octet-stream")).run()


def test_a_file_without_unit_asks_in_a_field_then_imports(tmp_path, monkeypatch):
    db = tmp_path / "store.duckdb"
    at = upload(first_admin(open_app(db, monkeypatch, "pages/data.py")), "平时考核导出.xlsx")
    no_exception(at)
    assert any("--unit" in e.value or "单位" in e.value for e in at.error)
    assert any("文件没有写明：单位" in i.value for i in at.info)
    at.text_input(key="ctx_unit").input("综合处").run()
    no_exception(at)
    assert metric(at, "记录数") == "3" and not at.error
    at.button(key="do_import").click().run()
    no_exception(at)
    assert stored(db, "SELECT DISTINCT unit, year, quarter FROM quarterly") == [("综合处", 2024, 1)]


def test_the_mapping_step_shows_the_columns_and_previews_live(tmp_path, monkeypatch):
    db = tmp_path / "store.duckdb"
    at = upload(first_admin(open_app(db, monkeypatch, "pages/data.py")), "jeecg_考核导出.xlsx")
    no_exception(at)
    assert any("评定档次" in e.value for e in at.error)  # the preview says which column is missing
    grade = at.selectbox(key="map_0_grade")
    assert "评定档次" in grade.options
    grade.select("评定档次").run()
    no_exception(at)
    assert metric(at, "类型") == "平时考核" and metric(at, "记录数") == "2" and not at.error
    at.text_input(key="template_0").input("jeecg").run()
    at.button(key="do_import").click().run()
    no_exception(at)
    assert stored(db, "SELECT name, grade FROM quarterly ORDER BY name") == [("蔡一", "好"), ("贾二", "一般")]
    assert stored(db, "SELECT name FROM import_templates") == [("jeecg",)]


def test_a_file_of_two_kinds_is_imported_as_the_kind_chosen(tmp_path, monkeypatch):
    db = tmp_path / "store.duckdb"
    at = upload(first_admin(open_app(db, monkeypatch, "pages/data.py")), "人事系统_年度名单.csv")
    no_exception(at)
    assert any("文件类型" in w.value for w in at.warning)
    at.selectbox(key="upload_kind").select("annual").run()
    no_exception(at)
    assert metric(at, "类型") == "年度考核"
    at.button(key="do_import").click().run()
    assert stored(db, "SELECT count(*) FROM annual") == [(2,)]
