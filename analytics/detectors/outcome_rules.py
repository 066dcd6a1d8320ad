"""Outcomes against the rules (DETECTORS.md, section 5): flags of kind `outcome_rule`.

What is checked here, and what is left to others so that nothing is flagged twice:

Person-level rule breaks (deterministic: p_value null), one flag per person and assessment year
naming every rule broken and the record (import id, source row) behind it:
  - excellent_without_gate (severity 0.8): annual 优秀 without the quarterly gate (settings.gate: at least
    `min_good` 好 and, if `no_average_or_below`, no 一般/较差). Quarters the data does not cover for the
    person's unit (an export of Q2-Q4 only) are counted in the person's favour (as if 好), so an incomplete
    export never produces this flag; a quarter the unit graded without the person counts as no 好.
  - rewarded_after_average (0.75 promotion/rank promotion, 0.7 awards): an outcome of
    settings.outcomes.rewarded_after_average_kinds answering to a year with a quarterly 一般/较差
    or an annual grade below 称职.
  - bonus_after_basic (0.6): a bonus for a year whose annual grade is in settings.outcomes.no_bonus_grades.

Unit-level concentration (tested: binomial / Cochran-Mantel-Haenszel, Benjamini-Hochberg q-values), one flag
per unit and year:
  - lane_excellent_share (0.6): 优秀 share of one lane *within* a unit above the cap (settings.quota.excellent_cap,
    excellent_cap_approved for approved units) while the unit as a whole is within it. The unit-wide 优秀 share
    is the leniency helper's `quota` kind and is not repeated here.
  - reward_concentration (0.5): awards, promotions or above-median bonuses going to one group
    (settings.outcomes.concentration_groups: sections get their own flag, subject_type 'section'; other
    columns such as position_level go on the unit's flag) more than the group's grade mix explains.
    Expected counts come from the unit's own reward rate within each stratum of grade pattern x annual grade,
    so a group that is rewarded because its grades are better is not flagged.
"""

from __future__ import annotations

import numpy as np
import polars as pl
from scipy import stats as sps

from analytics.dataset import AssessmentData
from analytics.detectors.base import empty_flags, finish_flags
from analytics.outcomes import COUNT_COLUMNS, has_column, link, outcome_records
from analytics.quota import excellent_cap_expr
from analytics.settings import Settings
from analytics.stats import bh_qvalues
from analytics.vocab import EXCELLENT, NEGATIVE_GRADES, UNGRADED

KIND = "outcome_rule"
# Annual grades below 称职: a year that cannot earn a reward any more than a quarterly 一般 can.
BELOW_COMPETENT = ("基本称职", "不称职", "基本合格", "不合格")
SEVERITY = {
    "excellent_without_gate": 0.8,
    "rewarded_after_average": 0.7,
    "promoted_after_average": 0.75,
    "bonus_after_basic": 0.6,
    "lane_excellent_share": 0.6,
    "reward_concentration": 0.5,
}
RULES: dict[str, tuple[str, str]] = {  # rule code -> (zh, en), named at the start of every evidence sentence
    "excellent_without_gate": ("年度优秀未达平时考核条件", "Annual 优秀 without the quarterly gate"),
    "rewarded_after_average": ("有一般及以下等次仍获奖励", "Award in a year with 一般 or below"),
    "promoted_after_average": ("有一般及以下等次仍获提拔或晋升", "Promotion in a year with 一般 or below"),
    "bonus_after_basic": ("基本称职及以下仍发考核奖金", "Bonus after 基本称职 or below"),
    "lane_excellent_share": ("优秀集中于单位内某一赛道", "优秀 concentrated in one lane of a unit"),
    "reward_concentration": ("奖励集中于某一群体", "Rewards concentrated on one group"),
}
# Reward families compared between groups, with their names for the evidence sentence.
FAMILIES = {
    "awards": ("评先评优/嘉奖/记功", "awards/commendations/merit citations", ("award", "commendation", "merit")),
    "promotions": ("提拔/职级晋升", "promotions/rank promotions", ("promotion", "rank_promotion")),
    "bonus_high": ("高于单位中位数的考核奖金", "bonuses above the unit median", ()),
}
_PROMOTIONS = ("promotion", "rank_promotion")
# The columns of the linked table this detector reads (plus the concentration groups): the rest are not built.
LINKED_READ = (
    "lane",
    *(c for g, c in COUNT_COLUMNS.items() if g != UNGRADED),
    "n_records",
    "pattern",
    "annual_grade",
    "annual_import_id",
    "annual_source_row",
    "bonus",
    *(has_column(k) for _, _, kinds in FAMILIES.values() for k in kinds),
)


