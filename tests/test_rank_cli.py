"""`python -m analytics rank` and `quota` end to end on a tiny store, as a user runs them."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from analytics import store

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def tiny_store(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.duckdb"
    rows = [
        {"person_id": f"{u}{i}", "name": f"{u}人{i}", "unit": f"{u}局", "unit_type": "综合管理",
         "position_level": "一般干部", "section": "办公室", "reviewer": f"{u}科长", "year": 2025, "quarter": q,
         "score": 80.0 + i + q, "grade": "好" if i >= 4 else "较好"}
        for u in ("甲", "乙") for i in range(6) for q in (3, 4)
    ]  # fmt: skip
    annual = [
        {"person_id": f"甲{i}", "name": f"甲人{i}", "unit": "甲局", "unit_type": "综合管理", "year": 2025,
         "annual_grade": "优秀" if i < 3 else "称职"}
        for i in range(6)
    ]  # fmt: skip
    con = store.connect(path)
    try:
        store.insert_frame(con, "quarterly", pl.DataFrame(rows))
        store.insert_frame(con, "annual", pl.DataFrame(annual))
    finally:
        con.close()
    return path


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "analytics", *args], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def test_rank_people_csv(tiny_store):
    done = cli("rank", "--db", str(tiny_store), "--period", "2025Q4")
    assert done.returncode == 0, done.stderr
    table = list(csv.DictReader(io.StringIO(done.stdout.lstrip("\ufeff"))))
    assert len(table) == 12
    for column in ("lane", "rank", "person_id", "name", "unit", "section", "value", "percentile", "rank_change"):
        assert column in table[0]
    assert {r["rank"] for r in table if r["person_id"] in ("甲5", "乙5")} == {"1"}
    assert {r["basis"] for r in table} == {"score"}


def test_rank_units_and_fair_json(tiny_store):
    done = cli("rank", "--db", str(tiny_store), "--units", "--format", "json")
    assert done.returncode == 0, done.stderr
    units = json.loads(done.stdout)
    assert {u["unit"] for u in units} == {"甲局", "乙局"} and {"lane", "rank", "value", "n"} <= set(units[0])
    fair = cli("rank", "--db", str(tiny_store), "--year", "2025", "--by", "fair", "--format", "json")
    assert fair.returncode == 0, fair.stderr
    assert {r["basis"] for r in json.loads(fair.stdout)} == {"fair"}


def test_rank_xlsx_to_file(tiny_store, tmp_path):
    out = tmp_path / "排名.xlsx"
    done = cli("rank", "--db", str(tiny_store), "--by", "grade", "--format", "xlsx", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert pl.read_excel(out).height == 12


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--period", "2025Q5"], "2025Q4"),
        (["--period", "2023Q1"], "the data cover 2025Q3"),
        (["--by", "index"], "sub-scores"),
        (["--lane", "没有这个赛道"], "no lane"),
    ],
)
def test_bad_requests_exit_2_with_a_clear_message(tiny_store, args, message):
    done = cli("rank", "--db", str(tiny_store), *args)
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr


def test_quota_quarterly_and_annual(tiny_store):
    done = cli("quota", "--db", str(tiny_store), "--over", "--format", "json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []  # 2 好 of 6 is within floor(2.4) = 2
    annual = cli("quota", "--db", str(tiny_store), "--annual", "--year", "2025", "--format", "json")
    rows = json.loads(annual.stdout)
    assert annual.returncode == 0 and {(r["level"], r["excellent"], r["n"], r["over"]) for r in rows} == {
        ("lane", 3, 6, True),
        ("unit", 3, 6, True),
    }


def test_quota_uses_and_lists_a_units_own_cap(tiny_store, tmp_path):
    own = tmp_path / "s.toml"
    own.write_text(
        '[quota.unit_caps]\n"甲局" = { excellent_cap = 0.5 }\n"丁局" = { good_cap = 0.3 }\n', encoding="utf-8"
    )
    annual = cli("quota", "--db", str(tiny_store), "--settings", str(own), "--annual", "--format", "json")
    assert annual.returncode == 0, annual.stderr
    unit = next(r for r in json.loads(annual.stdout) if r["level"] == "unit")
    assert (unit["cap"], unit["cap_source"], unit["over"]) == (0.5, "unit", False)  # 3 of 6 within its own 50%
    caps = cli("quota", "--db", str(tiny_store), "--settings", str(own), "--caps", "--format", "json")
    assert caps.returncode == 0, caps.stderr
    listed = {r["unit"]: (r["excellent_cap"], r["excellent_cap_source"], r["in_data"]) for r in json.loads(caps.stdout)}
    assert listed == {"甲局": (0.5, "unit", True), "丁局": (0.2, "general", False), "乙局": (0.2, "general", True)}


def test_a_bad_unit_cap_exits_2_naming_it(tiny_store, tmp_path):
    bad = tmp_path / "s.toml"
    bad.write_text('[quota.unit_caps]\n"甲局" = { excellent_cap = 1.5 }\n', encoding="utf-8")
    done = cli("quota", "--db", str(tiny_store), "--settings", str(bad))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert 'unit_caps."甲局".excellent_cap' in done.stderr and "1.5" in done.stderr


def test_help_explains_with_examples():
    done = cli("rank", "--help")
    assert done.returncode == 0 and "examples:" in done.stdout and "--by fair" in done.stdout
