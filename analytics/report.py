"""Evidence for one flag, and the inspection report (督查报告) built from many.

`flag_evidence` gathers what an inspector needs to judge a flag: the tables (rotation grid and count
histogram, the strata, quarters or lane units of the flag's own test (analytics.comparison_evidence), the
person's record) and the figures drawn from them. The Flags page
shows it; `inspection_workbook` writes it to xlsx (flags + evidence sheets, formula-safe) and
`inspection_html` to one self-contained, printable HTML file with the charts (Plotly inlined, so it
opens offline) and every user-supplied text escaped.
"""

from __future__ import annotations

import datetime as dt
import html
import io
import json
from dataclasses import dataclass, field

import plotly.graph_objects as go
import plotly.io as pio
import polars as pl

from analytics import charts, numbers
from analytics.dataset import AssessmentData
from analytics.export import write_xlsx
from analytics.i18n import column_label, kind_label, pick, relabel
from analytics.overview import period_expr
from analytics.settings import Settings

FLAG_COLUMNS = (
    "kind",
    "subject_type",
    "subject",
    "unit",
    "lane",
    "period_from",
    "period_to",
    "statistic",
    "statistic_value",
    "p_value",
    "q_value",
    "severity",
    "n",
)


@dataclass
class Evidence:
    """Tables {key: (title, frame)} and figures [(key, figure)] for one flag, in one language."""

    tables: dict[str, tuple[str, pl.DataFrame]] = field(default_factory=dict)
    figures: list[tuple[str, go.Figure]] = field(default_factory=list)


def statistics_table(statistics: str | None, lang: str = "zh", numeric: bool = False) -> pl.DataFrame:
    """The flag's statistics JSON as a table in the reader's words: statistic, value (as text).

    `numeric`: also the value as a number (`number`, null where it is not one), for spreadsheets."""
    rows = numbers.statistics_rows(statistics, lang)
    frame = pl.DataFrame(
        {"statistic": [r[0] for r in rows], "value": [r[1] for r in rows], "number": [r[2] for r in rows]},
        schema={"statistic": pl.Utf8, "value": pl.Utf8, "number": pl.Float64},
    )
    return frame if numeric else frame.drop("number")


def _period_bounds(period_from: str | None, period_to: str | None) -> tuple[int | None, int | None, int | None]:
    """(year, quarter) when a flag covers exactly one quarter, else (None, None); plus the first year."""
    if period_from and period_to and period_from == period_to and "Q" in period_from:
        year, quarter = period_from.split("Q")
        return int(year), int(quarter), int(year)
    return None, None, int(period_from[:4]) if period_from and period_from[:4].isdigit() else None


def _rotation(ev: Evidence, data: AssessmentData, settings: Settings, flag: dict, lang: str) -> None:
    from analytics.detectors.rotation import evidence

    # A rotation flag groups its tests; the grid shows the strongest one's section, if it was a section.
    parts = json.loads(flag.get("statistics") or "{}").get("parts") or [{}]
    section = parts[0].get("section") or (flag["subject"] if flag["subject_type"] == "section" else None)
    found = evidence(data, flag["unit"], section=section, settings=settings)
    grid, counts = found["grid"], found["counts"]
    who = flag["unit"] + (f" · {section}" if section else "")
    ev.figures.append(
        (
            "grid",
            charts.rotation_grid(
                grid,
                pick(
                    (
                        f"{who}：逐人逐季等次（按首次获“好”排序）",
                        f"{who}: grades by person and quarter (ordered by first 好)",
                    ),
                    lang,
                ),
                lang,
            ),
        )
    )
    ev.figures.append(
        (
            "counts",
            charts.count_histogram(
                counts,
                pick(
                    ("获“好”次数分布：实际与随机分配预期", "Times 好 per person: observed against random allocation"),
                    lang,
                ),
                lang,
                height=300,
            ),
        )
    )
    wide = grid.select("name", "person_id", "period", "grade").pivot(
        on="period", index=["name", "person_id"], values="grade", maintain_order=True
    )
    ev.tables["grid"] = (pick(("逐人逐季等次", "Grades by person and quarter"), lang), wide)
    ev.tables["counts"] = (pick(("获“好”次数分布", "Times 好 per person"), lang), counts)


