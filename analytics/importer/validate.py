"""Records -> typed facts plus a list of problems, each as the user sees it.

A problem names the file, the sheet, the row (Excel row / CSV line), the column as written, the value,
the reason and the accepted values. Checks: required columns (a UserError naming the column and its
aliases), every value of every modelled field, the person (an id, or name + unit from which a stable id
is derived), conflicts (same person and period with two different grades: refused, naming both rows) and
exact duplicates (stored once, with a warning).
"""

from __future__ import annotations

import duckdb
import polars as pl

from analytics.errors import UserError
from analytics.importer import normalise as norm
from analytics.importer.columns import FIELD_ZH, accepted_names
from analytics.importer.layout import REC, ROW, SHEET, col

Note = tuple[str, str]  # (Chinese, English)

PROBLEM_SCHEMA = {
    "file": pl.Utf8, "sheet": pl.Utf8, "row": pl.Int32, "column": pl.Utf8, "value": pl.Utf8,
    "reason": pl.Utf8, "reason_zh": pl.Utf8, "accepted": pl.Utf8, "code": pl.Utf8, REC: pl.UInt32,
}  # fmt: skip

REASONS: dict[str, Note] = {
    "missing": ("必填项为空", "required value is empty"),
    "grade": ("不是有效的等次", "not a valid grade"),
    "annual_grade": ("不是有效的年度考核等次", "not a valid annual grade"),
    "quarter": ("不是有效的季度", "not a valid quarter"),
    "year": ("不是有效的年度", "not a valid year"),
    "no_year": ("没有年度：既无年度列，季度里也没写年份", "no year: no year column and the period names none"),
    "year_mismatch": ("年度与季度里的年份不一致", "the year differs from the year in the period"),
    "date": ("不是有效的日期", "not a valid date"),
    "when": ("既无日期也无年度", "neither a date nor a year"),
    "number": ("不是数字", "not a number"),
    "person": ("缺少人员编号，也缺少姓名或单位", "no person id, and no name or unit to derive one"),
    "conflict": ("同一人员同一期有两个不同等次", "same person and period with two different grades"),
    "conflict_store": ("与库中已有记录的等次不同", "a different grade is already in the store"),
    "score_range": ("得分超出允许范围", "score outside the allowed range"),
    "two_units": ("同一人员同一期出现在两个单位", "the same person in two units in one period"),
    "decision": ("不是可识别的处理结果", "not a recognised decision"),
    "decision_order": ("答复日期早于申诉日期", "decided before the appeal was filed"),
}
ACCEPTED_PERSON = "人员编号，或 姓名 + 单位 / a person id, or name + unit"

# What each kind needs: alternatives per requirement, first the fields that satisfy it.
REQUIRED: dict[str, tuple[tuple[str, ...], ...]] = {
    "quarterly": (("person_id", "name"), ("person_id", "unit"), ("quarter",), ("grade",)),
    "annual": (("person_id", "name"), ("person_id", "unit"), ("year",), ("annual_grade",)),
    "outcomes": (("person_id", "name"), ("person_id", "unit"), ("outcome",), ("date", "year")),
    "appeals": (("person_id", "name"), ("person_id", "unit"), ("appeal_subject",), ("appeal_date", "year")),
}
PERIOD_KEYS = {"quarterly": ("year", "quarter"), "annual": ("year",)}
GRADE_FIELD = {"quarterly": "grade", "annual": "annual_grade"}


def require_columns(fields: set[str], kind: str, layout: str, where: str, columns: list[str] = ()) -> None:
    """UserError naming each missing required column and the names it is accepted under."""
    present = set(fields) | ({"quarter", "grade"} if layout == "wide" else set())
    missing: list[tuple[str, ...]] = []
    for options in REQUIRED[kind]:
        wanted = tuple(f for f in options if f != "person_id") or options
        if not present & set(options) and wanted not in missing:
            missing.append(wanted)
    if not missing:
        return
    described = [
        " 或 or ".join(f"{FIELD_ZH[f]} ({f})：可用列名 accepted names: {accepted_names(f)}" for f in wanted)
        for wanted in missing
    ]
    also = (
        "（或人员编号 person_id：" + accepted_names("person_id") + "）" if {("name",), ("unit",)} & set(missing) else ""
    )
    plural = "s" if len(missing) > 1 else ""
    first = FIELD_ZH[missing[0][0]]
    hint = (
        f"。若表中这一列叫别的名字，加 --map {first}=列名（如 --map {first}={columns[-1] if columns else '列名'}）；网页上在「列对应」里选择"
        f" / if the file calls it otherwise, add --map {missing[0][0]}=COLUMN"
    )
    raise UserError(
        f"{where}: 缺少必需的列 missing required column{plural} for {kind}: {'；'.join(described)}{also}{hint}"
    )


