"""One contract for every registered detector (STYLE.md 3): whatever analytics.detectors.registry() finds is checked.

The dataset is small and synthetic but has what the detectors look at: units of several sizes and types,
sections with their own reviewers, scores, a queue-like unit, a lenient section, a compressed and a silent
unit, 一般/较差 grades and 不确定等次, annual grades and outcome records.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from analytics.dataset import AssessmentData, frames
from analytics.detectors import registry
from analytics.detectors.base import FLAG_KINDS, FLAG_SCHEMA, SUBJECT_TYPES
from analytics.settings import Settings

GRADES = np.array(["好", "较好", "一般", "较差", "不确定等次"])


def _quarterly(rng: np.random.Generator) -> pl.DataFrame:
    units = [  # name, type, size, sections
        ("甲局", "综合管理", 24, 3),
        ("乙局", "行政执法", 16, 2),
        ("丙镇", "乡镇街道", 30, 3),
        ("丁中心", "窗口服务", 10, 1),
        ("戊所", "综合管理", 6, 1),
        ("己院", "法检", 12, 2),
        ("庚办", "综合管理", 20, 2),  # compressed: one 好 a quarter, never 一般
        ("辛委", "综合管理", 30, 3),  # silent: never 一般 or 较差
    ]
    frames_ = []
    for u, (unit, unit_type, size, n_sections) in enumerate(units):
        person = np.arange(size)
        section = person % n_sections
        ability = rng.normal(0, 1, size)
        for t in range(12):
            score = np.round(85 + 4 * ability + rng.normal(0, 2, size), 1)
            rank = np.argsort(np.argsort(-score))
            grade = np.where(rank < int(0.4 * size), 0, 1)
            if unit == "丁中心":  # a queue: everyone in turn
                grade = np.where((person - 4 * t) % size < 4, 0, 1)
            if unit == "甲局":  # a lenient head in the first section
                grade = np.where((section == 0) & (rng.random(size) < 0.75), 0, grade)
            if unit == "庚办":
                grade = np.where(rank < 1, 0, 1)
            if unit not in ("庚办", "辛委"):
                grade = np.where(rng.random(size) < 0.04, 2, grade)
                grade = np.where(rng.random(size) < 0.01, 3, grade)
            grade = np.where(rng.random(size) < 0.01, 4, grade)
            frames_.append(
                pl.DataFrame(
                    {
                        "person_id": [f"P{u}{i:03d}" for i in person],
                        "name": [f"{unit}{i}" for i in person],
                        "unit": unit,
                        "unit_type": unit_type,
                        "section": [f"{unit}科{s}" for s in section],
                        "position_level": np.where(person == 0, "中层正职", "一般干部"),
                        "year": 2023 + t // 4,
                        "quarter": t % 4 + 1,
                        "grade": GRADES[grade],
                        "score": score,
                        "reviewer": [f"{unit}评鉴人{s}" for s in section],
                    }
                )
            )
    return pl.concat(frames_).with_columns(pl.col("year", "quarter").cast(pl.Int32))


def _annual(quarterly: pl.DataFrame) -> pl.DataFrame:
    per_year = quarterly.group_by("person_id", "name", "unit", "year").agg((pl.col("grade") == "好").sum().alias("g"))
    return per_year.with_columns(
        pl.when(pl.col("g") >= 3).then(pl.lit("优秀")).otherwise(pl.lit("称职")).alias("annual_grade")
    ).drop("g")


def _outcomes(annual: pl.DataFrame) -> pl.DataFrame:
    excellent = annual.filter(pl.col("annual_grade") == "优秀").sort("person_id", "year").head(20)
    return excellent.select(
        "person_id",
        "name",
        "unit",
        (pl.col("year") + 1).alias("year"),
        pl.date(pl.col("year") + 1, 3, 15).alias("date"),
        pl.lit("award").alias("outcome"),
        pl.lit("评先评优").alias("outcome_raw"),
        pl.lit(None, dtype=pl.Float64).alias("amount"),
    ).with_columns(pl.col("year").cast(pl.Int32))


@pytest.fixture(scope="module")
def dataset() -> AssessmentData:
    q = _quarterly(np.random.default_rng(11))
    a = _annual(q).with_columns(pl.col("year").cast(pl.Int32))
    return frames(quarterly=q, annual=a, outcomes=_outcomes(a))


def _copies(data: AssessmentData) -> tuple[pl.DataFrame, ...]:
    return data.quarterly.clone(), data.annual.clone(), data.outcomes.clone()


DETECTORS = registry()


def test_registry_finds_detectors_with_known_kinds():
    assert DETECTORS, "no detector registered"
    assert {d.kind for d in DETECTORS} <= set(FLAG_KINDS)
    assert all(d.name_zh and d.name_en for d in DETECTORS)
    assert "rotation" in {d.kind for d in DETECTORS}


@pytest.fixture(params=DETECTORS, ids=[f"{d.kind}-{d.name_en}" for d in DETECTORS])
def detector(request):
    return request.param


def test_empty_input_gives_empty_flags_with_the_schema(detector):
    out = detector.detect(frames(), Settings(), 0)
    assert out.height == 0
    assert out.schema == pl.Schema(FLAG_SCHEMA)


def test_output_schema_values_and_input_untouched(detector, dataset):
    before = _copies(dataset)
    out = detector.detect(dataset, Settings(), 3)
    assert out.schema == pl.Schema(FLAG_SCHEMA)
    for frame, kept in zip((dataset.quarterly, dataset.annual, dataset.outcomes), before, strict=True):
        assert frame.equals(kept), "the detector changed its input"
    if out.height:
        assert set(out["kind"].unique()) == {detector.kind}
        assert set(out["kind"].unique()) <= set(FLAG_KINDS)
        assert set(out["subject_type"].unique()) <= set(SUBJECT_TYPES)
        assert out["flag_id"].null_count() == 0 and out["flag_id"].n_unique() == out.height
        assert out["flag_key"].null_count() == 0 and out["flag_key"].n_unique() == out.height, (
            "flag_key names one finding"
        )
        assert out["subject"].null_count() == 0
        assert out["severity"].null_count() == 0
        assert out["severity"].is_between(0, 1).all()
        for col in ("p_value", "q_value"):
            values = out[col].drop_nulls()
            assert values.is_between(0, 1).all(), f"{col} outside [0, 1]"
        assert (out["evidence_zh"].str.len_chars() > 0).all() and (out["evidence_en"].str.len_chars() > 0).all()


def test_deterministic_under_a_seed(detector, dataset):
    first = detector.detect(dataset, Settings(), 5)
    second = detector.detect(dataset, Settings(), 5)
    differ = [c for c in first.columns if not first[c].equals(second[c])] if first.shape == second.shape else ["shape"]
    assert not differ, f"two runs with the same seed differ in {differ} (float sums in group-by order?)"


def test_rotation_fires_on_the_planted_queue(dataset):
    rotation = next(d for d in DETECTORS if d.kind == "rotation")
    out = rotation.detect(dataset, Settings(), 0)
    assert "丁中心" in out["unit"].to_list()
    assert "丙镇" not in out["unit"].to_list()  # merit: the best scores get 好
