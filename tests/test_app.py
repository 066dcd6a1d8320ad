"""AppTest for every page (demo city and empty store) and the app's main behaviours.

Filters change results and carry across pages, the language switch changes labels, the overview links
to a flag's evidence, and the Data page previews and imports a GB18030 CSV and refuses a bad file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from analytics import auth, store
from pages._ui.units import TAB_KEY

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")
CORE_PAGES = [
    "pages/overview.py",
    "pages/rankings.py",
    "pages/flags.py",
    "pages/outcomes.py",
    "pages/person.py",
    "pages/data.py",
]
ALL_PAGES = CORE_PAGES + sorted(f"pages/{p.name}" for p in (ROOT / "pages").glob("research_*.py"))
DATA_PAGES = [p for p in CORE_PAGES if p != "pages/data.py"]

os.environ.setdefault("STREAMLIT_CLIENT_SHOW_ERROR_DETAILS", "full")


@pytest.fixture(autouse=True)
def _navigation_mode(monkeypatch):
    """Run every AppTest through app.py's st.navigation.

    AppTest resets Streamlit's "pages/ folder" flag before each run, so each run would first start in the
    old pages-folder mode and rerun (pages/_ui.py switches it off), which drops a button click. A
    server sets the flag once, on its first run.
    """
    from streamlit.runtime.pages_manager import PagesManager

    original = PagesManager.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    monkeypatch.setattr(PagesManager, "__init__", init)


def open_app(db: Path, monkeypatch: pytest.MonkeyPatch, page: str | None = None, **state) -> AppTest:
    """The app on store `db`, optionally on `page`, with session state set before the first run."""
    monkeypatch.setenv("KAOHE_DB", str(db))
    at = AppTest.from_file(APP, default_timeout=120)
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    if page:
        at.switch_page(page).run()
    return at


def open_tab(at: AppTest, label: str) -> AppTest:
    """Switch the overview's unit tabs (only the open one is drawn), as a click on the tab does."""
    at.session_state[TAB_KEY] = label
    return at.run()


def no_exception(at: AppTest) -> None:
    assert not at.exception, [e.message for e in at.exception]


def markdown_text(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown)


def metric(at: AppTest, label_start: str):
    found = [m for m in at.metric if m.label.startswith(label_start)]
    assert found, f"no metric starting {label_start!r}: {[m.label for m in at.metric]}"
    return found[0].value


# ----------------------------------------------------------------------------- every page


@pytest.mark.parametrize("page", ALL_PAGES)
def test_page_renders_on_the_demo_city(demo_db, monkeypatch, page):
    at = open_app(demo_db, monkeypatch, page)
    no_exception(at)
    assert "还没有考核数据" not in "\n".join(i.value for i in at.info)
    assert at.markdown[0].value.startswith("### ")  # the page title


def test_overview_shows_its_parts(demo_db, monkeypatch):
    at = open_app(demo_db, monkeypatch, "pages/overview.py")
    no_exception(at)
    assert len(at.metric) == 5
    assert int(metric(at, "参加考核人数").replace(",", "")) > 1000
    assert int(metric(at, "待核查预警").replace(",", "")) > 0
    text = markdown_text(at)
    for part in ("各季度等次结构", "各赛道前后两名", "最强预警"):
        assert part in text
    assert [t.label for t in at.tabs] == ["需关注单位（“好”）", "年度“优秀”", "单位对比"]
    assert len(at.get("plotly_chart")) == 3  # grade mix, need heatmap, flags by kind: only the open tab is drawn
    assert chart(at, "heat") and "cmp_lane" not in [s.key for s in at.selectbox]
    for tab, key in (("年度“优秀”", "excellent"), ("单位对比", "cmp_chart")):
        open_tab(at, tab)
        no_exception(at)
        assert len(at.get("plotly_chart")) == 3 and chart(at, key)
    links = at.get("page_link")
    assert links and all("flag=" in link.proto.page or link.proto.query_string for link in links)