def empty_problems() -> pl.DataFrame:
    return pl.DataFrame(schema=PROBLEM_SCHEMA)


def problems_where(frame: pl.DataFrame, mask: pl.Expr, field: str, code: str, accepted: str, file: str,
                   reason: tuple[pl.Expr, pl.Expr] | None = None) -> pl.DataFrame:  # fmt: skip
    """One problem per record matching `mask`, about `field` (its source column and value as read)."""
    zh, en = REASONS[code]
    hit = frame.filter(mask)
    if hit.height == 0:
        return empty_problems()
    source = pl.col(col(field)) if col(field) in frame.columns else pl.lit(FIELD_ZH.get(field, field))
    value = pl.col(field).cast(pl.Utf8) if field in frame.columns else pl.lit(None, dtype=pl.Utf8)
    reason_zh, reason_en = reason if reason else (pl.lit(zh), pl.lit(en))
    return hit.select(
        pl.lit(file).alias("file"), pl.col(SHEET).alias("sheet"), pl.col(ROW).alias("row"), source.alias("column"),
        value.alias("value"), reason_en.alias("reason"), reason_zh.alias("reason_zh"), pl.lit(accepted).alias("accepted"),
        pl.lit(code).alias("code"), pl.col(REC),
    ).cast(PROBLEM_SCHEMA)  # fmt: skip


class Checker:
    """Checks and types one kind's records; collects problems and notes as it goes."""

    def __init__(self, frame: pl.DataFrame, kind: str, file: str):
        self.frame = frame.with_row_index(REC)
        self.kind, self.file = kind, file
        self.problems: list[pl.DataFrame] = []
        self.notes: list[Note] = []

    def _report(self, mask: pl.Expr, field: str, code: str, accepted: str, reason=None) -> None:
        self.problems.append(problems_where(self.frame, mask, field, code, accepted, self.file, reason))

    def typed(self, field: str, parse, code: str, accepted: str, required: bool = False) -> None:
        """Parse a field's text; report filled cells that do not parse and, if required, empty ones."""
        if field not in self.frame.columns:
            if required:
                self.frame = self.frame.with_columns(pl.lit(None, dtype=pl.Utf8).alias(field))
                self._report(pl.lit(True), field, "missing", accepted)
            return
        self.frame = self.frame.with_columns(parse(self.frame[field]).alias("__parsed"))
        self._report(pl.col(field).is_not_null() & pl.col("__parsed").is_null(), field, code, accepted)
        if required:
            self._report(pl.col(field).is_null(), field, "missing", accepted)
        self.frame = self.frame.with_columns(pl.col("__parsed").alias(field)).drop("__parsed")

    def alias_notes(self, field: str, aliases: dict[str, str] | None) -> None:
        """Each local spelling accepted under [import.grade_aliases]: what it was read as, how often, which rows."""
        if not aliases or field not in self.frame.columns:
            return
        folded = norm.normalise_text_series(self.frame[field])
        for spelling, grade in aliases.items():
            hit = self.frame.filter(folded == norm.normalise_text_series(pl.Series([spelling]))[0])
            if hit.height:
                rows = "、".join(str(r) for r in hit[ROW].head(20).to_list())
                self.notes.append(
                    (f"按设置 [import.grade_aliases] 把「{spelling}」读作「{grade}」：{hit.height} 处（第 {rows} 行）",
                     f"'{spelling}' read as '{grade}' per [import.grade_aliases]: {hit.height} cells (rows {rows})")
                )  # fmt: skip

    def person(self) -> None:
        """Every record needs a person id or name + unit; ids are derived from name + unit where absent."""
        for field in ("person_id", "name", "unit"):
            if field not in self.frame.columns:
                self.frame = self.frame.with_columns(pl.lit(None, dtype=pl.Utf8).alias(field))
        nobody = pl.col("person_id").is_null() & (pl.col("name").is_null() | pl.col("unit").is_null())
        blame = "name" if col("name") in self.frame.columns else "person_id"
        self._report(nobody, blame, "person", ACCEPTED_PERSON)
        derive = self.frame["person_id"].is_null() & ~self.frame.select(nobody).to_series()
        if derive.any():
            self.frame = self.frame.with_columns(pl.col("person_id").fill_null(derived_ids(self.frame)))
            self.notes.append(
                (
                    f"{int(derive.sum())} 条记录没有人员编号，已按 姓名+单位 生成稳定编号（D 开头）；同一单位的同名者会被当作一人",
                    f"{int(derive.sum())} records have no person id: a stable id was derived from name + unit "
                    "(starting with D); namesakes in one unit would be taken as one person",
                )
            )
        self._namesakes()

    def _namesakes(self) -> None:
        named = self.frame.filter(pl.col("name").is_not_null() & pl.col("unit").is_not_null())
        # Hash name+unit and id to integers (one pass, no strings compared) to find the few name+unit pairs
        # with more than one id; the exact grouping below then runs on those records only.
        hashed = named.select(pl.struct("unit", "name").hash().alias("k"), pl.col("person_id").hash().alias("p"))
        suspects = hashed.unique().filter(pl.col("k").is_duplicated())["k"]
        found = (
            named.filter(hashed["k"].is_in(suspects.implode()))
            .group_by("unit", "name")
            .agg(pl.col("person_id").n_unique().alias("ids"))
            .filter(pl.col("ids") > 1)
            .sort("unit", "name")
        )
        if found.height:
            shown = "、".join(f"{u}·{n}" for u, n in found.select("unit", "name").head(10).iter_rows())
            self.notes.append(
                (
                    f"同一单位内有同名人员（编号不同，按不同人处理）：{shown}",
                    f"namesakes in one unit (different ids, kept as different people): {shown}",
                )
            )

    def result(self) -> tuple[pl.DataFrame, pl.DataFrame]:
        problems = pl.concat([empty_problems(), *self.problems])
        return self.frame, problems


