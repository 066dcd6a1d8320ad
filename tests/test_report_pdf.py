"""The PDF engine: real Chromium prints HTML to an A4-landscape PDF; a clear message when it is missing."""

from __future__ import annotations

import re
import shutil

import pytest

from analytics.pdf import PdfEngineMissing, html_to_pdf

PAGE = """<!doctype html><html><head><meta charset="utf-8">
<style>@page { size: A4 landscape; margin: 12mm; }</style></head>
<body><h1>督查报告</h1><p>第二页之前</p><div style="break-before: page">第二页</div></body></html>"""


@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs Debian's chromium (apt-get install chromium)")
def test_html_prints_to_a4_landscape_pdf_with_its_pages():
    pdf = html_to_pdf(PAGE)
    assert pdf.startswith(b"%PDF")
    boxes = re.findall(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", pdf)
    assert boxes, "no page boxes in the PDF"
    width, height = (float(v) for v in boxes[0])
    assert width == pytest.approx(841.9, abs=2) and height == pytest.approx(595.3, abs=2)  # A4 landscape in points
    assert len(re.findall(rb"/Type\s*/Page[^s]", pdf)) == 2


def test_missing_chromium_says_what_to_do(monkeypatch, tmp_path):
    monkeypatch.setenv("KAOHE_CHROMIUM", str(tmp_path / "no-such-browser"))
    with pytest.raises(PdfEngineMissing) as err:
        html_to_pdf(PAGE)
    assert "Chromium" in str(err.value) and "打印" in str(err.value)
    assert err.value.exit_code == 2
