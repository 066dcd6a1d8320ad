"""Outcomes against the rules (detectors/outcome_rules.py): each break fires on its case and not on a compliant neighbour."""

from __future__ import annotations

import datetime as dt
import json

import polars as pl

from analytics.dataset import frames
from analytics.detectors import registry
from analytics.detectors.base import FLAG_SCHEMA
from analytics.detectors.outcome_rules import DETECTOR, lane_excellent_share, person_breaks, reward_concentration
from analytics.outcomes import link
from analytics.settings import Gate, Quota, Settings

S = Settings()


def q_rows(people: dict[str, list[str]], unit: str = "U", year: int = 2024, **attrs) -> pl.DataFrame:
    """people: person_id -> grades by quarter; each quarter's record carries import 1 and a row number."""
    rows = [
        {"person_id": p, "unit": unit, "year": year, "quarter": i + 1, "grade": g, "import_id": 1,
         "source_row": 10 * k + i + 2, **{a: (v[p] if isinstance(v, dict) else v) for a, v in attrs.items()}}
        for k, (p, grades) in enumerate(people.items())
        for i, g in enumerate(grades)
    ]  # fmt: skip
    return pl.DataFrame(rows)


def a_rows(grades: dict[str, str], unit: str = "U", year: int = 2024) -> pl.DataFrame:
    ids = list(grades)
    return pl.DataFrame({
        "person_id": ids, "unit": [unit] * len(ids), "year": [year] * len(ids), "annual_grade": list(grades.values()),
        "import_id": [2] * len(ids), "source_row": list(range(2, 2 + len(ids))),
    })  # fmt: skip


def o_rows(rows: list[tuple[str, str, str, dt.date, float | None]], unit: str = "U") -> pl.DataFrame:
    """rows: (person, code, raw, date, amount), import 3, rows 2.."""
    return pl.DataFrame({
        "person_id": [r[0] for r in rows], "unit": [unit] * len(rows), "outcome": [r[1] for r in rows],
        "outcome_raw": [r[2] for r in rows], "date": [r[3] for r in rows], "amount": [r[4] for r in rows],
        "import_id": [3] * len(rows), "source_row": list(range(2, 2 + len(rows))),
    }, schema_overrides={"amount": pl.Float64})  # fmt: skip


def flags_of(data, settings=S) -> pl.DataFrame:
    return DETECTOR.detect(data, settings)


def test_registered_with_its_kind():
    assert any(d.kind == "outcome_rule" and d is DETECTOR for d in registry())


def test_excellent_without_gate_fires_and_compliant_neighbour_does_not():
    data = frames(
        q_rows(
            {
                "bad": ["好", "较好", "较好", "较好"],
                "neg": ["好", "好", "一般", "好"],
                "ok": ["好", "较好", "好", "较好"],
            }
        ),
        a_rows({"bad": "优秀", "neg": "优秀", "ok": "优秀"}),
    )
    f = flags_of(data)
    assert sorted(f["subject"].to_list()) == ["bad", "neg"]
    bad = f.filter(subject="bad").row(0, named=True)
    assert bad["statistic"] == "excellent_without_gate" and bad["severity"] == 0.8 and bad["p_value"] is None
    assert (
        "好1次" in bad["evidence_zh"]
        and "导入#2第2行" in bad["evidence_zh"]
        and "import #2, row 2" in bad["evidence_en"]
    )
    assert (bad["period_from"], bad["period_to"], bad["subject_type"]) == ("2024Q1", "2024Q4", "person")


def test_gate_is_a_setting():
    data = frames(q_rows({"p": ["好", "好", "较好", "较好"]}), a_rows({"p": "优秀"}))
    assert flags_of(data).height == 0
    strict = S.replace(gate=Gate(min_good=3))
    assert flags_of(data, strict)["subject"].to_list() == ["p"]


def test_quarters_the_data_does_not_cover_count_in_the_persons_favour():
    # The export holds two quarters for the unit, one 好: the two uncovered could hold the second 好, so no flag ...
    data = frames(q_rows({"p": ["好", "较好"], "o": ["较好", "较好"]}), a_rows({"p": "优秀"}))
    assert flags_of(data).height == 0
    # ... but a person absent from quarters the unit did grade simply has no 好 there.
    data = frames(q_rows({"p": ["好", "较好"], "o": ["较好", "较好", "较好", "较好"]}), a_rows({"p": "优秀"}))
    assert flags_of(data)["subject"].to_list() == ["p"]
    # No quarterly record at all is no evidence either.
    assert flags_of(frames(annual=a_rows({"p": "优秀"}))).height == 0