def _person(ev: Evidence, data: AssessmentData, flag: dict, lang: str) -> None:
    _, _, first_year = _period_bounds(flag.get("period_from"), flag.get("period_to"))
    mine = pl.col("person_id") == flag["subject"]
    year = pl.col("year") == first_year if first_year else pl.lit(True)
    quarterly = (
        data.quarterly.filter(mine & year)
        .sort("year", "quarter")
        .select(period_expr(), "name", "unit", "grade", "score", "reviewer", "import_id", "source_row")
    )
    annual = data.annual.filter(mine).sort("year").select("year", "annual_grade", "import_id", "source_row")
    outcomes = (
        data.outcomes.filter(mine)
        .sort("date", nulls_last=True)
        .select("date", "year", "outcome", "outcome_raw", "detail", "amount", "import_id", "source_row")
    )
    ev.tables["quarterly"] = (pick(("平时考核记录", "Quarterly record"), lang), quarterly)
    ev.tables["annual"] = (pick(("年度考核记录", "Annual record"), lang), annual)
    ev.tables["outcomes"] = (pick(("结果运用记录", "Outcome records"), lang), outcomes)


def flag_evidence(data: AssessmentData, settings: Settings, flag: dict, lang: str = "zh") -> Evidence:
    """Everything shown beside one flag (a row of the flags frame, as a dict)."""
    ev = Evidence()
    kind = flag.get("kind")
    if kind == "rotation":
        _rotation(ev, data, settings, flag, lang)
    else:  # every other kind: the comparison its test made (analytics.comparison_evidence)
        from analytics.comparison_evidence import add_comparison

        add_comparison(ev, data, settings, flag, lang)
    if kind == "outcome_rule" and flag.get("subject_type") == "person":
        _person(ev, data, flag, lang)
    ev.tables["statistics"] = (pick(("统计量", "Statistics"), lang), statistics_table(flag.get("statistics"), lang))
    return ev


REPORT_COLUMNS = ("no", "kind", "subject", "unit", "period", "statistic", "p_value", "q_value", "severity", "n",
                  "status", "evidence")  # fmt: skip
# Relative widths of REPORT_COLUMNS on an A4 landscape page (the evidence sentence gets the room).
_WIDTHS = (3, 6, 8, 9, 8, 9, 5, 5, 4, 4, 5, 34)


def _flag_rows(flags: pl.DataFrame, lang: str) -> pl.DataFrame:
    """The flag list as people read it: words for kinds and statistics, periods in words, p < 0.001."""
    from analytics.flag_review import labelled

    text = "evidence_en" if lang == "en" else "evidence_zh"
    caveat = "caveat_en" if lang == "en" else "caveat_zh"
    reviewed = labelled(flags, lang) if "status" in flags.columns else flags.with_columns(pl.lit("").alias("status"))
    rows = reviewed.with_row_index("no", offset=1).with_columns(
        pl.col("kind").replace_strict({k: kind_label(k, lang) for k in flags["kind"].unique()}, default=pl.col("kind")),
        pl.struct("period_from", "period_to")
        .map_elements(lambda r: numbers.period_span(r["period_from"], r["period_to"], lang), return_dtype=pl.Utf8)
        .alias("period"),
        pl.col("statistic").map_elements(lambda x: numbers.statistic_name(x, lang), return_dtype=pl.Utf8),
        pl.col(text).alias("evidence"),
        pl.col(caveat).alias("caveat"),
    )
    return rows.select(*REPORT_COLUMNS, "caveat", "statistic_value", "lane", "flag_id", "flag_key")