def _ref(import_id: str, row: str, template: str, unknown: str) -> pl.Expr:
    """'导入#3第12行' / 'import #3, row 12': where a stored fact came from (unknown for hand-made frames)."""
    i, r = pl.col(import_id).cast(pl.Utf8), pl.col(row).cast(pl.Utf8)
    text = pl.format(template, i.fill_null("?"), r.fill_null("?"))
    return pl.when(i.is_null() & r.is_null()).then(pl.lit(unknown)).otherwise(text)


def _ref_zh(import_id: str, row: str) -> pl.Expr:
    return _ref(import_id, row, "导入#{}第{}行", "来源未记录")


def _ref_en(import_id: str, row: str) -> pl.Expr:
    return _ref(import_id, row, "import #{}, row {}", "source not recorded")


def _counts_zh() -> pl.Expr:
    return pl.format("好{}次、较好{}次、一般{}次、较差{}次", *(pl.col(c) for c in list(COUNT_COLUMNS.values())[:4]))


def _counts_en() -> pl.Expr:
    return pl.format("好 ×{}, 较好 ×{}, 一般 ×{}, 较差 ×{}", *(pl.col(c) for c in list(COUNT_COLUMNS.values())[:4]))


BREAK_COLUMNS = ["person_id", "year", "unit", "lane", "rule", "severity", "evidence_zh", "evidence_en", "record",
                 "from_date"]  # fmt: skip


# --- person-level rule breaks ----------------------------------------------------------------------


def _uncovered_quarters(quarterly: pl.DataFrame) -> pl.DataFrame:
    """Per unit and year, how many quarters the data holds no record for at all (0-4)."""
    return (
        quarterly.select("unit", "year", "quarter")  # three columns, not a filtered copy of every row's all
        .filter(pl.col("year").is_not_null())
        .group_by("unit", "year")
        .agg((4 - pl.col("quarter").n_unique()).clip(lower_bound=0).cast(pl.Int32).alias("uncovered"))
        .with_columns(pl.col("year").cast(pl.Int32))
    )


def excellent_without_gate(linked: pl.DataFrame, settings: Settings, quarterly: pl.DataFrame) -> pl.DataFrame:
    """Annual 优秀 for a year whose quarterly record misses the gate (one row per break)."""
    gate = settings.gate
    linked = linked.join(_uncovered_quarters(quarterly), on=["unit", "year"], how="left")
    short = (pl.col("n_good") + pl.col("uncovered").fill_null(4)) < gate.min_good
    negative = (pl.col("n_average") + pl.col("n_poor")) > 0 if gate.no_average_or_below else pl.lit(False)
    rule_zh = f"至少{gate.min_good}次好" + ("且无一般及以下" if gate.no_average_or_below else "")
    rule_en = f"at least {gate.min_good} 好" + (" and no 一般 or below" if gate.no_average_or_below else "")
    hits = linked.filter((pl.col("annual_grade") == EXCELLENT) & (pl.col("n_records") > 0) & (short | negative))
    return hits.select(
        "person_id", "year", "unit", "lane",
        pl.lit("excellent_without_gate").alias("rule"),
        pl.lit(SEVERITY["excellent_without_gate"]).alias("severity"),
        pl.format("{}年度考核为优秀，但当年平时考核{}，不符合“{}”的条件（年度考核记录：{}）",
                  "year", _counts_zh(), pl.lit(rule_zh), _ref_zh("annual_import_id", "annual_source_row")).alias("evidence_zh"),
        pl.format("Annual grade 优秀 for {} although that year's quarterly record was {}; the gate requires {} "
                  "(annual record: {}).", "year", _counts_en(), pl.lit(rule_en),
                  _ref_en("annual_import_id", "annual_source_row")).alias("evidence_en"),
        _ref_zh("annual_import_id", "annual_source_row").alias("record"),
        pl.lit(False).alias("from_date"),
    )  # fmt: skip


