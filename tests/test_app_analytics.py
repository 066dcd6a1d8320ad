"""The pure parts behind the app: overview numbers, filters, person profile, labels, charts and the report.

Tiny hand-built frames whose answers can be checked by eye.
"""

from __future__ import annotations

import io
import json

import plotly.graph_objects as go
import polars as pl
import pytest

from analytics import charts, i18n, overview, person, report
from analytics.dataset import AssessmentData, frames
from analytics.detectors.base import FLAG_SCHEMA
from analytics.settings import Quota, Settings

S = Settings()


def quarterly(rows: list[tuple]) -> pl.DataFrame:
    """(person_id, name, unit, year, quarter, grade, score) rows; one lane per unit type 综合管理·一般干部."""
    frame = pl.DataFrame(rows, schema=["person_id", "name", "unit", "year", "quarter", "grade", "score"], orient="row")
    return frame.with_columns(
        pl.col("year").cast(pl.Int32),
        pl.col("quarter").cast(pl.Int32),
        pl.col("score").cast(pl.Float64),
        pl.lit("综合管理").alias("unit_type"),
        pl.lit("一般干部").alias("position_level"),
        pl.lit("科长").alias("reviewer"),
    )


# Unit A: 5 people, 2 好 each quarter (at the cap); unit B: 2 people, both 好 in 2024Q2 (over its quota of 1).
ROWS = [
    *[(f"a{i}", f"甲{i}", "A", 2024, 1, "好" if i < 2 else "较好", 90.0 - i) for i in range(5)],
    *[(f"a{i}", f"甲{i}", "A", 2024, 2, "好" if i in (2, 3) else "较好", 80.0 + i) for i in range(5)],
    ("b0", "乙0", "B", 2024, 1, "较好", 70.0),
    ("b1", "乙1", "B", 2024, 1, "不确定等次", None),
    ("b0", "乙0", "B", 2024, 2, "好", 75.0),
    ("b1", "乙1", "B", 2024, 2, "好", 76.0),
]
DATA = frames(quarterly=quarterly(ROWS))


def flags_frame(rows: list[dict]) -> pl.DataFrame:
    base = {c: None for c in FLAG_SCHEMA}
    return pl.DataFrame([{**base, **r} for r in rows], schema=FLAG_SCHEMA)


# ----------------------------------------------------------------------------- overview


def test_periods_years_units_and_lanes():
    assert overview.periods(DATA) == ["2024Q1", "2024Q2"]
    assert overview.years(DATA) == [2024]
    assert overview.units(DATA) == ["A", "B"]
    assert overview.lanes(DATA) == ["综合管理·一般干部"]


@pytest.mark.parametrize("text, expected", [("2024Q1", (2024, 1)), ("2025Q4", (2025, 4))])
def test_parse_period(text, expected):
    assert overview.parse_period(text) == expected


@pytest.mark.parametrize("bad", ["2024Q5", "2024", "", "Q1"])
def test_parse_period_refuses_other_text(bad):
    with pytest.raises(ValueError):
        overview.parse_period(bad)


def test_headline_counts_people_share_and_units_over_quota():
    head = overview.headline(DATA, S, 2024, 2)
    assert head["people"] == 7 and head["units"] == 2
    assert head["good_share"] == pytest.approx(4 / 7)
    assert head["units_over_quota"] == 1  # B gave 2 好 with a quota of max(floor(0.8), 1) = 1
    first = overview.headline(DATA, S, 2024, 1)
    assert first["good_share"] == pytest.approx(2 / 6)  # 不确定等次 is not graded
    assert first["units_over_quota"] == 0
    assert head["previous_good_share"] == pytest.approx(first["good_share"])


def test_restrict_narrows_units_and_lanes_and_leaves_the_input_alone():
    only_b = overview.restrict(DATA, units=("B",))
    assert set(only_b.quarterly["unit"]) == {"B"}
    assert DATA.quarterly.height == len(ROWS)
    assert overview.restrict(DATA, lanes=("no such lane",)).quarterly.height == 0
    assert overview.restrict(DATA) is DATA


