"""What-if (推演): which annual 优秀 and which grade-dependent outcomes would move if the grades were fair,
or if the rules were different. A scenario, never a verdict: nothing here writes to the store.

A scenario has a basis and rules:
- basis 'recorded': the quarterly grades as recorded; 'fair': the 好 given by reviewers the leniency detector
  flags are held to the bar the unit's other reviewers set, on fair scores (analytics.fair_score: the score minus
  the reviewer's shrunk leniency); a 好 below the bar goes to the next in line (fair_quarterly). 一般 and 较差 stay.
- rules: the annual 优秀 cap (a share, per unit or per lane), the smallest number of places a group keeps,
  and the gate (at least `gate_min_good` 好 in the year, and no 一般 or below when `gate_no_average`).

Annual 优秀 is then re-derived per group and year: the eligible are people graded 优秀 or 称职 whose year
meets the gate (a year with no quarterly record counts in their favour, as the outcome-rule check does);
places = min(优秀 the group gave, floor(cap x people graded), at least `min_places`): a what-if never hands out
more 优秀 than the group did, it only asks who would hold them. Places go first to the recorded 优秀 who are still
eligible, then by 好 count and mean (fair) score. Each change names its reason: the gate ('gate'), the cap
('cap'), or a place freed by someone else ('freed').
Outcomes that depend on grades (DOMAIN.md): 优秀 -> commendation (嘉奖), three 优秀 running -> merit citation
(记三等功), 好 twice or more -> promotion priority; each person-year whose entitlement moves is listed with the
outcome records it already has.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import polars as pl

from analytics.dataset import AssessmentData
from analytics.lanes import UNASSIGNED
from analytics.outcomes import gate_expr, outcome_records, quarter_counts
from analytics.settings import Settings
from analytics.vocab import (
    ANNUAL_GRADE_RANK,
    COMPETENT,
    EXCELLENT,
    FAIRLY_GOOD,
    GOOD,
)

DISCLAIMER_ZH = "推演情景，不是结论：仅说明在所设条件下结果会如何变化；库中任何等次均未改动。"
DISCLAIMER_EN = (
    "A scenario, not a verdict: it shows what would change under the assumptions chosen; no stored grade is changed."
)
BASES = ("recorded", "fair")
LEVELS = ("unit", "lane")
_EPS = 1e-9
REASONS = {
    "gate": ("未达优秀门槛", "Gate not met"),
    "cap": ("超出优秀名额", "Beyond the 优秀 places"),
    "freed": ("递补空出的名额", "Took a freed place"),
}
CONSEQUENCES = {
    "commendation": ("嘉奖（年度优秀）", "Commendation (annual 优秀)", ("commendation",)),
    "merit": ("记三等功（连续三年优秀）", "Merit citation (three 优秀 running)", ("merit",)),
    "promotion_priority": ("优先提拔（好等次两次及以上）", "Promotion priority (好 twice or more)", ("promotion", "rank_promotion")),
}  # fmt: skip


@dataclass(frozen=True)
class Scenario:
    """The assumptions of one what-if. None means "as in settings"."""

    basis: str = "recorded"
    excellent_cap: float | None = None
    cap_level: str = "unit"
    min_places: int = 1  # a small group keeps one 优秀 place (floor(20% x 4) would be 0)
    gate_min_good: int | None = None
    gate_no_average: bool | None = None

    def __post_init__(self):
        if self.basis not in BASES:
            raise ValueError(f"basis must be one of {BASES}, got {self.basis!r}")
        if self.cap_level not in LEVELS:
            raise ValueError(f"cap_level must be one of {LEVELS}, got {self.cap_level!r}")
        if self.excellent_cap is not None and not 0 < self.excellent_cap <= 1:
            raise ValueError(f"excellent_cap must be a share in (0, 1], got {self.excellent_cap}")

    def rules(self, settings: Settings) -> Settings:
        """The settings with this scenario's cap and gate."""
        gate = settings.gate
        gate = replace(
            gate,
            min_good=gate.min_good if self.gate_min_good is None else self.gate_min_good,
            no_average_or_below=gate.no_average_or_below if self.gate_no_average is None else self.gate_no_average,
        )
        quota = settings.quota
        if self.excellent_cap is not None:  # one cap for everyone: approval does not raise it
            quota = replace(quota, excellent_cap=self.excellent_cap, excellent_cap_approved=self.excellent_cap)
        return replace(settings, gate=gate, quota=quota)

    def describe(self, settings: Settings, lang: str = "zh") -> str:
        r = self.rules(settings)
        cap = f"{r.quota.excellent_cap:.0%}"
        basis_zh = "按公平分重排平时考核“好”" if self.basis == "fair" else "按记录的平时考核等次"
        basis_en = (
            "quarterly 好 re-derived from fair scores" if self.basis == "fair" else "quarterly grades as recorded"
        )
        avg_zh = "且无一般及以下" if r.gate.no_average_or_below else ""
        avg_en = " and no 一般 or below" if r.gate.no_average_or_below else ""
        if lang == "zh":
            level = "每个单位" if self.cap_level == "unit" else "每个赛道"
            return f"{basis_zh}；{level}优秀不超过 {cap}；门槛：全年至少 {r.gate.min_good} 次“好”{avg_zh}。"
        level = "per unit" if self.cap_level == "unit" else "per lane"
        return f"{basis_en}; 优秀 capped at {cap} {level}; gate: at least {r.gate.min_good} 好 in the year{avg_en}."


