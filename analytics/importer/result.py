"""What an import or a preview hands back: counts, warnings, problems and the report text."""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from analytics.importer import report
from analytics.importer.validate import Note, empty_problems

PROBLEM_COLUMNS = ["file", "sheet", "row", "column", "value", "reason", "reason_zh", "accepted"]


def public_problems(problems: pl.DataFrame) -> pl.DataFrame:
    """The problems frame without internal columns."""
    return problems.select(PROBLEM_COLUMNS + ["code"])


@dataclass
class ImportResult:
    """One file's import. status: 'imported' | 'partial' | 'duplicate' | 'refused'."""

    status: str
    file_name: str
    import_id: int | None = None
    kind: str | None = None
    layout: str | None = None
    header_row: int | None = None
    encoding: str | None = None
    rows: int = 0
    rejected: int = 0
    notes: list[Note] = field(default_factory=list)
    ignored_footer_rows: list[int] = field(default_factory=list)
    problems: pl.DataFrame = field(default_factory=lambda: public_problems(empty_problems()))
    sheets: list[str | None] = field(default_factory=list)
    message: str | None = None  # the error, when the file could not be read at all

    @property
    def warnings(self) -> list[str]:
        """Warnings in both languages, `中文 / English`."""
        return [f"{zh} / {en}" for zh, en in self.notes]

    def report(self, lang: str = "zh") -> str:
        """The import report (lang 'zh' or 'en')."""
        if self.message:
            return self.message
        return report.render(self, lang)


@dataclass
class Preview:
    """What an import would do, nothing stored: mapping, the first rows normalised, problems."""

    file_name: str
    kind: str
    layout: str
    sheets: list[str | None]
    header_row: int
    encoding: str | None
    mapping: dict[str, str]
    rows: pl.DataFrame
    total_records: int
    problems: pl.DataFrame
    notes: list[Note] = field(default_factory=list)
    ignored_footer_rows: list[int] = field(default_factory=list)

    @property
    def warnings(self) -> list[str]:
        return [f"{zh} / {en}" for zh, en in self.notes]

    def report(self, lang: str = "zh") -> str:
        mapping = "、".join(f"{h} → {f}" for h, f in self.mapping.items())
        label = "列对应" if lang == "zh" else "columns"
        return report.render(self, lang) + f"\n{label}: {mapping}"
