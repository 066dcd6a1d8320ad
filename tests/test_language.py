"""Every page in both languages: the Chinese UI shows no English, the English UI no Chinese (names from the data aside).

AppTest walks each page of the demo city in 中文 and in English and reads what a user reads: titles, markdown,
captions, alerts, widget labels, options and placeholders, metrics, tab and expander labels, table headers and
text cells, and chart titles, axis titles, legends and annotations. Chinese text fails on English words (beyond
a short list of symbols people use in Chinese too: p, q, z, PDF, Excel …) and on raw quarter codes like 2025Q2;
English text fails on Chinese characters that are not names from the data (units, people, lanes, grades as
written). Stores: the demo city.
"""

from __future__ import annotations

import json
import re

import polars as pl
import pytest
from test_app import ALL_PAGES, _navigation_mode, open_app  # noqa: F401  (fixture)

from analytics import store

ENGLISH_WORD = re.compile(r"(?<![A-Za-z])[A-Za-z][A-Za-z]+(?![A-Za-z])")
QUARTER_CODE = re.compile(r"(?<![\w])\d{4}Q[1-4](?![\w])")
EXPONENT = re.compile(r"\d(?:\.\d+)?e[-+]?\d+")
CJK = re.compile(r"[\u3400-\u9fff\uff08\uff09\u201c\u201d\u3001\u3002\uff0c\uff1a\uff1b]+")
# Symbols, units and product names people write in Chinese text as they are.
ALLOWED_IN_CHINESE = {
    "p", "q", "z", "D", "H", "RR", "AUC", "PDF", "HTML", "Excel", "CSV", "xlsx", "csv", "SQL", "ID", "A4", "Mantel",
    "Haenszel", "Besag", "Clifford", "SE", "JSON", "Parquet", "parquet", "json", "html", "pdf", "DuckDB", "Chromium", "SSO", "Plotly",
    "vs", "OK", "Word", "CPU", "GB", "MB", "KB", "UTF", "GBK", "BOM", "English", "XLSX", "PARQUET", "xls", "XLS",
}  # fmt: skip
# Words of Chinese the English UI keeps: the language switch names itself, grades and outcome words as written.
ALLOWED_IN_ENGLISH = {
    "中文",
    "好",
    "较好",
    "一般",
    "较差",
    "不确定等次",
    "优秀",
    "称职",
    "基本称职",
    "不称职",
    "不定等次",
}


def data_words(db) -> set[str]:
    """Every text value in the store's data tables: names, units, lanes, sections, reviewers, raw outcomes …"""
    con = store.connect(db, read_only=True)
    words: set[str] = set()
    try:
        for table in ("quarterly", "annual", "outcomes", "survey_items", "survey_answers", "survey_respondents"):
            frame = con.execute(f"SELECT * FROM {table}").pl()
            for column, dtype in frame.schema.items():
                if dtype == pl.Utf8 and column not in ("extra",):
                    words |= set(frame[column].drop_nulls().unique().to_list())
    finally:
        con.close()
    return {w for w in words if w}


def _chart_texts(spec: dict) -> list[str]:
    out: list[str] = []
    layout = spec.get("layout", {})

    def title(obj) -> None:
        if isinstance(obj, dict):
            t = obj.get("title")
            out.append(t.get("text", "") if isinstance(t, dict) else (t or ""))

    title(layout)
    for key, axis in layout.items():
        if key.startswith(("xaxis", "yaxis")) and isinstance(axis, dict):
            title(axis)
            out.extend(str(t) for t in axis.get("ticktext", []) or [])
        if key == "coloraxis" and isinstance(axis, dict):
            title(axis.get("colorbar", {}))
    out.extend(a.get("text", "") for a in layout.get("annotations", []) if isinstance(a, dict))
    for trace in spec.get("data", []):
        if trace.get("showlegend", True) is not False:
            out.append(str(trace.get("name") or ""))
        if isinstance(trace.get("colorbar"), dict):
            title(trace["colorbar"])
    return out


def user_texts(at) -> list[tuple[str, str]]:
    """(where, text) for everything on the page a user reads."""
    out: list[tuple[str, str]] = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "info", "warning", "error", "success", "toast"):
        for el in getattr(at, kind, []):
            out.append((kind, str(el.value)))
    for kind in ("selectbox", "multiselect", "radio", "segmented_control", "slider", "text_input", "text_area",
                 "number_input", "date_input", "toggle", "checkbox", "button", "select_slider"):  # fmt: skip
        for el in at.get(kind) if kind in ("segmented_control",) else getattr(at, kind, []):
            proto = el.proto
            out.append((kind, getattr(proto, "label", "")))
            out.append((kind, getattr(proto, "placeholder", "")))
            out.append((kind, getattr(proto, "help", "")))
            try:
                options = list(el.options)
            except Exception:
                options = list(getattr(proto, "options", []))
            out.extend((f"{kind} option", str(o)) for o in options)
    for el in at.get("download_button"):
        out.append(("download", el.proto.label))
    for m in at.metric:
        out.extend([("metric", m.label), ("metric", str(m.value)), ("metric", m.proto.help or "")])
    for e in at.expander:
        out.append(("expander", e.label))
    for t in at.tabs:
        out.append(("tab", t.label))
    for df in at.dataframe:
        frame = df.value
        out.extend(("table header", str(c)) for c in frame.columns)
        for c in frame.columns:
            if frame[c].dtype == object or str(frame[c].dtype) in ("string", "str"):
                out.extend(("table cell", str(v)) for v in frame[c].dropna().unique()[:200])
    for chart in at.get("plotly_chart"):
        spec = json.loads(chart.proto.spec)
        out.extend(("chart", t) for t in _chart_texts(spec) if t)
    return [(w, t) for w, t in out if t]