PRESETS: dict[str, Scenario] = {
    "rules": Scenario(),
    "fair": Scenario(basis="fair"),
    "cap15": Scenario(excellent_cap=0.15),
    "cap25": Scenario(excellent_cap=0.25),
    "cap35": Scenario(excellent_cap=0.35),
    "lane_cap20": Scenario(excellent_cap=0.20, cap_level="lane"),
    "gate3": Scenario(gate_min_good=3),
    "fair_gate3": Scenario(basis="fair", gate_min_good=3),
}


@dataclass(frozen=True)
class WhatIf:
    """One scenario's result: every table is a new frame; the data it came from is untouched."""

    scenario: Scenario
    quarterly: pl.DataFrame  # person-quarters whose grade moves (basis 'fair')
    annual: pl.DataFrame  # every graded person-year: recorded and what-if grade, change, reason
    consequences: pl.DataFrame  # person-years whose grade-dependent entitlements move
    note: str  # what the reader should know (no fair scores, ...)

    @property
    def changes(self) -> pl.DataFrame:
        return self.annual.filter(pl.col("change") != "same")

    def counts(self) -> dict[str, int]:
        ch = self.annual["change"]
        return {
            "gains": int((ch == "gains").sum()),
            "losses": int((ch == "loses").sum()),
            "quarters_changed": self.quarterly.height,
            "consequences_changed": self.consequences.height,
        }

    def counts_sentence(self, lang: str = "zh") -> str:
        c = self.counts()
        if lang == "zh":
            return (f"{c['gains']} 人次升为优秀，{c['losses']} 人次不再优秀，{c['quarters_changed']} 个人员季度等次变动，"
                    f"{c['consequences_changed']} 人次的待遇随之变动")  # fmt: skip
        return (f"{c['gains']} person-years gain 优秀, {c['losses']} lose it, {c['quarters_changed']} person-quarters "
                f"change grade, {c['consequences_changed']} person-years' entitlements move")  # fmt: skip


def fair_scores(quarterly: pl.DataFrame, settings: Settings) -> tuple[pl.DataFrame, str]:
    """(person_id, year, quarter, fair_score) from the leniency model, and its note."""
    from analytics.fair_score import estimate_leniency

    fit = estimate_leniency(quarterly, settings, level="reviewer")
    fair = fit.fair.select("person_id", "year", "quarter", "fair_score").unique(["person_id", "year", "quarter"])
    return fair.drop_nulls("fair_score"), fit.note


