"""The hardening issue's attacks, retried as they were made: each must now hold.

A 5 KB workbook spanning A1:XFD1048576 (the reader asked for 512 GiB and the process aborted), a full
disk during an import, a damaged store under the CLI and the app, SQL results the page could not show,
and data holding markup.
"""

from __future__ import annotations

import errno
import io
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import duckdb
import polars as pl
import pytest

from analytics import store
from analytics.cli import main
from tests.test_app import _navigation_mode  # noqa: F401  (autouse: AppTest runs through app.py's navigation)

ROOT = Path(__file__).resolve().parent.parent


def huge_sheet_xlsx(dimension: str = "A1:XFD1048576", cell: str = "XFD1048576") -> bytes:
    """A tiny workbook: 姓名 in A1 and one cell at `cell`, the sheet declaring `dimension`."""
    main_ns = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    rel_ns = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    pkg = "http://schemas.openxmlformats.org/package/2006"
    row = "".join(ch for ch in cell if ch.isdigit())
    members = {
        "[Content_Types].xml": f'<Types xmlns="{pkg}/content-types"><Default Extension="rels" '
        'ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" '
        'ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/'
        'sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>',
        "_rels/.rels": f'<Relationships xmlns="{pkg}/relationships"><Relationship Id="rId1" '
        f'Type="{rel_ns}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        "xl/workbook.xml": f'<workbook xmlns="{main_ns}" xmlns:r="{rel_ns}"><sheets><sheet name="Sheet1" '
        'sheetId="1" r:id="rId1"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels": f'<Relationships xmlns="{pkg}/relationships"><Relationship Id="rId1" '
        f'Type="{rel_ns}/worksheet" Target="worksheets/sheet1.xml"/></Relationships>',
        "xl/worksheets/sheet1.xml": f'<worksheet xmlns="{main_ns}"><dimension ref="{dimension}"/><sheetData>'
        '<row r="1"><c r="A1" t="inlineStr"><is><t>姓名</t></is></c></row>'
        f'<row r="{row}"><c r="{cell}" t="inlineStr"><is><t>x</t></is></c></row></sheetData></worksheet>',
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as book:
        for name, text in members.items():
            book.writestr(name, text)
    return buf.getvalue()


def run_cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "analytics", *args], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=300)  # fmt: skip


# ---------------------------------------------------------------- parsing isolated


@pytest.mark.parametrize("dimension", ["A1:XFD1048576", "A1"])
def test_a_sheet_spanning_the_whole_grid_ends_with_a_message_and_exit_2(tmp_path, dimension):
    """With the declared range the guard refuses it unread; with a lying range the parsing child dies, not the CLI."""
    bomb = tmp_path / "平时考核.xlsx"
    bomb.write_bytes(huge_sheet_xlsx(dimension))
    assert bomb.stat().st_size < 5 * 1024
    db = tmp_path / "store.duckdb"
    for args in (("preview", str(bomb)), ("import", str(bomb), "--db", str(db))):
        done = run_cli(*args)
        assert done.returncode == 2, done.stderr[-2000:]
        assert (
            "Traceback" not in done.stderr and "panicked" not in done.stderr and "memory allocation" not in done.stderr
        )
        assert "XFD1048576" in done.stderr and "平时考核.xlsx" in done.stderr


def test_the_server_process_survives_a_dying_parse_and_keeps_parsing(samples):
    from analytics.errors import UserError
    from analytics.importer import preview_bytes

    with pytest.raises(UserError, match="memory allowance"):
        preview_bytes(huge_sheet_xlsx("A1"), "bomb.xlsx")
    again = preview_bytes((samples / "平时考核_2024_长表.xlsx").read_bytes(), "good.xlsx")
    assert again.kind == "quarterly" and again.total_records > 100


