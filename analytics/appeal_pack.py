"""The appeal pack (申诉复核材料): everything the data say about one person (or one unit), in one download.

For the appeal committee or the inspector: the grades by quarter against the lane, the reviewers and the
evidence on their leniency, the rotation evidence of the unit and section, the annual grades with the gate
check, the outcomes, and the appeals. As an xlsx (one sheet per section) and as a printable PDF (HTML with
print CSS through analytics.pdf). Statistical evidence is evidence, not a finding: the pack says so.
Making one is a personal export: callers record it in the audit log (the CLI and the app both do).
"""

from __future__ import annotations

import datetime as dt
import html
import io
from dataclasses import dataclass

import polars as pl

from analytics import export, person
from analytics.appeals.analysis import reviewer_table
from analytics.appeals.labels import for_people
from analytics.dataset import AssessmentData
from analytics.errors import UserError
from analytics.i18n import pick, with_outcome_labels
from analytics.overview import period_expr
from analytics.settings import Settings
from analytics.vocab import GOOD, GRADE_POINTS, NEGATIVE_GRADES

NOTICE = (
    "本材料汇集数据所示情况，供申诉复核参考。统计证据（p 值、q 值、效应）说明的是可能性与证据强度，不是结论；"
    "评鉴人只评一个单位时，其效应与单位效应无法区分。",
    "This pack gathers what the data show, for the review of an appeal. Statistical evidence (p, q, effects) states "
    "how likely and how strong, not a finding; where a reviewer grades one unit only, the reviewer cannot be told "
    "apart from the unit.",
)
APPEAL_COLUMNS = ("appeal_date", "year", "quarter", "appeal_subject", "appealed_grade", "appeal_reason", "reviewer",
                  "decision", "decision_date", "revised_grade")  # fmt: skip


@dataclass(frozen=True)
class Section:
    key: str
    title: tuple[str, str]
    frame: pl.DataFrame
    note: tuple[str, str] | None = None


@dataclass(frozen=True)
class Pack:
    title: tuple[str, str]
    subject: str  # person_id or unit: the file name and the audit target
    sections: tuple[Section, ...]

    def section(self, key: str) -> Section:
        return next(s for s in self.sections if s.key == key)


def default_flags(data: AssessmentData, settings: Settings) -> pl.DataFrame:
    """The leniency and rotation flags the pack quotes (all units, so q-values count every unit tested)."""
    from analytics.detectors import run_detectors

    return run_detectors(data, settings, kinds=["leniency", "rotation"])


def _lane_context(data: AssessmentData) -> pl.DataFrame:
    """Per lane and quarter: people graded, share of 好, mean score."""
    graded = data.quarterly.filter(pl.col("grade").is_in(list(GRADE_POINTS)))
    return graded.group_by("lane", "year", "quarter").agg(
        pl.len().cast(pl.Int64).alias("lane_graded"),
        (pl.col("grade") == GOOD).mean().alias("lane_good_share"),
        pl.col("score").mean().alias("lane_mean_score"),
    )


def _quarters(data: AssessmentData, settings: Settings, person_id: str) -> pl.DataFrame:
    rows = data.quarterly.filter(pl.col("person_id") == person_id).sort("year", "quarter")
    standing = person.lane_percentiles(data, settings, person_id).select("period", "percentile", "n_in_lane")
    return (
        rows.join(_lane_context(data), on=["lane", "year", "quarter"], how="left")
        .with_columns(period_expr())
        .join(standing, on="period", how="left")
        .select(
            "period",
            "grade",
            "score",
            "reviewer",
            "section",
            "lane",
            "percentile",
            "n_in_lane",
            pl.col("lane_good_share").round(3),
            pl.col("lane_mean_score").round(1),
        )  # fmt: skip
    )


def _reviewer_evidence(data: AssessmentData, settings: Settings, keys: pl.DataFrame, flags: pl.DataFrame,
                       appeals: pl.DataFrame) -> pl.DataFrame:  # fmt: skip
    """For each (unit, reviewer) in keys: the leniency model's effect, the detector's flag, appeals drawn."""
    from analytics.fair_score import estimate_leniency

    fit = estimate_leniency(data.quarterly, settings, level="reviewer")
    effects = fit.effects.filter(pl.col("level") == "reviewer").select(
        pl.col("subject").alias("reviewer"), pl.col("unit"), pl.col("alpha").round(3), pl.col("se").round(3),
        pl.col("z").round(2), pl.col("p_value"), pl.col("alpha_within_unit").round(3),
        pl.col("z_within_unit").round(2), "units_graded",
    )  # fmt: skip
    lenient = flags.filter((pl.col("kind") == "leniency") & (pl.col("subject_type") == "reviewer")).select(
        pl.col("subject").alias("reviewer"), "unit", pl.lit(True).alias("flagged"), pl.col("q_value").alias("flag_q"),
        pl.col("severity").round(2), "evidence_zh", "evidence_en", "caveat_zh", "caveat_en",
    )  # fmt: skip
    drawn = reviewer_table(appeals, data.quarterly, lenient.select("unit", "reviewer")).select(
        "unit", "reviewer", "person_quarters", "appeals", pl.col("per_100").round(2)
    )
    return (
        keys.join(effects, on=["unit", "reviewer"], how="left")
        .join(lenient, on=["unit", "reviewer"], how="left")
        .join(drawn, on=["unit", "reviewer"], how="left")
        .with_columns(pl.col("flagged").fill_null(False))
        .drop("se", "person_quarters")
    )