def _negative_quarters(quarterly: pl.DataFrame) -> pl.DataFrame:
    """Per person and year, the quarters graded 一般/较差 with their records, as text (zh, en)."""
    neg = quarterly.filter(pl.col("grade").is_in(list(NEGATIVE_GRADES)) & pl.col("year").is_not_null())
    period = pl.format("{}Q{}", "year", "quarter")
    return (
        neg.sort("person_id", "year", "quarter")
        .with_columns(
            pl.format("{}{}（{}）", period, "grade", _ref_zh("import_id", "source_row")).alias("_zh"),
            pl.format("{} {} ({})", period, "grade", _ref_en("import_id", "source_row")).alias("_en"),
        )
        .group_by("person_id", "year", maintain_order=True)
        .agg(pl.col("_zh").str.join("、").alias("neg_zh"), pl.col("_en").str.join("; ").alias("neg_en"))
        .with_columns(pl.col("year").cast(pl.Int32))
    )


def _records_with_year(
    data: AssessmentData, settings: Settings, linked: pl.DataFrame, kinds: list[str]
) -> pl.DataFrame:
    """Outcome records of `kinds` joined to their person-year's record (only the columns the sentences read:
    joining every column of every record was this detector's memory peak at scale)."""
    read = ("person_id", "assessment_year", "outcome", "outcome_raw", "date", "amount", "import_id", "source_row",
            "year_source")  # fmt: skip
    records = (
        outcome_records(data, settings)
        .filter(pl.col("assessment_year").is_not_null() & pl.col("outcome").is_in(kinds))
        .select(read)
    )
    person_year = linked.select("person_id", "year", "unit", "lane", "annual_grade", "n_average", "n_poor")
    return records.join(
        person_year, left_on=["person_id", "assessment_year"], right_on=["person_id", "year"], how="inner",
        maintain_order="left",
    ).with_columns(pl.col("assessment_year").alias("year"))  # fmt: skip


def _outcome_phrase() -> tuple[pl.Expr, pl.Expr]:
    date = pl.col("date").cast(pl.Utf8).fill_null("日期未记录")
    source = pl.col("year_source").replace_strict(
        {"record": "记录所填", "detail": "据说明", "date": "据日期推断"}, default="?", return_dtype=pl.Utf8
    )
    zh = pl.format("{} {}（结果运用记录：{}，对应{}年度考核，{}）", date, "outcome_raw",
                   _ref_zh("import_id", "source_row"), "year", source)  # fmt: skip
    en = pl.format("{} on {} ({}; answers to the {} assessment, year from the {})", "outcome_raw",
                   pl.col("date").cast(pl.Utf8).fill_null("no date"), _ref_en("import_id", "source_row"),
                   "year", "year_source")  # fmt: skip
    return zh, en


def rewarded_after_average(data: AssessmentData, settings: Settings, linked: pl.DataFrame) -> pl.DataFrame:
    """Promotions, rank promotions and awards for a year with 一般/较差 or an annual grade below 称职."""
    kinds = list(settings.outcomes.rewarded_after_average_kinds)
    records = _records_with_year(data, settings, linked, kinds)
    records = records.join(_negative_quarters(data.quarterly), on=["person_id", "year"], how="left")
    bad_annual = pl.col("annual_grade").is_in(BELOW_COMPETENT)
    hits = records.filter(pl.col("neg_zh").is_not_null() | bad_annual)
    why_zh = pl.concat_str([
        pl.format("当年平时考核有{}", "neg_zh"),
        pl.when(bad_annual).then(pl.format("年度考核为{}", "annual_grade")),
    ], separator="；", ignore_nulls=True)  # fmt: skip
    why_en = pl.concat_str([
        pl.format("quarterly {} that year", "neg_en"),
        pl.when(bad_annual).then(pl.format("annual grade {}", "annual_grade")),
    ], separator="; ", ignore_nulls=True)  # fmt: skip
    promoted = pl.col("outcome").is_in(_PROMOTIONS)
    rule = pl.when(promoted).then(pl.lit("promoted_after_average")).otherwise(pl.lit("rewarded_after_average"))
    phrase_zh, phrase_en = _outcome_phrase()
    return hits.select(
        "person_id", "year", "unit", "lane", rule.alias("rule"),
        pl.when(promoted).then(SEVERITY["promoted_after_average"]).otherwise(SEVERITY["rewarded_after_average"])
        .alias("severity"),
        pl.format("{}，但{}；有一般及以下等次的年度不得提拔、晋升或评先评优", phrase_zh, why_zh).alias("evidence_zh"),
        pl.format("{}, but {}: a year with 一般 or below rules out promotion and awards.", phrase_en, why_en)
        .alias("evidence_en"),
        _ref_zh("import_id", "source_row").alias("record"),
        (pl.col("year_source") == "date").alias("from_date"),
    )  # fmt: skip