def lenient_reviewers(data: AssessmentData, settings: Settings) -> pl.DataFrame:
    """(unit, reviewer) the leniency detector flags: only their grades are re-derived under fair scores."""
    from analytics.detectors.leniency import LeniencyDetector

    flags = LeniencyDetector().detect(data, settings)
    return flags.filter(pl.col("subject_type") == "reviewer").select("unit", pl.col("subject").alias("reviewer"))


def fair_quarterly(
    quarterly: pl.DataFrame, settings: Settings, fair: pl.DataFrame, lenient: pl.DataFrame
) -> pl.DataFrame:
    """The quarterly rows with `fair_score` and `whatif_grade`.

    Within a unit and quarter, a 好 from a flagged lenient reviewer stays only when the person's fair score
    reaches the lowest fair score among the 好 that the unit's other reviewers gave (the unit's own bar); each
    place so freed goes to the next in line, the other reviewers' 较好 with the highest fair scores. Grades
    from reviewers who are not flagged never lose a 好, so the scenario moves what leniency moved, not every
    disagreement between grades and scores. Where a unit has no other reviewer there is no bar: nothing moves.
    """
    fair = fair.select("person_id", pl.col("year").cast(pl.Int32), pl.col("quarter").cast(pl.Int32), "fair_score")
    marks = lenient.select("unit", "reviewer").unique().with_columns(pl.lit(True).alias("_lenient"))
    rows = (
        quarterly.with_columns(pl.col("year").cast(pl.Int32), pl.col("quarter").cast(pl.Int32))
        .join(fair, on=["person_id", "year", "quarter"], how="left")
        .join(marks, on=["unit", "reviewer"], how="left")
        .with_columns(pl.col("_lenient").fill_null(False))
    )
    cell = ["unit", "year", "quarter"]
    scored = pl.col("fair_score").is_not_null()
    honest_good = (pl.col("grade") == GOOD) & ~pl.col("_lenient") & scored
    bar = pl.col("fair_score").filter(honest_good).min().over(cell)
    loses = (pl.col("grade") == GOOD) & pl.col("_lenient") & scored & (pl.col("fair_score") < bar).fill_null(False)
    rows = rows.with_columns(loses.alias("_loses")).with_columns(pl.col("_loses").sum().over(cell).alias("_freed"))
    in_line = (pl.col("grade") == FAIRLY_GOOD) & ~pl.col("_lenient") & scored
    rows = rows.with_columns(in_line.alias("_in_line")).sort(
        [*cell, "_in_line", "fair_score", "person_id"], descending=[False, False, False, True, True, False],
        nulls_last=True,
    )  # fmt: skip
    place = pl.int_range(1, pl.len() + 1).over([*cell, "_in_line"])
    gains = pl.col("_in_line") & (place <= pl.col("_freed"))
    whatif = pl.when("_loses").then(pl.lit(FAIRLY_GOOD)).when(gains).then(pl.lit(GOOD)).otherwise(pl.col("grade"))
    return rows.with_columns(whatif.alias("whatif_grade")).drop("_lenient", "_loses", "_freed", "_in_line")


def _quarter_changes(rows: pl.DataFrame) -> pl.DataFrame:
    changed = rows.filter(pl.col("whatif_grade") != pl.col("grade"))
    return changed.select(
        "person_id", "name", "unit", "section", "lane", "year", "quarter", "reviewer", "score", "fair_score",
        pl.col("grade").alias("recorded_grade"), "whatif_grade",
        pl.when(pl.col("whatif_grade") == GOOD).then(pl.lit("gains")).otherwise(pl.lit("loses")).alias("change"),
    ).sort("unit", "year", "quarter", "person_id")  # fmt: skip


def _year_counts(rows: pl.DataFrame, grade: str, prefix: str) -> pl.DataFrame:
    counts = quarter_counts(rows.select("person_id", "year", "quarter", pl.col(grade).alias("grade"), "score"))
    keep = ["n_good", "n_fairly_good", "n_average", "n_poor"]
    return counts.select("person_id", pl.col("year").cast(pl.Int32), *[pl.col(c).alias(f"{prefix}{c}") for c in keep])


