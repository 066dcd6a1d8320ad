"""Lane rankings (analytics.rankings) on tiny frames whose answers can be checked by eye."""

from __future__ import annotations

import json

import polars as pl
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal
from test_fair_score import sections

from analytics.dataset import frames
from analytics.errors import UserError
from analytics.rankings import PEOPLE_COLUMNS, lane_notes, parse_period, rank_people, rank_units, select_window
from analytics.settings import Lanes, Settings

S = Settings()


def people(values: dict[str, float | None], year=2025, quarter=4, lane="甲", grade="较好", **extra) -> list[dict]:
    return [
        {"person_id": p, "name": p.upper(), "unit": "单位", "section": "科", "unit_type": "综合管理", "lane": lane,
         "year": year, "quarter": quarter, "score": v, "grade": grade, **extra}
        for p, v in values.items()
    ]  # fmt: skip


def data(rows: list[dict]):
    return frames(pl.DataFrame(rows, schema_overrides={"year": pl.Int32, "quarter": pl.Int32, "score": pl.Float64}))


def test_ties_share_the_best_rank_and_the_next_rank_skips():
    ranked = rank_people(data(people({"a": 90, "b": 85, "c": 85, "d": 80, "e": 70})), S)
    assert ranked["person_id"].to_list() == ["a", "b", "c", "d", "e"]
    assert ranked["rank"].to_list() == [1, 2, 2, 4, 5]
    assert ranked["percentile"].to_list() == [100.0, 62.5, 62.5, 25.0, 0.0]
    assert set(ranked["basis"]) == {"score"} and set(ranked["n_in_lane"]) == {5}
    assert ranked["period"][0] == "2025Q4"


def test_small_lanes_are_pooled_and_reported_never_dropped():
    rows = people({f"a{i}": 90 - i for i in range(5)}, lane=None, position_level="一般干部")
    rows += people({"b1": 99, "b2": 60, "b3": 75}, lane=None, position_level="中层正职")
    rows += people({"c1": 80, "c2": 70}, lane=None, position_level="中层副职")
    ranked = rank_people(data(rows), S)
    assert ranked.height == 10
    assert set(ranked.filter(pl.col("lane_pooled_from").is_null())["lane"]) == {"综合管理·一般干部"}
    pooled = ranked.filter(pl.col("lane_pooled_from").is_not_null())
    assert set(pooled["lane"]) == {"综合管理·合并"} and set(pooled["n_in_lane"]) == {5}
    assert pooled["person_id"].to_list() == ["b1", "c1", "b3", "c2", "b2"] and pooled["rank"].to_list() == [
        1,
        2,
        3,
        4,
        5,
    ]
    assert pooled["lane_pooled_from"].to_list() == ["综合管理·中层正职", "综合管理·中层副职"] * 2 + [
        "综合管理·中层正职"
    ]
    # Asking for a small lane shows its own people with their ranks in the pool.
    only = rank_people(data(rows), S, lane="综合管理·中层副职")
    assert only["person_id"].to_list() == ["c1", "c2"] and only["rank"].to_list() == [2, 4]
    # A lane still too small after pooling by unit type goes to the one pool.
    tiny = rank_people(data(people({"x": 1.0, "y": 2.0}, lane=None, position_level="一般干部")), S)
    assert set(tiny["lane"]) == {"合并赛道"}


def test_a_lane_with_a_missing_score_ranks_the_scored_and_lists_the_others_apart():
    rows = people({"a": 70.0, "b": 95.0}, grade="好") + people({"c": None}, grade="较好")
    rows += people({"x": 80.0, "y": 90.0}, lane="乙")
    ranked = rank_people(data(rows), Settings().replace(lanes=Lanes(min_size=1)))
    jia = ranked.filter(pl.col("lane") == "甲")
    # The yardstick stays the score: b and a by score, c apart, unranked (not everyone on grade points).
    assert jia["person_id"].to_list() == ["b", "a", "c"]
    assert jia["rank"].to_list() == [1, 2, None] and jia["basis"].to_list() == ["score", "score", "unscored"]
    assert set(jia["n_in_lane"]) == {3} and set(jia["n_ranked"]) == {2}
    assert jia["percentile"].to_list() == [100.0, 0.0, None]
    assert set(ranked.filter(pl.col("lane") == "乙")["basis"]) == {"score"}
    notes = lane_notes(ranked).filter(pl.col("lane") == "甲").row(0, named=True)
    assert notes["apart"] == 1 and notes["n_ranked"] == 2


