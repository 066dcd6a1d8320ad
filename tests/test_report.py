"""The inspection report's print layout: A4 landscape, running heads, tables that fit, numbers for people, one language."""

from __future__ import annotations

import html
import io
import re

import polars as pl
from test_app_analytics import DATA, S, flags_frame
from test_language import chinese_in_english, english_in_chinese

from analytics import numbers, report


def _flags() -> pl.DataFrame:
    return flags_frame(
        [
            {"flag_id": "f1", "flag_key": "k1", "kind": "rotation", "subject_type": "unit", "subject": "A", "unit": "A",
             "lane": "L", "period_from": "2024Q1", "period_to": "2024Q2", "statistic": "D (dispersion)",
             "statistic_value": 0.0, "statistics": '{"D": 0.0, "p_dispersion": 1.1e-57, "no_consecutive_rule": false}',
             "p_value": 1.1e-57, "q_value": 3.3e-60, "severity": 0.9, "n": 12, "evidence_zh": "证据", "evidence_en": "evidence",
             "caveat_zh": None}
        ]
    )  # fmt: skip


def _visible_text(page: str) -> str:
    body = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", page, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", body))


def test_report_prints_a4_landscape_with_running_heads_and_fitting_tables():
    page = report.inspection_html(DATA, S, _flags(), "zh", scope_label="A 单位")
    assert "size: A4 landscape" in page and "@top-left" in page and "counter(pages)" in page
    assert "考核结果督查报告 · A 单位 · 2024年第一季度至2024年第二季度" in page  # title, scope, period on every page
    assert "table-layout: fixed" in page and "<colgroup>" in page
    text = _visible_text(page)
    assert "< 0.001" in text and "e-57" not in text and "e-60" not in text
    assert "2024Q1" not in text
    assert not english_in_chinese([("report", text)], {"A", "L", "A 单位"})


def test_english_report_has_no_chinese_chrome():
    page = _visible_text(report.inspection_html(DATA, S, _flags(), "en", scope_label="Unit A"))
    assert "Assessment inspection report" in page and "Dispersion D" in page
    names = set(DATA.quarterly["name"].drop_nulls()) | set(DATA.quarterly["grade"].drop_nulls())
    assert not chinese_in_english([("report", page)], names)


def test_workbook_keeps_numbers_as_numbers_and_prints():
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(report.inspection_workbook(DATA, S, _flags(), "zh", scope_label="A 单位")))
    sheet = book["预警清单"]
    header = [c.value for c in sheet[1]]
    p = sheet.cell(row=2, column=header.index("p 值") + 1).value
    assert isinstance(p, float) and p < 1e-50  # the number itself, formatted by Excel, not text
    assert sheet.freeze_panes == "A2" and any(t.autoFilter is not None for t in sheet.tables.values())  # filters
    assert sheet.page_setup.orientation == "landscape" and sheet.page_setup.paperSize == 9
    assert "A 单位" in sheet.oddHeader.left.text
    assert all(not re.search(r"[A-Za-z]{3,}", name) for name in book.sheetnames)  # Chinese sheet names


def test_numbers_for_people():
    assert numbers.p_text(1.1e-57) == "< 0.001" and numbers.p_text(0.0234) == "0.023" and numbers.p_text(None) == "—"
    assert numbers.number_text(70.8912) == "70.9" and numbers.number_text(12345.6) == "12,346"
    assert numbers.money_text(1500.0) == "1,500 元"
    assert numbers.period_span("2025Q2", "2025Q2", "zh") == "2025年第二季度"
    assert numbers.statistic_name("D (dispersion)", "zh").startswith("离散度")
    assert numbers.statistic_name("something new", "zh") == "检验统计量"
