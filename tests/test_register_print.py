"""A whole unit's registration forms as one printable document: HTML (A4, one page per person) and PDF."""

from __future__ import annotations

import re
import shutil

import polars as pl
import pytest
from test_app import no_exception, open_app  # noqa: F401  (fixture)
from test_register import _frames, small_store  # noqa: F401, F811  (fixture)

from analytics.cli import main
from analytics.dataset import frames
from analytics.errors import UserError
from analytics.register_print import registration_forms_html, registration_forms_pdf

HAS_CHROMIUM = shutil.which("chromium") is not None


def test_unit_document_has_one_form_per_person_with_their_record():
    page = registration_forms_html(frames(*_frames()), 2024, "常山县财政局")
    assert page.count('<section class="form">') == 2
    assert "size: A4 portrait" in page and "常山县财政局 · 2024 年度 · 考核登记表（2 人）" in page
    first, second = page.split('<section class="form">')[1:]
    assert "张三" in first and "CS0001" in first and "好 3 次" in first and "5,000" in first and "优秀" in first
    assert "李四" in second and "一般 1 次" in second and "不符合" in second  # 一般 in Q2 misses the 优秀 gate


def test_names_are_escaped_and_unknown_units_refused():
    q, a, o = _frames()
    q = q.with_columns(
        pl.when(pl.col("person_id") == "CS0001").then(pl.lit("<b>张三</b>")).otherwise("name").alias("name")
    )
    page = registration_forms_html(frames(q, a, o), 2024, "常山县财政局")
    assert "<b>张三</b>" not in page and "&lt;b&gt;张三&lt;/b&gt;" in page
    with pytest.raises(UserError, match="没有 2019 年度"):
        registration_forms_html(frames(*_frames()), 2019, "常山县财政局")


@pytest.mark.skipif(not HAS_CHROMIUM, reason="needs Debian's chromium (apt-get install chromium)")
def test_unit_pdf_is_a4_portrait_one_page_per_person():
    pdf = registration_forms_pdf(frames(*_frames()), 2024, "常山县财政局")
    assert pdf.startswith(b"%PDF")
    width, height = (float(v) for v in re.findall(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", pdf)[0])
    assert width == pytest.approx(595.3, abs=2) and height == pytest.approx(841.9, abs=2)
    assert len(re.findall(rb"/Type\s*/Page[^s]", pdf)) == 2


def test_register_command_writes_the_unit_as_html_and_refuses_a_pdf_for_one_person(small_store, tmp_path, capsys):  # noqa: F811
    out = tmp_path / "财政局.html"
    args = ["register", "--unit", "常山县财政局", "--year", "2024", "--db", str(small_store)]
    assert main([*args, "--out", str(out)]) == 0
    assert out.read_text(encoding="utf-8").count('<section class="form">') == 2
    code = main(["register", "CS0001", "--year", "2024", "--out", str(tmp_path / "x.pdf"), "--db", str(small_store)])
    assert code == 2 and ".xlsx" in capsys.readouterr().err


@pytest.mark.parametrize(("lang", "label"), [("zh", "本单位全部人员（Excel）"), ("en", "Everyone in the unit (Excel)")])
def test_profile_offers_the_whole_unit(demo_db, monkeypatch, lang, label):
    at = open_app(demo_db, monkeypatch, "pages/person.py", lang=lang)
    no_exception(at)
    labels = [b.proto.label for b in at.get("download_button")]
    assert label in labels, labels
    if HAS_CHROMIUM:
        assert any("PDF" in x for x in labels)