def test_a_head_sees_for_each_of_their_people_the_rank_an_admin_sees():
    rows = people({f"a{i}": 60.0 + i for i in range(6)}, lane="L")
    rows = [r | {"unit": "甲单位" if int(r["person_id"][1:]) % 2 else "乙单位"} for r in rows]
    admin = rank_people(data(rows), S)
    head = rank_people(data(rows), S, visible=frozenset({"甲单位"}))
    assert set(head["unit"]) == {"甲单位"} and head.height == 3  # others invisible
    cols = ["person_id", "lane", "rank", "percentile", "n_in_lane", "tied"]
    assert head.select(cols).to_dicts() == admin.filter(pl.col("unit") == "甲单位").select(cols).to_dicts()
    assert head["rank"].to_list() == [1, 3, 5] and set(head["n_in_lane"]) == {6}  # counts only of the others
    # Had the ranks been computed on the head's scope alone they would read 1, 2, 3.
    alone = rank_people(data([r for r in rows if r["unit"] == "甲单位"]), S)
    assert alone["rank"].to_list() == [1, 2, 3]
    units = rank_units(data(rows), S, by="score", visible=frozenset({"乙单位"}))
    assert units["unit"].to_list() == ["乙单位"] and units["rank"].to_list() == [2]


def test_many_ties_say_how_many_share_the_rank():
    ranked = rank_people(data(people(dict.fromkeys([f"p{i}" for i in range(40)], 90.0) | {"z": 10.0})), S)
    top = ranked.filter(pl.col("rank") == 1)
    assert top.height == 40 and set(top["tied"]) == {40}
    assert ranked.filter(pl.col("person_id") == "z")["rank"].to_list() == [41]


def test_grade_basis_everywhere_when_the_data_has_no_scores():
    grades = {"a": "好", "b": "一般", "c": "较好", "d": "较差", "e": "不确定等次"}
    rows = [r | {"grade": grades[r["person_id"]]} for r in people(dict.fromkeys(grades))]
    ranked = rank_people(data(rows), S, by="score")
    assert ranked["person_id"].to_list() == ["a", "c", "b", "d", "e"]
    assert ranked["rank"].to_list()[:4] == [1, 2, 3, 4] and ranked["rank"][4] is None  # 不确定等次: listed, not ranked
    assert set(ranked["basis"]) == {"grade"}
    assert ranked["n_in_lane"][0] == 5 and ranked["n_ranked"][0] == 4


def test_composite_index_uses_the_settings_weights():
    subs = {
        "a": {"工作实绩": 90, "工作作风": 70},
        "b": {"工作实绩": 80, "工作作风": 95},
        "c": {"工作实绩": 85, "工作作风": 85},
    }
    rows = [
        r | {"extra": json.dumps(subs[r["person_id"]], ensure_ascii=False)} for r in people(dict.fromkeys(subs, 50.0))
    ]
    ranked = rank_people(data(rows), S, by="index")
    assert ranked["person_id"].to_list() == ["b", "c", "a"]  # 86, 85, 82
    assert ranked["value"].to_list() == pytest.approx([86.0, 85.0, 82.0])
    assert set(ranked["basis"]) == {"index:实绩作风"}


def test_composite_index_without_sub_scores_is_a_clear_error():
    with pytest.raises(UserError, match="工作实绩"):
        rank_people(data(people({"a": 1.0, "b": 2.0})), S, by="index")
    with pytest.raises(UserError, match="no index named"):
        rank_people(data(people({"a": 1.0})), S, by="index", index="不存在")


def test_rank_change_compares_with_the_previous_quarter():
    rows = people({"a": 90, "b": 80, "c": 70}, quarter=3) + people({"a": 70, "b": 80, "c": 90}, quarter=4)
    ranked = rank_people(data(rows), S)
    change = dict(zip(ranked["person_id"], ranked["rank_change"], strict=True))
    assert change == {"c": 2, "b": 0, "a": -2}
    first = rank_people(data(rows), S, period="2025Q3")
    assert first["rank_change"].is_null().all()  # nothing before 2025Q3


def test_year_and_window_average_over_their_quarters():
    rows = people({"a": 90, "b": 80}, quarter=1) + people({"a": 70, "b": 85}, quarter=2)
    rows += people({"a": 60, "b": 60}, year=2024, quarter=4)
    by_year = rank_people(data(rows), S, year=2025)
    assert by_year["person_id"].to_list() == ["b", "a"] and by_year["value"].to_list() == [82.5, 80.0]
    assert by_year["period"][0] == "2025"
    window = rank_people(data(rows), S, window=3, period="2025Q2")
    assert window["period"][0] == "2024Q4–2025Q2" and window["value"].to_list() == pytest.approx([75.0, 220 / 3])