def test_restrict_frame_matches_pooled_lanes():
    ranked = pl.DataFrame({"unit": ["A", "B"], "lane": ["合并赛道", "X"], "lane_pooled_from": ["Y", None]})
    assert overview.restrict_frame(ranked, lanes=("Y",))["unit"].to_list() == ["A"]


def test_grade_mix_lists_every_grade_and_shares_sum_to_one():
    mix = overview.grade_mix(DATA)
    assert mix.height == 2 * 5
    sums = mix.group_by("period").agg(pl.col("share").sum())
    assert sums["share"].to_list() == pytest.approx([1.0, 1.0])
    good_q2 = mix.filter((pl.col("period") == "2024Q2") & (pl.col("grade") == "好"))["count"].item()
    assert good_q2 == 4


def test_good_share_by_unit_orders_units_by_latest_share():
    cells = overview.good_share_by_unit(DATA)
    assert cells["unit"].unique(maintain_order=True).to_list() == ["B", "A"]  # B: 100% in 2024Q2, A: 40%
    assert overview.good_share_by_unit(DATA, top=1)["unit"].unique().to_list() == ["B"]


def test_lane_extremes_marks_top_and_bottom():
    ranked = pl.DataFrame(
        {
            "lane": ["L"] * 5 + ["M"],
            "rank": [1, 2, 3, 4, 5, 1],
            "person_id": list("abcdef"),
            "name": list("abcdef"),
            "unit": ["A"] * 6,
            "value": [5.0, 4, 3, 2, 1, 9],
        }
    )
    out = overview.lane_extremes(ranked, k=2)
    assert out.filter(pl.col("lane") == "L")["position"].to_list() == ["▲", "▲", "▼", "▼"]
    assert out.filter(pl.col("lane") == "L")["name"].to_list() == ["a", "b", "d", "e"]
    assert out.filter(pl.col("lane") == "M")["position"].to_list() == ["▲"]
    # Lanes interleaved (not in lane order), with unranked people: the same places.
    mixed = pl.concat([ranked, ranked.head(1).with_columns(rank=None, person_id=pl.lit("z"), name=pl.lit("z"))])
    assert overview.lane_extremes(mixed.reverse(), k=2).equals(out)
    assert overview.lane_extremes(mixed.sort("person_id", descending=True), k=2).equals(out)


# ----------------------------------------------------------------------------- fast paths (per-dataset summary)


def _messy_quarterly(n: int = 400, seed: int = 5) -> pl.DataFrame:
    """Random rows with the awkward cases: null units/grades/years, people twice in a quarter, odd grades."""
    import numpy as np

    rng = np.random.default_rng(seed)
    pick = lambda options: [options[i] for i in rng.integers(0, len(options), n)]  # noqa: E731
    return pl.DataFrame(
        {
            "person_id": [f"p{i}" for i in rng.integers(0, 60, n)],
            "unit": pick(["A", "B", "C", "D", None]),
            "unit_type": pick(["乡镇", "部门", None]),
            "position_level": pick(["一般干部", "中层", None]),
            "year": pl.Series(pick([2023, 2024, 2024, None]), dtype=pl.Int32),
            "quarter": pl.Series(pick([1, 2, 3, 4]), dtype=pl.Int32),
            "grade": pick(["好", "较好", "一般", "较差", "不确定等次", "优", None]),
        }
    )


MESSY = frames(quarterly=_messy_quarterly())
FILTERS = [((), ()), (("A", "B"), ()), ((), ("乡镇·一般干部",)), (("C",), ("部门·中层", "乡镇·?")), (("none",), ())]