@pytest.mark.parametrize("page", ALL_PAGES)
def test_page_renders_on_an_empty_store(tmp_path, monkeypatch, page):
    at = open_app(tmp_path / "none.duckdb", monkeypatch, page)
    no_exception(at)
    if page in DATA_PAGES:
        assert any("还没有考核数据" in i.value for i in at.info), "friendly start screen expected"
        assert any("python -m analytics" in c.value for c in at.code)


ADMIN_PASSWORD = "s3cret-pass-word"


def first_admin(at: AppTest) -> AppTest:
    """On an open store the Data page first asks for the administrator account (issue 14): make it."""
    at.text_input(key="first_admin_name").input("admin")
    at.text_input(key="first_admin_password").input(ADMIN_PASSWORD)
    at.text_input(key="first_admin_again").input(ADMIN_PASSWORD)
    next(b for b in at.button if b.label == "创建并登录").click().run()
    assert at.session_state["role"] == "admin"
    return at


def test_data_page_on_an_empty_store_offers_an_upload(tmp_path, monkeypatch):
    at = first_admin(open_app(tmp_path / "none.duckdb", monkeypatch, "pages/data.py"))
    no_exception(at)
    assert len(at.file_uploader) == 1 and at.file_uploader[0].accept_multiple_files
    assert "还没有导入记录" in "\n".join(c.value for c in at.caption)


# ----------------------------------------------------------------------------- filters and language


def test_unit_filter_narrows_the_overview_and_carries_to_rankings(demo_db, monkeypatch):
    at = open_app(demo_db, monkeypatch, "pages/overview.py")
    everyone = int(metric(at, "参加考核人数").replace(",", ""))
    unit = at.multiselect(key="f_units").options[0]
    at.multiselect(key="f_units").set_value([unit]).run()
    no_exception(at)
    narrowed = int(metric(at, "参加考核人数").replace(",", ""))
    assert 0 < narrowed < everyone
    assert metric(at, "单位") == "1"
    at.switch_page("pages/rankings.py").run()
    no_exception(at)
    assert at.session_state["f_units"] == [unit]
    table = at.dataframe[0].value
    assert set(table["单位"]) == {unit}


def test_lane_filter_changes_the_rankings(demo_db, monkeypatch):
    at = open_app(demo_db, monkeypatch, "pages/rankings.py")
    lanes = [o for o in at.selectbox(key="f_lane").options if o != "全部赛道"]
    all_rows = len(at.dataframe[0].value)
    at.selectbox(key="f_lane").select_index(1).run()
    no_exception(at)
    table = at.dataframe[0].value
    assert 0 < len(table) < all_rows
    assert table["赛道"].nunique() == 1 and lanes


def test_period_filter_changes_the_headline(demo_db, monkeypatch):
    at = open_app(demo_db, monkeypatch, "pages/overview.py")
    options = at.selectbox(key="f_period").options
    assert len(options) >= 8
    at.selectbox(key="f_period").select_index(len(options) - 1).run()  # the oldest quarter
    no_exception(at)
    assert "2023" in markdown_text(at) or "2024" in markdown_text(at)


def test_language_switch_changes_labels(demo_db, monkeypatch):
    at = open_app(demo_db, monkeypatch, "pages/overview.py")
    assert at.markdown[0].value == "### 一屏掌控"
    at.button_group(key="lang").set_value("en").run()
    no_exception(at)
    assert at.markdown[0].value == "### At a glance"
    labels = [m.label for m in at.metric]
    assert "People assessed" in labels and "Open flags" in labels
    assert "Top and bottom of each lane" in markdown_text(at)
    assert not any("\u4e00" <= ch <= "\u9fff" for label in labels for ch in label.replace("好", ""))
    at.switch_page("pages/flags.py").run()
    no_exception(at)
    assert at.markdown[0].value == "### Flags"
    assert "Kind" in list(at.dataframe[0].value.columns)


def test_browser_locale_sets_the_default_language(demo_db, monkeypatch):
    at = open_app(demo_db, monkeypatch, "pages/overview.py", lang="en")
    assert at.markdown[0].value == "### At a glance"


# ----------------------------------------------------------------------------- flags and evidence


