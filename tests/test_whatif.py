"""What-if: hand-built cases with obvious answers, alternative rules, and the demo city (store untouched)."""

from __future__ import annotations

import hashlib

import polars as pl
import pytest

from analytics import store, whatif
from analytics.dataset import frames, load_dataset
from analytics.settings import load_settings
from analytics.whatif import PRESETS, Scenario

# Unit U, 15 people, 2024 Q1-Q4, quota 6 好 a quarter, 优秀 cap 20% = 3.
# Lenient reviewer L grades a1-a3 (好 every quarter, scores inflated by 5); H grades b1-b12.
# Recorded 好: a1, a2, a3, b1, b2, b3 each quarter; 优秀: a1, a2, a3.
# Fair scores (score minus L's leniency): a1 95, a2 93, a3 80 -- a3 falls below b1-b4 (92, 91.5, 91, 90).
FAIR = {"a1": 95.0, "a2": 93.0, "a3": 80.0, "b1": 92.0, "b2": 91.5, "b3": 91.0, "b4": 90.0}
FAIR |= {f"b{i}": 60.0 + i for i in range(5, 13)}
GOOD = {"a1", "a2", "a3", "b1", "b2", "b3"}
LENIENT = pl.DataFrame({"unit": ["U"], "reviewer": ["L"]})


def city() -> tuple:
    rows = []
    for p, fair in FAIR.items():
        lenient = p.startswith("a")
        for q in range(1, 5):
            rows.append({"person_id": p, "name": p, "unit": "U", "unit_type": "综合管理", "year": 2024, "quarter": q,
                         "grade": "好" if p in GOOD else "较好", "score": fair + (5 if lenient else 0),
                         "reviewer": "L" if lenient else "H"})  # fmt: skip
    quarterly = pl.DataFrame(rows, schema_overrides={"year": pl.Int32, "quarter": pl.Int32})
    annual = pl.DataFrame(
        {"person_id": list(FAIR), "name": list(FAIR), "unit": "U", "unit_type": "综合管理", "year": 2024,
         "annual_grade": ["优秀" if p in ("a1", "a2", "a3") else "称职" for p in FAIR]},
        schema_overrides={"year": pl.Int32},
    )  # fmt: skip
    outcomes = pl.DataFrame(
        {"person_id": ["a3"], "name": ["a3"], "unit": ["U"], "year": [2024], "outcome": ["commendation"],
         "outcome_raw": ["嘉奖"]},
        schema_overrides={"year": pl.Int32},
    )  # fmt: skip
    fair = quarterly.select(
        "person_id", "year", "quarter", pl.col("person_id").replace_strict(FAIR).alias("fair_score")
    )
    return frames(quarterly, annual, outcomes), fair


def changes(result) -> dict[str, tuple[str, str]]:
    return {r["person_id"]: (r["change"], r["reason"]) for r in result.changes.iter_rows(named=True)}


def test_one_of_the_lenient_reviewers_three_excellent_drops_under_fair_scores():
    data, fair = city()
    result = whatif.run(data, load_settings(), PRESETS["fair"], fair=fair, lenient=LENIENT)
    # The unit's own bar is b3's 91: a3 (80) loses every 好 and fails the gate; b4, next in line, takes those 好.
    moved = result.quarterly.group_by("person_id", "change").len().sort("person_id").rows()
    assert moved == [("a3", "loses", 4), ("b4", "gains", 4)]
    # a1 and a2 keep 优秀; a3 drops on the gate; the freed place goes to the best fair score with 4 好: b1.
    assert changes(result) == {"a3": ("loses", "gate"), "b1": ("gains", "freed")}
    row = result.changes.filter(pl.col("person_id") == "a3").row(0, named=True)
    assert (row["recorded_good"], row["whatif_good"]) == (4, 0) and "4→0" in row["reason_zh"]
    assert result.annual.filter(pl.col("whatif_grade") == "优秀")["person_id"].sort().to_list() == ["a1", "a2", "b1"]
    # Entitlements that follow: a3's commendation (which she holds) and promotion priority; b1's commendation, b4's priority.
    ent = {(r["person_id"], r["consequence"]): r for r in result.consequences.iter_rows(named=True)}
    assert set(ent) == {("a3", "commendation"), ("a3", "promotion_priority"), ("b1", "commendation"),
                        ("b4", "promotion_priority")}  # fmt: skip
    assert ent[("a3", "commendation")]["recorded_outcomes"] == "嘉奖"
    assert result.counts() == {"gains": 1, "losses": 1, "quarters_changed": 8, "consequences_changed": 4}