def bonus_after_basic(data: AssessmentData, settings: Settings, linked: pl.DataFrame) -> pl.DataFrame:
    """A bonus answering to a year graded 基本称职 or below (settings.outcomes.no_bonus_grades)."""
    grades = list(settings.outcomes.no_bonus_grades)
    hits = _records_with_year(data, settings, linked, ["bonus"]).filter(pl.col("annual_grade").is_in(grades))
    phrase_zh, phrase_en = _outcome_phrase()
    amount = pl.col("amount").cast(pl.Utf8).fill_null("?")
    return hits.select(
        "person_id", "year", "unit", "lane", pl.lit("bonus_after_basic").alias("rule"),
        pl.lit(SEVERITY["bonus_after_basic"]).alias("severity"),
        pl.format("{}，金额{}元，但年度考核为{}，不应发放考核奖金", phrase_zh, amount, "annual_grade").alias("evidence_zh"),
        pl.format("{}, {} yuan, although the annual grade was {}, which rules out the bonus.", phrase_en, amount,
                  "annual_grade").alias("evidence_en"),
        _ref_zh("import_id", "source_row").alias("record"),
        (pl.col("year_source") == "date").alias("from_date"),
    )  # fmt: skip


def person_breaks(data: AssessmentData, settings: Settings, linked: pl.DataFrame | None = None) -> pl.DataFrame:
    """Every person-level rule break, one row each: person_id, year, unit, lane, rule, severity, evidence, record."""
    linked = link(data, settings) if linked is None else linked
    parts = [
        excellent_without_gate(linked, settings, data.quarterly),
        rewarded_after_average(data, settings, linked),
        bonus_after_basic(data, settings, linked),
    ]
    cols = BREAK_COLUMNS
    return _name_rules(pl.concat([p.select(cols).with_columns(pl.col("year").cast(pl.Int32)) for p in parts]))


def _name_rules(frame: pl.DataFrame) -> pl.DataFrame:
    """Prefix each evidence sentence with the rule's name: '【年度优秀未达平时考核条件】…' / '[Annual 优秀 …] …'."""
    zh = pl.col("rule").replace_strict({r: v[0] for r, v in RULES.items()}, return_dtype=pl.Utf8)
    en = pl.col("rule").replace_strict({r: v[1] for r, v in RULES.items()}, return_dtype=pl.Utf8)
    return frame.with_columns(
        pl.format("【{}】{}", zh, "evidence_zh").alias("evidence_zh"),
        pl.format("[{}] {}", en, "evidence_en").alias("evidence_en"),
    )


def _person_flags(breaks: pl.DataFrame, settings: Settings) -> pl.DataFrame:
    """One flag per person-year, naming every break and record."""
    if breaks.height == 0:
        return empty_flags()
    carry = settings.outcomes.carry_months
    flags = (
        breaks.sort("severity", descending=True)
        .group_by("person_id", "year", maintain_order=True)
        .agg(
            pl.col("unit").first(), pl.col("lane").first(), pl.col("severity").max(),
            pl.col("rule").first().alias("statistic"), pl.col("rule").alias("rules"), pl.col("record").alias("records"),
            pl.col("evidence_zh").str.join("；"), pl.col("evidence_en").str.join(" "), pl.len().alias("n"),
            pl.col("from_date").any().alias("_from_date"),
        )
    )  # fmt: skip
    return flags.with_columns(
        pl.lit(KIND).alias("kind"), pl.lit("person").alias("subject_type"), pl.col("person_id").alias("subject"),
        pl.format("{}Q1", "year").alias("period_from"), pl.format("{}Q4", "year").alias("period_to"),
        pl.col("year").cast(pl.Utf8).alias("finding"),
        pl.col("n").cast(pl.Float64).alias("statistic_value"),
        pl.struct("rules", "records").struct.json_encode().alias("statistics"),
        pl.when("_from_date").then(pl.lit(f"结果运用的考核年度由日期推断：前{carry}个月的记录算作上一年度。"))
        .alias("caveat_zh"),
        pl.when("_from_date").then(pl.lit(f"The assessment year of an outcome was inferred from its date (the first "
                                          f"{carry} months answer to the previous year).")).alias("caveat_en"),
    )  # fmt: skip