def inspection_workbook(
    data: AssessmentData,
    settings: Settings,
    flags: pl.DataFrame,
    lang: str = "zh",
    max_evidence: int = 10,
    scope_label: str | None = None,
) -> bytes:
    """xlsx: a sheet listing every flag (numbers stored as numbers), then evidence sheets for the strongest.

    Sheet names in the reader's language; every sheet has a frozen header row, filters, and A4 landscape
    print setup with the report's name, scope and date in the page header (analytics.export.write_xlsx)."""
    listing = _flag_rows(flags, lang).drop("flag_id")
    sheets = {pick(("预警清单", "Flags"), lang): relabel(listing, lang)}
    for i, flag in enumerate(flags.head(max_evidence).iter_rows(named=True), start=1):
        ev = flag_evidence(data, settings, flag, lang)
        ev.tables["statistics"] = (ev.tables["statistics"][0], statistics_table(flag.get("statistics"), lang, True))
        for _key, (title, frame) in ev.tables.items():
            sheets[_sheet_name(i, kind_label(flag["kind"], lang), title, sheets)] = relabel(frame, lang)
    title = pick(("考核结果督查报告", "Assessment inspection report"), lang)
    header = " · ".join(x for x in (title, scope_label, dt.date.today().isoformat()) if x)
    buf = io.BytesIO()
    write_xlsx(sheets, buf, header=header)
    return buf.getvalue()


def _sheet_name(i: int, kind: str, title: str, taken: dict) -> str:
    """'01 轮流坐庄 逐人逐季等次' cut to Excel's 31 characters, without the characters Excel refuses."""
    name = "".join(c for c in f"{i:02d} {kind} {title}" if c not in "[]:*?/\\")[:31]
    while name in taken:
        name = name[:29] + f"_{len(taken) % 100:02d}"
    return name