def run(
    data: AssessmentData,
    settings: Settings,
    scenario: Scenario | None = None,
    fair: pl.DataFrame | None = None,
    lenient: pl.DataFrame | None = None,
) -> WhatIf:
    """Re-derive annual 优秀 and grade-dependent entitlements under `scenario` (no store is touched).
    `fair` (person_id, year, quarter, fair_score) and `lenient` (unit, reviewer) override the estimated fair
    scores and the leniency detector's flagged reviewers.

    >>> result = run(data, settings, PRESETS["fair"])          # doctest: +SKIP
    >>> result.changes.select("name", "unit", "change", "reason_zh")  # doctest: +SKIP
    """
    scenario = scenario or Scenario()
    rules = scenario.rules(settings)
    q = data.quarterly
    note = ""
    if scenario.basis == "fair":
        if fair is None:
            fair, note = fair_scores(q, settings)
        if lenient is None:
            lenient = lenient_reviewers(data, settings)
        if fair.height == 0:
            note = (note + " " if note else "") + "No fair scores: the what-if keeps the recorded grades."
        elif lenient.height == 0:
            note = (note + " " if note else "") + "No reviewer is flagged as lenient: no quarterly grade moves."
        rows = fair_quarterly(q, settings, fair, lenient)
    else:
        rows = q.with_columns(
            pl.col("year").cast(pl.Int32), pl.col("quarter").cast(pl.Int32), pl.col("grade").alias("whatif_grade"),
            pl.lit(None, pl.Float64).alias("fair_score"),
        )  # fmt: skip
    rows = rows.with_columns(pl.coalesce("fair_score", "score").alias("_rank_score"))
    recorded = _year_counts(rows, "grade", "rec_")
    whatif = _year_counts(rows, "whatif_grade", "")
    mean_score = rows.group_by("person_id", "year").agg(pl.col("_rank_score").mean().alias("rank_score"))
    annual = _derive_annual(data.annual, recorded, whatif, mean_score, rules, scenario)
    return WhatIf(
        scenario=scenario,
        quarterly=_quarter_changes(rows),
        annual=annual,
        consequences=_consequences(annual, data, settings),
        note=note,
    )