def test_promotion_after_average_names_the_records():
    data = frames(
        q_rows({"p": ["好", "一般", "较好", "较好"], "ok": ["好", "较好", "较好", "较好"]}),
        a_rows({"p": "称职", "ok": "称职"}),
        o_rows(
            [
                ("p", "promotion", "提拔任用", dt.date(2025, 4, 1), None),
                ("ok", "promotion", "提拔任用", dt.date(2025, 4, 1), None),
            ]
        ),  # fmt: skip
    )
    f = flags_of(data)
    assert f["subject"].to_list() == ["p"]
    row = f.row(0, named=True)
    assert row["statistic"] == "promoted_after_average" and row["severity"] == 0.75
    # the outcome record, the quarter and its record, and how the year was found
    assert "导入#3第2行" in row["evidence_zh"] and "2024Q2一般（导入#1第3行）" in row["evidence_zh"]
    assert "据日期推断" in row["evidence_zh"] and row["caveat_zh"] is not None
    assert json.loads(row["statistics"])["records"] == ["导入#3第2行"]


def test_award_after_basic_annual_grade_and_in_a_later_year_is_fine():
    data = frames(
        pl.concat([q_rows({"p": ["好", "较好", "较好", "较好"]}), q_rows({"p": ["较好"] * 4}, year=2025)]),
        pl.concat([a_rows({"p": "基本称职"}), a_rows({"p": "称职"}, year=2025)]),
        # the award in March 2026 answers to 2025, a clean year; the commendation in 2024 to the 基本称职 year
        o_rows(
            [
                ("p", "award", "评先评优", dt.date(2026, 3, 1), None),
                ("p", "commendation", "嘉奖", dt.date(2024, 12, 1), None),
            ]
        ),  # fmt: skip
    )
    f = flags_of(data)
    assert f.select("subject", "period_from", "statistic").rows() == [("p", "2024Q1", "rewarded_after_average")]
    assert "年度考核为基本称职" in f["evidence_zh"][0]


def test_bonus_after_basic():
    data = frames(
        q_rows({"p": ["较好", "一般", "较好", "较好"], "ok": ["较好"] * 4}),
        a_rows({"p": "基本称职", "ok": "称职"}),
        o_rows(
            [
                ("p", "bonus", "考核奖金", dt.date(2025, 1, 20), 2000.0),
                ("ok", "bonus", "考核奖金", dt.date(2025, 1, 20), 3000.0),
            ]
        ),  # fmt: skip
    )
    f = flags_of(data)
    assert f.select("subject", "statistic", "severity").rows() == [("p", "bonus_after_basic", 0.6)]
    assert "2000" in f["evidence_zh"][0]


def test_several_breaks_of_one_person_year_make_one_flag():
    data = frames(
        q_rows({"p": ["好", "一般", "较好", "较好"]}),
        a_rows({"p": "优秀"}),
        o_rows([("p", "award", "评先评优", dt.date(2025, 3, 1), None)]),
    )
    assert person_breaks(data, S)["rule"].sort().to_list() == ["excellent_without_gate", "rewarded_after_average"]
    f = flags_of(data)
    assert f.height == 1 and f["n"][0] == 2 and f["severity"][0] == 0.8
    assert json.loads(f["statistics"][0])["rules"] == ["excellent_without_gate", "rewarded_after_average"]