@pytest.mark.parametrize("units, lanes", FILTERS)
def test_summary_fast_path_gives_the_same_numbers_as_the_rows(monkeypatch, units, lanes):
    assert overview._summary(MESSY) is not None  # the fast path is taken
    fast = overview.restrict(MESSY, units=units, lanes=lanes)
    eager = overview._restrict_now(MESSY, units, lanes)
    found = {
        "periods": overview.periods(fast),
        "lanes": overview.lanes(fast),
        "units": overview.units(fast),
        "headline": [overview.headline(fast, S, y, q) for y, q in ((2024, 1), (2024, 4), (2023, 1), (2020, 1))],
        "mix": overview.grade_mix(fast, last=3),
        "heat": overview.good_share_by_unit(fast, last=3, top=2),
    }
    monkeypatch.setattr(overview, "_summary", lambda data: None)  # the plain row-by-row computation
    assert found["periods"] == overview.periods(eager) and found["lanes"] == overview.lanes(eager)
    assert found["units"] == overview.units(eager)
    assert found["headline"] == [
        overview.headline(eager, S, y, q) for y, q in ((2024, 1), (2024, 4), (2023, 1), (2020, 1))
    ]
    assert found["mix"].equals(overview.grade_mix(eager, last=3))
    assert found["heat"].equals(overview.good_share_by_unit(eager, last=3, top=2))


@pytest.mark.parametrize("units, lanes", FILTERS)
def test_summary_fast_path_counts_each_person_once_as_the_rows_do(monkeypatch, units, lanes):
    # One row per person and quarter: the headline counts people per unit from the cells' grade counts.
    once = frames(quarterly=MESSY.quarterly.unique(["person_id", "year", "quarter"], keep="first", maintain_order=True))
    fast = overview.restrict(once, units=units, lanes=lanes)
    quarters = ((2024, 1), (2024, 2), (2024, 4), (2023, 1), (2020, 1))
    strict = S.replace(quota=Quota(good_cap=0.1, good_min_quota=0))  # some units over their quota
    found = [overview.headline(fast, s, y, q) for y, q in quarters for s in (S, strict)]
    heat = overview.good_share_by_unit(fast, last=2)
    monkeypatch.setattr(overview, "_summary", lambda data: None)
    eager = overview._restrict_now(once, units, lanes)
    assert found == [overview.headline(eager, s, y, q) for y, q in quarters for s in (S, strict)]
    assert any(h["units_over_quota"] for h in found) or units == ("none",)
    assert heat.equals(overview.good_share_by_unit(eager, last=2))


def test_restrict_is_lazy_and_its_frames_are_the_filtered_rows():
    narrowed = overview.restrict(MESSY, units=("A", "B"), lanes=("乡镇·一般干部",))
    assert "_made" in narrowed.__dict__ and narrowed.__dict__["_made"] is None  # nothing copied yet
    q = narrowed.quarterly
    assert q.height and set(q["unit"]) <= {"A", "B"} and set(q["lane"]) == {"乡镇·一般干部"}
    expected = MESSY.quarterly.filter(pl.col("unit").is_in(["A", "B"]) & (pl.col("lane") == "乡镇·一般干部"))
    assert q.equals(expected)
    assert isinstance(narrowed, AssessmentData) and narrowed.annual.height == 0


def test_prepare_builds_the_summary_once_and_keeps_the_data():
    data = frames(quarterly=_messy_quarterly(seed=9))
    assert overview.prepare(data) is data
    summary = overview._summary(data)
    assert summary is overview._summary(data) and {"periods", "lanes", "units"} <= set(summary.memos)
    assert summary.cells["rows"].sum() == data.quarterly.height