def _rotation(flags: pl.DataFrame, unit: str, sections: list[str]) -> pl.DataFrame:
    rot = flags.filter(
        (pl.col("kind") == "rotation")
        & (pl.col("unit") == unit)
        & ((pl.col("subject_type") == "unit") | pl.col("subject").is_in(sections))
    )
    return rot.select("subject_type", "subject", "period_from", "period_to", "statistic", "statistic_value",
                      "p_value", "q_value", "severity", "n", "evidence_zh", "evidence_en", "caveat_zh", "caveat_en")  # fmt: skip


def _annual_with_gate(data: AssessmentData, settings: Settings, who: pl.Expr) -> pl.DataFrame:
    counts = (
        data.quarterly.filter(who)
        .group_by("person_id", pl.col("year").cast(pl.Int32))
        .agg(
            pl.len().cast(pl.Int64).alias("quarters"),
            (pl.col("grade") == GOOD).sum().cast(pl.Int64).alias("n_good"),
            pl.col("grade").is_in(list(NEGATIVE_GRADES)).sum().cast(pl.Int64).alias("n_average_or_below"),
        )
    )
    gate = pl.col("n_good") >= settings.gate.min_good
    if settings.gate.no_average_or_below:
        gate = gate & (pl.col("n_average_or_below") == 0)
    return (
        data.annual.filter(who)
        .select("person_id", "name", pl.col("year").cast(pl.Int32), "annual_grade")
        .join(counts, on=["person_id", "year"], how="left")
        .with_columns(pl.when(pl.col("quarters").is_not_null()).then(gate).alias("gate_met"))
        .sort("person_id", "year")
    )


def _outcomes(frame: pl.DataFrame, lang: str) -> pl.DataFrame:
    """Outcome codes in words (the canonical kind beside the text as written)."""
    labelled = with_outcome_labels(frame, lang)
    return labelled.select([("outcome_label" if c == "outcome" else c) for c in frame.columns]).drop(
        "unit", strict=False
    )


def _info(rows: list[tuple[str, str, object]], lang: str) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "field": [pick((zh, en), lang) for zh, en, _ in rows],
            "value": ["" if v is None else str(v) for *_, v in rows],
        }
    )