def test_periods_are_parsed_or_refused_clearly():
    assert parse_period("2025Q4") == (2025, 4)
    assert parse_period("2024-q1") == (2024, 1)
    assert parse_period("2025年第三季度") == (2025, 3)
    for bad in ("2025Q5", "Q4", "2025", "25Q1", "2025Q4x"):
        with pytest.raises(UserError, match="2025Q4"):
            parse_period(bad)
    q = data(people({"a": 1.0})).quarterly
    with pytest.raises(UserError, match="the data cover 2025Q4"):
        select_window(q, period="2023Q1")
    with pytest.raises(UserError, match="either a year"):
        select_window(q, year=2025, period="2025Q4")


def test_fair_ranking_moves_the_lenient_reviewers_people_down():
    d = frames(sections())
    by_grade = rank_people(d, S, year=2025, by="grade", lane="综合管理·一般干部")
    by_fair = rank_people(d, S, year=2025, by="fair", lane="综合管理·一般干部")
    lenient = pl.col("person_id").str.starts_with("R1-")

    def mean_percentile(frame):
        return frame.filter(lenient)["percentile"].mean()

    assert mean_percentile(by_fair) < mean_percentile(by_grade) - 20
    # Same scores, so raw score ties are broken against the lenient reviewer's people.
    raw = rank_people(d, S, year=2025, by="score")
    assert mean_percentile(by_fair) < mean_percentile(raw)


def test_unit_and_fair_rankings_share_one_fit_of_the_dataset(monkeypatch):
    from analytics import fair_score

    fits = []
    real = fair_score._fit
    monkeypatch.setattr(fair_score, "_fit", lambda *a: fits.append(1) or real(*a))
    d = frames(sections())
    fair_units = rank_units(d, S, year=2025, by="fair")
    assert rank_units(d, S, year=2025, by="fair").equals(fair_units)
    rank_units(d, S, period="2025Q4")  # ranked by share of 好, with each unit's fair mean beside it
    rank_people(d, S, year=2025, by="fair")
    assert len(fits) == 1
    # A unit's fair mean is the mean of its people's fair scores in the window.
    fair = fair_score.estimate_leniency(d.quarterly, S).fair.filter(pl.col("year") == 2025)
    expected = fair.group_by("unit").agg(pl.col("fair_score").mean().alias("expected"))
    both = fair_units.join(expected, on="unit")
    assert both.height == 4 and (both["fair_mean"] - both["expected"]).abs().max() < 1e-9


def test_units_ranked_within_unit_types_by_share_of_good():
    rows = []
    for unit, goods, kind in (("甲局", 2, "综合管理"), ("乙局", 1, "综合管理"), ("丙镇", 3, "乡镇街道")):
        for q, extra in ((3, 0), (4, goods)):
            rows += [
                r
                | {
                    "unit": unit,
                    "unit_type": kind,
                    "person_id": f"{unit}{r['person_id']}",
                    "grade": "好" if i < extra else "较好",
                }
                for i, r in enumerate(people({p: 80.0 for p in "abcde"}, quarter=q))
            ]
    ranked = rank_units(data(rows), S)
    assert ranked["unit"].to_list() == ["丙镇", "甲局", "乙局"]
    assert ranked["lane"].to_list() == ["乡镇街道", "综合管理", "综合管理"]
    assert ranked["rank"].to_list() == [1, 1, 2]
    assert ranked["good_share"].to_list() == [0.6, 0.4, 0.2] and ranked["trend"].to_list() == pytest.approx(
        [0.6, 0.4, 0.2]
    )
    assert ranked["n"].to_list() == [5, 5, 5] and set(ranked["mean_score"]) == {80.0}
    with pytest.raises(UserError, match="good_share"):
        rank_units(data(rows), S, by="index")


