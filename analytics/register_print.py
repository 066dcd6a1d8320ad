"""A unit's registration forms (考核登记表) as one printable document: HTML with A4 print CSS, and its PDF.

One form per person and page, laid out like the xlsx form (analytics.register) and the paper form; each page
carries the unit and year in its running header and its page number in the footer. Every value from the
data is escaped. The PDF is that HTML printed by headless Chromium (analytics.pdf).
"""

from __future__ import annotations

import html
from typing import Any

from analytics.dataset import AssessmentData
from analytics.register import unit_forms
from analytics.report import _css_text  # one quoting of text in CSS content
from analytics.settings import Settings
from analytics.vocab import AVERAGE, FAIRLY_GOOD, GOOD, POOR, UNGRADED


def _e(value: Any) -> str:
    return "" if value is None else html.escape(str(value))


def _style(running_head: str) -> str:
    return f"""
@page {{ size: A4 portrait; margin: 16mm 14mm 14mm 14mm;
  @top-left {{ content: {_css_text(running_head)}; font-size: 9pt; color: #546e7a; }}
  @bottom-right {{ content: "第 " counter(page) " 页，共 " counter(pages) " 页"; font-size: 9pt; color: #546e7a; }} }}
body {{ font-family: "SimSun", "Noto Serif CJK SC", "Noto Sans CJK SC", "WenQuanYi Zen Hei", serif;
       color: #111; margin: 0; font-size: 11pt; }}
.form {{ break-after: page; }}
.form:last-child {{ break-after: auto; }}
h1 {{ text-align: center; font-size: 16pt; margin: 0 0 4px; }}
.year {{ text-align: right; margin: 0 0 6px; }}
table {{ border-collapse: collapse; width: 100%; table-layout: fixed; margin: 0; }}
th, td {{ border: 1px solid #000; padding: 5px 4px; text-align: center; vertical-align: middle;
         overflow-wrap: anywhere; }}
th {{ background: #f2f2f2; font-weight: bold; }}
td.left {{ text-align: left; }}
tr.section th {{ background: #d9e1f2; }}
td.opinion {{ height: 70px; }}
.sign {{ margin-top: 8px; }}
"""


def _person_rows(form: dict[str, Any]) -> str:
    p = form["person"]
    rows = [
        (("姓名", p["name"]), ("人员编号", form["person_id"]), ("人员类别", p["staff_type"])),
        (("单位", p["unit"]), ("单位类型", p["unit_type"]), ("职务层次", p["position_level"])),
        (("内设机构", p["section"]), ("职务职级", p["rank"]), ("考核类别", p["lane"])),
    ]
    return "".join("<tr>" + "".join(f"<th>{k}</th><td>{_e(v)}</td>" for k, v in row) + "</tr>" for row in rows)


def _quarter_rows(form: dict[str, Any]) -> str:
    out = []
    for q in form["quarters"]:
        score = "" if q["score"] is None else f"{q['score']:.1f}"
        note = "" if q["grade"] else "无记录"
        out.append(
            f"<tr><th>{_e(q['label'])}</th><td>{_e(q['grade'])}</td><td>{score}</td>"
            f"<td colspan='2'>{_e(q['reviewer'])}</td><td>{note}</td></tr>"
        )
    return "".join(out)


def _outcome_rows(outcomes: list[dict[str, Any]]) -> str:
    if not outcomes:
        return "<tr><td colspan='6'>无</td></tr>"
    out = []
    for o in outcomes:
        amount = "" if o["amount"] is None else f"{o['amount']:,.0f}"
        out.append(
            f"<tr><td>{_e(o['date'])}</td><td>{_e(o['outcome_raw'] or o['outcome_zh'])}</td>"
            f"<td class='left' colspan='3'>{_e(o['detail'])}</td><td>{amount}</td></tr>"
        )
    return "".join(out)


def form_html(form: dict[str, Any]) -> str:
    """One person's form as an HTML section (one A4 page)."""
    counts = "".join(f"<td>{g} {form['counts'][g]} 次</td>" for g in (GOOD, FAIRLY_GOOD, AVERAGE, POOR, UNGRADED))
    gate = ("符合" if form["gate_met"] else "不符合") + f"（{_e(form['gate_rule'])}）"
    return f"""<section class="form">
<h1>{_e(form["title"])}</h1>
<p class="year">考核年度：{form["year"]}年</p>
<table>
{_person_rows(form)}
<tr class="section"><th colspan="6">平时考核情况</th></tr>
<tr><th>季度</th><th>等次</th><th>得分</th><th colspan="2">评鉴人</th><th>备注</th></tr>
{_quarter_rows(form)}
<tr><th>等次统计</th>{counts}</tr>
<tr><th>年度考核等次</th><td>{_e(form["annual_grade"]) or "未记录"}</td><th>优秀条件</th>
<td class="left" colspan="3">{gate}</td></tr>
<tr class="section"><th colspan="6">结果运用情况</th></tr>
<tr><th>日期</th><th>类型</th><th colspan="3">说明</th><th>金额（元）</th></tr>
{_outcome_rows(form["outcomes"])}
<tr><th>单位审核意见</th><td class="left opinion" colspan="5"></td></tr>
</table>
<p class="sign">审核人：　　　　　　　　　　日期：　　　　年　　月　　日</p>
</section>"""


def registration_forms_html(data: AssessmentData, year: int, unit: str, settings: Settings | None = None) -> str:
    """Every form of `unit` in `year` as one printable HTML document (one A4 page per person).

    Raises UserError when nobody of the unit is on record that year (analytics.register.unit_forms)."""
    forms = unit_forms(data, year, unit, settings)
    head = f"{unit} · {year} 年度 · 考核登记表（{len(forms)} 人）"
    body = "\n".join(form_html(f) for f in forms)
    return (
        "<!DOCTYPE html><html lang='zh-CN'><head><meta charset='utf-8'>"
        f"<title>{_e(head)}</title><style>{_style(head)}</style></head><body>{body}</body></html>"
    )


def registration_forms_pdf(data: AssessmentData, year: int, unit: str, settings: Settings | None = None) -> bytes:
    """registration_forms_html printed to PDF by headless Chromium (analytics.pdf)."""
    from analytics.pdf import html_to_pdf

    return html_to_pdf(registration_forms_html(data, year, unit, settings))