def test_the_upload_page_shows_the_refusal_and_the_app_stays_up(tmp_path, monkeypatch, samples):
    from tests.test_app import first_admin, no_exception, open_app

    at = first_admin(open_app(tmp_path / "store.duckdb", monkeypatch, "pages/data.py"))
    at.file_uploader[0].set_value(("巨大.xlsx", huge_sheet_xlsx("A1"), ui_mime())).run()
    no_exception(at)
    assert any("XFD1048576" in e.value for e in at.error)
    good = (samples / "平时考核_2024_长表.xlsx").read_bytes()
    at.file_uploader[0].set_value(("平时考核.xlsx", good, ui_mime())).run()
    no_exception(at)
    assert not at.error


def ui_mime() -> str:
    return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def test_a_runaway_parse_is_stopped_at_its_time_limit():
    from analytics import parse_isolation
    from analytics.errors import UserError
    from analytics.upload_guard import Limits

    with pytest.raises(UserError, match="took over 1 s"):
        parse_isolation.run_limited(time.sleep, (60,), "slow.xlsx", Limits(parse_seconds=1))
    # The runaway worker was killed; the next parse gets a fresh one.
    assert parse_isolation.run_limited(abs, (-3,), "next.xlsx") == 3


def test_parse_files_go_to_ram_only_with_room_and_stale_ones_are_swept(tmp_path, monkeypatch):
    """The bytes and the worker's answer pass through /dev/shm only when it has room (containers often give it
    64 MB); spill folders a killed process left there are removed, since they would hold memory until reboot."""
    import os
    from types import SimpleNamespace

    from analytics import parse_isolation

    monkeypatch.setattr(parse_isolation, "SHM", str(tmp_path))
    stale, fresh, other = tmp_path / "kaohe-parse-old", tmp_path / "kaohe-parse-new", tmp_path / "someone-else"
    for folder in (stale, fresh, other):
        folder.mkdir()
    old = time.time() - parse_isolation.STALE_S - 60
    os.utime(stale, (old, old))
    os.utime(other, (old, old))
    assert parse_isolation._spill_parent(1 << 20) == str(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kaohe-parse-new", "someone-else"]
    small = SimpleNamespace(f_bavail=16, f_frsize=1 << 20)  # 16 MB free
    monkeypatch.setattr(parse_isolation.os, "statvfs", lambda _: small)
    assert parse_isolation._spill_parent(1 << 20) is None  # the system's temporary folder instead


def test_too_many_columns_in_a_text_file_are_refused_before_parsing():
    from analytics.errors import UserError
    from analytics.upload_guard import check_upload

    with pytest.raises(UserError, match="2,001 columns"):
        check_upload(("a," * 2000 + "b\n").encode(), "wide.csv")


# ---------------------------------------------------------------- full disk, damaged store


def test_a_full_disk_during_import_exits_2_and_leaves_no_temp_file(tmp_path, monkeypatch, samples, capsys):
    db = tmp_path / "store.duckdb"
    original = Path.write_bytes

    def write_then_fail(self, data):
        if self.parent.name == "originals":
            original(self, data[: len(data) // 2])  # half the file lands, then the disk is full
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self))
        return original(self, data)

    monkeypatch.setattr(Path, "write_bytes", write_then_fail)
    code = main(["import", str(samples / "平时考核_2024_长表.xlsx"), "--db", str(db)])
    err = capsys.readouterr().err
    assert code == 2
    assert "磁盘空间不足" in err and "disk is full" in err and "Traceback" not in err
    assert list(store.originals_dir(db).iterdir()) == []
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("SELECT count(*) FROM imports").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM quarterly").fetchone()[0] == 0
    con.close()


def test_duckdb_reporting_a_full_disk_is_explained():
    from analytics.faults import explain

    zh, en = explain(duckdb.IOException("IO Error: Could not write file: No space left on device"), "/x/store.duckdb")
    assert "磁盘空间不足" in zh and "disk is full" in en


@pytest.fixture(scope="module")
def damaged(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("damaged")
    garbage = folder / "garbage.duckdb"
    garbage.write_bytes(os.urandom(64 * 1024))
    truncated = folder / "truncated.duckdb"
    con = store.connect(truncated)
    store.insert_frame(con, "quarterly", pl.DataFrame({"person_id": [f"p{i}" for i in range(50_000)]}))
    con.close()
    with truncated.open("r+b") as handle:
        handle.truncate(truncated.stat().st_size // 3)
    folder_as_store = folder / "folder.duckdb"
    folder_as_store.mkdir()
    return {"garbage": garbage, "truncated": truncated, "folder": folder_as_store}


@pytest.mark.parametrize("kind", ["garbage", "truncated", "folder"])
@pytest.mark.parametrize("command", [["imports"], ["rank"], ["flags"], ["undo", "1"], ["users", "list"], ["outcomes"]])
def test_a_damaged_store_gives_exit_2_and_a_message_in_every_command(damaged, kind, command, capsys):
    code = main([*command, "--db", str(damaged[kind])])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "错误 error:" in err and str(damaged[kind].name) in err


def test_a_damaged_store_shows_a_clear_message_in_the_app(damaged, monkeypatch):
    from tests.test_app import open_app

    for kind in ("garbage", "truncated"):
        at = open_app(damaged[kind], monkeypatch)
        assert not at.exception, [e.message for e in at.exception]
        shown = " ".join(e.value for e in at.error)
        assert "无法读取" in shown and "已损坏" in shown
        assert str(damaged[kind].parent) not in shown  # no server path on the page


# ---------------------------------------------------------------- SQL page: every run shown and audited


def test_sql_page_shows_interval_and_struct_results_and_audits_every_run(demo_db, tmp_path, monkeypatch):
    from tests.test_app import no_exception, open_app

    db = tmp_path / "demo.duckdb"
    shutil.copy(demo_db, db)
    at = open_app(db, monkeypatch, "pages/research_sql.py")
    for sql in ("SELECT INTERVAL 3 DAY AS i, {'a': 1} AS s, MAP {'k': 1} AS m", "SELECT * FROM nowhere"):
        at.text_area(key="sql_text").set_value(sql).run()
        next(b for b in at.button if b.label in ("运行", "Run")).click().run()
        no_exception(at)
    assert any("nowhere" in e.value for e in at.error)
    con = duckdb.connect(str(db), read_only=True)
    runs = con.execute("SELECT target, detail FROM audit_log WHERE action = 'sql' ORDER BY \"at\", rowid").fetchall()
    con.close()
    assert [t for t, _ in runs][-2:] == ["SELECT INTERVAL 3 DAY AS i, {'a': 1} AS s, MAP {'k': 1} AS m",
                                        "SELECT * FROM nowhere"]  # fmt: skip
    assert '"rows": 1' in runs[-2][1] and '"refused"' in runs[-1][1]


# ---------------------------------------------------------------- data never becomes markup


def test_a_unit_holding_a_link_is_plain_text_in_charts_and_the_person_page():
    from analytics import charts
    from analytics.markup import html_text
    from pages._ui.lang import safe

    evil = '<a href="https://evil.example">财政局</a>'
    cells = pl.DataFrame({"unit": [evil, "辉埠镇"], "period": ["2024Q1", "2024Q1"], "share_good": [0.2, 0.3],
                          "graded": [10, 12]})  # fmt: skip
    for fig in (charts.bars(cells, "period", "share_good", f"标题 {evil}", "zh", color="unit"),
                charts.bars(cells, "unit", "share_good", "各单位", "zh")):  # fmt: skip
        shown = fig.to_json()
        assert "<a href" not in shown and "&lt;a href" in shown
    assert "<" not in html_text(evil) and "&lt;a" in html_text(evil)
    escaped = safe("见 https://evil.example/x、www.evil.cn 与 a@b.cn")
    assert "https://" not in escaped and "www." not in escaped and "a@b" not in escaped
