"""The appeal pack: its sections on a hand-built unit, the xlsx and PDF files, the CLI and its audit row."""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from openpyxl import load_workbook

from analytics import appeal_pack, store
from analytics.appeals.store import load_appeals
from analytics.dataset import frames, load_dataset
from analytics.detectors.base import FLAG_SCHEMA
from analytics.errors import UserError
from analytics.schema import APPEALS
from analytics.settings import load_settings

ROOT = Path(__file__).resolve().parent.parent


def small() -> tuple:
    rows = [
        {"person_id": p, "name": n, "unit": "U", "section": s, "unit_type": "综合管理", "position_level": "一般干部",
         "year": 2024, "quarter": q, "grade": g, "score": 80.0 + q, "reviewer": r}
        for p, n, s, r, g in (("p1", "甲", "一科", "老王", "好"), ("p2", "乙", "一科", "老王", "较好"),
                              ("p3", "丙", "二科", "老李", "一般"))
        for q in range(1, 5)
    ]  # fmt: skip
    q = pl.DataFrame(rows, schema_overrides={"year": pl.Int32, "quarter": pl.Int32})
    annual = pl.DataFrame({"person_id": ["p1", "p2", "p3"], "name": ["甲", "乙", "丙"], "unit": "U", "year": 2024,
                           "annual_grade": ["优秀", "称职", "称职"]}, schema_overrides={"year": pl.Int32})  # fmt: skip
    appeals = pl.DataFrame(
        [{"person_id": "p2", "name": "乙", "unit": "U", "year": 2024, "quarter": 2, "appeal_subject": "quarterly_grade",
          "appeal_reason": "评鉴人不公", "reason_kind": "reviewer", "reviewer": "老王", "decision": "kept"}],
        schema=APPEALS.polars_schema(), strict=False,
    )  # fmt: skip
    flag = {c: None for c in FLAG_SCHEMA} | {"kind": "leniency", "subject_type": "reviewer", "subject": "老王",
                                             "unit": "U", "q_value": 0.001, "severity": 0.6, "evidence_zh": "老王偏宽"}  # fmt: skip
    flags = pl.DataFrame([flag], schema=FLAG_SCHEMA)
    return frames(q, annual), appeals, flags


def test_person_pack_gathers_every_section():
    data, appeals, flags = small()
    pack = appeal_pack.person_pack(data, load_settings(), appeals, "p2", flags=flags)
    assert [s.key for s in pack.sections] == [
        "info",
        "quarters",
        "reviewers",
        "rotation",
        "annual",
        "outcomes",
        "appeals",
    ]
    assert pack.section("quarters").frame["grade"].to_list() == ["较好"] * 4
    reviewer = pack.section("reviewers").frame.row(0, named=True)
    assert (reviewer["reviewer"], reviewer["flagged"], reviewer["appeals"], reviewer["evidence_zh"]) == (
        "老王",
        True,
        1,
        "老王偏宽",
    )
    annual = pack.section("annual").frame.row(0, named=True)
    assert (annual["n_good"], annual["gate_met"]) == (0, False)
    assert pack.section("appeals").frame["appeal_reason"].to_list() == ["评鉴人不公"]
    assert pack.section("rotation").frame.height == 0 and pack.section("rotation").note is not None
    with pytest.raises(UserError):
        appeal_pack.person_pack(data, load_settings(), appeals, "nobody", flags=flags)


def test_unit_pack_and_xlsx_in_words():
    data, appeals, flags = small()
    pack = appeal_pack.unit_pack(data, load_settings(), appeals, "U", flags=flags)
    annual = pack.section("annual").frame
    assert annual.filter(pl.col("person_id") == "p1")["gate_met"].item() is True
    book = load_workbook(io.BytesIO(appeal_pack.to_xlsx(pack, "zh")))
    assert book.sheetnames[0] == "基本情况" and "申诉记录" in book.sheetnames
    sheet = book["申诉记录"]
    header = [c.value for c in sheet[1]]
    assert "申诉理由" in header and "处理结果" in header
    assert "维持原结果" in [c.value for c in sheet[2]]  # the decision in words, not its code


def test_html_is_escaped_and_printable():
    data, appeals, flags = small()
    hostile = appeals.with_columns(pl.lit("<script>alert(1)</script>").alias("appeal_reason"))
    page = appeal_pack.to_html(appeal_pack.person_pack(data, load_settings(), hostile, "p2", flags=flags), "zh")
    assert "<script>alert" not in page and "&lt;script&gt;" in page
    assert "@page" in page and "不是结论" in page


