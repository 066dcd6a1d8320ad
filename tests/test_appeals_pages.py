"""AppTest for the Appeals and What-if pages on the demo city: they render, say what they must, and audit."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_app import _navigation_mode, no_exception, open_app  # noqa: F401 (fixture used by every test)


@pytest.fixture(scope="module")
def demo_copy(tmp_path_factory, demo_db) -> Path:
    """A copy of the demo store: these tests write audit rows."""
    target = tmp_path_factory.mktemp("appeals_pages") / "demo.duckdb"
    target.write_bytes(demo_db.read_bytes())
    return target


def test_appeals_page_shows_counts_and_the_flag_test(demo_copy, monkeypatch):
    at = open_app(demo_copy, monkeypatch, "pages/appeals.py")
    no_exception(at)
    labels = [m.label for m in at.metric]
    assert "申诉件数" in labels and "决定用时中位数" in labels
    notes = [b.value for b in (*at.warning, *at.info)]
    assert any("每百人次" in n and "p " in n for n in notes), notes
    assert any(t.label == "申诉复核材料" for t in at.tabs)


def test_appeal_pack_preview_audits_the_view(demo_copy, monkeypatch):
    at = open_app(demo_copy, monkeypatch, "pages/appeals.py")
    at.toggle(key="pack_preview").set_value(True).run()
    no_exception(at)
    assert any("评鉴人及其宽松证据" in m.value for m in at.markdown)
    from analytics import store

    con = store.connect(demo_copy, read_only=True, fresh=True)  # the audit log now, not the app's snapshot
    try:
        viewed = con.sql("SELECT count(*) FROM audit_log WHERE action = 'view_person'").fetchone()[0]
    finally:
        con.close()
    assert viewed >= 1


def test_whatif_page_says_it_is_a_scenario_and_moves_some_excellent(demo_copy, monkeypatch):
    at = open_app(demo_copy, monkeypatch, "pages/whatif.py")
    no_exception(at)
    assert any("推演情景，不是结论" in w.value for w in at.warning)
    at.segmented_control(key="wi_basis").set_value("fair").run()
    no_exception(at)
    gains = [m.value for m in at.metric if m.label == "新增优秀"][0]
    assert int(gains.replace(",", "")) > 0


def test_pages_in_english(demo_copy, monkeypatch):
    for page in ("pages/appeals.py", "pages/whatif.py"):
        at = open_app(demo_copy, monkeypatch, page, lang="en")
        no_exception(at)
        assert any(m.label in ("Appeals", "Gain 优秀") for m in at.metric)
