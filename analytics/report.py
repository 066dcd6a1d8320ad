"""Evidence for one flag, and the inspection report (督查报告) built from many.

`flag_evidence` gathers what an inspector needs to judge a flag: the tables (rotation grid and count
histogram, funnel and grade mix, the person's record) and the figures drawn from them. The Flags page
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

from analytics import charts
from analytics.dataset import AssessmentData
from analytics.export import write_xlsx
from analytics.i18n import kind_label, pick, relabel
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
MIX_KINDS = ("leniency", "quota", "compression", "silent_negatives", "outlier")


@dataclass
class Evidence:
    """Tables {key: (title, frame)} and figures [(key, figure)] for one flag, in one language."""

    tables: dict[str, tuple[str, pl.DataFrame]] = field(default_factory=dict)
    figures: list[tuple[str, go.Figure]] = field(default_factory=list)


def statistics_table(statistics: str | None) -> pl.DataFrame:
    """The flag's statistics JSON as a two-column table (name, value as text)."""
    try:
        values = json.loads(statistics or "{}")
    except json.JSONDecodeError:
        values = {}
    if not isinstance(values, dict):
        values = {"value": values}
    text = [v if isinstance(v, str) else json.dumps(v, ensure_ascii=False) for v in values.values()]
    return pl.DataFrame({"statistic": list(values), "value": text}, schema={"statistic": pl.Utf8, "value": pl.Utf8})


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


def _mix(ev: Evidence, data: AssessmentData, settings: Settings, flag: dict, lang: str) -> None:
    from analytics.detectors.leniency import funnel_data, reviewer_mix

    year, quarter, _ = _period_bounds(flag.get("period_from"), flag.get("period_to"))
    funnel = funnel_data(data, settings, year=year, quarter=quarter)
    if funnel.filter(pl.col("unit") == flag["unit"]).height:
        ev.figures.append(
            (
                "funnel",
                charts.funnel_plot(
                    funnel,
                    pick(("漏斗图：“好”占比与评定人次", "Funnel plot: share of 好 by number graded"), lang),
                    lang,
                    highlight=flag["unit"],
                    height=360,
                ),
            )
        )
        lane = funnel.filter(pl.col("unit") == flag["unit"])["lane"][0]
        ev.tables["funnel"] = (
            pick(("漏斗图数据（同赛道单位）", "Funnel data (units of the lane)"), lang),
            funnel.filter(pl.col("lane") == lane),
        )
    by_reviewer = flag["subject_type"] == "reviewer"
    try:
        mix = reviewer_mix(data, reviewer=flag["subject"]) if by_reviewer else reviewer_mix(data, unit=flag["unit"])
    except ValueError:
        return
    title = (
        pick(("等次结构：评鉴人与所在赛道", "Grade mix: the reviewer against the lane"), lang)
        if by_reviewer
        else pick(("等次结构：单位与所在赛道", "Grade mix: the unit against the lane"), lang)
    )
    ev.figures.append(("mix", charts.mix_compare(mix, title, lang, height=300)))
    ev.tables["mix"] = (title, mix)


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
    elif kind in MIX_KINDS:
        _mix(ev, data, settings, flag, lang)
    elif kind == "outcome_rule" and flag.get("subject_type") == "person":
        _person(ev, data, flag, lang)
    ev.tables["statistics"] = (pick(("统计量", "Statistics"), lang), statistics_table(flag.get("statistics")))
    return ev


def _flag_rows(flags: pl.DataFrame, lang: str) -> pl.DataFrame:
    text = "evidence_en" if lang == "en" else "evidence_zh"
    caveat = "caveat_en" if lang == "en" else "caveat_zh"
    out = flags.select(*FLAG_COLUMNS, pl.col(text).alias("evidence"), pl.col(caveat).alias("caveat"), "flag_id")
    return out.with_columns(pl.col("kind").replace({k: kind_label(k, lang) for k in flags["kind"].unique()}))


def inspection_workbook(
    data: AssessmentData, settings: Settings, flags: pl.DataFrame, lang: str = "zh", max_evidence: int = 10
) -> bytes:
    """xlsx: one sheet listing every flag, then evidence sheets for the strongest `max_evidence`."""
    sheets = {pick(("预警清单", "Flags"), lang): relabel(_flag_rows(flags, lang), lang)}
    for i, flag in enumerate(flags.head(max_evidence).iter_rows(named=True), start=1):
        ev = flag_evidence(data, settings, flag, lang)
        for key, (_, frame) in ev.tables.items():
            sheets[f"{i:02d}_{kind_label(flag['kind'], lang)}_{key}"[:31]] = relabel(frame, lang)
    buf = io.BytesIO()
    write_xlsx(sheets, buf)
    return buf.getvalue()