def _derive_annual(annual, recorded, whatif, mean_score, rules: Settings, scenario: Scenario) -> pl.DataFrame:
    people = annual.filter(pl.col("annual_grade").is_in(list(ANNUAL_GRADE_RANK))).select(
        "person_id", "name", "unit", pl.col("lane").fill_null(UNASSIGNED), pl.col("year").cast(pl.Int32), "annual_grade"
    )  # fmt: skip
    keys = ["person_id", "year"]
    frame = (
        people.join(recorded, on=keys, how="left").join(whatif, on=keys, how="left").join(mean_score, on=keys, how="left")
    )  # fmt: skip
    covered = pl.col("n_good").is_not_null()
    counts = ["n_good", "n_fairly_good", "n_average", "n_poor"]
    frame = frame.with_columns(covered.alias("quarters_on_record"), *[pl.col(c).fill_null(0) for c in counts])
    frame = frame.with_columns(pl.col(f"rec_{c}").fill_null(0) for c in counts)
    gate = gate_expr(rules) | ~pl.col("quarters_on_record")
    was = pl.col("annual_grade") == EXCELLENT
    eligible = gate & pl.col("annual_grade").is_in([EXCELLENT, COMPETENT])
    group = ["unit", "year"] if scenario.cap_level == "unit" else ["lane", "year"]
    approved = pl.col("unit").is_in(list(rules.quota.approved_units)) if scenario.cap_level == "unit" else pl.lit(False)
    cap = (
        pl.when(approved).then(pl.lit(rules.quota.excellent_cap_approved)).otherwise(pl.lit(rules.quota.excellent_cap))
    )
    n = pl.len().over(group)
    allowed = pl.max_horizontal((cap * n + _EPS).floor().cast(pl.Int64), pl.lit(scenario.min_places))
    places = pl.min_horizontal(allowed, was.sum().over(group).cast(pl.Int64))
    frame = frame.with_columns(
        gate.alias("gate_met"), eligible.alias("eligible"), cap.alias("cap"), n.alias("group_people"),
        allowed.alias("allowed"), places.alias("places"), was.alias("_was"),
    )  # fmt: skip
    # Places go to the recorded 优秀 still eligible first, then by 好 count and mean (fair) score.
    frame = frame.sort(
        [*group, "eligible", "_was", "n_good", "rank_score", "person_id"],
        descending=[False, False, True, True, True, True, False],
        nulls_last=True,
    ).with_columns(
        pl.when("eligible").then(pl.int_range(1, pl.len() + 1).over([*group, "eligible"])).alias("place_rank")
    )
    gets = pl.col("eligible") & (pl.col("place_rank") <= pl.col("places"))
    frame = frame.with_columns(
        pl.when(gets).then(pl.lit(EXCELLENT)).when(was).then(pl.lit(COMPETENT)).otherwise("annual_grade").alias("whatif_grade")
    )  # fmt: skip
    change = (
        pl.when(was & (pl.col("whatif_grade") != EXCELLENT))
        .then(pl.lit("loses"))
        .when(~was & (pl.col("whatif_grade") == EXCELLENT))
        .then(pl.lit("gains"))
        .otherwise(pl.lit("same"))
    )
    reason = (
        pl.when(pl.col("change") == "gains")
        .then(pl.lit("freed"))
        .when((pl.col("change") == "loses") & ~pl.col("gate_met"))
        .then(pl.lit("gate"))
        .when(pl.col("change") == "loses")
        .then(pl.lit("cap"))
    )
    frame = frame.with_columns(change.alias("change")).with_columns(reason.alias("reason"))
    zh, en = _reason_text(rules, scenario)
    return frame.with_columns(zh.alias("reason_zh"), en.alias("reason_en")).select(
        "person_id", "name", "unit", "lane", "year", pl.col("annual_grade").alias("recorded_grade"), "whatif_grade",
        "change", "reason", "reason_zh", "reason_en", pl.col("rec_n_good").alias("recorded_good"),
        pl.col("n_good").alias("whatif_good"), (pl.col("n_average") + pl.col("n_poor")).alias("whatif_average_or_below"),
        "quarters_on_record", "gate_met", "group_people", "cap", "allowed", "places", "place_rank", "rank_score",
    ).sort("unit", "year", "change", "person_id")  # fmt: skip


def _reason_text(rules: Settings, scenario: Scenario) -> tuple[pl.Expr, pl.Expr]:
    """A sentence per change: the rule, the person's 好 count (recorded -> what-if), the group's places."""
    good = pl.format("{}→{}", pl.col("rec_n_good"), pl.col("n_good"))
    group_zh = "单位" if scenario.cap_level == "unit" else "赛道"
    group_en = "unit" if scenario.cap_level == "unit" else "lane"
    gate_zh = f"门槛为至少 {rules.gate.min_good} 次“好”" + ("且无一般及以下" if rules.gate.no_average_or_below else "")
    gate_en = f"the gate is at least {rules.gate.min_good} 好" + (" and no 一般 or below" if rules.gate.no_average_or_below else "")  # fmt: skip
    pct = (pl.col("cap") * 100).round(0).cast(pl.Int64)
    zh = (
        pl.when(pl.col("reason") == "gate")
        .then(pl.format(f"全年“好” {{}} 次，{gate_zh}", good))
        .when(pl.col("reason") == "cap")
        .then(
            pl.format(
                f"{group_zh}优秀名额 {{}} 个（{{}}% × {{}} 人，且不多于原优秀人数），排第 {{}}",
                pl.col("places"),
                pct,
                pl.col("group_people"),
                pl.col("place_rank"),
            )
        )  # fmt: skip
        .when(pl.col("reason") == "freed")
        .then(
            pl.format(
                f"全年“好” {{}} 次，达到门槛，递补{group_zh}空出的优秀名额（排第 {{}}）", good, pl.col("place_rank")
            )
        )  # fmt: skip
    )
    en = (
        pl.when(pl.col("reason") == "gate")
        .then(pl.format(f"好 {{}} times in the year; {gate_en}", good))
        .when(pl.col("reason") == "cap")
        .then(
            pl.format(
                f"{{}} 优秀 places in the {group_en} ({{}}% of {{}}, no more than it gave); ranked {{}}",
                pl.col("places"),
                pct,
                pl.col("group_people"),
                pl.col("place_rank"),
            )
        )  # fmt: skip
        .when(pl.col("reason") == "freed")
        .then(
            pl.format(
                f"好 {{}} times, meets the gate, takes a place freed in the {group_en} (ranked {{}})",
                good,
                pl.col("place_rank"),
            )
        )  # fmt: skip
    )
    return zh, en