def derived_ids(frame: pl.DataFrame) -> pl.Series:
    """Stable id from unit + name (md5, the same on every machine and version): 'D' + 10 hex digits."""
    con = duckdb.connect()
    try:
        con.register("people", frame.select("unit", "name").to_arrow())
        ids = con.sql(
            "SELECT 'D' || upper(left(md5(coalesce(unit, '') || chr(31) || coalesce(name, '')), 10)) FROM people"
        )
        return ids.pl().to_series().alias("person_id")
    finally:
        con.close()


def check_quarterly(frame: pl.DataFrame, file: str, aliases: dict[str, str] | None = None):
    checker = Checker(frame, "quarterly", file)
    period_year, quarter, month = norm.periods(checker.frame["quarter"])
    checker.frame = checker.frame.with_columns(month.alias("month"))
    if "year" not in frame.columns and frame.height and period_year.null_count() == frame.height:
        raise UserError(
            f"{file}: 缺少年度：没有年度列（{accepted_names('year')}），季度里也没写年份（如 2024Q1、2024年第一季度）"
            f" / no year: no year column ({accepted_names('year')}) and the periods name none (write 2024Q1)"
        )
    checker.typed("quarter", lambda s: quarter, "quarter", norm.ACCEPTED_QUARTERS, required=True)
    checker.typed("year", norm.years, "year", norm.ACCEPTED_YEARS)
    _fill_year(checker, period_year)
    checker.alias_notes("grade", aliases)
    checker.typed("grade", lambda s: norm.grades(s, aliases), "grade", norm.ACCEPTED_GRADES, required=True)
    checker.typed("score", norm.numbers, "number", norm.ACCEPTED_NUMBERS)
    checker.person()
    return (*checker.result(), checker.notes)


def _fill_year(checker: Checker, period_year: pl.Series) -> None:
    """The year column wins; a year inside the period (2024Q1) fills it and must agree with it."""
    frame = checker.frame.with_columns(period_year.alias("__period_year"))
    if "year" not in frame.columns:
        frame = frame.with_columns(pl.lit(None, dtype=pl.Int32).alias("year"))
    checker.frame = frame
    clash = (
        pl.col("year").is_not_null()
        & pl.col("__period_year").is_not_null()
        & (pl.col("year") != pl.col("__period_year"))
    )
    checker._report(clash, "year", "year_mismatch", "年度与季度中的年份一致 / the same year in both")
    checker.frame = frame.with_columns(pl.coalesce("year", "__period_year").alias("year")).drop("__period_year")
    no_year = pl.col("year").is_null() & pl.col("quarter").is_not_null()
    checker._report(no_year, "quarter", "no_year", "年度列，或 2024Q1 / 2024年第一季度 这样的季度")


