"""The import report a person reads: what happened, warnings, and the problems grouped by cause.

Problems are grouped by column and reason; the first 50 are listed in full (row as the user sees it and
the value), then a count of the rest. Chinese (`zh`) and English (`en`).
"""

from __future__ import annotations

import polars as pl

from analytics.importer.validate import REASONS

LIMIT = 50

_STATUS = {
    "imported": ("已导入", "imported"),
    "partial": ("部分导入", "partly imported"),
    "duplicate": ("重复文件，未导入", "duplicate, nothing added"),
    "refused": ("未导入", "refused"),
    "preview": ("预览（未写入）", "preview (nothing stored)"),
}


def _pick(note: tuple[str, str], lang: str) -> str:
    return note[0] if lang == "zh" else note[1]


def where(sheet: str | None, row: int | None, lang: str) -> str:
    """`工作表 A 第 3 行` / `sheet A row 3`; CSV rows are line numbers."""
    if lang == "zh":
        return (f"工作表「{sheet}」" if sheet else "") + (f"第 {row} 行" if row is not None else "")
    return (f"sheet '{sheet}' " if sheet else "") + (f"row {row}" if row is not None else "")


def problem_lines(problems: pl.DataFrame, lang: str = "zh", limit: int = LIMIT) -> list[str]:
    """Problems grouped by (column, reason), the first `limit` in full, then a count of the rest."""
    if problems.height == 0:
        return []
    shown = problems.head(limit).with_row_index("__order")
    groups = shown.group_by("column", "code", maintain_order=True).agg(pl.all())
    lines = []
    for column, code, sheets, rows, values, reasons_en, reasons_zh, accepted in groups.select(
        "column", "code", "sheet", "row", "value", "reason", "reason_zh", "accepted"
    ).iter_rows():
        base = _pick(REASONS.get(code, (reasons_zh[0], reasons_en[0])), lang)
        count = problems.filter((pl.col("column") == column) & (pl.col("code") == code)).height
        if lang == "zh":
            lines.append(f"  [{column}] {base}（可用：{accepted[0]}）— 共 {count} 处")
        else:
            lines.append(f"  [{column}] {base} (accepted: {accepted[0]}) - {count} in all")
        for sheet, row, value, reason in zip(
            sheets, rows, values, reasons_zh if lang == "zh" else reasons_en, strict=True
        ):
            shown_value = "（空）" if value is None and lang == "zh" else ("(empty)" if value is None else value)
            detail = "" if reason == base else f" — {reason}"
            lines.append(f"    {where(sheet, row, lang)}{'：' if lang == 'zh' else ': '}{shown_value}{detail}")
    rest = problems.height - shown.height
    if rest > 0:
        lines.append(f"  …… 另有 {rest} 个问题未列出" if lang == "zh" else f"  ... and {rest} more problems")
    return lines


def render(result, lang: str = "zh") -> str:
    """Report text for an ImportResult or a Preview."""
    status = getattr(result, "status", "preview")
    head = _headline(result, status, lang)
    lines = [head]
    if result.problems.height:
        n_rows = result.problems.select("sheet", "row").unique().height
        lines.append(
            f"问题 {result.problems.height} 个，涉及 {n_rows} 行（按列和原因分组）："
            if lang == "zh"
            else f"{result.problems.height} problems in {n_rows} rows (grouped by column and reason):"
        )
        lines.extend(problem_lines(result.problems, lang))
        if status == "refused":
            lines.append(
                "默认全部或全不导入：库未改动。改正后重新导入，或加 --partial 只导入无误的行（有误的行存入 rejected_rows）。"
                if lang == "zh"
                else "All or nothing by default: the store is unchanged. Fix and import again, or use --partial to "
                "import the good rows (refused rows are kept in rejected_rows)."
            )
    notes = getattr(result, "notes", [])
    if notes:
        lines.append("提示：" if lang == "zh" else "Notes:")
        lines.extend(f"  - {_pick(n, lang)}" for n in notes)
    return "\n".join(lines)


def _headline(result, status: str, lang: str) -> str:
    word = _pick(_STATUS[status], lang)
    facts = []
    if getattr(result, "import_id", None) is not None:
        facts.append(f"导入编号 #{result.import_id}" if lang == "zh" else f"import #{result.import_id}")
    if result.kind:
        facts.append(f"类型 {result.kind}" if lang == "zh" else f"kind {result.kind}")
    if result.layout:
        facts.append(f"{'布局' if lang == 'zh' else 'layout'} {result.layout}")
    if result.header_row:
        facts.append(f"表头在第 {result.header_row} 行" if lang == "zh" else f"header on row {result.header_row}")
    if result.encoding:
        facts.append(f"{'编码' if lang == 'zh' else 'encoding'} {result.encoding}")
    counts = ""
    if status in ("imported", "partial"):
        counts = (
            f"：存入 {result.rows} 条，拒绝 {result.rejected} 行"
            if lang == "zh"
            else f": {result.rows} rows stored, {result.rejected} rows refused"
        )
    elif status == "preview":
        counts = f"：{result.total_records} 条记录" if lang == "zh" else f": {result.total_records} records"
    detail = "，".join(facts) if lang == "zh" else ", ".join(facts)
    return (
        f"{result.file_name}：{word}{counts}（{detail}）"
        if lang == "zh"
        else f"{result.file_name}: {word}{counts} ({detail})"
    )