def _consequences(annual: pl.DataFrame, data: AssessmentData, settings: Settings) -> pl.DataFrame:
    """Person-years whose grade-dependent entitlements move, with the outcome records they already have."""
    a = annual.sort("person_id", "year")
    prev = [pl.col(c).shift(k).over("person_id") for c in ("recorded_grade", "whatif_grade", "year") for k in (1, 2)]
    a = a.with_columns(prev[0].alias("r1"), prev[1].alias("r2"), prev[2].alias("w1"), prev[3].alias("w2"),
                       prev[4].alias("y1"), prev[5].alias("y2"))  # fmt: skip
    running = (pl.col("y1") == pl.col("year") - 1) & (pl.col("y2") == pl.col("year") - 2)

    def three(cur: str, p1: str, p2: str) -> pl.Expr:
        return (running & (pl.col(cur) == EXCELLENT) & (pl.col(p1) == EXCELLENT) & (pl.col(p2) == EXCELLENT)).fill_null(False)  # fmt: skip

    entitled = a.with_columns(
        (pl.col("recorded_grade") == EXCELLENT).alias("rec_commendation"),
        (pl.col("whatif_grade") == EXCELLENT).alias("wi_commendation"),
        three("recorded_grade", "r1", "r2").alias("rec_merit"),
        three("whatif_grade", "w1", "w2").alias("wi_merit"),
        (pl.col("recorded_good") >= 2).alias("rec_promotion_priority"),
        (pl.col("whatif_good") >= 2).alias("wi_promotion_priority"),
    )
    records = outcome_records(data, settings).select(
        "person_id", pl.col("assessment_year").cast(pl.Int32).alias("year"), "outcome", "outcome_raw"
    )
    parts = []
    for code, (zh, en, kinds) in CONSEQUENCES.items():
        moved = entitled.filter(pl.col(f"rec_{code}") != pl.col(f"wi_{code}"))
        held = (
            records.filter(pl.col("outcome").is_in(list(kinds)))
            .group_by("person_id", "year")
            .agg(pl.col("outcome_raw").unique().sort().str.join("、").alias("recorded_outcomes"))
        )
        parts.append(
            moved.join(held, on=["person_id", "year"], how="left").select(
                "person_id",
                "name",
                "unit",
                "lane",
                "year",
                pl.lit(code).alias("consequence"),
                pl.lit(zh).alias("consequence_zh"),
                pl.lit(en).alias("consequence_en"),
                pl.col(f"rec_{code}").alias("recorded_entitled"),
                pl.col(f"wi_{code}").alias("whatif_entitled"),
                pl.col("recorded_outcomes"),
            )  # fmt: skip
        )
    return pl.concat(parts).sort("unit", "year", "person_id", "consequence")


