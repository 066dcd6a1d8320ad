"""Which units need a look, 优秀 against each unit's cap, and unit-against-unit comparison (tiny hand-built frames)."""

from __future__ import annotations

import polars as pl
import pytest

from analytics import unit_charts, unit_compare, unit_need
from analytics.dataset import frames
from analytics.settings import Quota, Settings, UnitCap


def people(unit: str, grades: list[str], year=2025, quarter=4, unit_type="综合管理", score=None) -> list[dict]:
    return [
        {"person_id": f"{unit}{i}", "name": f"{unit}人{i}", "unit": unit, "unit_type": unit_type, "lane": unit_type,
         "year": year, "quarter": quarter, "grade": g, "score": None if score is None else score + i}
        for i, g in enumerate(grades)
    ]  # fmt: skip


def data(rows: list[dict], annual: list[dict] | None = None):
    q = pl.DataFrame(rows, schema_overrides={"year": pl.Int32, "quarter": pl.Int32, "score": pl.Float64})
    a = pl.DataFrame(annual, schema_overrides={"year": pl.Int32}) if annual else None
    return frames(quarterly=q, annual=a) if a is not None else frames(quarterly=q)


GOOD5 = ["好", "好", "好", "较好", "较好"]  # 3 of 5: over a 40% quota of 2
TWO5 = ["好", "好", "较好", "较好", "较好"]  # 2 of 5: at the quota
ONE5 = ["好", "较好", "较好", "较好", "较好"]


def test_units_are_ordered_over_quota_then_open_flags_then_share_above_the_cap():
    rows = people("甲", TWO5) + people("乙", GOOD5) + people("丙", ONE5) + people("丁", TWO5)
    rows += people("甲", GOOD5, quarter=3)  # over last quarter only: not "over now"
    cells = unit_need.good_share_cells(data(rows), Settings(), 2025, 4)
    flags = pl.DataFrame(
        {"unit": ["丙", "丙", "丁", "乙", None], "status": ["open", "open", "open", "dismissed", "open"]}
    )
    need = unit_need.units_by_need(cells, unit_need.open_flags_by_unit(flags), "2025Q4")
    assert need.select("need", "unit", "over_now", "open_flags", "quarters_over").rows() == [
        (1, "乙", True, 0, 1),  # over the quota now comes first, whatever the flags
        (2, "丙", False, 2, 0),  # then the most open flags (a dismissed flag does not count)
        (3, "丁", False, 1, 0),
        (4, "甲", False, 0, 1),  # 40% now, at the cap; over in an earlier quarter only breaks ties
    ]
    assert need.filter(pl.col("unit") == "甲")["gap"].item() == pytest.approx(0.0)
    assert unit_need.hidden_note(need, 2) == {"hidden": 2, "over": 0, "flagged": 1}


def test_the_heatmap_centres_each_unit_on_its_own_cap():
    rows = people("甲", GOOD5) + people("乙", GOOD5)
    settings = Settings().replace(quota=Quota(unit_caps=(UnitCap("甲", good_cap=0.6),)))
    cells = unit_need.good_share_cells(data(rows), settings, 2025, 4)
    assert cells.sort("unit").select("unit", "quota", "cap", "cap_source", "over").rows() == [
        ("乙", 2, 0.4, "general", True),
        ("甲", 3, 0.6, "unit", False),
    ]
    fig = unit_charts.need_heatmap(cells, ["乙", "甲"], "", "zh", mine={"甲"})
    heat = fig.data[0]
    assert list(heat.y) == ["乙", "★ 甲"] and heat.zmid == 0
    assert [row[0] for row in heat.text] == ["60%▲", "60%"]  # the share written in each cell, ▲ over quota
    assert [round(row[0], 2) for row in heat.z] == [0.2, 0.0]  # coloured by the distance from the unit's cap


def test_a_large_heatmap_writes_the_chosen_quarter_and_hovers_the_rest():
    units = [f"单位{i:02d}" for i in range(12)]
    rows = [r for q in (1, 2, 3, 4) for u in units for r in people(u, GOOD5 if u == "单位00" else ONE5, quarter=q)]
    cells = unit_need.good_share_cells(data(rows), Settings(), 2025, 4, last=8)
    heat = unit_charts.need_heatmap(cells, units, "", "zh").data[0]
    assert len(units) * 4 > unit_charts.TEXT_CELLS
    assert [row[-1] for row in heat.text][:1] == ["60%▲"] and all(row[-1] for row in heat.text)
    assert all(t == "" for row in heat.text for t in row[:-1])  # earlier quarters: on hover only
    assert [cell[5] for cell in heat.customdata[0]] == ["60%▲"] * 4 and "customdata[5]" in heat.hovertemplate


def test_cells_end_at_the_chosen_quarter():
    rows = people("甲", GOOD5, quarter=1) + people("甲", ONE5, quarter=2) + people("甲", TWO5, quarter=3)
    cells = unit_need.good_share_cells(data(rows), Settings(), 2025, 2, last=8)
    assert cells["period"].to_list() == ["2025Q1", "2025Q2"]
    assert unit_need.good_share_cells(data(rows), Settings(), 2025, 3, last=1)["period"].to_list() == ["2025Q3"]


def annual(unit: str, excellent: int, n: int, year=2025, unit_type="综合管理") -> list[dict]:
    return [
        {"person_id": f"{unit}{i}", "unit": unit, "unit_type": unit_type, "year": year,
         "annual_grade": "优秀" if i < excellent else "称职"}
        for i in range(n)
    ]  # fmt: skip


