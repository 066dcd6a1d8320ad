"""Unusual units (IsolationForest) on a hand-built lane with one planted deviation."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

from analytics.dataset import frames
from analytics.detectors.base import FLAG_SCHEMA
from analytics.detectors.outliers import DETECTOR, score_unit_quarters
from analytics.settings import Outliers, Settings

SETTINGS = Settings()


def lane(units: int = 40, quarters: int = 6, people: int = 10, seed: int = 0) -> list[dict]:
    """Honest-looking units: 好 for the best 4 scores, 一般 below 70, scores ~ N(85, 5)."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(units):
        for t in range(quarters):
            scores = rng.normal(85, 5, people)
            best = set(np.argsort(-scores)[:4])
            for i, s in enumerate(scores):
                grade = "好" if i in best else ("一般" if s < 74 else "较好")
                rows.append(
                    dict(
                        person_id=f"单位{u}-{i}",
                        unit=f"单位{u}",
                        lane="综合管理·一般干部",
                        year=2023 + t // 4,
                        quarter=t % 4 + 1,
                        grade=grade,
                        score=round(float(s), 1),
                    )
                )
    return rows


def plant_poor(rows: list[dict], unit: str, quarter: int, count: int) -> list[dict]:
    """Give `count` people of `unit` 较差 in one quarter (an abrupt change no other unit shows)."""
    out = []
    for r in rows:
        hit = (
            r["unit"] == unit
            and r["quarter"] == quarter
            and r["year"] == 2023
            and int(r["person_id"].split("-")[1]) < count
        )
        out.append(dict(r, grade="较差") if hit else r)
    return out


def test_contamination_is_respected():
    data = frames(quarterly=pl.DataFrame(lane()))
    for contamination in (0.02, 0.05):
        settings = SETTINGS.replace(outliers=Outliers(contamination=contamination))
        scored = score_unit_quarters(data, settings, seed=1)
        assert scored.height == 240
        assert scored["outlier"].sum() == pytest.approx(contamination * 240, abs=1)


def test_explanation_names_the_planted_feature():
    rows = plant_poor(lane(), "单位7", 2, 5)
    flags = DETECTOR.detect(frames(quarterly=pl.DataFrame(rows)), SETTINGS, seed=3)
    assert list(flags.schema.items()) == list(FLAG_SCHEMA.items())
    assert "单位7" in flags["subject"].to_list()
    flag = flags.filter(pl.col("subject") == "单位7").row(0, named=True)
    stats = json.loads(flag["statistics"])
    assert stats["top_features"][0] == "share_poor" and stats["top_z"][0] > 3
    assert stats["worst_period"] == "2023Q2" and flag["p_value"] is None
    assert "'较差'占比 50%，高于同赛道" in flag["evidence_zh"]
    assert "share of Poor 50%" in flag["evidence_en"]
    assert 0 < flag["severity"] <= 1 and flag["statistic_value"] > 0.5
    assert flags["subject"].n_unique() == flags.height  # one flag per unit


def test_deterministic_under_a_seed_and_quiet_when_thin():
    data = frames(quarterly=pl.DataFrame(plant_poor(lane(), "单位7", 2, 5)))
    first = DETECTOR.detect(data, SETTINGS, seed=5)
    assert first.equals(DETECTOR.detect(data, SETTINGS, seed=5))
    few = frames(quarterly=pl.DataFrame(lane(units=3, quarters=4)))
    assert DETECTOR.detect(few, SETTINGS).height == 0  # 12 unit-quarters x 2% < one expected outlier
    assert DETECTOR.detect(frames(), SETTINGS).height == 0


def test_a_single_odd_quarter_is_thin_evidence():
    rows = [r for r in lane(quarters=4) if not (r["unit"] == "单位7" and r["quarter"] == 4)]
    odd = [
        dict(r, quarter=4, grade="较差" if int(r["person_id"].split("-")[1]) < 5 else r["grade"])
        for r in lane(quarters=4)
        if r["unit"] == "单位7" and r["quarter"] == 4
    ]
    data = frames(quarterly=pl.DataFrame(rows + odd))
    scored = score_unit_quarters(data, SETTINGS, seed=2)
    assert scored.filter(pl.col("outlier") & (pl.col("unit") == "单位7"))["t"].to_list() == [2023 * 4 + 3]
    assert "单位7" not in DETECTOR.detect(data, SETTINGS, seed=2)["subject"].to_list()
    once = SETTINGS.replace(outliers=Outliers(min_quarters_flagged=1))
    assert "单位7" in DETECTOR.detect(data, once, seed=2)["subject"].to_list()