_HTML_STYLE = """
body { font-family: "WenQuanYi Zen Hei", "Noto Sans CJK SC", "Microsoft YaHei", "PingFang SC", sans-serif;
       color: #1f2933; margin: 24px auto; max-width: 1100px; line-height: 1.5; }
h1 { font-size: 22px; border-bottom: 3px solid #c62828; padding-bottom: 6px; }
h2 { font-size: 17px; margin-top: 28px; }
table { border-collapse: collapse; width: 100%; font-size: 12px; margin: 8px 0; }
th, td { border: 1px solid #cfd8dc; padding: 3px 6px; text-align: left; vertical-align: top; }
th { background: #f5f6f8; }
.meta { color: #607d8b; font-size: 12px; }
.caveat { background: #fff8e1; border-left: 4px solid #ffb300; padding: 6px 10px; font-size: 13px; }
.flag { page-break-inside: avoid; break-inside: avoid; }
@media print { body { margin: 0; max-width: none; } h2 { page-break-before: auto; } .flag { page-break-before: always; } }
"""


def _html_table(frame: pl.DataFrame, lang: str, limit: int = 60) -> str:
    shown = relabel(frame.head(limit), lang)
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in shown.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{'' if v is None else html.escape(_fmt(v))}</td>" for v in row) + "</tr>"
        for row in shown.iter_rows()
    )
    more = (
        pick(
            (
                f"<p class='meta'>另有 {frame.height - limit} 行未列出。</p>",
                f"<p class='meta'>{frame.height - limit} more rows not shown.</p>",
            ),
            lang,
        )
        if frame.height > limit
        else ""
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{more}"


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def inspection_html(
    data: AssessmentData,
    settings: Settings,
    flags: pl.DataFrame,
    lang: str = "zh",
    max_evidence: int = 10,
    title: str | None = None,
) -> str:
    """One printable HTML page: the flag list and, for the strongest flags, their evidence and charts."""
    title = title or pick(("考核结果督查报告", "Assessment inspection report"), lang)
    stamp = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    parts = [
        "<!DOCTYPE html><html lang='" + ("en" if lang == "en" else "zh-CN") + "'><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title><style>{_HTML_STYLE}</style>",
        _plotly_script(),
        "</head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p class='meta'>{html.escape(pick(('生成时间', 'Generated'), lang))}: {stamp} · "
        f"{html.escape(pick(('预警', 'flags'), lang))}: {flags.height}</p>",
        f"<h2>{html.escape(pick(('预警清单', 'Flags'), lang))}</h2>",
        _html_table(_flag_rows(flags, lang).drop("flag_id"), lang, limit=200),
    ]
    for i, flag in enumerate(flags.head(max_evidence).iter_rows(named=True), start=1):
        ev = flag_evidence(data, settings, flag, lang)
        text = flag["evidence_en"] if lang == "en" else flag["evidence_zh"]
        caveat = flag["caveat_en"] if lang == "en" else flag["caveat_zh"]
        heading = f"{i}. {kind_label(flag['kind'], lang)} · {flag['subject']} · {flag['unit']}"
        parts.append(f"<div class='flag'><h2>{html.escape(heading)}</h2>")
        parts.append(
            f"<p class='meta'>{html.escape(str(flag['lane']))} · {html.escape(str(flag['period_from']))}–"
            f"{html.escape(str(flag['period_to']))} · {html.escape(pick(('强度', 'severity'), lang))} "
            f"{flag['severity']:.2f}</p>"
        )
        parts.append(f"<p>{html.escape(text or '')}</p>")
        if caveat:
            parts.append(f"<div class='caveat'>{html.escape(caveat)}</div>")
        for _, fig in ev.figures:
            parts.append(
                pio.to_html(
                    fig, include_plotlyjs=False, full_html=False, config={"staticPlot": False, "displaylogo": False}
                )
            )
        for _, (table_title, frame) in ev.tables.items():
            parts.append(f"<h3>{html.escape(table_title)}</h3>{_html_table(frame, lang)}")
        parts.append("</div>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _plotly_script() -> str:
    """plotly.js inlined once, so the report opens without a network."""
    from plotly.offline import get_plotlyjs

    return f"<script type='text/javascript'>{get_plotlyjs()}</script>"
