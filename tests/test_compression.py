"""Compressed grades (L2) on tiny hand-built units: all-较好 flagged, cap-respecting honest units not."""

from __future__ import annotations

import json

import polars as pl

from analytics.dataset import frames
from analytics.detectors.base import FLAG_SCHEMA
from analytics.detectors.compression import DETECTOR
from analytics.settings import Settings

SETTINGS = Settings()


def unit_rows(unit: str, people: int, quarters: int, good: int, average: list[int] | None = None) -> list[dict]:
    """`good` 好 per quarter (rotating through the unit), average[t] 一般 in quarter t, the rest 较好."""
    average = average or [0] * quarters
    rows = []
    for t in range(quarters):
        for i in range(people):
            slot = (i - t * good) % people
            grade = "好" if slot < good else ("一般" if slot >= people - average[t] else "较好")
            rows.append(
                dict(
                    person_id=f"{unit}-{i}",
                    unit=unit,
                    lane="综合管理·一般干部",
                    year=2022 + t // 4,
                    quarter=t % 4 + 1,
                    grade=grade,
                )
            )
    return rows


def honest_lane(units: int = 8) -> list[dict]:
    """Units that respect the cap: 40% 好 (or the quota of their size), 较好, an occasional 一般."""
    rows = []
    sizes = [10, 12, 15, 20, 8, 10, 25, 6, 9, 30]
    for u in range(units):
        n = sizes[u % len(sizes)]
        rows += unit_rows(f"单位{u}", n, 12, int(0.4 * n), [1 if (t + u) % 3 == 0 else 0 for t in range(12)])
    return rows


def detect(rows: list[dict]) -> pl.DataFrame:
    return DETECTOR.detect(frames(quarterly=pl.DataFrame(rows)), SETTINGS)


def test_all_fairly_good_unit_is_flagged_and_honest_units_are_not():
    rows = honest_lane() + unit_rows("趋中局", 12, 12, 1) + unit_rows("全较好", 10, 12, 0)
    flags = detect(rows)
    assert sorted(flags["subject"]) == ["全较好", "趋中局"]
    assert list(flags.schema.items()) == list(FLAG_SCHEMA.items())
    flag = flags.filter(pl.col("subject") == "全较好").row(0, named=True)
    stats = json.loads(flag["statistics"])
    assert stats["modal_grade"] == "较好" and stats["modal_share"] == 1.0 and stats["H"] == 0.0
    assert stats["longest_run"] == 12 and stats["top2"] == 1.0
    assert flag["severity"] == 1.0 and flag["q_value"] < 0.05 and flag["n"] == 120
    assert "较好" in flag["evidence_zh"] and "100%" in flag["evidence_zh"] and "entropy" in flag["evidence_en"]
    softer = flags.filter(pl.col("subject") == "趋中局").row(0, named=True)
    assert 0.3 < softer["severity"] < 1.0


def test_cap_respecting_units_without_any_average_are_not_flagged():
    # Never an 一般 for 12 quarters, top-two share 100%: honest as long as 好 is used up to the cap.
    rows = honest_lane() + unit_rows("满额无一般", 10, 12, 4)
    assert detect(rows).height == 0


def test_thin_evidence_stays_quiet():
    rows = honest_lane() + unit_rows("三人科", 3, 12, 0) + unit_rows("两季度", 10, 2, 0)
    assert detect(rows).height == 0  # 3 people, or 2 quarters: not judged
    assert detect([]).height == 0


def test_small_lane_is_compared_with_all_units():
    rows = honest_lane() + [dict(r, lane="孤单赛道") for r in unit_rows("独家", 10, 12, 0)]
    flags = detect(rows)
    assert flags["subject"].to_list() == ["独家"]
    assert json.loads(flags["statistics"][0])["reference"] == "all"