def _css_text(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def _style(running_head: str, lang: str) -> str:
    page = pick(("第 ", "Page "), lang)
    of = pick((" 页，共 ", " of "), lang)
    end = pick((" 页", ""), lang)
    return f"""
@page {{ size: A4 landscape; margin: 16mm 12mm 14mm 12mm;
  @top-left {{ content: {_css_text(running_head)}; font-size: 9pt; color: #546e7a; }}
  @bottom-right {{ content: "{page}" counter(page) "{of}" counter(pages) "{end}"; font-size: 9pt; color: #546e7a; }} }}
body {{ font-family: "Noto Sans CJK SC", "WenQuanYi Zen Hei", "Microsoft YaHei", "PingFang SC", sans-serif;
       color: #1f2933; margin: 24px auto; max-width: 1120px; line-height: 1.45; font-size: 10.5pt; }}
h1 {{ font-size: 18pt; border-bottom: 3px solid #c62828; padding-bottom: 4px; margin: 0 0 6px; }}
h2 {{ font-size: 13pt; margin: 14px 0 4px; }}
h3 {{ font-size: 10.5pt; margin: 10px 0 2px; }}
table {{ border-collapse: collapse; width: 100%; font-size: 8pt; margin: 4px 0 8px; line-height: 1.3; }}
table.list {{ table-layout: fixed; }}
th, td {{ border: 1px solid #cfd8dc; padding: 2px 4px; text-align: left; vertical-align: top;
         overflow-wrap: anywhere; }}
td.num, th.num {{ text-align: right; white-space: nowrap; }}
th {{ background: #eceff1; }}
thead {{ display: table-header-group; }}
tr {{ break-inside: avoid; }}
.meta {{ color: #546e7a; font-size: 9pt; margin: 2px 0; }}
.caveat {{ background: #fff8e1; border-left: 4px solid #ffb300; padding: 4px 8px; font-size: 9.5pt; }}
.figures {{ display: flex; flex-wrap: wrap; gap: 8px; }}
.figure {{ break-inside: avoid; }}
.flag {{ break-before: page; }}
@media print {{ body {{ margin: 0; max-width: none; }} }}
"""


_NUMERIC_REPORT = {"no", "p_value", "q_value", "severity", "n"}


def _list_table(rows: pl.DataFrame, lang: str) -> str:
    """The flag list as a fixed-layout table that fits the page width."""
    cols = "".join(f"<col style='width:{w}%'>" for w in _WIDTHS)
    head = "".join(
        f"<th class='{'num' if c in _NUMERIC_REPORT else ''}'>{html.escape(column_label(c, lang))}</th>"
        for c in REPORT_COLUMNS
    )
    body = []
    for row in rows.iter_rows(named=True):
        cells = []
        for c in REPORT_COLUMNS:
            value = row[c]
            if c in ("p_value", "q_value"):
                text = numbers.p_text(value)
            elif c == "severity":
                text = "—" if value is None else f"{value:.2f}"
            elif c == "n":
                text = numbers.number_text(value)
            elif c == "statistic":
                short = value.split("（")[0].split(" (")[0]  # the name without its explanation
                text = f"{short} = {numbers.number_text(row['statistic_value'])}"
            else:
                text = "" if value is None else str(value)
            cells.append(f"<td class='{'num' if c in _NUMERIC_REPORT else ''}'>{html.escape(text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table class='list'><colgroup>{cols}</colgroup><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _html_table(frame: pl.DataFrame, lang: str, limit: int = 30) -> str:
    shown = frame.head(limit)
    numeric = {c for c, t in shown.schema.items() if t.is_numeric()}
    head = "".join(
        f"<th class='{'num' if c in numeric else ''}'>{html.escape(column_label(c, lang))}</th>" for c in shown.columns
    )
    body = "".join(
        "<tr>"
        + "".join(
            f"<td class='{'num' if c in numeric else ''}'>{html.escape(_fmt(v, c, lang))}</td>"
            for c, v in zip(shown.columns, row, strict=True)
        )
        + "</tr>"
        for row in shown.iter_rows()
    )
    more = (
        pick(
            (
                f"<p class='meta'>另有 {frame.height - limit} 行未列出（见 Excel 版报告）。</p>",
                f"<p class='meta'>{frame.height - limit} more rows not shown (see the Excel report).</p>",
            ),
            lang,
        )
        if frame.height > limit
        else ""
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{more}"


def _fmt(value: object, column: str = "", lang: str = "zh") -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return pick(("是", "yes"), lang) if value else pick(("否", "no"), lang)
    if isinstance(value, (dt.date, dt.datetime)):
        return numbers.date_text(value)
    if isinstance(value, float):
        if column in ("p_value", "q_value", "p", "q"):
            return numbers.p_text(value)
        if column == "amount":
            return numbers.money_text(value, lang)
        if column.endswith(("share", "rate")) and 0 <= value <= 1:
            return f"{value:.1%}"
        return numbers.number_text(value)
    if isinstance(value, list):
        return "、".join(map(str, value)) if lang == "zh" else ", ".join(map(str, value))
    text = str(value)
    return numbers.period_words(text, lang) if numbers.is_period(text) else text


def _figure_html(fig: go.Figure) -> str:
    """A chart sized for the printed page (half its width), drawn by the inlined plotly.js."""
    sized = go.Figure(fig).update_layout(width=520, height=min(fig.layout.height or 340, 360), autosize=False)
    body = pio.to_html(
        sized, include_plotlyjs=False, full_html=False, config={"staticPlot": True, "displaylogo": False}
    )
    return f"<div class='figure'>{body}</div>"


def inspection_html(
    data: AssessmentData,
    settings: Settings,
    flags: pl.DataFrame,
    lang: str = "zh",
    max_evidence: int = 10,
    title: str | None = None,
    scope_label: str | None = None,
) -> str:
    """One printable HTML document (A4 landscape): the flag list, then one page of evidence per strong flag.

    Every page carries a running head with the report's title, the scope (units) and the period, and a
    page number; tables have fixed column widths so names do not wrap one character a line."""
    title = title or pick(("考核结果督查报告", "Assessment inspection report"), lang)
    stamp = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    rows = _flag_rows(flags, lang)
    span = _report_span(flags, lang)
    scope = scope_label or _scope_of(flags, lang)
    running = " · ".join(x for x in (title, scope, span) if x)
    counts = _status_line(flags, lang)
    colon = pick(("：", ": "), lang)
    parts = [
        "<!DOCTYPE html><html lang='" + ("en" if lang == "en" else "zh-CN") + "'><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title><style>{_style(running, lang)}</style>",
        _plotly_script(),
        "</head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p class='meta'>{html.escape(pick(('范围', 'Scope'), lang))}：{html.escape(scope)} · "
        f"{html.escape(pick(('期间', 'Period'), lang))}：{html.escape(span)} · "
        f"{html.escape(pick(('生成时间', 'Generated'), lang))}：{stamp} · "
        f"{html.escape(pick(('预警', 'Flags'), lang))}：{flags.height}{html.escape(counts)}</p>"
        if lang == "zh"
        else f"<p class='meta'>Scope: {html.escape(scope)} · Period: {html.escape(span)} · Generated: {stamp} · "
        f"Flags: {flags.height}{html.escape(counts)}</p>",
        f"<p class='meta'>{html.escape(pick(_READING, lang))}</p>",
        f"<h2>{html.escape(pick(('预警清单', 'Flags'), lang))}</h2>",
        _list_table(rows, lang),
    ]
    for i, flag in enumerate(flags.head(max_evidence).iter_rows(named=True), start=1):
        ev = flag_evidence(data, settings, flag, lang)
        text = flag["evidence_en"] if lang == "en" else flag["evidence_zh"]
        caveat = flag["caveat_en"] if lang == "en" else flag["caveat_zh"]
        heading = f"{i}. {kind_label(flag['kind'], lang)} · {flag['subject']} · {flag['unit']}"
        parts.append(f"<div class='flag'><h2>{html.escape(heading)}</h2>")
        row = rows.row(i - 1, named=True)
        parts.append(
            f"<p class='meta'>{html.escape(pick(('赛道', 'Lane'), lang))}{colon}{html.escape(str(flag['lane'] or '—'))} · "
            f"{html.escape(row['period'])} · {html.escape(row['statistic'])} · p {html.escape(numbers.p_text(flag['p_value']))}"
            f" · q {html.escape(numbers.p_text(flag['q_value']))} · {html.escape(pick(('强度', 'Severity'), lang))} "
            f"{flag['severity']:.2f} · {html.escape(pick(('核查状态', 'Status'), lang))}{colon}{html.escape(row['status'] or '—')}</p>"
        )
        parts.append(f"<p>{html.escape(text or '')}</p>")
        if caveat:
            parts.append(f"<div class='caveat'>{html.escape(caveat)}</div>")
        if ev.figures:
            parts.append("<div class='figures'>" + "".join(_figure_html(fig) for _, fig in ev.figures) + "</div>")
        for _, (table_title, frame) in ev.tables.items():
            parts.append(f"<h3>{html.escape(table_title)}</h3>{_html_table(frame, lang)}")
        parts.append("</div>")
    parts.append("</body></html>")
    return "\n".join(parts)


_READING = (
    "预警是核查线索，不是结论：每条都写明检验了什么、与谁比较、强度（p 值、q 值）和证据量。"
    "p < 0.001 表示在无异常的假设下出现如此结果的概率不到千分之一；q 值已对多重比较作校正。",
    "A flag is a lead to check, not a verdict: each says what was tested, against whom, how strongly (p, q) "
    "and on how much evidence. p < 0.001: under no irregularity a result like this has odds under 1 in 1,000; "
    "q is corrected for testing many subjects.",
)


def _report_span(flags: pl.DataFrame, lang: str) -> str:
    if flags.height == 0:
        return "—"
    first = flags["period_from"].drop_nulls().min()
    last = pl.concat([flags["period_to"], flags["period_from"]]).drop_nulls().max()
    return numbers.period_span(first, last, lang)


def _scope_of(flags: pl.DataFrame, lang: str) -> str:
    units = flags["unit"].drop_nulls().unique().sort().to_list() if flags.height else []
    if len(units) == 1:
        return units[0]
    return pick((f"{len(units)} 个单位", f"{len(units)} units"), lang)


def _status_line(flags: pl.DataFrame, lang: str) -> str:
    if "status" not in flags.columns:
        return ""
    from analytics.flag_review import status_counts, status_label

    counts = status_counts(flags)
    parts = [f"{status_label(code, lang)} {n}" for code, n in counts.items() if n]
    return ("（" + "，".join(parts) + "）") if lang == "zh" else (" (" + ", ".join(parts) + ")")


def inspection_pdf(data: AssessmentData, settings: Settings, flags: pl.DataFrame, lang: str = "zh", **kwargs) -> bytes:
    """The printable report as PDF, laid out by headless Chromium (analytics.pdf)."""
    from analytics.pdf import html_to_pdf

    return html_to_pdf(inspection_html(data, settings, flags, lang, **kwargs))


def _plotly_script() -> str:
    """plotly.js inlined once, so the report opens without a network."""
    from plotly.offline import get_plotlyjs

    return f"<script type='text/javascript'>{get_plotlyjs()}</script>"