# --- unit-level concentration ----------------------------------------------------------------------


def lane_excellent_share(linked: pl.DataFrame, settings: Settings) -> pl.DataFrame:
    """Lanes within a unit whose 优秀 share exceeds the cap while the unit's does not (binomial test, BH).

    Columns: unit, year, lane, n, k, cap, p_value, q_value, flagged."""
    graded = linked.filter(pl.col("annual_grade").is_not_null() & (pl.col("annual_grade") != UNGRADED))
    cap = excellent_cap_expr(settings)  # the unit's own, approved or general cap (analytics.quota)
    allowed = lambda n: pl.max_horizontal(pl.lit(1), (cap * n + 1e-9).floor())  # noqa: E731
    lanes = (
        graded.group_by("unit", "year", "lane")
        .agg(n=pl.len(), k=(pl.col("annual_grade") == EXCELLENT).sum())
        .with_columns(
            pl.col("n").sum().over("unit", "year").alias("unit_n"),
            pl.col("k").sum().over("unit", "year").alias("unit_k"),
        )
        .with_columns(cap.alias("cap"))
        .filter(
            (pl.col("n") >= settings.outcomes.min_group)
            & (pl.col("unit_n") > pl.col("n"))  # a unit of one lane is the quota kind's business
            & (pl.col("unit_k") <= allowed(pl.col("unit_n")))
            & (pl.col("k") > allowed(pl.col("n")))
        )
    )
    p = sps.binom.sf(lanes["k"].to_numpy() - 1, lanes["n"].to_numpy(), lanes["cap"].to_numpy()) if lanes.height else []
    return lanes.with_columns(pl.Series("p_value", np.asarray(p, dtype=float)))


def _reward_indicators(linked: pl.DataFrame) -> pl.DataFrame:
    """r_<family> = 1 when the person-year had a reward of that family."""
    median_bonus = pl.col("bonus").median().over("unit", "year")
    cols = [
        pl.any_horizontal([pl.col(has_column(k)) for k in kinds]).cast(pl.Int32).alias(f"r_{fam}")
        for fam, (_, _, kinds) in FAMILIES.items()
        if kinds
    ]
    cols.append((pl.col("bonus") > median_bonus).fill_null(False).cast(pl.Int32).alias("r_bonus_high"))
    stratum = pl.concat_str([pl.col("pattern"), pl.col("annual_grade").fill_null("-")], separator="|")
    return linked.with_columns(*cols, stratum.alias("stratum"))


def reward_concentration(linked: pl.DataFrame, settings: Settings) -> pl.DataFrame:
    """Cochran-Mantel-Haenszel test per unit, year, group column, group and reward family: are the group's
    rewards above what its members' grade strata predict (stratum = pattern x annual grade)?

    Columns: unit, year, dim, group, family, people, observed, expected, p_value."""
    base = _reward_indicators(linked)
    dims = [d for d in settings.outcomes.concentration_groups if d in base.columns]
    if not dims or base.height == 0:
        return pl.DataFrame()
    # One pass per group column with every family as a column (people x years rows are the bulk: grouping them
    # once per family, on string keys, was most of this detector's time); each family's CMH sums are then taken
    # on the (far fewer) cells, and only the per-group results are stacked.
    base = base.with_columns(pl.col("unit", "stratum").cast(pl.Categorical))
    fams = list(FAMILIES)
    n, g, r = pl.col("N").cast(pl.Float64), pl.col("g").cast(pl.Float64), pl.col("R").cast(pl.Float64)
    e_v = [
        (g * r / n).alias("E"),
        pl.when(n > 1).then(g * (n - g) * r * (n - r) / (n * n * (n - 1))).otherwise(0.0).alias("V"),
    ]
    stratum_keys = ["unit", "year", "stratum"]
    parts, sizes = [], []
    for d in dims:  # a handful of group columns from the settings
        rows = base.filter(pl.col(d).is_not_null())
        sums = [pl.col(f"r_{fam}").sum().alias(fam) for fam in fams]
        strata = rows.group_by(stratum_keys).agg(pl.len().alias("N"), *sums)
        cells = rows.group_by(*stratum_keys, pl.col(d).cast(pl.Utf8).alias("group")).agg(pl.len().alias("g"), *sums)
        for fam in fams:
            parts.append(
                cells.select(*stratum_keys, "group", "g", O=pl.col(fam))
                .join(strata.select(*stratum_keys, "N", R=pl.col(fam)), on=stratum_keys)
                .with_columns(e_v)
                .group_by("unit", "year", "group")
                .agg(people=pl.col("g").sum(), observed=pl.col("O").sum(), expected=pl.col("E").sum(),
                     V=pl.col("V").sum())
                .with_columns(dim=pl.lit(d), family=pl.lit(fam))
            )  # fmt: skip
        sizes.append(rows.group_by("unit", "year").agg(unit_people=pl.len()).with_columns(dim=pl.lit(d)))
    groups = pl.concat(parts, how="vertical").with_columns(pl.col("unit").cast(pl.Utf8))
    unit_size = pl.concat(sizes, how="vertical").with_columns(pl.col("unit").cast(pl.Utf8))
    min_group = settings.outcomes.min_group
    groups = groups.join(unit_size, on=["unit", "year", "dim"]).filter(
        (pl.col("people") >= min_group)
        & (pl.col("unit_people") - pl.col("people") >= min_group)
        & (pl.col("observed") >= min_group)
        & (pl.col("V") > 0)
    )
    z = (groups["observed"].to_numpy() - groups["expected"].to_numpy() - 0.5) / np.sqrt(groups["V"].to_numpy())
    return groups.with_columns(pl.Series("p_value", sps.norm.sf(z) if groups.height else np.array([])))