@hsettings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(st.sampled_from(["甲", "乙", "丙"]), st.integers(60, 66)),  # few values: many ties
        min_size=1,
        max_size=30,
    )
)
def test_every_lane_is_a_competition_ranking(entries):
    rows = [
        p | {"lane": lane}
        for i, (lane, score) in enumerate(entries)
        for p in people({f"p{i}": float(score)})
    ]  # fmt: skip
    ranked = rank_people(data(rows), S)
    assert ranked.height == len(entries)
    for _, lane in ranked.group_by("lane"):
        values, ranks = lane["value"].to_list(), lane["rank"].to_list()
        assert min(ranks) == 1
        for v, r in zip(values, ranks, strict=True):
            assert r == 1 + sum(other > v for other in values)  # ties share the minimum; the next rank skips


def _by_windows(ranked: pl.DataFrame) -> pl.DataFrame:
    """The places a ranking should give, from its own lanes and values by window expressions over each lane."""
    value, n = pl.col("value"), pl.col("value").count().over("lane")
    average = value.rank("average", descending=True).over("lane")
    return (
        ranked.select("lane", "person_id", "value")
        .with_columns(
            rank=value.rank("min", descending=True).over("lane").cast(pl.UInt32),
            percentile=pl.when(n > 1).then(100.0 * (n - average) / (n - 1)).when(value.is_not_null()).then(100.0),
            n_in_lane=pl.len().over("lane").cast(pl.UInt32),
            n_ranked=n.cast(pl.UInt32),
        )
        .with_columns(tied=pl.when(pl.col("rank").is_not_null()).then(pl.len().over("lane", "rank")).cast(pl.UInt32))
        .sort("lane", "rank", "person_id", nulls_last=True)
    )


SCORES = st.sampled_from([None, float("nan"), -0.0, 0.0, 60.0, 61.0, 62.0])  # empty, NaN, signed zeros, ties


@hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(st.integers(0, 99), st.sampled_from(["甲", "乙", "丙"]), SCORES, SCORES),
        min_size=1,
        max_size=40,
        unique_by=lambda e: e[0],
    )
)
def test_places_order_and_changes_are_those_of_window_expressions(entries):
    # People in no particular order; lanes big enough to rank and small enough to pool; a previous quarter.
    rows = [
        row
        for pid, lane, now, before in entries
        for q, score in ((4, now), (3, before))
        for row in people({f"p{pid}": score}, quarter=q, lane=lane)
    ]
    ranked = rank_people(data(rows), S)
    assert ranked.columns == list(PEOPLE_COLUMNS) and ranked.height == len(entries)
    places = ["lane", "person_id", "value", "rank", "percentile", "n_in_lane", "n_ranked", "tied"]
    assert_frame_equal(ranked.select(places), _by_windows(ranked).select(places))
    before = rank_people(data(rows), S, period="2025Q3").select("person_id", "lane", "basis", b="rank")
    change = ranked.join(before, on="person_id", how="left", suffix="_b").select(
        pl.when((pl.col("lane") == pl.col("lane_b")) & (pl.col("basis") == pl.col("basis_b")))
        .then(pl.col("b").cast(pl.Int64) - pl.col("rank").cast(pl.Int64))
        .alias("rank_change")
    )
    assert ranked["rank_change"].equals(change["rank_change"])


def test_nan_ranks_first_and_signed_zeros_tie_as_in_polars_ranks():
    ranked = rank_people(data(people({"z": -0.0, "n": float("nan"), "a": 61.0, "y": 0.0, "e": None})), S)
    assert ranked["person_id"].to_list() == ["n", "a", "y", "z", "e"]
    assert ranked["rank"].to_list() == [1, 2, 3, 3, None] and ranked["tied"].to_list() == [1, 1, 2, 2, None]
    assert ranked["basis"].to_list() == ["score"] * 4 + ["unscored"] and set(ranked["n_ranked"]) == {4}


def test_a_person_twice_in_a_quarter_is_ranked_on_both_rows_in_any_order():
    rows = people({"a": 90.0, "b": 80.0, "c": 70.0, "d": 60.0, "e": 50.0}) + people({"a": 40.0})
    for order in (sorted(rows, key=lambda r: r["person_id"]), rows[::-1]):
        ranked = rank_people(data(order), S)
        assert ranked["person_id"].to_list() == ["b", "c", "a", "d", "e"]
        assert ranked.filter(pl.col("person_id") == "a")["value"].item() == 65.0


def test_a_quarter_without_rows_inside_the_data_is_a_clear_error():
    rows = people({p: 80.0 for p in "abcde"}, quarter=1) + people({p: 80.0 for p in "abcde"}, quarter=3)
    with pytest.raises(UserError, match="no quarterly results for 2025Q2"):
        rank_people(data(rows), S, period="2025Q2")
