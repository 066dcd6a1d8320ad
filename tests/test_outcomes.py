"""Outcome use (analytics.outcomes): assessment years, linking, patterns and the summary tables, on frames counted by hand."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from analytics import outcomes as oc
from analytics.dataset import frames
from analytics.outcome_units import unit_use
from analytics.settings import Outcomes, Settings

S = Settings()


def quarters(person: str, grades: list[str], unit: str = "U", year: int = 2024, **attrs) -> pl.DataFrame:
    n = len(grades)
    return pl.DataFrame({
        "person_id": [person] * n, "unit": [unit] * n, "year": [year] * n, "quarter": list(range(1, n + 1)),
        "grade": grades, **{k: [v] * n for k, v in attrs.items()},
    })  # fmt: skip


def outcome_rows(rows: list[tuple]) -> pl.DataFrame:
    """rows: (person, unit, date, raw name, detail, amount, year)."""
    cols = ["person_id", "unit", "date", "outcome_raw", "detail", "amount", "year"]
    frame = pl.DataFrame([dict(zip(cols, r, strict=True)) for r in rows], schema={
        "person_id": pl.Utf8, "unit": pl.Utf8, "date": pl.Date, "outcome_raw": pl.Utf8, "detail": pl.Utf8,
        "amount": pl.Float64, "year": pl.Int32,
    })  # fmt: skip
    return frame


def test_assessment_year_from_record_then_detail_then_date():
    o = outcome_rows([
        ("a", "U", dt.date(2025, 3, 1), "评先评优", "2023年度优秀公务员", None, 2022),  # record wins
        ("b", "U", dt.date(2025, 3, 1), "评先评优", "2023年度优秀公务员", None, None),  # detail
        ("c", "U", dt.date(2025, 3, 1), "评先评优", "表彰", None, None),  # March: previous year
        ("d", "U", dt.date(2025, 8, 1), "诫勉谈话", "2025年3月约谈", None, None),  # a date in the text is no assessment year
        ("e", "U", dt.date(2024, 9, 1), "谈话提醒", "2024年第二季度考核一般", None, None),
        ("f", "U", None, "培训", None, None, None),  # nothing to go on
    ])  # fmt: skip
    got = oc.outcome_records(frames(outcomes=o), S).select("person_id", "assessment_year", "year_source").rows()
    assert got == [
        ("a", 2022, "record"), ("b", 2023, "detail"), ("c", 2024, "date"), ("d", 2025, "date"), ("e", 2024, "detail"),
        ("f", None, None),
    ]  # fmt: skip


def test_carry_months_is_a_setting():
    o = outcome_rows([("c", "U", dt.date(2025, 3, 1), "评先评优", None, None, None)])
    no_carry = S.replace(outcomes=Outcomes(carry_months=0))
    assert oc.outcome_records(frames(outcomes=o), no_carry)["assessment_year"].to_list() == [2025]
    assert oc.outcome_records(frames(outcomes=o), S)["assessment_year"].to_list() == [2024]


def test_outcome_names_normalised_and_unknown_ones_reported():
    o = outcome_rows([
        ("a", "U", dt.date(2025, 3, 1), "诫勉谈话", None, None, 2024),
        ("b", "U", dt.date(2025, 3, 1), " 考核奖金 ", None, 3000.0, 2024),
        ("c", "U", dt.date(2025, 3, 1), "通报批评", None, None, 2024),
        ("d", "U", dt.date(2025, 3, 1), "通报批评", None, None, 2024),
    ])  # fmt: skip
    data = frames(outcomes=o)
    rec = oc.outcome_records(data, S)
    assert rec["outcome"].to_list() == ["admonishment", "bonus", "other", "other"]
    assert rec["outcome_zh"].to_list() == ["诫勉", "考核奖金", "其他", "其他"]
    assert oc.unknown_outcomes(data).rows() == [("通报批评", 2)]


def test_stored_canonical_code_is_kept():
    o = outcome_rows([("a", "U", dt.date(2025, 3, 1), "提拔任用", None, None, 2024)]).with_columns(
        outcome=pl.lit("promotion")
    )
    assert oc.outcome_records(frames(outcomes=o), S)["outcome"].to_list() == ["promotion"]


@pytest.mark.parametrize(
    ("grades", "pattern"),
    [
        (["好", "好", "好", "好"], "4×好"),
        (["好", "较好", "好", "好"], "3×好+1×较好"),
        (["较好", "好", "较好", "好"], "2×好+2×较好"),
        (["较好", "好", "较好", "较好"], "≤1×好"),
        (["较好"] * 4, "≤1×好"),
        (["好", "好", "一般", "好"], "含一般或较差"),
        (["好", "较差", "好", "好"], "含一般或较差"),
        (["好", "好", "不确定等次", "好"], "季度不全"),
        (["好", "好"], "季度不全"),
        (["好"] * 9 + ["较好"] * 3, "3×好+1×较好"),  # monthly export, on the four-quarter scale
    ],
)
def test_grade_pattern(grades, pattern):
    linked = oc.link(frames(quarters("a", grades)), S)
    assert linked["pattern"].to_list() == [pattern]


def _city():
    """Five people in 2024, counted by hand in the tests below.

    a: 4×好, 优秀, award + bonus 5000      b: 2×好+2×较好, 称职, bonus 3000
    c: 2×好+2×较好, 称职, bonus 3500        d: 含一般, 基本称职, admonishment
    e: ≤1×好, 称职, no outcome; lane L2, unit V
    """
    q = pl.concat([
        quarters("a", ["好"] * 4, lane="L1"), quarters("b", ["好", "好", "较好", "较好"], lane="L1"),
        quarters("c", ["较好", "好", "较好", "好"], lane="L1"), quarters("d", ["好", "一般", "较好", "较好"], lane="L1"),
        quarters("e", ["较好", "较好", "较好", "好"], unit="V", lane="L2"),
    ])  # fmt: skip
    a = pl.DataFrame({"person_id": list("abcde"), "unit": ["U"] * 4 + ["V"], "year": [2024] * 5,
                      "annual_grade": ["优秀", "称职", "称职", "基本称职", "称职"]})  # fmt: skip
    o = outcome_rows([
        ("a", "U", dt.date(2025, 3, 1), "评先评优", "2024年度优秀公务员", None, None),
        ("a", "U", dt.date(2025, 1, 20), "考核奖金", None, 5000.0, None),
        ("b", "U", dt.date(2025, 1, 20), "考核奖金", None, 3000.0, None),
        ("c", "U", dt.date(2025, 1, 20), "考核奖金", None, 3500.0, None),
        ("d", "U", dt.date(2024, 7, 31), "诫勉谈话", None, None, None),
    ])  # fmt: skip
    return frames(q, a, o)


def test_link_one_row_per_person_year_with_counts_and_outcomes():
    linked = oc.link(_city(), S)
    assert linked.height == 5
    a = linked.filter(pl.col("person_id") == "a").row(0, named=True)
    assert (a["n_good"], a["n_fairly_good"], a["annual_grade"], a["bonus"]) == (4, 0, "优秀", 5000.0)
    assert sorted(a["outcomes"]) == ["award", "bonus"] and a["has_award"] and a["rewarded"] and a["gate_met"]
    d = linked.filter(pl.col("person_id") == "d").row(0, named=True)
    assert (d["n_average"], d["pattern"], d["negative"], d["gate_met"], d["bonus"]) == (
        1,
        "含一般或较差",
        True,
        False,
        None,
    )
    e = linked.filter(pl.col("person_id") == "e").row(0, named=True)
    assert e["outcomes"] == [] and e["n_outcomes"] == 0 and not e["rewarded"]


def test_link_keeps_people_known_only_from_outcomes():
    o = outcome_rows([("z", "W", dt.date(2025, 3, 1), "培训", None, None, None)])
    linked = oc.link(frames(outcomes=o), S)
    assert linked.select("person_id", "year", "unit", "pattern", "has_training").rows() == [
        ("z", 2024, "W", "季度不全", True)
    ]


def test_flow_matches_hand_counts():
    f = oc.flow(_city(), S)
    links = {(r["source"], r["target"]): r["value"] for r in f.to_dicts()}
    assert links == {
        ("4×好", "优秀"): 1, ("2×好+2×较好", "称职"): 2, ("含一般或较差", "基本称职"): 1, ("≤1×好", "称职"): 1,
        ("优秀", "评先评优"): 1, ("称职", "考核奖金"): 2, ("称职", "无结果运用"): 1, ("基本称职", "诫勉"): 1,
    }  # fmt: skip
    # every person-year flows through both stages once
    assert f.filter(pl.col("source_stage") == "pattern")["value"].sum() == 5
    assert f.filter(pl.col("source_stage") == "annual")["value"].sum() == 5


def test_rates_by_pattern_match_hand_counts():
    r = oc.rates_by_pattern(_city(), S)
    bonus = {row["pattern"]: (row["people"], row["count"], row["rate"]) for row in r.filter(outcome="bonus").to_dicts()}
    assert bonus == {"4×好": (1, 1, 1.0), "2×好+2×较好": (2, 2, 1.0), "≤1×好": (1, 0, 0.0), "含一般或较差": (1, 0, 0.0)}
    assert r["pattern"].unique(maintain_order=True).to_list() == ["4×好", "2×好+2×较好", "≤1×好", "含一般或较差"]


def test_rates_by_lane_and_unit():
    by_unit = oc.rates_by(_city(), S, by="unit").filter(outcome="bonus")
    assert by_unit.select("unit", "people", "count").rows() == [("U", 4, 3), ("V", 1, 0)]
    by_lane = oc.rates_by(_city(), S, by="lane").filter(outcome="admonishment")
    assert by_lane.select("lane", "people", "count", "rate").rows() == [("L1", 4, 1, 0.25), ("L2", 1, 0, 0.0)]
    with pytest.raises(ValueError):
        oc.rates_by(_city(), S, by="section")


def test_time_to_outcome_in_days_after_the_year():
    t = {r["outcome"]: r for r in oc.time_to_outcome(_city(), S).to_dicts()}
    assert t["bonus"]["records"] == 3 and t["bonus"]["median_days"] == 20  # 2025-01-20 is 20 days after 31 Dec
    assert t["award"]["median_days"] == 60
    assert t["admonishment"]["median_days"] == -153  # during the year itself


def test_unit_use_shares_and_bonus_spread():
    u = {r["unit"]: r for r in unit_use(_city(), S).to_dicts()}
    assert u["U"]["people"] == 4 and u["U"]["rewarded_share"] == 0.25 and u["U"]["negative_share"] == 0.25
    assert (u["U"]["bonus_min"], u["U"]["bonus_max"], u["U"]["bonus_spread"]) == (3000.0, 5000.0, 2000.0)
    assert u["V"]["bonus_spread"] is None and u["V"]["rule_breaks"] == 0


def test_year_filter_and_empty_input():
    assert oc.flow(_city(), S, year=2023).height == 0
    empty = frames()
    assert oc.link(empty, S).height == 0
    assert oc.rates_by_pattern(empty, S).height == 0
    assert oc.time_to_outcome(empty, S).height == 0
    assert unit_use(empty, S).height == 0