def _unit_findings(linked: pl.DataFrame, settings: Settings) -> pl.DataFrame:
    """Every tested unit-level finding with q-values (BH across all tests of this detector run)."""
    cols = ["unit", "year", "subject_type", "subject", "lane", "rule", "n", "value", "p_value",
            "evidence_zh", "evidence_en", "detail"]  # fmt: skip
    parts = []
    lanes = lane_excellent_share(linked, settings)
    if lanes.height:
        parts.append(lanes.select(
            "unit", "year", pl.lit("unit").alias("subject_type"), pl.col("unit").alias("subject"), "lane",
            pl.lit("lane_excellent_share").alias("rule"), pl.col("n").cast(pl.Int64),
            (pl.col("k") / pl.col("n")).alias("value"), "p_value",
            pl.format("{}年度该单位“{}”赛道{}人中{}人为优秀（{}%），超过{}%的比例上限，而单位整体未超",
                      "year", "lane", "n", "k", (pl.col("k") / pl.col("n") * 100).round(0).cast(pl.Int64),
                      (pl.col("cap") * 100).round(0).cast(pl.Int64)).alias("evidence_zh"),
            pl.format("In {}, {} of the {} people in lane '{}' were graded 优秀 ({}%), above the {}% cap, while the "
                      "unit as a whole stayed within it.", "year", "k", "n", "lane",
                      (pl.col("k") / pl.col("n") * 100).round(0).cast(pl.Int64),
                      (pl.col("cap") * 100).round(0).cast(pl.Int64)).alias("evidence_en"),
            pl.format("lane={} n={} k={}", "lane", "n", "k").alias("detail"),
        ))  # fmt: skip
    conc = reward_concentration(linked, settings)
    if conc.height:
        fam_zh = pl.col("family").replace_strict({f: v[0] for f, v in FAMILIES.items()}, return_dtype=pl.Utf8)
        fam_en = pl.col("family").replace_strict({f: v[1] for f, v in FAMILIES.items()}, return_dtype=pl.Utf8)
        dim_zh = pl.col("dim").replace_strict(
            {"section": "科室", "position_level": "职务层次"}, default=pl.col("dim"), return_dtype=pl.Utf8
        )
        parts.append(conc.select(
            "unit", "year",
            pl.when(pl.col("dim") == "section").then(pl.lit("section")).otherwise(pl.lit("unit")).alias("subject_type"),
            pl.when(pl.col("dim") == "section").then(pl.col("group")).otherwise(pl.col("unit")).alias("subject"),
            pl.lit(None, pl.Utf8).alias("lane"), pl.lit("reward_concentration").alias("rule"),
            pl.col("people").cast(pl.Int64).alias("n"),
            (pl.col("observed") / pl.col("expected")).alias("value"), "p_value",
            pl.format("{}年度{}“{}”{}人中{}人获{}，按其等次结构预计约{}人（分层检验 p={}）",
                      "year", dim_zh, "group", "people", "observed", fam_zh, pl.col("expected").round(1),
                      pl.col("p_value").round_sig_figs(2)).alias("evidence_zh"),
            pl.format("In {}, {} of the {} people in {} '{}' received {}; their grade mix predicts about {} "
                      "(stratified test p={}).", "year", "observed", "people", "dim", "group", fam_en,
                      pl.col("expected").round(1), pl.col("p_value").round_sig_figs(2)).alias("evidence_en"),
            pl.format("{}={} {} observed={} expected={}", "dim", "group", "family", "observed",
                      pl.col("expected").round(2)).alias("detail"),
        ))  # fmt: skip
    if not parts:
        return pl.DataFrame(schema={c: pl.Utf8 for c in cols} | {"q_value": pl.Float64})
    findings = _name_rules(
        pl.concat([p.select(cols).with_columns(pl.col("year").cast(pl.Int32)) for p in parts], how="vertical")
    )
    return findings.with_columns(pl.Series("q_value", bh_qvalues(findings["p_value"].to_numpy())))