def test_lane_sql_matches_assign_lanes():
    import duckdb

    from analytics.dataset import EVERYTHING, Scope, _read, _read_with_lanes
    from analytics.lanes import assign_lanes
    from analytics.schema import QUARTERLY
    from analytics.settings import LaneRule, Lanes

    rows = MESSY.quarterly.drop("lane").with_columns(
        lane=pl.when(pl.col("person_id") == "p1").then(pl.lit("明确赛道")).otherwise(None)
    )
    rules = (LaneRule("窗口", unit_types=("部门",), position_levels=("中层",)), LaneRule("A单位", units=("A",)))
    con = duckdb.connect()
    con.execute(QUARTERLY.ddl())
    con.register("messy_rows", rows)
    con.execute("INSERT INTO quarterly BY NAME SELECT * FROM messy_rows")
    for settings in (S, S.replace(lanes=Lanes(rules=rules)), S.replace(lanes=Lanes(default_columns=("unit", "rank")))):
        for scope in (EVERYTHING, Scope(units=frozenset({"B"}))):
            expected = assign_lanes(_read(con, "quarterly", scope), settings)
            assert _read_with_lanes(con, QUARTERLY, scope, settings).equals(expected)
    con.close()


def test_lane_extremes_shows_a_shared_place_once_with_its_count():
    ranked = pl.DataFrame(
        {"lane": ["L"] * 4, "rank": [1, 1, 3, 3], "person_id": ["d", "a", "c", "b"], "name": list("dacb"),
         "unit": ["A"] * 4, "value": [9.0, 9, 5, 5]}
    )  # fmt: skip
    out = overview.lane_extremes(ranked, k=1)
    assert out["name"].to_list() == ["a、d", "b、c"] and out["position"].to_list() == ["▲", "▼"]
    assert out["tied"].to_list() == [2, 2]
    many = pl.DataFrame(
        {"lane": ["L"] * 41, "rank": [1] * 40 + [41], "person_id": [f"p{i:02}" for i in range(41)],
         "name": [f"p{i:02}" for i in range(41)], "unit": ["A"] * 41, "value": [9.0] * 40 + [1.0]}
    )  # fmt: skip
    out = overview.lane_extremes(many, k=2)
    assert out["rank"].to_list() == [1, 41] and out["tied"].to_list() == [40, 1]
    assert out["name"][0] == "p00、p01、p02…"
    assert out["person_id"].to_list() == [None, "p40"]  # one person's place links to them; a shared one cannot


def test_change_arrows():
    out = overview.change_arrows(pl.DataFrame({"rank_change": [3, -2, 0, None]}))
    assert out["change"].to_list() == ["▲3", "▼2", "＝", ""]


def test_select_flags_filters_and_orders():
    flags = flags_frame(
        [
            {
                "flag_id": "1",
                "kind": "rotation",
                "severity": 0.5,
                "q_value": 0.01,
                "period_from": "2023Q1",
                "period_to": "2024Q4",
            },
            {
                "flag_id": "2",
                "kind": "leniency",
                "severity": 0.9,
                "q_value": 0.04,
                "period_from": "2024Q1",
                "period_to": "2024Q4",
            },
            {"flag_id": "3", "kind": "outcome_rule", "severity": 0.8, "period_from": "2025Q1", "period_to": "2025Q4"},
        ]
    )
    assert overview.select_flags(flags)["flag_id"].to_list() == ["2", "3", "1"]
    assert overview.select_flags(flags, order="q_value")["flag_id"].to_list() == ["1", "2", "3"]
    assert overview.select_flags(flags, kinds=("rotation",))["flag_id"].to_list() == ["1"]
    assert overview.select_flags(flags, min_severity=0.6)["flag_id"].to_list() == ["2", "3"]
    assert overview.select_flags(flags, year=2023)["flag_id"].to_list() == ["1"]
    counts = overview.flags_by_kind(flags)
    assert dict(zip(counts["kind"], counts["count"], strict=True)) == {"leniency": 1, "outcome_rule": 1, "rotation": 1}


# ----------------------------------------------------------------------------- person


