"""Quota arithmetic (analytics.quota): floor(cap x n), at least 1; 不确定等次 not counted; annual caps per unit and lane."""

from __future__ import annotations

import polars as pl
import pytest

from analytics.dataset import frames
from analytics.quota import annual_quota, caps_table, quarterly_quota
from analytics.settings import Quota, Settings, UnitCap


def unit(name: str, grades: list[str], unit_type="综合管理", quarter=1) -> list[dict]:
    return [
        {"person_id": f"{name}{i}", "unit": name, "unit_type": unit_type, "year": 2025, "quarter": quarter, "grade": g}
        for i, g in enumerate(grades)
    ]


def quarterly(rows: list[dict]):
    return frames(pl.DataFrame(rows, schema_overrides={"year": pl.Int32, "quarter": pl.Int32}))


@pytest.mark.parametrize(
    ("grades", "quota", "over", "excess"),
    [
        (["好"] * 3 + ["较好"] * 2, 2, True, 1),  # n=5: floor(2.0) = 2
        (["好", "较好"], 1, False, 0),  # n=2: floor(0.8) = 0, raised to 1
        (["好", "好"], 1, True, 1),
        (["好"] * 4 + ["较好"] * 6, 4, False, 0),  # n=10: exactly at the cap is allowed
        (["好"] * 2 + ["较好"] * 3 + ["不确定等次"] * 5, 2, False, 0),  # not graded: not counted
    ],
)
def test_quarterly_quota(grades, quota, over, excess):
    row = quarterly_quota(quarterly(unit("甲局", grades)), Settings()).row(0, named=True)
    graded = sum(g != "不确定等次" for g in grades)
    assert (row["n"], row["quota"], row["over"], row["excess"]) == (graded, quota, over, excess)
    assert row["share"] == pytest.approx(grades.count("好") / graded) and row["lane"] == "综合管理"


def test_quota_is_not_fooled_by_floating_point():
    settings = Settings().replace(quota=Quota(good_cap=0.29))
    row = quarterly_quota(quarterly(unit("甲局", ["好"] * 29 + ["较好"] * 71)), settings).row(0, named=True)
    assert row["quota"] == 29 and not row["over"]  # 0.29 * 100 = 28.999999999999996 in floating point


def test_quarterly_rows_per_unit_and_quarter():
    rows = unit("甲局", ["好"] * 3 + ["较好"] * 2) + unit("甲局", ["好"] + ["较好"] * 4, quarter=2)
    rows += unit("乙镇", ["好", "较好", "一般"], unit_type="乡镇街道")
    out = quarterly_quota(quarterly(rows), Settings())
    assert out.select("unit", "quarter", "good", "quota", "over").rows() == [
        ("乙镇", 1, 1, 1, False),
        ("甲局", 1, 3, 2, True),
        ("甲局", 2, 1, 2, False),
    ]


def annual(name: str, grades: list[str], unit_type="综合管理") -> list[dict]:
    return [
        {"person_id": f"{name}{i}", "unit": name, "unit_type": unit_type, "year": 2025, "annual_grade": g}
        for i, g in enumerate(grades)
    ]


def test_annual_excellent_against_caps_per_unit_and_lane():
    rows = annual("甲局", ["优秀"] * 2 + ["称职"] * 8) + annual("乙局", ["优秀"] * 3 + ["称职"] * 9 + ["不确定等次"])
    settings = Settings().replace(quota=Quota(approved_units=("乙局",)))
    out = annual_quota(frames(annual=pl.DataFrame(rows, schema_overrides={"year": pl.Int32})), settings)
    assert out.select("level", "unit", "n", "excellent", "cap", "allowed", "over").rows() == [
        ("lane", None, 22, 5, 0.20, 4, True),  # 5/22 = 22.7% > 20%
        ("unit", "乙局", 12, 3, 0.25, 3, False),  # approved: 25% exactly
        ("unit", "甲局", 10, 2, 0.20, 2, False),
    ]
    assert set(out["lane"]) == {"综合管理"}


def test_a_units_own_caps_win_over_the_general_and_the_approved_cap():
    caps = (UnitCap("甲局", good_cap=0.6, excellent_cap=0.1), UnitCap("丙局", excellent_cap=0.35))
    settings = Settings().replace(quota=Quota(approved_units=("甲局", "乙局"), unit_caps=caps))
    rows = unit("甲局", ["好"] * 3 + ["较好"] * 2) + unit("乙局", ["好"] * 3 + ["较好"] * 2)
    q = quarterly_quota(quarterly(rows), settings).select("unit", "quota", "cap", "cap_source", "over").rows()
    assert q == [("乙局", 2, 0.4, "general", True), ("甲局", 3, 0.6, "unit", False)]  # 3 of 5: over 40%, within 60%
    ann = annual("甲局", ["优秀"] * 2 + ["称职"] * 8) + annual("乙局", ["优秀"] * 2 + ["称职"] * 8)
    ann += annual("丙局", ["优秀"] * 3 + ["称职"] * 7)
    out = annual_quota(frames(annual=pl.DataFrame(ann, schema_overrides={"year": pl.Int32})), settings)
    units = out.filter(pl.col("level") == "unit").select("unit", "cap", "cap_source", "allowed", "over").rows()
    assert units == [
        ("丙局", 0.35, "unit", 3, False),
        ("乙局", 0.25, "approved", 2, False),
        ("甲局", 0.1, "unit", 1, True),  # its own 10% beats the approved 25%
    ]
    lane = out.filter(pl.col("level") == "lane").row(0, named=True)
    assert (lane["cap"], lane["cap_source"]) == (0.2, "general")  # a lane answers to the general cap


def test_caps_table_names_listed_units_the_data_lack():
    settings = Settings().replace(
        quota=Quota(unit_caps=(UnitCap("甲局", good_cap=0.3), UnitCap("甲 局", good_cap=0.5)))
    )
    table = caps_table(quarterly(unit("甲局", ["好"]) + unit("乙局", ["好"])), settings)
    assert table.select("unit", "good_cap", "good_cap_source", "excellent_cap", "in_data").rows() == [
        ("甲 局", 0.5, "unit", 0.2, False),
        ("甲局", 0.3, "unit", 0.2, True),
        ("乙局", 0.4, "general", 0.2, True),
    ]