CODE = re.compile(r"^(?:P-)?[0-9a-f]{8,16}$")
FILE_NAME = re.compile(r"[\w.\-/]+\.(?:duckdb|xlsx|xls|csv|html|pdf|toml|json)\b")


CODE_SPAN = re.compile(r"`[^`\n]+`")
MARKUP = re.compile(r"</?(?:br|sup|sub|b|i|span)\s*/?>")


def _strip(text: str, words: set[str]) -> str:
    text = FILE_NAME.sub(" ", text)  # a file's name is the user's, as written
    text = CODE_SPAN.sub(" ", text)  # `quarterly`, `SELECT`: what a query types, shown as code
    text = MARKUP.sub(" ", text)  # a chart title's <br>, <sup>: layout, not words
    for w in sorted((w for w in words if w and w in text), key=len, reverse=True):
        text = text.replace(w, " ")
    return text


LINK_CELL = re.compile(r"^[a-z_]+\?(?:[^&]*&)*name=(.*)$")
PAGE_URL = re.compile(r"^[a-z_]+\?[a-z_]+=[^\s]*$")


def _link_text(text: str) -> str:
    """A link cell (person?…&name=X, rankings?name=X) shows the name after 'name='; one without a name
    (flags?flag=…) shows its column's fixed label, checked with the column config, not the URL."""
    found = LINK_CELL.match(text)
    return found.group(1) if found else ("" if PAGE_URL.match(text) else text)


def english_in_chinese(texts: list[tuple[str, str]], words: set[str]) -> list[str]:
    bad = []
    for where, raw in texts:
        if CODE.match(raw.strip()):
            continue  # an identifier (flag key, pseudonym), not a word
        text = _strip(_link_text(raw), words)
        found = [w for w in ENGLISH_WORD.findall(text) if w not in ALLOWED_IN_CHINESE]
        codes = QUARTER_CODE.findall(text) + EXPONENT.findall(text) + re.findall(r"\d{2}:\d{2}:\d{2}", text)
        if found or codes:
            bad.append(f"{where}: {raw[:120]!r} -> {found + codes}")
    return bad


def chinese_in_english(texts: list[tuple[str, str]], words: set[str]) -> list[str]:
    bad = []
    for where, raw in texts:
        text = _strip(_link_text(raw), words | ALLOWED_IN_ENGLISH)
        found = CJK.findall(text)
        if found:
            bad.append(f"{where}: {raw[:120]!r} -> {found}")
    return bad


@pytest.fixture(scope="module")
def words(demo_db) -> set[str]:
    return data_words(demo_db)


FLAG_KINDS = ("rotation", "leniency", "compression", "silent_negatives", "outlier", "outcome_rule", "quota")


@pytest.mark.parametrize("page", ALL_PAGES)
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_page_speaks_one_language(demo_db, monkeypatch, words, page, lang):
    at = open_app(demo_db, monkeypatch, page, lang=lang)
    assert not at.exception, [e.message for e in at.exception]
    texts = user_texts(at)
    assert len(texts) > 5
    bad = english_in_chinese(texts, words) if lang == "zh" else chinese_in_english(texts, words)
    assert not bad, f"{len(bad)} leaks on {page} ({lang}):\n" + "\n".join(sorted(set(bad))[:60])


@pytest.mark.parametrize("kind", FLAG_KINDS)
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_each_flag_kinds_evidence_speaks_one_language(demo_db, monkeypatch, words, kind, lang):
    at = open_app(demo_db, monkeypatch, "pages/flags.py", lang=lang, flag_kinds=[kind])
    assert not at.exception, [e.message for e in at.exception]
    if not [m for m in at.markdown if m.value.startswith("#### ")]:
        pytest.skip(f"the demo city raises no {kind} flag")
    texts = user_texts(at)
    bad = english_in_chinese(texts, words) if lang == "zh" else chinese_in_english(texts, words)
    assert not bad, f"{len(bad)} leaks on a {kind} flag ({lang}):\n" + "\n".join(sorted(set(bad))[:60])


def test_the_checks_catch_leaks():
    assert english_in_chinese([("x", "上传 Select all")], set()) == ["x: '上传 Select all' -> ['Select', 'all']"]
    assert english_in_chinese([("x", "期次 2025Q2"), ("y", "p 值 1.1e-57"), ("z", "2026-02-13 00:00:00")], set())
    assert not english_in_chinese([("x", "p < 0.001，q 值 0.02，张三 Smith")], {"张三 Smith"})
    assert not english_in_chinese([("x", "表 `quarterly` 的列 `person_id`")], set())  # code, as a query types it
    assert english_in_chinese([("x", "表 quarterly 的列")], set())
    assert not english_in_chinese([("x", "每季度“好”占比<br><sup>全期 70%</sup>")], set())  # chart title markup
    assert chinese_in_english([("x", "Share of 好 by unit 单位")], set()) == [
        "x: 'Share of 好 by unit 单位' -> ['单位']"
    ]
    assert not chinese_in_english([("x", "Unit 城关镇: share")], {"城关镇"})