@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs Chromium for the PDF")
def test_cli_writes_pdf_and_xlsx_and_audits_them(demo_db, tmp_path):
    db = tmp_path / "demo.duckdb"
    db.write_bytes(demo_db.read_bytes())
    con = store.connect(db, read_only=True)
    try:
        planted = con.sql("SELECT q.reviewer, q.unit FROM demo_truth t JOIN quarterly q ON q.reviewer = t.subject "
                          "AND q.unit = t.unit WHERE pattern LIKE 'lenient%' LIMIT 1").fetchone()  # fmt: skip
        pid = con.execute("SELECT person_id FROM quarterly WHERE reviewer = ? AND unit = ? LIMIT 1", list(planted)).fetchone()[0]  # fmt: skip
    finally:
        con.close()
    for suffix in ("pdf", "xlsx"):
        out = tmp_path / f"pack.{suffix}"
        done = subprocess.run([sys.executable, "-m", "analytics", "appeal-pack", pid, "--out", str(out), "--db", str(db)],
                              capture_output=True, text=True, cwd=ROOT, timeout=300)  # fmt: skip
        assert done.returncode == 0, done.stderr
    assert (tmp_path / "pack.pdf").read_bytes()[:5] == b"%PDF-"
    con = store.connect(db, read_only=True)
    try:
        targets = [r[0] for r in con.sql("SELECT target FROM audit_log WHERE action = 'export'").fetchall()]
    finally:
        con.close()
    assert sorted(targets) == [f"appeal_pack:{pid}.pdf", f"appeal_pack:{pid}.xlsx"]


def test_cli_refuses_a_bad_suffix_and_an_unknown_person(demo_db, tmp_path):
    bad = subprocess.run([sys.executable, "-m", "analytics", "appeal-pack", "P000001", "--out", "x.docx", "--db", str(demo_db)],
                         capture_output=True, text=True, cwd=ROOT)  # fmt: skip
    assert bad.returncode == 2 and ".xlsx or .pdf" in bad.stderr and "Traceback" not in bad.stderr
    nobody = subprocess.run([sys.executable, "-m", "analytics", "appeal-pack", "NOBODY", "--out", str(tmp_path / "a.xlsx"),
                             "--db", str(demo_db)], capture_output=True, text=True, cwd=ROOT)  # fmt: skip
    assert nobody.returncode == 2 and "NOBODY" in nobody.stderr and not (tmp_path / "a.xlsx").exists()


def test_cli_appeals_and_whatif_on_the_demo(demo_db):
    run = lambda *a: subprocess.run([sys.executable, "-m", "analytics", *a, "--db", str(demo_db)],  # noqa: E731
                                    capture_output=True, text=True, cwd=ROOT, timeout=300)  # fmt: skip
    appeals = run("appeals", "--table", "reviewers")
    assert appeals.returncode == 0 and "每百人次" in appeals.stderr
    table = pl.read_csv(io.StringIO(appeals.stdout))
    assert table["flagged"].sum() >= 1
    fair = run("whatif", "--basis", "fair", "--table", "units")
    assert fair.returncode == 0 and "不是结论" in fair.stderr
    assert pl.read_csv(io.StringIO(fair.stdout))["losses"].sum() > 0
    bad = run("whatif", "--cap", "2")
    assert bad.returncode == 2 and "excellent_cap" in bad.stderr


def test_pack_on_the_demo_for_a_person_under_a_planted_lenient_reviewer(demo_db):
    con = store.connect(demo_db, read_only=True)
    try:
        settings = load_settings()
        data = load_dataset(con, settings)
        appeals = load_appeals(con)
        unit, reviewer = con.sql(
            "SELECT unit, subject FROM demo_truth WHERE pattern LIKE 'lenient%' LIMIT 1"
        ).fetchone()
    finally:
        con.close()
    pid = data.quarterly.filter((pl.col("unit") == unit) & (pl.col("reviewer") == reviewer))["person_id"][0]
    pack = appeal_pack.person_pack(data, settings, appeals, pid)
    evidence = pack.section("reviewers").frame.filter(pl.col("reviewer") == reviewer).row(0, named=True)
    assert evidence["flagged"] and evidence["alpha"] > 0