def test_flag_link_opens_its_evidence(demo_db, monkeypatch):
    at = open_app(demo_db, monkeypatch, "pages/flags.py")
    no_exception(at)
    ids = at.dataframe[0].value  # flag_id is hidden from view but the first flag is shown by default
    assert len(ids) > 0
    first_heading = [m.value for m in at.markdown if m.value.startswith("#### ")][0]
    from analytics.dataset import load_dataset
    from analytics.detectors import run_detectors
    from analytics.settings import load_settings

    con = store.connect(demo_db, read_only=True)
    try:
        data = load_dataset(con, load_settings())
    finally:
        con.close()
    flags = run_detectors(data, load_settings(), kinds=["leniency"])
    # A flag other than the one shown by default (the strongest may itself be a leniency flag).
    target = next(f for f in flags.iter_rows(named=True) if f["subject"] not in first_heading)
    at.query_params["flag"] = target["flag_id"]
    at.run()
    no_exception(at)
    heading = [m.value for m in at.markdown if m.value.startswith("#### ")][0]
    assert target["subject"] in heading and heading != first_heading
    # The chart is the test's comparison: inside the unit for a reviewer, the quota and lane for a sole one.
    titles = [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart")]
    assert any("本单位其他人员" in t or "名额上限" in t for t in titles), titles
    assert any(target["evidence_zh"][:20] in i.value for i in at.info)


def test_rotation_flag_shows_grid_and_histogram(demo_db, monkeypatch):
    at = open_app(demo_db, monkeypatch, "pages/flags.py", flag_kinds=["rotation"])
    no_exception(at)
    assert "轮流坐庄" in [m.value for m in at.markdown if m.value.startswith("#### ")][0]
    assert len(at.get("plotly_chart")) == 2
    assert any("逐人逐季等次" in e.label for e in at.expander)
    assert at.get("download_button"), "report and table downloads expected"


# ----------------------------------------------------------------------------- person


def test_person_page_shows_a_profile_and_the_form_download(demo_db, monkeypatch):
    at = open_app(demo_db, monkeypatch, "pages/person.py")
    no_exception(at)
    assert len(at.metric) == 4
    assert at.selectbox(key="form_year").options
    assert any(b.proto.label.startswith("下载登记表") for b in at.get("download_button"))


# ----------------------------------------------------------------------------- data page: uploads

QUARTERLY_CSV = (
    "人员编号,姓名,单位,单位类型,内设机构,职务层次,年度,季度,等次,得分\r\n"
    + "".join(
        f"T{i:03d},测试{i},测试局,综合管理,办公室,一般干部,2024,{q},{'好' if (i + q) % 3 == 0 else '较好'},{80 + i}\r\n"
        for i in range(1, 7)
        for q in (1, 2)
    )
).encode("gb18030")


def test_upload_of_a_gb18030_csv_previews_and_imports(tmp_path, monkeypatch):
    db = tmp_path / "store.duckdb"
    at = first_admin(open_app(db, monkeypatch, "pages/data.py"))
    at.file_uploader[0].set_value(("平时考核_测试.csv", QUARTERLY_CSV, "text/csv")).run()
    no_exception(at)
    assert metric(at, "类型") == "平时考核"
    assert metric(at, "编码").lower().replace("-", "") in ("gb18030", "gbk")
    assert metric(at, "记录数") == "12"
    at.button[0].click().run()  # 导入 1 个文件
    no_exception(at)
    assert any("已导入" in s.value for s in at.success), [s.value for s in at.success]
    con = store.connect(db, read_only=True)
    try:
        assert con.sql("SELECT count(*) FROM quarterly").fetchone()[0] == 12
    finally:
        con.close()
    assert len(at.dataframe[-1].value) == 1  # the import history
    # Imported personnel records: from now on the app asks for a login (issue 9), with the account made first.
    at = open_app(db, monkeypatch)
    assert at.markdown[0].value == "### 登录"
    at.text_input(key="login_name").input("admin")
    at.text_input(key="login_password").input(ADMIN_PASSWORD)
    at.button[0].click().run()
    no_exception(at)
    assert metric(at, "参加考核人数") == "6"


def test_upload_of_a_bad_file_is_refused_with_its_reason(tmp_path, monkeypatch, samples):
    db = tmp_path / "store.duckdb"
    bad = (samples / "有问题_缺少等次列.csv").read_bytes()
    at = first_admin(open_app(db, monkeypatch, "pages/data.py"))
    at.file_uploader[0].set_value(("有问题_缺少等次列.csv", bad, "text/csv")).run()
    no_exception(at)
    assert at.error, "the preview must say what is wrong"
    assert any("等次" in e.value for e in at.error)
    at.button[0].click().run()
    no_exception(at)
    assert any("已拒收" in e.value for e in at.error)
    if db.exists():
        con = store.connect(db, read_only=True)
        try:
            assert con.sql("SELECT count(*) FROM quarterly").fetchone()[0] == 0
        finally:
            con.close()


# ----------------------------------------------------------------------------- flag workflow and whole-lane ranks


def test_a_flag_is_confirmed_dismissed_and_closed_and_the_overview_count_follows(demo_db, monkeypatch, tmp_path):
    import shutil

    db = tmp_path / "demo.duckdb"
    shutil.copy(demo_db, db)
    at = open_app(db, monkeypatch, "pages/overview.py")
    before = int(metric(at, "待核查预警").replace(",", ""))
    at.switch_page("pages/flags.py").run()
    no_exception(at)
    heading = [m.value for m in at.markdown if m.value.startswith("#### ")][0]
    for status, word in (("confirmed", "核实"), ("dismissed", "误报"), ("resolved", "已整改")):
        next(c for c in at.segmented_control if c.label == "状态").set_value(status)
        next(t for t in at.text_input if t.label == "说明").set_value(f"{word}：测试说明")
        next(b for b in at.button if b.label == "保存核查结果").click().run()
        no_exception(at)
        assert any(f"当前状态：{word}" in e.label for e in at.expander)
        assert [m.value for m in at.markdown if m.value.startswith("#### ")][0] == heading  # the same flag
    at.switch_page("pages/overview.py").run()
    assert int(metric(at, "待核查预警").replace(",", "")) == before - 1
    con = store.connect(db, read_only=True, fresh=True)  # the reviews now, not the app's snapshot
    statuses = [r[0] for r in con.execute("SELECT status FROM flag_reviews ORDER BY reviewed_at").fetchall()]
    audited = con.execute("SELECT count(*) FROM audit_log WHERE action = 'review_flag'").fetchone()[0]
    con.close()
    assert statuses == ["confirmed", "dismissed", "resolved"] and audited == 3


def test_a_head_sees_the_lane_ranks_an_admin_sees(demo_db, monkeypatch, tmp_path):
    import shutil
    from datetime import datetime

    from analytics import access
    from analytics.auth import User
    from analytics.settings import load_settings

    db = tmp_path / "demo.duckdb"
    shutil.copy(demo_db, db)
    admin = open_app(db, monkeypatch, "pages/rankings.py")
    no_exception(admin)
    full = admin.dataframe[0].value
    unit = full["单位"].iloc[0]
    con = store.connect(db)
    auth.add_user(con, "head1", "head", "a long enough password 1", [unit])
    con.close()
    user = User("head1", "head", frozenset({unit}))
    token = access.start_session(db, user, load_settings())  # a session is its signed token (issue 14)
    head = open_app(db, monkeypatch, "pages/rankings.py", user=user, login_at=datetime.now(), session_token=token)
    no_exception(head)
    mine = head.dataframe[0].value
    assert set(mine["单位"]) == {unit}
    theirs = full[full["单位"] == unit]
    key = ["赛道", "姓名", "名次", "百分位", "赛道人数"]
    assert len(mine) == len(theirs) > 0
    assert mine[key].reset_index(drop=True).equals(theirs[key].reset_index(drop=True))
    assert mine["赛道人数"].max() > len(mine)  # the whole lane is counted, the others stay invisible


# ----------------------------------------------------------------------------- units that need a look, comparison


def chart(at: AppTest, key: str) -> dict:
    import json

    found = [c for c in at.get("plotly_chart") if c.proto.id.endswith(key) or key in c.proto.id]
    assert found, f"no chart {key!r}"
    return json.loads(found[0].proto.spec)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_overview_lists_units_most_in_need_first_with_their_values(demo_db, monkeypatch, lang):
    from analytics import overview
    from analytics.dataset import load_dataset
    from analytics.quota import quarterly_quota
    from analytics.settings import Settings

    at = open_app(demo_db, monkeypatch, "pages/overview.py", lang=lang)
    no_exception(at)
    con = store.connect(demo_db, read_only=True)
    data = load_dataset(con, Settings())
    con.close()
    year, quarter = overview.parse_period(overview.periods(data)[-1])
    over = quarterly_quota(data, Settings()).filter(
        (pl.col("year") == year) & (pl.col("quarter") == quarter) & pl.col("over")
    )
    heat = chart(at, "heat")["data"][0]
    rows = heat["y"]
    assert 5 <= len(rows) < 89  # the top by need, not every unit squeezed into the box
    assert set(rows[: over.height]) == set(over["unit"])  # the units over their quota come first
    assert all(t.endswith("▲") for t in [r[-1] for r in heat["text"][: over.height]])
    assert heat["zmid"] == 0 and all(t == "" or t.rstrip("▲").endswith("%") for r in heat["text"] for t in r)
    hidden = 89 - len(rows)
    captions = "\n".join(c.value for c in at.caption)
    assert (f"另 {hidden} 个未列出" if lang == "zh" else f"{hidden} more not shown") in captions
    at.toggle(key="need_all").set_value(True).run()
    assert len(chart(at, "heat")["data"][0]["y"]) == 89  # every unit in scope, the box scrolls


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_comparison_drills_down_to_a_units_people_with_profile_links(demo_db, monkeypatch, lang):
    at = open_app(demo_db, monkeypatch, "pages/overview.py", lang=lang)
    open_tab(at, "单位对比" if lang == "zh" else "Unit against unit")
    bars = chart(at, "cmp_chart")["data"][0]
    assert bars["orientation"] == "h" and all(t.endswith("%") for t in bars["text"])
    at.selectbox(key="cmp_measure").set_value("mean_score").run()
    no_exception(at)
    bars = chart(at, "cmp_chart")["data"][0]
    assert bars["x"] == sorted(bars["x"], reverse=True) and "%" not in bars["text"][0]
    unit = bars["y"][0]
    tables = len(at.dataframe)
    at.selectbox(key="cmp_unit").set_value(unit).run()
    no_exception(at)
    assert len(at.dataframe) == tables + 1
    percentile = "百分位" if lang == "zh" else "Percentile"
    people = next(d.value for d in at.dataframe if percentile in d.value.columns)
    names = people["姓名" if lang == "zh" else "Name"]
    assert len(names) > 0 and all(n.startswith("person?person=") and "&name=" in n for n in names)
    assert any(unit in c.value for c in at.caption)


def test_the_comparison_shows_the_strongest_units_that_fit_and_all_of_the_lane_on_asking(demo_db, monkeypatch):
    from analytics import unit_compare
    from analytics.dataset import load_dataset
    from analytics.settings import load_settings

    at = open_tab(open_app(demo_db, monkeypatch, "pages/overview.py"), "单位对比")  # the latest quarter, every unit
    lane = at.selectbox(key="cmp_lane").value
    bars = chart(at, "cmp_chart")["data"][0]["y"]
    con = store.connect(demo_db, read_only=True)
    try:
        data = load_dataset(con, load_settings())
    finally:
        con.close()
    year, quarter = data.quarterly.select("year", "quarter").sort("year", "quarter").row(-1)
    measures = unit_compare.unit_measures(data, load_settings(), year, quarter)
    whole = unit_compare.compare(measures, "good_share", lane)
    assert 3 <= len(bars) < whole.height  # the lane has more units than the box shows
    hidden = whole.height - len(bars)
    assert any(f"另 {hidden} 个未列出" in c.value for c in at.caption)
    at.toggle(key="compare_all").set_value(True).run()
    no_exception(at)
    assert len(chart(at, "cmp_chart")["data"][0]["y"]) == whole.height


def test_a_head_sees_their_unit_marked_and_its_place_among_all_units(demo_db, monkeypatch, tmp_path):
    import shutil
    from datetime import datetime

    from analytics import access
    from analytics.auth import User
    from analytics.settings import load_settings

    db = tmp_path / "demo.duckdb"
    shutil.copy(demo_db, db)
    admin = open_tab(open_app(db, monkeypatch, "pages/overview.py"), "单位对比")
    bars = chart(admin, "cmp_chart")["data"][0]
    unit, admin_rank = bars["customdata"][2][0], bars["customdata"][2][1]
    lane = admin.selectbox(key="cmp_lane").value
    con = store.connect(db)
    auth.add_user(con, "head1", "head", "a long enough password 1", [unit])
    con.close()
    user = User("head1", "head", frozenset({unit}))
    token = access.start_session(db, user, load_settings())
    head = open_app(db, monkeypatch, "pages/overview.py", user=user, login_at=datetime.now(), session_token=token)
    no_exception(head)
    assert chart(head, "heat")["data"][0]["y"] == [f"★ {unit}"]
    open_tab(head, "单位对比")
    assert head.selectbox(key="cmp_lane").value == lane
    seen = chart(head, "cmp_chart")["data"][0]
    assert seen["y"] == [f"★ {unit}"] and seen["customdata"][0][1] == admin_rank  # ranked among every unit
    assert any(f"列第 {admin_rank} 位" in c.value for c in head.caption)


def test_a_new_server_reads_the_whole_dataset_once_while_its_first_visitor_logs_in(demo_db, monkeypatch):
    from pages._ui import cache, warm

    monkeypatch.setenv("KAOHE_DB", str(demo_db))
    cache.clear_caches()
    reads = []
    real = cache.dataset_cache.load
    monkeypatch.setattr(cache.dataset_cache, "load", lambda *a, **k: reads.append(a[4]) or real(*a, **k))
    assert warm.start() is None  # off in this suite (KAOHE_WARM=0): AppTest runs many stores in one process
    thread = warm.start(force=True)
    thread.join(120)
    assert not thread.is_alive() and len(reads) == 1 and reads[0].units is None  # every unit, once
    full = cache._dataset(cache.store_identity(), (None, False), cache._settings_identity())
    assert len(reads) == 1 and full.quarterly.height > 1000  # the first session finds it read
    cache.clear_caches()


def test_after_the_warm_up_the_first_overview_computes_nothing(demo_db, monkeypatch):
    """The warm-up fills the very cache entries the overview reads (pages/_ui/overview_data.py): its first run
    on a new server reads no data, no flags and no reviews, and calls no analytics."""
    import sys

    from analytics import dataset_cache, flag_review, flag_store
    from pages._ui import cache, warm

    flag_view = sys.modules["pages._ui.flags"]  # the package's `flags` is the function of that name

    monkeypatch.setenv("KAOHE_DB", str(demo_db))
    open_app(demo_db, monkeypatch, "pages/overview.py")  # the demo city's flags are computed and stored on the spot
    cache.clear_caches()
    for cached in (flag_view._stored, flag_view._scoped, flag_view._reviews):
        cached.clear()
    thread = warm.start(force=True)
    thread.join(120)
    assert not thread.is_alive()
    misses = []
    real_resolve = cache._resolve
    monkeypatch.setattr(cache, "_resolve", lambda target: misses.append(target) or real_resolve(target))
    for module, name in ((dataset_cache, "load"), (flag_store, "read"), (flag_store, "for_scope"),
                         (flag_review, "read_reviews")):  # fmt: skip
        real = getattr(module, name)
        monkeypatch.setattr(
            module, name, lambda *a, _real=real, _name=name, **k: misses.append(_name) or _real(*a, **k)
        )
    at = open_app(demo_db, monkeypatch, "pages/overview.py")
    no_exception(at)
    assert len(at.metric) == 5 and len(at.get("plotly_chart")) == 3
    assert misses == []
    open_tab(at, "年度“优秀”")  # a tab the warm-up leaves alone does compute: the count sees real misses
    assert misses == ["analytics.unit_need:excellent_against_cap"]
    cache.clear_caches()
