"""Quota arithmetic (analytics.quota): floor(cap x n), at least 1; 不确定等次 not counted; annual caps per unit and lane."""

from __future__ import annotations

import polars as pl
import pytest

from analytics.dataset import frames
from analytics.quota import annual_quota, quarterly_quota
from analytics.settings import Quota, Settings


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