def _unit_flags(linked: pl.DataFrame, settings: Settings) -> pl.DataFrame:
    """Significant unit-level findings, one flag per subject and year."""
    findings = _unit_findings(linked, settings)
    if findings.height == 0:
        return empty_flags()
    strong = (pl.col("rule") == "lane_excellent_share") | (pl.col("value") >= settings.outcomes.min_ratio)
    hits = findings.filter((pl.col("q_value") < settings.outcomes.alpha) & strong)
    if hits.height == 0:
        return empty_flags()
    severity = pl.col("rule").replace_strict(SEVERITY, return_dtype=pl.Float64)
    flags = (
        hits.with_columns(severity.alias("severity"))
        .sort("severity", "q_value", descending=[True, False])
        .group_by("subject_type", "subject", "unit", "year", maintain_order=True)
        .agg(
            pl.col("lane").drop_nulls().unique(maintain_order=True).str.join("、").alias("lane"),
            pl.col("severity").max(), pl.col("rule").first().alias("statistic"),
            pl.col("value").first().alias("statistic_value"), pl.col("p_value").first(), pl.col("q_value").first(),
            pl.col("n").max(), pl.col("rule").alias("rules"), pl.col("detail").alias("findings"),
            pl.col("evidence_zh").str.join("；"), pl.col("evidence_en").str.join(" "),
        )
    )  # fmt: skip
    return flags.with_columns(
        pl.lit(KIND).alias("kind"),
        pl.when(pl.col("lane") == "").then(None).otherwise(pl.col("lane")).alias("lane"),
        pl.format("{}Q1", "year").alias("period_from"), pl.format("{}Q4", "year").alias("period_to"),
        pl.col("year").cast(pl.Utf8).alias("finding"),
        pl.struct("rules", "findings").struct.json_encode().alias("statistics"),
        pl.lit("分层依据为季度等次组合与年度等次；职责不同（如领导岗位）可能带来合理差异，请结合情况核实。").alias("caveat_zh"),
        pl.lit("Strata are the quarterly pattern and annual grade; different duties (e.g. leadership posts) may "
               "explain part of the difference: check before concluding.").alias("caveat_en"),
    )  # fmt: skip


class OutcomeRules:
    """Detector of kind `outcome_rule` (see module docstring)."""

    kind = KIND
    name_zh = "结果运用违规"
    name_en = "Outcomes against the rules"

    def detect(self, data: AssessmentData, settings: Settings, seed: int = 0) -> pl.DataFrame:
        """Flags for person-level rule breaks and unit-level concentration; deterministic (seed unused)."""
        if data.is_empty:
            return empty_flags()
        linked = link(data, settings, (*LINKED_READ, *settings.outcomes.concentration_groups))
        frames = [_person_flags(person_breaks(data, settings, linked), settings), _unit_flags(linked, settings)]
        frames = [finish_flags(f) for f in frames if f.height]
        if not frames:
            return empty_flags()
        return pl.concat(frames, how="vertical").sort("severity", "subject", descending=[True, False])


DETECTOR = OutcomeRules()

__all__ = ["DETECTOR", "OutcomeRules", "lane_excellent_share", "person_breaks", "reward_concentration"]