def test_person_timeline_percentile_and_reviewers():
    line = person.timeline(DATA, "b0")
    assert line["period"].to_list() == ["2024Q1", "2024Q2"]
    assert line["points"].to_list() == [3, 4]
    standing = person.lane_percentiles(DATA, S, "a0")
    # 2024Q1: a0 has the best score of 6 graded -> 100; 2024Q2: lowest of the scored ones
    assert standing["percentile"].to_list()[0] == pytest.approx(100.0)
    assert standing["percentile"].to_list()[1] < 50
    who = person.reviewers(DATA, "a2")
    assert who.row(0, named=True)["quarters"] == 2 and who.row(0, named=True)["good_count"] == 1
    assert person.info(DATA, "a1")["unit"] == "A"
    everyone = person.directory(DATA)
    assert everyone.height == 7
    few = person.directory(DATA, among=("a1", "b0", "nobody"))
    assert few.equals(everyone.filter(pl.col("person_id").is_in(["a1", "b0"])))  # the same rows, order kept
    assert person.form_years(DATA, "a1") == [2024]


def test_person_info_refuses_an_unknown_person():
    from analytics.errors import UserError

    with pytest.raises(UserError):
        person.info(DATA, "nobody")


# ----------------------------------------------------------------------------- labels


def test_relabel_translates_known_headers_and_keeps_others():
    frame = pl.DataFrame({"unit": ["A"], "good_share": [0.4], "工作实绩": [88]})
    assert i18n.relabel(frame, "zh").columns == ["单位", "“好”占比", "工作实绩"]
    assert i18n.relabel(frame, "en").columns == ["Unit", "Share of 好", "工作实绩"]


def test_every_flag_kind_has_labels():
    from analytics.detectors.base import FLAG_KINDS

    for kind in FLAG_KINDS:
        assert i18n.kind_label(kind, "zh") != kind and i18n.kind_label(kind, "en") != kind


def test_code_labels_and_outcome_words():
    frame = pl.DataFrame({"status": ["imported", "undone", "weird"]})
    assert i18n.code_labels(frame, "status", "zh")["status"].to_list() == ["已导入", "已撤销", "weird"]
    words = i18n.outcome_words("en")
    assert words["提拔"] == "Promotion" and words["4×好"] == "4× good"
    assert i18n.outcome_words("zh") == {}


# ----------------------------------------------------------------------------- charts


BUILDERS = [
    lambda lang: charts.grade_mix_bars(overview.grade_mix(DATA), "t", lang),
    lambda lang: charts.good_share_heatmap(overview.good_share_by_unit(DATA), "t", lang, cap=0.4),
    lambda lang: charts.flags_by_kind_bars(pl.DataFrame({"kind": ["rotation"], "count": [2]}), "t", lang),
    lambda lang: charts.grade_timeline(person.timeline(DATA, "a0"), "t", lang),
    lambda lang: charts.lines(person.lane_percentiles(DATA, S, "a0"), "period", "percentile", "t", lang),
    lambda lang: charts.distribution(
        pl.DataFrame({"lane": ["L", "L", "M"], "value": [1.0, 2, 80], "basis": ["grade", "grade", "score"]}),
        "value",
        "t",
        lang,
    ),
    lambda lang: charts.sankey(pl.DataFrame({"source": ["4×好"], "target": ["优秀"], "value": [3]}), "t", lang),
]


@pytest.mark.parametrize("build", BUILDERS)
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_chart_builders_title_and_cjk_font(build, lang):
    fig = build(lang)
    assert isinstance(fig, go.Figure)
    assert fig.layout.title.text == "t"
    assert "WenQuanYi Zen Hei" in fig.layout.font.family
    assert fig.data, "something drawn"


def test_y_axis_titles_are_written_level():
    fig = charts.lines(person.lane_percentiles(DATA, S, "a0"), "period", "percentile", "t", "zh", y_title="百分位")
    assert not fig.layout.yaxis.title.text
    assert any(a.text == "百分位" and a.textangle in (None, 0) for a in fig.layout.annotations)