def test_recorded_grades_under_the_set_rules_change_nothing_here():
    data, _ = city()
    result = whatif.run(data, load_settings(), PRESETS["rules"])
    assert result.changes.height == 0 and result.quarterly.height == 0 and result.consequences.height == 0


def test_a_lower_cap_removes_the_lowest_ranked_excellent():
    data, _ = city()
    result = whatif.run(data, load_settings(), Scenario(excellent_cap=0.15))  # floor(0.15 x 15) = 2 places
    assert changes(result) == {"a3": ("loses", "cap")}  # a3 has the lowest mean score of the three
    assert "2 个" in result.changes["reason_zh"].item()


def test_a_higher_cap_never_hands_out_more_than_the_unit_gave():
    data, _ = city()
    assert whatif.run(data, load_settings(), Scenario(excellent_cap=0.35)).changes.height == 0


def test_a_stricter_gate_and_the_lane_level():
    data, fair = city()
    settings = load_settings()
    strict = whatif.run(data, settings, Scenario(gate_min_good=5))  # nobody can have 5 好 in 4 quarters
    assert {r[0] for r in changes(strict).values()} == {"loses"} and len(changes(strict)) == 3
    lane = whatif.run(data, settings, Scenario(basis="fair", cap_level="lane"), fair=fair, lenient=LENIENT)
    assert changes(lane) == {"a3": ("loses", "gate"), "b1": ("gains", "freed")}  # one unit = one lane here


def test_flow_and_groups():
    data, fair = city()
    result = whatif.run(data, load_settings(), PRESETS["fair"], fair=fair, lenient=LENIENT)
    links = {(s, t): v for s, t, v in whatif.flow(result).rows()}
    assert links[("优秀（记录）", "称职（推演）")] == 1 and links[("称职（记录）", "优秀（推演）")] == 1
    assert links[("优秀（记录）", "优秀（推演）")] == 2
    units = whatif.by_group(result, "unit").row(0, named=True)
    assert (units["recorded_excellent"], units["whatif_excellent"], units["gains"], units["losses_gate"]) == (
        3,
        3,
        1,
        1,
    )


def test_unflagged_reviewers_lose_nothing_and_a_lone_reviewer_has_no_bar():
    data, fair = city()
    settings = load_settings()
    nobody = LENIENT.clear()
    assert whatif.run(data, settings, PRESETS["fair"], fair=fair, lenient=nobody).quarterly.height == 0
    everyone = pl.DataFrame({"unit": ["U", "U"], "reviewer": ["L", "H"]})  # no other reviewer sets a bar
    assert whatif.run(data, settings, PRESETS["fair"], fair=fair, lenient=everyone).quarterly.height == 0


def test_bad_scenarios_are_refused():
    with pytest.raises(ValueError):
        Scenario(basis="kind")
    with pytest.raises(ValueError):
        Scenario(excellent_cap=1.5)


def _fingerprint(db) -> tuple[str, dict]:
    con = store.connect(db, read_only=True)
    try:
        sums = {t: con.sql(f"SELECT count(*), sum(hash(q)) FROM {t} q").fetchone() for t in ("quarterly", "annual", "outcomes")}  # fmt: skip
    finally:
        con.close()
    return hashlib.sha256(db.read_bytes()).hexdigest(), sums


def test_demo_city_scenarios_move_some_excellent_and_leave_the_store_as_it_was(demo_db):
    before = _fingerprint(demo_db)
    settings = load_settings()
    con = store.connect(demo_db, read_only=True)
    try:
        data = load_dataset(con, settings)
        truth = con.sql("SELECT unit, subject AS reviewer FROM demo_truth WHERE pattern LIKE 'lenient%'").pl()
    finally:
        con.close()
    fair = whatif.run(data, settings, PRESETS["fair"])
    assert fair.counts()["losses"] > 0 and fair.counts()["gains"] > 0
    # Quarters that lose 好 under fair scores lie mostly under the planted lenient reviewers.
    lost = fair.quarterly.filter(pl.col("change") == "loses")
    on_planted = lost.join(truth, on=["unit", "reviewer"], how="semi").height
    assert on_planted / lost.height > 0.9
    cap15 = whatif.run(data, settings, PRESETS["cap15"])
    assert cap15.counts()["losses"] > 0 and set(cap15.changes["reason"].unique()) <= {"cap", "freed", "gate"}
    assert _fingerprint(demo_db) == before  # byte-identical: a scenario never writes
