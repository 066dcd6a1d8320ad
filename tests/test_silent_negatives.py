"""Silent negatives on hand-built lanes: a silent 20-person unit flagged, a 10-person one not (thin evidence)."""

from __future__ import annotations

import json
from datetime import date

import polars as pl
import pytest

from analytics.dataset import frames
from analytics.detectors.base import FLAG_SCHEMA
from analytics.detectors.silent_negatives import DETECTOR
from analytics.settings import Settings

SETTINGS = Settings()
LANE = "综合管理·一般干部"


def unit_rows(unit: str, people: int, negatives: int, quarters: int = 12, lane: str = LANE) -> list[dict]:
    """`negatives` 一般 spread over the quarters (one person each), 4 in 10 好, the rest 较好."""
    rows = []
    for t in range(quarters):
        for i in range(people):
            grade = "好" if (i + t) % 10 < 4 else "较好"
            if i == t % people and t < negatives:
                grade = "一般"
            rows.append(
                dict(person_id=f"{unit}-{i}", unit=unit, lane=lane, year=2022 + t // 4, quarter=t % 4 + 1, grade=grade)
            )
    return rows


def lane_rows(lane: str = LANE, negatives: tuple[int, ...] = (5, 7, 9, 6, 8, 10, 7, 6)) -> list[dict]:
    return [r for u, k in enumerate(negatives) for r in unit_rows(f"{lane}单位{u}", 20, k, lane=lane)]


def detect(rows: list[dict], outcomes: pl.DataFrame | None = None) -> pl.DataFrame:
    return DETECTOR.detect(frames(quarterly=pl.DataFrame(rows), outcomes=outcomes), SETTINGS)


def test_silent_twenty_person_unit_is_flagged_and_ten_person_unit_is_not():
    flags = detect(lane_rows() + unit_rows("沉默局", 20, 0) + unit_rows("小沉默", 10, 0))
    assert flags["subject"].to_list() == ["沉默局"]
    assert list(flags.schema.items()) == list(FLAG_SCHEMA.items())
    flag = flags.row(0, named=True)
    stats = json.loads(flag["statistics"])
    assert stats["observed"] == 0 and stats["expected"] == pytest.approx(
        240 * 58 / (1920 + 120)
    )  # the rest of the lane, small unit included
    assert flag["n"] == 240 and flag["q_value"] < 0.05 and 0 < flag["severity"] <= 1
    assert "20 人 12 个季度" in flag["evidence_zh"] and "预计约 6.8 条" in flag["evidence_zh"]
    assert "expected" in flag["evidence_en"]


def test_a_negative_outcome_breaks_the_silence():
    outcomes = pl.DataFrame(
        [dict(person_id="沉默局-3", unit="沉默局", date=date(2023, 5, 1), year=2023, outcome="admonishment")]
    )
    assert detect(lane_rows() + unit_rows("沉默局", 20, 0), outcomes).height == 0
    # ... but not one from outside the years the unit was graded, nor a positive one
    outside = outcomes.with_columns(year=pl.lit(2019), date=pl.lit(date(2019, 3, 1)))
    positive = outcomes.with_columns(outcome=pl.lit("award"))
    assert detect(lane_rows() + unit_rows("沉默局", 20, 0), outside).height == 1
    assert detect(lane_rows() + unit_rows("沉默局", 20, 0), positive).height == 1


def test_a_lane_that_records_no_negatives_gives_no_flag():
    quiet = lane_rows("窗口服务·一般干部", (0,) * 8)
    assert detect(quiet + [dict(r, lane="窗口服务·一般干部") for r in unit_rows("沉默局", 20, 0)]).height == 0


def test_too_few_quarters_is_thin_evidence():
    assert detect(lane_rows() + unit_rows("新单位", 20, 0, quarters=6)).height == 0
    assert detect([]).height == 0