def test_empty_inputs_give_a_titled_note():
    fig = charts.grade_mix_bars(overview.grade_mix(frames()), "空", "zh")
    assert fig.layout.title.text == "空" and fig.layout.annotations[0].text == "暂无数据"


def test_rotation_grid_orders_people_as_given():
    grid = pl.DataFrame(
        {
            "person_id": ["p1", "p1", "p2", "p2"],
            "name": ["甲", "甲", "乙", "乙"],
            "period": ["2024Q1", "2024Q2"] * 2,
            "grade": ["好", "较好", "较好", "好"],
            "eligible": [True] * 4,
            "good": [True, False, False, True],
            "order": [0, 0, 1, 1],
        }
    )
    fig = charts.rotation_grid(grid, "t", "zh")
    assert list(fig.data[0].y) == ["1. 甲", "2. 乙"]
    assert fig.data[0].text[0][0] == "好" and fig.data[0].text[0][1] == ""


def test_funnel_plot_draws_limits_and_highlights_the_unit():
    funnel = pl.DataFrame(
        {
            "unit": ["A", "B"],
            "lane": ["L", "L"],
            "n": [20, 40],
            "good": [16, 16],
            "share": [0.8, 0.4],
            "lane_mean": [0.53, 0.53],
            "lo95": [0.3, 0.37],
            "hi95": [0.75, 0.69],
            "lo998": [0.2, 0.3],
            "hi998": [0.86, 0.76],
            "cap": [0.4, 0.4],
        }
    )
    fig = charts.funnel_plot(funnel, "漏斗图", "zh", highlight="A")
    names = [t.name for t in fig.data]
    assert "95% 控制限" in names and "99.8% 控制限" in names and "A" in names


# ----------------------------------------------------------------------------- report


HOSTILE = "<script>alert(1)</script>"


def report_flags() -> pl.DataFrame:
    return flags_frame(
        [
            {
                "flag_id": "f1",
                "kind": "outcome_rule",
                "subject_type": "person",
                "subject": "a0",
                "unit": "A",
                "lane": "L",
                "period_from": "2024Q1",
                "period_to": "2024Q4",
                "statistic": "x",
                "statistic_value": 1.0,
                "statistics": json.dumps({"rules": ["excellent_without_gate"]}),
                "severity": 0.8,
                "n": 1,
                "evidence_zh": f"证据 {HOSTILE}",
                "evidence_en": f"evidence {HOSTILE}",
                "caveat_zh": "=cmd|' /C calc'!A0",
            }
        ]
    )


def test_flag_evidence_for_a_person_lists_their_record():
    ev = report.flag_evidence(DATA, S, report_flags().row(0, named=True), "zh")
    assert ev.tables["quarterly"][1].height == 2
    assert ev.tables["statistics"][1].rows() == [("违反的规则", "未满足条件评为优秀")]  # words, not codes


def test_inspection_html_is_self_contained_printable_and_escaped():
    page = report.inspection_html(DATA, S, report_flags(), "zh")
    assert HOSTILE not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert '<script src="http' not in page and "<script type='text/javascript'>" in page  # plotly.js inlined: offline
    assert "@media print" in page and "结果运用违规" in page
    assert "plotly" in page.lower()


def test_inspection_workbook_has_flags_and_evidence_sheets_and_is_formula_safe():
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(report.inspection_workbook(DATA, S, report_flags(), "zh")))
    assert book.sheetnames[0] == "预警清单"
    assert any(name.startswith("01 结果运用违规") for name in book.sheetnames), book.sheetnames
    cells = [c.value for row in book["预警清单"].iter_rows() for c in row]
    assert "'=cmd|' /C calc'!A0" in cells  # written as text, never as a formula
    assert all(not (isinstance(v, str) and v.startswith("=")) for v in cells)