def check_annual(frame: pl.DataFrame, file: str, aliases: dict[str, str] | None = None):
    checker = Checker(frame, "annual", file)
    checker.typed("year", norm.years, "year", norm.ACCEPTED_YEARS, required=True)
    if "annual_grade" in checker.frame.columns and norm.is_zb18(checker.frame["annual_grade"]):
        checker.notes.append(
            ("年度考核等次按公务员管理信息系统 ZB18 代码读取（1 优秀、2 称职、3 基本称职、4 不称职、2B 合格、3B 基本合格、"
             "4B 不合格、5 不确定等次、5A/5B/5C/6A/7 不参加考核）",
             "annual grades read as ZB18 codes of the civil-servant information system (1 excellent, 2 competent …)")
        )  # fmt: skip
    checker.alias_notes("annual_grade", aliases)
    checker.typed("annual_grade", lambda s: norm.annual_grades(s, aliases), "annual_grade", norm.ACCEPTED_ANNUAL,
                  required=True)  # fmt: skip
    checker.typed("score", norm.numbers, "number", norm.ACCEPTED_NUMBERS)
    checker.person()
    return (*checker.result(), checker.notes)


def check_outcomes(frame: pl.DataFrame, file: str) -> tuple[pl.DataFrame, pl.DataFrame, list[Note]]:
    when_cells = [pl.col(f).is_null() for f in ("date", "year") if f in frame.columns]
    frame = frame.with_columns(
        pl.col("outcome").alias("outcome_raw"), pl.all_horizontal(when_cells or [pl.lit(True)]).alias("__no_when")
    )
    checker = Checker(frame, "outcomes", file)
    checker.typed("outcome", norm.outcomes, "missing", "结果运用类型 / an outcome", required=True)
    checker.typed("date", norm.dates, "date", norm.ACCEPTED_DATES)
    checker.typed("year", norm.years, "year", norm.ACCEPTED_YEARS)
    checker.typed("amount", norm.numbers, "number", norm.ACCEPTED_NUMBERS)
    for field, dtype in (("date", pl.Date), ("year", pl.Int32)):
        if field not in checker.frame.columns:
            checker.frame = checker.frame.with_columns(pl.lit(None, dtype=dtype).alias(field))
    checker._report(pl.col("__no_when"), "date", "when", "日期或年度 / a date or a year")
    checker.frame = checker.frame.drop("__no_when")
    unknown = checker.frame.filter(pl.col("outcome") == norm.OTHER_OUTCOME)["outcome_raw"].unique().sort()
    if unknown.len():
        shown = "、".join(unknown.head(10).to_list())
        checker.notes.append(
            (
                f"{unknown.len()} 种结果运用类型无法识别，记为 other（原文保留在 outcome_raw）：{shown}",
                f"{unknown.len()} outcome names not recognised, stored as 'other' (kept in outcome_raw): {shown}",
            )
        )
    checker.person()
    return (*checker.result(), checker.notes)


def check_appeals(frame: pl.DataFrame, file: str) -> tuple[pl.DataFrame, pl.DataFrame, list[Note]]:
    from analytics.appeals.records import check_appeals as check  # late: that module builds on Checker

    return check(frame, file)


CHECKS = {"quarterly": check_quarterly, "annual": check_annual, "outcomes": check_outcomes, "appeals": check_appeals}


def real_world_checks(frame: pl.DataFrame, kind: str, file: str, score_range: tuple[float, float]):
    """(problems, notes): scores outside the range, one person in two units in one period, the not assessed."""
    problems, notes = [], []
    low, high = score_range
    if "score" in frame.columns:
        outside = pl.col("score").is_not_null() & ~pl.col("score").is_between(low, high)
        accepted = f"{low:g}–{high:g}（[import] score_min/score_max）"
        problems.append(problems_where(frame, outside, "score", "score_range", accepted, file))
    problems.append(_two_units(frame, kind, file))
    grade = GRADE_FIELD[kind]
    out = frame.filter(pl.col(grade) == norm.NOT_ASSESSED)
    if out.height:
        rows = "、".join(str(r) for r in out[ROW].head(20).to_list())
        notes.append(
            (f"{out.height} 人次不参加考核（第 {rows} 行）：存为「不参加考核」，不计入任何等次；原因等其他列保存在 extra",
             f"{out.height} records not assessed (rows {rows}): stored as 不参加考核, never counted as a grade; the "
             f"reason and other columns are kept in extra")
        )  # fmt: skip
    return pl.concat([empty_problems(), *problems]), notes