def person_pack(data: AssessmentData, settings: Settings, appeals: pl.DataFrame, person_id: str,
                flags: pl.DataFrame | None = None, lang: str = "zh") -> Pack:  # fmt: skip
    """The pack for one person (UserError when the person is not in `data`)."""
    who = person.info(data, person_id)
    flags = default_flags(data, settings) if flags is None else flags
    is_them = pl.col("person_id") == person_id
    keys = (
        data.quarterly.filter(is_them & pl.col("reviewer").is_not_null())
        .group_by("unit", "reviewer")
        .agg(pl.len().cast(pl.Int64).alias("quarters"), (pl.col("grade") == GOOD).sum().cast(pl.Int64).alias("good_count"))
        .sort("unit", "reviewer")
    )  # fmt: skip
    sections_of = data.quarterly.filter(is_them)["section"].drop_nulls().unique().sort().to_list()
    stamp = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    info = _info(
        [("人员编号", "Person ID", person_id), ("姓名", "Name", who["name"]), ("单位", "Unit", who["unit"]),
         ("内设机构", "Section", who["section"]), ("职务层次", "Position level", who["position_level"]),
         ("赛道", "Lane", who["lane"]), ("生成时间", "Made", stamp)],
        lang,
    )  # fmt: skip
    mine = appeals.filter(is_them).sort("appeal_date")
    rotation = _rotation(flags, who["unit"], sections_of)
    return Pack(
        title=(f"申诉复核材料 · {who['name'] or person_id}", f"Appeal pack · {who['name'] or person_id}"),
        subject=person_id,
        sections=(
            Section("info", ("基本情况", "The person"), info, NOTICE),
            Section("quarters", ("平时考核：逐季等次与赛道对比", "Quarterly grades against the lane"),
                    _quarters(data, settings, person_id),
                    ("百分位 100 为赛道最好；赛道“好”占比与平均得分为同一季度全赛道。",
                     "Percentile 100 is the best in the lane; the lane's share of 好 and mean score are for the same quarter.")),
            Section("reviewers", ("评鉴人及其宽松证据", "Reviewers and the evidence on their leniency"),
                    _reviewer_evidence(data, settings, keys, flags, appeals),
                    ("宽松效应：得分相同时多给的等次分（相对赛道；单位内为相对本单位其他评鉴人）；p 为单侧检验。"
                     "申诉为该评鉴人所涉全部申诉，每百人次为其评定的人次。",
                     "Leniency: grade points given above what the scores earn (against the lane; within unit: against the "
                     "unit's other reviewers); one-sided p. Appeals: every appeal concerning the reviewer, per 100 "
                     "person-quarters they graded.")),
            Section("rotation", ("所在单位与内设机构的轮流坐庄证据", "Rotation evidence for the unit and section"), rotation,
                    None if rotation.height else ("本单位及所在内设机构没有轮流坐庄预警。",
                                                  "No rotation flag for the unit or the section.")),
            Section("annual", ("年度考核与优秀门槛", "Annual grades and the 优秀 gate"),
                    _annual_with_gate(data, settings, is_them).drop("person_id", "name"),
                    (f"门槛：全年至少 {settings.gate.min_good} 次“好”" + ("且无一般及以下。" if settings.gate.no_average_or_below else "。"),
                     f"Gate: at least {settings.gate.min_good} 好 in the year"
                     + (" and no 一般 or below." if settings.gate.no_average_or_below else "."))),
            Section("outcomes", ("结果运用", "Outcomes"), _outcomes(person.outcomes(data, person_id), lang)),
            Section("appeals", ("申诉记录", "Appeals"), mine.select([c for c in APPEAL_COLUMNS if c in mine.columns])),
        ),
    )  # fmt: skip


def unit_pack(data: AssessmentData, settings: Settings, appeals: pl.DataFrame, unit: str,
              flags: pl.DataFrame | None = None, lang: str = "zh") -> Pack:  # fmt: skip
    """The pack for one unit: everyone's grades, the unit's reviewers, rotation, annual gate checks, appeals."""
    in_unit = pl.col("unit") == unit
    rows = data.quarterly.filter(in_unit)
    if rows.height == 0 and data.annual.filter(in_unit).height == 0:
        raise UserError(f"单位 {unit} 不在数据中 / no unit {unit!r} on record")
    flags = default_flags(data, settings) if flags is None else flags
    keys = (
        rows.filter(pl.col("reviewer").is_not_null())
        .group_by("unit", "reviewer")
        .agg(pl.col("person_id").n_unique().cast(pl.Int64).alias("people"),
             (pl.col("grade") == GOOD).mean().round(3).alias("good_rate"))
        .sort("reviewer")
    )  # fmt: skip
    sections = rows["section"].drop_nulls().unique().sort().to_list()
    grid = rows.sort("year", "quarter", "section", "person_id").select(
        period_expr(), "person_id", "name", "section", "grade", "score", "reviewer"
    )
    stamp = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    info = _info(
        [("单位", "Unit", unit), ("人数", "People", rows["person_id"].n_unique()),
         ("内设机构", "Sections", "、".join(sections)), ("生成时间", "Made", stamp)],
        lang,
    )  # fmt: skip
    rotation = _rotation(flags, unit, sections)
    theirs = appeals.filter(in_unit).sort("appeal_date")
    return Pack(
        title=(f"申诉复核材料 · {unit}", f"Appeal pack · {unit}"),
        subject=unit,
        sections=(
            Section("info", ("基本情况", "The unit"), info, NOTICE),
            Section("reviewers", ("评鉴人及其宽松证据", "Reviewers and the evidence on their leniency"),
                    _reviewer_evidence(data, settings, keys, flags, appeals)),
            Section("rotation", ("轮流坐庄证据", "Rotation evidence"), rotation,
                    None if rotation.height else ("本单位及其内设机构没有轮流坐庄预警。", "No rotation flag for the unit or its sections.")),
            Section("annual", ("年度考核与优秀门槛", "Annual grades and the 优秀 gate"),
                    _annual_with_gate(data, settings, in_unit)),
            Section("quarters", ("平时考核：逐季等次", "Quarterly grades"), grid),
            Section("outcomes", ("结果运用", "Outcomes"),
                    _outcomes(data.outcomes.filter(in_unit).sort("date", "person_id").select("person_id", "name", "date", "year", "outcome", "outcome_raw", "detail", "amount"), lang)),
            Section("appeals", ("申诉记录", "Appeals"),
                    theirs.select(["person_id", "name", *[c for c in APPEAL_COLUMNS if c in theirs.columns]])),
        ),
    )  # fmt: skip


