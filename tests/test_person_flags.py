"""No dead ends: people are shown by name and link to their profile; a profile reached from a flag shows it first."""

from __future__ import annotations

import re

import polars as pl
import pytest
from test_app import no_exception, open_app  # noqa: F401  (fixture)

from analytics import person_flags
from analytics.dataset import frames

QUARTERLY = pl.DataFrame(
    {
        "person_id": ["P1", "P1", "P2"],
        "name": ["张三", "张三", "李四"],
        "unit": ["甲局", "乙局", "乙局"],
        "year": [2024, 2025, 2025],
        "quarter": [1, 1, 1],
        "grade": ["好", "好", "较好"],
        "reviewer": ["王科长", "赵科长", "王科长"],
    }
)


def _flag(key: str, kind: str, subject_type: str, subject: str, unit: str, severity: float) -> dict:
    return dict(flag_id=f"id-{key}", flag_key=key, kind=kind, subject_type=subject_type, subject=subject, unit=unit,
                period_from="2024Q1", period_to="2025Q1", severity=severity, evidence_zh=f"证据{key}",
                evidence_en=f"evidence {key}")  # fmt: skip


FLAGS = pl.DataFrame(
    [
        _flag("unit-a", "quota", "unit", "甲局", "甲局", 0.9),
        _flag("own", "outcome_rule", "person", "P1", "乙局", 0.5),
        _flag("rev-a", "leniency", "reviewer", "王科长", "甲局", 0.7),  # P1's reviewer in 甲局
        _flag("rev-b", "leniency", "reviewer", "王科长", "乙局", 0.8),  # the same name in 乙局: not P1's reviewer
        _flag("other", "outcome_rule", "person", "P2", "乙局", 0.95),
        _flag("unit-c", "rotation", "unit", "丙局", "丙局", 1.0),
    ]
)


def test_a_persons_flags_are_their_own_their_units_and_their_reviewers():
    data = frames(quarterly=QUARTERLY)
    found = person_flags.person_flags(FLAGS, data, "P1", "zh")
    # Own first, then the reviewer, then the units. In 乙局 P1 was graded by 赵科长: 乙局's 王科长 is not theirs.
    assert found["flag_key"].to_list() == ["own", "rev-a", "unit-a"]
    assert found["about"].to_list() == ["本人", "其评鉴人", "所在单位"]
    assert found["subject"][0] == "张三"  # by name, not P1
    assert found["arrived"].to_list() == ["", "", ""] and person_flags.arrived(found) is None


@pytest.mark.parametrize("arrived", ["unit-a", "id-unit-a"])
def test_the_flag_a_link_came_from_is_first_and_marked(arrived):
    found = person_flags.person_flags(FLAGS, frames(quarterly=QUARTERLY), "P1", "en", arrived=arrived)
    assert found["flag_key"].to_list() == ["unit-a", "own", "rev-a"]
    assert found["arrived"].to_list() == ["▶", "", ""]
    assert person_flags.arrived(found)["about"] == "Their unit"


def test_subject_words_name_a_person():
    people = pl.DataFrame({"person_id": ["P1"], "name": ["张三"]})
    assert person_flags.subject_words({"subject_type": "person", "subject": "P1"}, people) == "张三"
    assert person_flags.subject_words({"subject_type": "unit", "subject": "甲局"}, people) == "甲局"


@pytest.fixture(scope="module")
def person_flag(demo_db):
    from analytics import store
    from analytics.dataset import load_dataset
    from analytics.detectors import run_detectors
    from analytics.settings import load_settings

    con = store.connect(demo_db, read_only=True)
    try:
        data = load_dataset(con, load_settings())
    finally:
        con.close()
    flags = run_detectors(data, load_settings(), kinds=["outcome_rule"]).filter(pl.col("subject_type") == "person")
    flag = flags.row(0, named=True)
    name = data.quarterly.filter(pl.col("person_id") == flag["subject"])["name"][0]
    return flag, name


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_profile_reached_from_a_flag_shows_it_first_and_marked(demo_db, monkeypatch, person_flag, lang):
    flag, name = person_flag
    monkeypatch.setenv("KAOHE_DB", str(demo_db))
    at = open_app(demo_db, monkeypatch, lang=lang)
    at.query_params["person"] = flag["subject"]
    at.query_params["flag"] = flag["flag_key"]
    at.switch_page("pages/person.py").run()
    no_exception(at)
    marked = [i.value for i in at.info if i.value.startswith("▶")]
    assert marked and flag[f"evidence_{lang}"][:20] in marked[0]
    related = next(df.value for df in at.dataframe if "▶" in set(df.value.iloc[:, 0]))
    assert related.iloc[0, 0] == "▶" and (related.iloc[1:, 0] == "").all()
    assert any(m.value == f"#### {name}" for m in at.markdown)


def test_flags_page_names_the_person_and_links_the_profile(demo_db, monkeypatch, person_flag):
    flag, name = person_flag
    at = open_app(demo_db, monkeypatch, "pages/flags.py", flag_kinds=["outcome_rule"])
    at.query_params["flag"] = flag["flag_id"]
    at.run()
    no_exception(at)
    heading = [m.value for m in at.markdown if m.value.startswith("#### ")][0]
    assert name in heading and flag["subject"] not in heading  # by name, never a bare P-number
    links = [p for p in at.get("page_link") if "person" in p.proto.page]
    assert links, "a link to the person's profile"
    table = at.dataframe[0].value
    cells = [c for c in table.astype(str).to_numpy().ravel() if c.startswith("person?")]
    assert any(f"person={flag['subject']}&flag={flag['flag_key']}" in c for c in cells)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_appeals_link_each_person_by_name(demo_db, monkeypatch, lang):
    at = open_app(demo_db, monkeypatch, "pages/appeals.py", lang=lang)
    no_exception(at)
    links = [
        c for df in at.dataframe for c in df.value.astype(str).to_numpy().ravel() if str(c).startswith("person?person=")
    ]
    assert links, "appeal records link the people to their profiles"
    assert all("&name=" in c and not c.endswith("&name=") for c in links)


def test_overview_links_each_lane_top_and_bottom(demo_db, monkeypatch):
    at = open_app(demo_db, monkeypatch, "pages/overview.py")
    no_exception(at)
    cells = [str(c) for df in at.dataframe for c in df.value.astype(str).to_numpy().ravel()]
    profiles = [c for c in cells if c.startswith("person?person=")]
    assert profiles and all("&name=" in c for c in profiles)
    assert not [c for c in cells if re.fullmatch(r"P\d{6}", c)]  # nobody by a bare code


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_profile_with_flags_speaks_one_language(demo_db, monkeypatch, person_flag, lang):
    from test_language import chinese_in_english, data_words, english_in_chinese, user_texts

    flag, _ = person_flag
    at = open_app(demo_db, monkeypatch, lang=lang)
    at.query_params["person"] = flag["subject"]
    at.query_params["flag"] = flag["flag_key"]
    at.switch_page("pages/person.py").run()
    no_exception(at)
    texts, words = user_texts(at), data_words(demo_db)
    bad = english_in_chinese(texts, words) if lang == "zh" else chinese_in_english(texts, words)
    assert not bad, bad