def _two_units(frame: pl.DataFrame, kind: str, file: str) -> pl.DataFrame:
    """The same person id in two units in one period: refused, naming the rows (a namesake has another id)."""
    key = ["person_id", *PERIOD_KEYS[kind]] + (["month"] if "month" in frame.columns else [])
    if frame.height == 0 or "unit" not in frame.columns or frame["person_id"].str.starts_with("D").all():
        return empty_problems()
    twice = frame.filter(may_repeat(key) & pl.col("unit").is_not_null())
    if twice.height == 0:
        return empty_problems()
    split = twice.group_by(key).agg(pl.col("unit").n_unique().alias("__units")).filter(pl.col("__units") > 1)
    if split.height == 0:
        return empty_problems()
    hit = twice.join(split.select(key), on=key, how="semi", nulls_equal=True)
    listed = hit.group_by(key).agg(
        pl.concat_str([_where(), pl.lit(" "), pl.col("unit")]).str.join("、").alias("__zh"),
        pl.concat_str([_where_en(), pl.lit(" "), pl.col("unit")]).str.join(", ").alias("__en"),
    )
    hit = hit.join(listed, on=key, how="inner", nulls_equal=True)
    zh, en = REASONS["two_units"]
    reason = (
        pl.concat_str([pl.lit(zh + "：涉及 "), pl.col("__zh")]),
        pl.concat_str([pl.lit(en + ": "), pl.col("__en")]),
    )
    return problems_where(hit, pl.lit(True), "unit", "two_units", "每人每期一个单位 / one unit per person and period",
                          file, reason)  # fmt: skip


def special_records(frame: pl.DataFrame, file: str) -> pl.DataFrame:
    """专项考核 records as stored: person, year, the period as written, the grade (canonical where it is one)."""
    checker = Checker(frame, "quarterly", file)
    checker.person()
    out = checker.frame
    grade = norm.grades(out["grade"]) if "grade" in out.columns else pl.Series([None] * out.height, dtype=pl.Utf8)
    raw = out["grade"] if "grade" in out.columns else grade
    year = norm.years(out["year"]) if "year" in out.columns else pl.Series([None] * out.height, dtype=pl.Int32)
    score = norm.numbers(out["score"]) if "score" in out.columns else pl.Series([None] * out.height, dtype=pl.Float64)
    return out.with_columns(
        year.alias("year"), pl.col("quarter").alias("period_text"), grade.fill_null(raw).alias("grade"),
        score.alias("score"),
    )  # fmt: skip


def conflicts(frame: pl.DataFrame, kind: str, file: str) -> pl.DataFrame:
    """Same person and period with two different grades: a problem on every such record, naming the others."""
    if kind not in GRADE_FIELD or frame.height == 0:
        return empty_problems()
    grade = GRADE_FIELD[kind]
    key = ["person_id", *PERIOD_KEYS[kind]] + (["month"] if "month" in frame.columns else [])
    graded = frame.filter(pl.col(grade).is_not_null())
    # Only records sharing a person and period can clash: one hash pass finds them (usually none), and the
    # grouping below then runs on those few instead of on every record.
    graded = graded.filter(may_repeat(key))
    if graded.height == 0:
        return empty_problems()
    clashing = graded.group_by(key).agg(pl.col(grade).n_unique().alias("__grades")).filter(pl.col("__grades") > 1)
    if clashing.height == 0:
        return empty_problems()
    # Row lists are built for the clashing groups only (a handful), not for every person and period.
    involved = graded.join(clashing.select(key), on=key, how="semi", nulls_equal=True)
    rows = involved.group_by(key).agg(
        pl.concat_str([_where(), pl.lit(" "), pl.col(grade)]).str.join("、").alias("__rows_zh"),
        pl.concat_str([_where_en(), pl.lit(" "), pl.col(grade)]).str.join(", ").alias("__rows_en"),
    )
    hit = involved.join(rows, on=key, how="inner", nulls_equal=True)
    period = _period_label(kind)
    zh, en = REASONS["conflict"]
    reason = (
        pl.concat_str([pl.lit(zh + "（"), period, pl.lit("）：涉及 "), pl.col("__rows_zh")]),
        pl.concat_str([pl.lit(en + " ("), period, pl.lit("): "), pl.col("__rows_en")]),
    )
    accepted = "每人每期一个等次 / one grade per person and period"
    return problems_where(hit, pl.lit(True), grade, "conflict", accepted, file, reason)