def test_excellent_against_each_units_cap_latest_year_up_to_the_chosen_one():
    rows = annual("甲", 3, 10) + annual("乙", 3, 10) + annual("丙", 1, 10) + annual("甲", 5, 10, year=2026)
    settings = Settings().replace(quota=Quota(unit_caps=(UnitCap("乙", excellent_cap=0.35),)))
    out = unit_need.excellent_against_cap(data(people("甲", ONE5), rows), settings, 2025)
    assert out.select("unit", "year", "share", "cap", "cap_source", "over").rows() == [
        ("甲", 2025, 0.3, 0.2, "general", True),  # 2026 lies after the chosen year
        ("乙", 2025, 0.3, 0.35, "unit", False),  # 30% within its own 35%
        ("丙", 2025, 0.1, 0.2, "general", False),
    ]
    assert unit_need.excellent_against_cap(data(people("甲", ONE5), rows), settings, 2024).height == 0


def test_comparison_ranks_over_the_whole_lane_before_narrowing():
    rows = people("甲", GOOD5, score=80) + people("乙", TWO5, score=90) + people("丙", ONE5, score=70)
    rows += people("丁", GOOD5, unit_type="乡镇街道")
    whole = data(rows)
    everyone = unit_compare.unit_measures(whole, Settings(), 2025, 4)
    mine = unit_compare.unit_measures(whole, Settings(), 2025, 4, visible=frozenset({"丙"}))
    assert unit_compare.lanes_of(everyone) == ["乡镇街道", "综合管理"]
    good = unit_compare.compare(everyone, "good_share", "综合管理")
    assert good.select("unit", "value", "rank", "units_in_lane").rows() == [
        ("甲", 0.6, 1, 3),
        ("乙", 0.4, 2, 3),
        ("丙", 0.2, 3, 3),
    ]
    assert good["lane_mean"][0] == pytest.approx(0.4) and good["cap"].to_list() == [0.4] * 3
    seen = unit_compare.compare(mine, "mean_score", "综合管理")
    assert seen.select("unit", "value", "rank", "units_in_lane").rows() == [("丙", 72.0, 3, 3)]  # 3rd of all 3
    assert seen["lane_mean"][0] == pytest.approx(82.0)  # the others count in the mean, unseen


def test_flags_measure_counts_open_flags_and_ranks_among_the_units_given():
    whole = data(people("甲", GOOD5) + people("乙", TWO5) + people("丙", ONE5))
    measures = unit_compare.unit_measures(whole, Settings(), 2025, 4)
    counts = pl.DataFrame({"unit": ["乙", "乙", "丙"], "status": ["open", "open", "open"]})
    out = unit_compare.compare(measures, "open_flags", "综合管理", unit_need.open_flags_by_unit(counts))
    assert out.select("unit", "value", "rank").rows() == [("乙", 2.0, 1), ("丙", 1.0, 2), ("甲", 0.0, 3)]
    with pytest.raises(ValueError, match="unknown measure"):
        unit_compare.compare(measures, "size", "综合管理")


def test_drill_down_lists_a_units_people_by_their_place_in_the_lane():
    ranked = pl.DataFrame(
        {"lane": ["L", "L", "L"], "rank": [2, 1, 1], "tied": [1, 2, 2], "person_id": ["a", "b", "c"],
         "name": ["甲一", "乙一", "甲二"], "unit": ["甲", "乙", "甲"], "section": ["办", "办", "办"],
         "percentile": [50.0, 100.0, 100.0], "value": [80.0, 90.0, 90.0], "goods": [1, 2, 2]}
    )  # fmt: skip
    out = unit_compare.unit_people(ranked, "甲", "zh")
    assert out.select("person_id", "place").rows() == [("c", "并列第 1（2 人）"), ("a", "2")]
    assert unit_compare.unit_people(ranked, "甲", "en")["place"][0] == "tied 1 (2)"


def test_comparison_bars_mark_the_viewers_unit_and_write_values():
    whole = data(people("甲", GOOD5) + people("乙", TWO5))
    compared = unit_compare.compare(unit_compare.unit_measures(whole, Settings(), 2025, 4), "good_share", "综合管理")
    fig = unit_charts.compare_bars(compared, "", "en", "Share of 好", True, highlight={"乙"})
    bars = fig.data[0]
    assert list(bars.y) == ["甲", "★ 乙"] and list(bars.text) == ["60%", "40%"]
    assert bars.marker.color[1] == unit_charts.ACCENT and bars.marker.color[0] != unit_charts.ACCENT
    assert any("unit average 50%" in a.text for a in fig.layout.annotations)


def test_the_comparison_keeps_the_strongest_that_fit_and_the_viewers_own_in_order():
    compared = pl.DataFrame({"unit": [f"u{i}" for i in range(8)], "value": [8.0, 7, 6, 5, 4, 3, 2, 1]})
    shown = unit_compare.top_and_marked(compared, 3, frozenset({"u6", "elsewhere"}))
    assert shown["unit"].to_list() == ["u0", "u1", "u2", "u6"]
    assert unit_compare.top_and_marked(compared, 3, frozenset(), everything=True).height == 8
    assert unit_compare.top_and_marked(compared, 20, frozenset())["unit"].to_list() == compared["unit"].to_list()