def by_group(result: WhatIf, column: str) -> pl.DataFrame:
    """Per unit or lane: people graded, 优秀 recorded and what-if, gains, losses, by reason."""
    a = result.annual
    return (
        a.group_by(column)
        .agg(
            pl.len().cast(pl.Int64).alias("people"),
            (pl.col("recorded_grade") == EXCELLENT).sum().cast(pl.Int64).alias("recorded_excellent"),
            (pl.col("whatif_grade") == EXCELLENT).sum().cast(pl.Int64).alias("whatif_excellent"),
            (pl.col("change") == "gains").sum().cast(pl.Int64).alias("gains"),
            (pl.col("change") == "loses").sum().cast(pl.Int64).alias("losses"),
            (pl.col("reason") == "gate").sum().cast(pl.Int64).alias("losses_gate"),
            (pl.col("reason") == "cap").sum().cast(pl.Int64).alias("losses_cap"),
        )
        .filter((pl.col("gains") + pl.col("losses")) > 0)
        .sort("losses", "gains", column, descending=[True, True, False])
    )


def flow(result: WhatIf, lang: str = "zh") -> pl.DataFrame:
    """Sankey links recorded -> what-if annual grade (source, target, value); node names say which side."""
    rec, wi = ("记录", "推演") if lang == "zh" else ("recorded", "what-if")
    return (
        result.annual.group_by("recorded_grade", "whatif_grade")
        .len()
        .select(
            pl.format(f"{{}}（{rec}）" if lang == "zh" else f"{{}} ({rec})", "recorded_grade").alias("source"),
            pl.format(f"{{}}（{wi}）" if lang == "zh" else f"{{}} ({wi})", "whatif_grade").alias("target"),
            pl.col("len").cast(pl.Int64).alias("value"),
        )
        .sort("source", "target")
    )


def preset_counts(data: AssessmentData, settings: Settings, names: tuple[str, ...] | None = None) -> pl.DataFrame:
    """Gains, losses (by reason), quarters moved and entitlements moved for each preset scenario."""
    rows = []
    for name in names or tuple(PRESETS):
        result = run(data, settings, PRESETS[name])
        losses = result.changes.group_by("reason").len()
        by_reason = dict(zip(losses["reason"].to_list(), losses["len"].to_list(), strict=True))
        rows.append({"scenario": name, "description_zh": PRESETS[name].describe(settings, "zh"),
                     "description_en": PRESETS[name].describe(settings, "en"), **result.counts(),
                     "losses_gate": by_reason.get("gate", 0), "losses_cap": by_reason.get("cap", 0)})  # fmt: skip
    return pl.DataFrame(rows)


def scenario_view(full: AssessmentData, settings: Settings, units: tuple[str, ...] = (), **scenario: object) -> WhatIf:
    """run() on everything in scope (fair scores and flags need every unit), tables narrowed to `units`."""
    result = run(full, settings, Scenario(**scenario))
    if not units:
        return result
    keep = pl.col("unit").is_in(list(units))
    return replace(
        result,
        quarterly=result.quarterly.filter(keep),
        annual=result.annual.filter(keep),
        consequences=result.consequences.filter(keep),
    )


def workbook(result: WhatIf, settings: Settings, lang: str = "zh") -> bytes:
    """The scenario as xlsx: a first sheet saying what it assumes and that it is not a verdict, then the tables."""
    import io

    from analytics import export
    from analytics.appeals.labels import for_people

    zh = lang == "zh"
    about = pl.DataFrame(
        {
            "field": ["说明", "情景", "提示"] if zh else ["Notice", "Scenario", "Note"],
            "value": [DISCLAIMER_ZH if zh else DISCLAIMER_EN, result.scenario.describe(settings, lang), result.note],
        }
    )
    sheets = {
        ("推演说明" if zh else "About"): about,
        ("优秀变化" if zh else "优秀 changes"): result.changes,
        ("按单位" if zh else "By unit"): by_group(result, "unit"),
        ("按赛道" if zh else "By lane"): by_group(result, "lane"),
        ("季度等次变化" if zh else "Quarters moved"): result.quarterly,
        ("结果运用变化" if zh else "Entitlements moved"): result.consequences,
    }
    buf = io.BytesIO()
    export.write_xlsx({name: for_people(frame, lang) for name, frame in sheets.items()}, buf)
    return buf.getvalue()
