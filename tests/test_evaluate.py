"""Detectors against the demo city's planted truth (DETECTORS.md targets), the scoring rules, and the CLI.

The targets are one table: add a row to hold another detector to its number. A row with a `known_gap`
is reported as xfail (not silently dropped) until its detector reaches the target.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from analytics import store
from analytics.cli import main
from analytics.dataset import frames
from analytics.detectors.base import FLAG_SCHEMA
from analytics.detectors.evaluate import SCHEMA, evaluate, format_table, score
from analytics.errors import UserError
from analytics.settings import Settings

SECOND_SEED = 11

# (kind, pattern, metric, bound, threshold, known_gap). Per kind on the demo's 2,000 people; the targets
# (combined honest rate <= 1%) are measured on 6,000 people with `python -m analytics evaluate --seed 1`.
TARGETS = [
    ("rotation", "(all)", "findable_recall", "min", 0.9, None),
    ("rotation", "rotation_strict", "recall", "min", 0.9, None),
    ("rotation", "(all)", "honest_flag_rate", "max", 0.05, None),
    ("leniency", "(all)", "findable_recall", "min", 0.9, None),
    ("leniency", "lenient_reviewer", "findable_recall", "min", 0.9, None),
    ("leniency", "lenient_sole", "findable_recall", "min", 0.75, None),
    ("leniency", "(all)", "precision", "min", 0.8, None),
    ("leniency", "(all)", "honest_flag_rate", "max", 0.05, None),
    ("quota", "(all)", "honest_flag_rate", "max", 0.05, None),
    ("compression", "(all)", "findable_recall", "min", 0.9, None),
    ("compression", "(all)", "honest_flag_rate", "max", 0.05, None),
    ("rotation+leniency+compression", "(all)", "honest_flag_rate", "max", 0.05, None),
    ("silent_negatives", "(all)", "honest_flag_rate", "max", 0.05, None),
    ("outcome_rule", "(all)", "honest_flag_rate", "max", 0.05, None),
    ("outlier", "(all)", "honest_flag_rate", "max", 0.05, None),
]


@pytest.fixture(scope="module")
def second_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from analytics.demo import build_demo

    path = tmp_path_factory.mktemp("demo_second") / "demo.duckdb"
    build_demo(path, seed=SECOND_SEED)
    return path


@pytest.fixture(scope="module")
def tables(demo_db: Path, second_demo: Path) -> dict[int, pl.DataFrame]:
    return {7: evaluate(demo_db, Settings(), seed=0), SECOND_SEED: evaluate(second_demo, Settings(), seed=0)}


def _cell(table: pl.DataFrame, kind: str, pattern: str, metric: str, band: str = "all"):
    row = table.filter((pl.col("kind") == kind) & (pl.col("pattern") == pattern) & (pl.col("size_band") == band))
    if row.height == 0:
        pytest.skip(f"no detector of kind {kind} registered")
    return row[metric].item()


@pytest.mark.slow
@pytest.mark.parametrize("demo_seed", [7, SECOND_SEED])
@pytest.mark.parametrize(
    "kind,pattern,metric,bound,threshold",
    [
        pytest.param(*t[:5], id=f"{t[0]}-{t[1]}-{t[2]}", marks=[pytest.mark.xfail(reason=t[5])] if t[5] else [])
        for t in TARGETS
    ],
)
def test_detectors_meet_the_targets_on_the_demo_city(tables, demo_seed, kind, pattern, metric, bound, threshold):
    value = _cell(tables[demo_seed], kind, pattern, metric)
    assert value is not None, f"{kind} {pattern}: nothing to measure"
    if bound == "min":
        assert value >= threshold, f"{kind} {pattern} {metric} = {value:.2f} < {threshold}"
    else:
        assert value <= threshold, f"{kind} {pattern} {metric} = {value:.2f} > {threshold}"


@pytest.mark.slow
def test_evaluation_table_shape(tables):
    table = tables[7]
    assert table.schema == pl.Schema(SCHEMA)
    assert set(table["size_band"]) == {"all", "<10", "10-29", "30+"}
    rotation = table.filter((pl.col("kind") == "rotation") & (pl.col("pattern") == "(all)"))
    # The bands split the whole: planted subjects and honest units add up.
    whole = rotation.filter(pl.col("size_band") == "all").row(0, named=True)
    bands = rotation.filter(pl.col("size_band") != "all")
    assert bands["planted"].sum() == whole["planted"] and bands["honest_units"].sum() == whole["honest_units"]
    assert whole["seconds"] is not None and whole["seconds"] < 30
    text = format_table(table, seed=7)
    assert "严格轮流 strict queue" in text and "召回率 Recall" in text and "(seed 7)" in text
    assert "稳定优秀者 stable stars" in text and "精确率 Precision" in text


# ---- the scoring rules on a hand-made case -------------------------------------------------------------


def _flags(rows: list[dict]) -> pl.DataFrame:
    base = {c: None for c in FLAG_SCHEMA}
    return (
        pl.DataFrame([{**base, **r, "severity": 0.5} for r in rows], schema=FLAG_SCHEMA)
        .with_row_index("flag_row")
        .with_columns(pl.col("flag_row").cast(pl.UInt32))
    )


def test_scoring_rules_on_a_hand_made_city():
    people = []
    for unit, n in (("甲", 12), ("乙", 12), ("丙", 5), ("丁", 40)):
        for i in range(n):
            people.append(
                {
                    "person_id": f"{unit}{i}",
                    "unit": unit,
                    "section": f"{unit}科{i % 2}",
                    "reviewer": f"{unit}审{i % 2}",
                    "year": 2024,
                    "quarter": 1,
                    "grade": "较好",
                }
            )
    data = frames(quarterly=pl.DataFrame(people).with_columns(pl.col("year", "quarter").cast(pl.Int32)))
    truth = pl.DataFrame(
        {
            "pattern": ["rotation_strict", "lenient_reviewer"],
            "subject_type": ["unit", "reviewer"],
            "subject": ["甲", "乙审1"],
            "unit": ["甲", "乙"],
            "detail": ["", ""],
        }
    )
    flags = _flags(
        [
            {"kind": "rotation", "subject_type": "section", "subject": "甲科0", "unit": "甲"},  # finds 甲
            {"kind": "rotation", "subject_type": "unit", "subject": "丙", "unit": "丙"},  # honest unit
            {"kind": "leniency", "subject_type": "section", "subject": "乙科1", "unit": "乙"},  # 乙审1's section
            {"kind": "leniency", "subject_type": "reviewer", "subject": "甲审0", "unit": "甲"},  # another pattern
        ]
    )
    table = score(flags, data, truth)

    def get(kind, metric, band="all", pattern="(all)"):
        return table.filter((pl.col("kind") == kind) & (pl.col("pattern") == pattern) & (pl.col("size_band") == band))[
            metric
        ].item()

    assert get("rotation", "recall") == 1.0 and get("rotation", "precision") == 0.5
    assert get("rotation", "honest_units") == 2 and get("rotation", "honest_flag_rate") == 0.5
    assert get("rotation", "honest_flag_rate", "<10") == 1.0 and get("rotation", "honest_flag_rate", "30+") == 0.0
    assert get("rotation", "recall", "10-29", "rotation_strict") == 1.0
    assert get("leniency", "recall") == 1.0 and get("leniency", "precision") == 0.5
    assert get("leniency", "flags_on_other_pattern") == 1 and get("leniency", "flags_on_honest") == 0
    assert get("leniency", "honest_flag_rate") == 0.0
    assert get("compression", "flags") == 0 and get("compression", "planted") == 0


def test_a_reviewer_flag_must_name_the_planted_reviewer():
    data = frames(
        quarterly=pl.DataFrame(
            {"person_id": ["a", "b"], "unit": ["乙", "乙"], "reviewer": ["乙审1", "乙审2"], "section": ["一", "二"]}
        )
    )
    truth = pl.DataFrame(
        {
            "pattern": ["lenient_reviewer"],
            "subject_type": ["reviewer"],
            "subject": ["乙审1"],
            "unit": ["乙"],
            "detail": [""],
        }
    )
    wrong = _flags([{"kind": "leniency", "subject_type": "reviewer", "subject": "乙审2", "unit": "乙"}])
    table = score(wrong, data, truth)
    row = table.filter((pl.col("kind") == "leniency") & (pl.col("pattern") == "(all)") & (pl.col("size_band") == "all"))
    assert row["recall"].item() == 0.0 and row["flags_on_other_pattern"].item() == 1


def test_evaluate_refuses_a_store_without_truth(tmp_db: Path):
    store.connect(tmp_db).close()
    with pytest.raises(UserError, match="demo_truth"):
        evaluate(tmp_db, Settings())


# ---- the commands ---------------------------------------------------------------------------------------


@pytest.mark.slow
def test_flags_command_writes_one_row_per_flag(demo_db: Path, tmp_path: Path):
    out = tmp_path / "flags.json"
    args = ["flags", "--db", str(demo_db), "--kinds", "rotation", "--min-severity", "0.5"]
    assert main([*args, "--format", "json", "--out", str(out)]) == 0
    rows = json.loads(out.read_text(encoding="utf-8"))
    assert rows and all(r["kind"] == "rotation" and r["severity"] >= 0.5 for r in rows)
    assert list(rows[0])[: len(FLAG_SCHEMA)] == list(FLAG_SCHEMA)  # the review columns may follow


@pytest.mark.slow
def test_flags_command_filters_by_unit(demo_db: Path, tmp_path: Path, capsys):
    out = tmp_path / "all.json"
    assert main(["flags", "--db", str(demo_db), "--kinds", "rotation", "--format", "json", "--out", str(out)]) == 0
    unit = json.loads(out.read_text(encoding="utf-8"))[0]["unit"]
    one = tmp_path / "one.json"
    args = ["flags", "--db", str(demo_db), "--kinds", "rotation", "--unit", unit, "--format", "json", "--out", str(one)]
    assert main(args) == 0
    assert {r["unit"] for r in json.loads(one.read_text(encoding="utf-8"))} == {unit}
    assert main(["flags", "--db", str(demo_db), "--unit", "没有这个单位"]) == 2
    assert "没有这个单位" in capsys.readouterr().err


def test_unknown_kind_exits_2_naming_the_known_kinds(tmp_db: Path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["flags", "--db", str(tmp_db), "--kinds", "rotation,bogus"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "bogus" in err and "rotation" in err and "leniency" in err


@pytest.mark.slow
def test_evaluate_command_prints_the_table(demo_db: Path, capsys):
    assert main(["evaluate", "--db", str(demo_db)]) == 0
    text = capsys.readouterr().out
    assert text.startswith("检测评估 Detector evaluation") and "可检出召回率 Findable recall" in text


@pytest.mark.slow
def test_evaluate_command_builds_the_city_of_a_seed(capsys):
    assert main(["evaluate", "--seed", "3", "--persons", "600", "--format", "csv"]) == 0
    rows = pl.read_csv(__import__("io").StringIO(capsys.readouterr().out))
    assert {"findable_recall", "precision", "honest_flag_rate"} <= set(rows.columns)
    assert "honest_small" in rows["pattern"].to_list()


def test_windows_look_alikes_and_findability():
    # Unit 甲: compressed in 2025 only (every grade 较好); 乙: a look-alike (honest); 丙: a plant with no signal.
    rows = []
    for unit in ("甲", "乙", "丙"):
        for t in range(8):
            for i in range(10):
                grade = "较好" if unit == "甲" and t >= 4 else ("好" if (i + t) % 10 < 4 else "较好")
                rows.append({"person_id": f"{unit}{i}", "unit": unit, "section": None, "reviewer": None,
                             "year": 2024 + t // 4, "quarter": t % 4 + 1, "grade": grade})  # fmt: skip
    data = frames(quarterly=pl.DataFrame(rows).with_columns(pl.col("year", "quarter").cast(pl.Int32)))
    everyone = {u: ",".join(f"{u}{i}" for i in range(10)) for u in "甲乙丙"}
    truth = pl.DataFrame(
        {
            "pattern": ["compression_year", "honest_star", "compression_year"],
            "subject_type": ["unit"] * 3,
            "subject": ["甲", "乙", "丙"],
            "unit": ["甲", "乙", "丙"],
            "detail": [""] * 3,
            "people": [everyone["甲"], everyone["乙"], everyone["丙"]],
            "period_from": ["2025Q1", "2024Q1", "2025Q1"],
            "period_to": ["2025Q4", "2025Q4", "2025Q4"],
        }
    )
    early = _flags([
        {"kind": "compression", "subject_type": "unit", "subject": "甲", "unit": "甲", "period_from": "2024Q1",
         "period_to": "2024Q4"},
        {"kind": "compression", "subject_type": "unit", "subject": "乙", "unit": "乙", "period_from": "2024Q1",
         "period_to": "2025Q4"},
    ])  # fmt: skip
    table = score(early, data, truth)

    def get(metric, kind="compression", pattern="(all)"):
        row = table.filter((pl.col("kind") == kind) & (pl.col("pattern") == pattern) & (pl.col("size_band") == "all"))
        return row[metric].item()

    assert get("planted") == 2 and get("findable") == 1  # 丙 shows nothing in 2025: not findable
    assert get("found") == 0  # the 2024 flag does not overlap 甲's 2025 plant
    assert get("honest_units") == 1 and get("honest_units_flagged") == 1  # the look-alike is an honest unit
    assert get("honest_units_flagged", pattern="honest_star") == 1
    late = early.with_columns(
        pl.when(pl.col("unit") == "甲").then(pl.lit("2025Q4")).otherwise("period_to").alias("period_to")
    )
    assert score(late, data, truth).filter((pl.col("kind") == "compression") & (pl.col("pattern") == "(all)")
                                           & (pl.col("size_band") == "all"))["findable_recall"].item() == 1.0  # fmt: skip