_P_COLUMNS = ("p_value", "q_value", "flag_q")


def _readable(frame: pl.DataFrame, lang: str, printed: bool = False) -> pl.DataFrame:
    """Codes in words, headers in the language, dates without a clock; for print also p as people read it
    (p < 0.001), shares as percentages, and no column that is empty throughout."""
    out = frame.with_columns(pl.col(c).dt.strftime("%Y-%m-%d") for c, t in frame.schema.items() if t == pl.Datetime)
    if printed:
        p = [pl.when(pl.col(c) < 0.001).then(pl.lit("< 0.001")).otherwise(pl.col(c).round(3).cast(pl.Utf8)).alias(c)
             for c in _P_COLUMNS if c in out.columns]  # fmt: skip
        share = [(pl.col(c) * 100).round(1).cast(pl.Utf8) + "%" for c in out.columns if c.endswith("share") or c == "good_rate"]  # fmt: skip
        out = out.with_columns(*p, *share)
        out = out.select([c for c in out.columns if out[c].null_count() < out.height])
    return for_people(out, lang)


def to_xlsx(pack: Pack, lang: str = "zh") -> bytes:
    """One sheet per section, formula-safe (analytics.export)."""
    sheets = {pick(s.title, lang)[:31]: _readable(s.frame, lang) for s in pack.sections}
    buf = io.BytesIO()
    export.write_xlsx(sheets, buf)
    return buf.getvalue()


_STYLE = """
@page { size: A4 landscape; margin: 14mm 12mm; }
body { font-family: "Noto Sans CJK SC", "WenQuanYi Zen Hei", "Microsoft YaHei", "PingFang SC", sans-serif;
       color: #1f2933; font-size: 11px; line-height: 1.45; margin: 0; }
h1 { font-size: 19px; border-bottom: 3px solid #c62828; padding-bottom: 5px; margin: 0 0 6px; }
h2 { font-size: 14px; margin: 16px 0 4px; break-after: avoid; }
table { border-collapse: collapse; width: 100%; margin: 4px 0 6px; }
th, td { border: 1px solid #cfd8dc; padding: 2px 5px; text-align: left; vertical-align: top; }
th { background: #eef1f4; }
thead { display: table-header-group; }
tr { break-inside: avoid; }
.note { color: #546e7a; margin: 2px 0 4px; }
.notice { background: #fff8e1; border-left: 4px solid #ffb300; padding: 5px 9px; margin: 6px 0; }
"""


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1e-3 and value != 0 else f"{value:,.4g}"
    return str(value)


def _table(frame: pl.DataFrame, lang: str) -> str:
    if frame.height == 0:
        return f"<p class='note'>{html.escape(pick(('（无记录）', '(none)'), lang))}</p>"
    shown = _readable(frame, lang, printed=True)
    head = "".join(f"<th>{html.escape(c)}</th>" for c in shown.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_cell(v))}</td>" for v in row) + "</tr>" for row in shown.iter_rows()
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def to_html(pack: Pack, lang: str = "zh") -> str:
    """A printable page (A4 landscape): the title, the notice, each section with its note and table."""
    title = pick(pack.title, lang)
    parts = [
        f"<!DOCTYPE html><html lang='{'en' if lang == 'en' else 'zh-CN'}'><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    for section in pack.sections:
        parts.append(f"<h2>{html.escape(pick(section.title, lang))}</h2>")
        if section.note:
            css = "notice" if section.note is NOTICE else "note"
            parts.append(f"<p class='{css}'>{html.escape(pick(section.note, lang))}</p>")
        parts.append(_table(section.frame, lang))
    parts.append("</body></html>")
    return "\n".join(parts)


def to_pdf(pack: Pack, lang: str = "zh") -> bytes:
    """The printable page as PDF (headless Chromium, analytics.pdf)."""
    from analytics.pdf import html_to_pdf

    return html_to_pdf(to_html(pack, lang))


def file_bytes(pack: Pack, suffix: str, lang: str = "zh") -> bytes:
    """The pack as 'xlsx' or 'pdf' (or 'html')."""
    makers = {"xlsx": to_xlsx, "pdf": to_pdf, "html": lambda p, lg: to_html(p, lg).encode("utf-8")}
    if suffix not in makers:
        raise UserError(f"文件类型须为 .xlsx 或 .pdf / the file must end in .xlsx or .pdf, not .{suffix}")
    return makers[suffix](pack, lang)