def _where() -> pl.Expr:
    sheet = pl.when(pl.col(SHEET).is_not_null()).then(pl.col(SHEET) + pl.lit(" ")).otherwise(pl.lit(""))
    return pl.concat_str([sheet, pl.lit("第"), pl.col(ROW).cast(pl.Utf8), pl.lit("行")])


def _where_en() -> pl.Expr:
    sheet = pl.when(pl.col(SHEET).is_not_null()).then(pl.col(SHEET) + pl.lit(" ")).otherwise(pl.lit(""))
    return pl.concat_str([sheet, pl.lit("row "), pl.col(ROW).cast(pl.Utf8)])


def _period_label(kind: str) -> pl.Expr:
    if kind == "quarterly":
        quarter = pl.concat_str([pl.col("year").cast(pl.Utf8), pl.lit("Q"), pl.col("quarter").cast(pl.Utf8)])
        month = pl.concat_str([pl.col("year").cast(pl.Utf8), pl.lit("年"), pl.col("month").cast(pl.Utf8), pl.lit("月")])
        return pl.coalesce(month, quarter)
    return pl.col("year").cast(pl.Utf8)


def duplicates(frame: pl.DataFrame, kind: str, stored: list[str]) -> tuple[pl.DataFrame, list[Note]]:
    """Keep one of each exact duplicate (and the first of same-key, same-grade records); say which rows."""
    notes: list[Note] = []
    if frame.height == 0:
        return frame, notes
    if kind in GRADE_FIELD and not _repeats_key(frame, kind):
        return frame, notes  # an exact duplicate repeats the key too, so nothing to drop (the common case)
    same = pl.struct([c for c in stored if c in frame.columns])
    exact = frame.filter(same.is_first_distinct().not_())
    if exact.height:
        rows = _row_list(exact)
        notes.append(
            (f"{exact.height} 条记录与前面的记录完全相同，只存一次：{rows}",
             f"{exact.height} records exactly repeat earlier ones and are stored once: {rows}")
        )  # fmt: skip
        frame = frame.filter(same.is_first_distinct())
    if kind in GRADE_FIELD:
        key = pl.struct(["person_id", *PERIOD_KEYS[kind], *_month(frame), GRADE_FIELD[kind]])  # else a conflict
        repeat = frame.filter(key.is_first_distinct().not_())
        if repeat.height:
            rows = _row_list(repeat)
            notes.append(
                (f"{repeat.height} 条记录与前面同一人同一期的记录等次相同、其他内容不同，保留前一条：{rows}",
                 f"{repeat.height} records repeat a person and period with the same grade but other differences; "
                 f"the first is kept: {rows}")
            )  # fmt: skip
            frame = frame.filter(key.is_first_distinct())
    return frame, notes


def _repeats_key(frame: pl.DataFrame, kind: str) -> bool:
    """Whether two records share person, period and grade (one hash pass over four columns, not all)."""
    return bool(
        frame.select(may_repeat(["person_id", *PERIOD_KEYS[kind], *_month(frame), GRADE_FIELD[kind]]).any()).item()
    )


def may_repeat(key: list[str]) -> pl.Expr:
    """Records whose key may repeat another's: a repeated 64-bit hash of the key (2.6x faster than comparing
    the key's columns). A rare collision only adds a candidate; callers check the candidates exactly."""
    return pl.struct(key).hash().is_duplicated()


def _month(frame: pl.DataFrame) -> list[str]:
    return ["month"] if "month" in frame.columns else []


def _row_list(frame: pl.DataFrame, limit: int = 20) -> str:
    rows = frame.select(_where()).to_series().unique(maintain_order=True)
    shown = "、".join(rows.head(limit).to_list())
    return shown + (f" 等 {rows.len()} 行" if rows.len() > limit else "")