def _lane_unit(unit: str, excellent_in_a: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """25 people: lane A 5 (leaders), lane B 20; 5 优秀 in all, `excellent_in_a` of them in lane A."""
    ids = [f"{unit}{i:02d}" for i in range(25)]
    lanes = {p: ("A" if i < 5 else "B") for i, p in enumerate(ids)}
    excellent = set(ids[:excellent_in_a]) | set(ids[5 : 5 + 5 - excellent_in_a])
    q = q_rows({p: ["好", "好", "较好", "较好"] for p in ids}, unit=unit, lane=lanes)
    return q, a_rows({p: ("优秀" if p in excellent else "称职") for p in ids}, unit=unit)


def test_lane_excellent_share_within_a_unit_inside_its_quota():
    q1, a1 = _lane_unit("集中", 4)  # 4 of 5 in lane A: 80%, unit 20%
    q2, a2 = _lane_unit("均衡", 1)  # 1 of 5 in lane A
    data = frames(pl.concat([q1, q2]), pl.concat([a1, a2]))
    tested = lane_excellent_share(link(data, S), S)
    assert tested.select("unit", "lane", "n", "k").rows() == [("集中", "A", 5, 4)]
    assert abs(tested["p_value"][0] - 0.00672) < 1e-4  # P(Bin(5, 0.2) >= 4)
    f = flags_of(data)
    assert f.select("subject_type", "subject", "lane", "statistic").rows() == [
        ("unit", "集中", "A", "lane_excellent_share")
    ]
    # approval raises the cap (25%): 4 of 5 still breaks it, but the unit's quota test moves too
    approved = S.replace(quota=Quota(approved_units=("集中",)))
    assert flags_of(data, approved)["subject"].to_list() == ["集中"]


def test_unit_above_its_cap_is_left_to_the_quota_kind():
    ids = [f"x{i}" for i in range(10)]
    q = q_rows(
        {p: ["好", "好", "好", "好"] for p in ids}, unit="X", lane={p: "A" if i < 5 else "B" for i, p in enumerate(ids)}
    )
    a = a_rows({p: ("优秀" if i < 5 else "称职") for i, p in enumerate(ids)}, unit="X")  # unit 50%
    assert lane_excellent_share(link(frames(q, a), S), S).height == 0


def _sections_city(planted: bool) -> tuple:
    """One unit, four sections of 10 with the same grades (2×好+2×较好, 称职).

    planted: section 办公室 gets 8 awards, the others 1 each. Else every section 3."""
    ids = [f"s{i:02d}" for i in range(40)]
    section = {p: ("办公室", "法规科", "财务科", "综合科")[i // 10] for i, p in enumerate(ids)}
    per_section = [8, 1, 1, 1] if planted else [3, 3, 3, 3]
    awarded = [p for i, p in enumerate(ids) if i % 10 < per_section[i // 10]]
    q = q_rows({p: ["好", "好", "较好", "较好"] for p in ids}, section=section, position_level="一般干部")
    a = a_rows(dict.fromkeys(ids, "称职"))
    o = o_rows([(p, "award", "评先评优", dt.date(2025, 3, 1), None) for p in awarded])
    return q, a, o


def test_reward_concentration_on_a_planted_section():
    q, a, o = _sections_city(planted=True)
    tests = reward_concentration(link(frames(q, a, o), S), S)
    office = tests.filter((pl.col("group") == "办公室") & (pl.col("family") == "awards")).row(0, named=True)
    assert office["observed"] == 8 and abs(office["expected"] - 2.75) < 1e-9 and office["p_value"] < 1e-4
    f = flags_of(frames(q, a, o))
    assert f.select("subject_type", "subject", "unit", "statistic").rows() == [
        ("section", "办公室", "U", "reward_concentration")
    ]
    assert f["q_value"][0] < 0.05 and "办公室" in f["evidence_zh"][0]


def test_even_rewards_are_not_a_concentration():
    q, a, o = _sections_city(planted=False)
    assert flags_of(frames(q, a, o)).height == 0


def test_rewards_explained_by_grades_are_not_a_concentration():
    # 办公室 holds the 4×好 / 优秀 people and gets the awards for exactly that: stratified, nothing is left over.
    ids = [f"s{i:02d}" for i in range(40)]
    section = {p: ("办公室", "法规科", "财务科", "综合科")[i // 10] for i, p in enumerate(ids)}
    best = {p for i, p in enumerate(ids) if i % 10 < 8 and i < 10} | {ids[10], ids[20], ids[30]}
    grades = {p: (["好"] * 4 if p in best else ["好", "较好", "较好", "较好"]) for p in ids}
    q = q_rows(grades, section=section)
    a = a_rows({p: ("优秀" if p in best else "称职") for p in ids})
    o = o_rows([(p, "award", "评先评优", dt.date(2025, 3, 1), None) for p in sorted(best)])
    assert flags_of(frames(q, a, o), S.replace(quota=Quota(excellent_cap=0.5))).height == 0


def test_contract_empty_unchanged_deterministic():
    assert flags_of(frames()).schema == pl.Schema(FLAG_SCHEMA)
    q, a, o = _sections_city(planted=True)
    data = frames(q, a, o)
    before = data.quarterly.clone()
    first, second = DETECTOR.detect(data, S, seed=1), DETECTOR.detect(data, S, seed=2)
    assert first.equals(second) and data.quarterly.equals(before)
    assert first["flag_id"].n_unique() == first.height
