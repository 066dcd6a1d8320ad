"""Privacy: small groups blanked, pseudonyms stable, keyed and not the original."""

from __future__ import annotations

import re

import polars as pl

from analytics.privacy import pseudonymise, pseudonymise_people, suppress_small


def test_a_group_of_four_is_blanked_at_k5():
    table = pl.DataFrame({"unit": ["财政局", "辉埠镇"], "n": [4, 12], "share_good": [0.5, 0.25], "year": [2024, 2024]})
    out = suppress_small(table, "n", k=5, keep=["year"])
    assert out.rows() == [("财政局", None, None, 2024, True), ("辉埠镇", 12, 0.25, 2024, False)]
    assert table["n"].to_list() == [4, 12]  # input unchanged


def test_exactly_k_is_shown_and_null_counts_are_suppressed():
    out = suppress_small(pl.DataFrame({"g": ["a", "b"], "n": [5, None]}), "n", k=5)
    assert out["suppressed"].to_list() == [False, True]


def test_suppression_accumulates_over_passes():
    table = pl.DataFrame({"g": ["a", "b"], "n": [3, 10], "m": [10, 2]})
    out = suppress_small(suppress_small(table, "n", k=5, derived=[]), "m", k=5, derived=[])
    assert out["suppressed"].to_list() == [True, True]
    assert out["n"].to_list() == [None, 10]


def test_pseudonyms_are_stable_distinct_and_keyed():
    frame = pl.DataFrame({"person_id": ["p1", "p2", "p1", None], "name": ["张三", "李四", "张三", "王五"]})
    once = pseudonymise(frame, ["person_id", "name"], salt="s1")
    again = pseudonymise(frame, ["person_id", "name"], salt="s1")
    other = pseudonymise(frame, ["person_id", "name"], salt="s2")
    assert once.equals(again)
    ids = once["person_id"].to_list()
    assert ids[0] == ids[2] != ids[1] and ids[3] is None
    assert all(re.fullmatch(r"P-[0-9a-f]{10}", v) for v in ids if v)
    assert not any("p1" in v or "张三" in v for v in once["name"].to_list() + ids if v)
    assert other["person_id"][0] != ids[0]
    # A person's id and name do not share a pseudonym (one cannot be matched to the other).
    assert pseudonymise(pl.DataFrame({"person_id": ["x"], "name": ["x"]}), ["person_id", "name"], salt="s").row(0)[0] != \
        pseudonymise(pl.DataFrame({"person_id": ["x"], "name": ["x"]}), ["person_id", "name"], salt="s").row(0)[1]  # fmt: skip


def test_reviewer_pseudonym_matches_the_same_persons_name():
    frame = pl.DataFrame({"name": ["周主任", "李四"], "reviewer": ["吴镇长", "周主任"]})
    out = pseudonymise_people(frame, salt="s")
    assert out["name"][0] == out["reviewer"][1]
