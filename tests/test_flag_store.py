"""Stored flags: computed once per store version, read back current, narrowed to scope, keys stable across runs."""

from __future__ import annotations

import dataclasses
import io
from contextlib import redirect_stdout
from pathlib import Path

import polars as pl
import pytest

from analytics import flag_store, snapshots, store
from analytics.cli import main
from analytics.dataset import Scope, load_dataset
from analytics.detectors import run_detectors
from analytics.settings import Settings, load_settings


@pytest.fixture
def city(demo_city) -> Path:
    return demo_city


def stored(db: Path, settings: Settings) -> flag_store.Stored:
    con = store.connect(db, read_only=True)
    try:
        return flag_store.read(con, snapshots.data_version(con), settings)
    finally:
        con.close()


def test_a_run_stores_what_the_detectors_find_and_reads_back_current(city):
    settings = Settings()
    assert stored(city, settings).store_version is None  # nothing stored yet
    n = flag_store.compute(city, settings)
    result = stored(city, settings)
    assert result.current and result.errors == () and result.flags.height == n > 0
    con = store.connect(city, read_only=True)
    try:
        fresh = run_detectors(load_dataset(con, settings), settings)
    finally:
        con.close()
    assert sorted(result.flags["flag_key"]) == sorted(fresh["flag_key"])
    assert result.flags.schema == fresh.schema


def test_new_data_or_new_settings_make_the_stored_flags_stale(city):
    settings = Settings()
    flag_store.compute(city, settings)
    keys = set(stored(city, settings).flags["flag_key"])
    changed = dataclasses.replace(settings, quota=dataclasses.replace(settings.quota, good_cap=0.3))
    assert not stored(city, changed).current
    con = store.connect(city)
    try:
        con.execute("DELETE FROM outcomes WHERE person_id = (SELECT min(person_id) FROM outcomes)")
    finally:
        con.close()
    stale = stored(city, settings)
    assert not stale.current and set(stale.flags["flag_key"]) == keys  # the last run is kept meanwhile
    flag_store.compute(city, settings)
    again = stored(city, settings)
    assert again.current
    # A finding keeps its key across runs: most of the previous findings are found again under the same key.
    assert len(keys & set(again.flags["flag_key"])) >= 0.8 * len(keys)


def test_flags_are_narrowed_to_the_viewers_units(city):
    settings = Settings()
    flag_store.compute(city, settings)
    flags = stored(city, settings).flags
    unit = flags["unit"].drop_nulls()[0]
    mine = flag_store.for_scope(flags, Scope(units=frozenset({unit})))
    assert mine.height and set(mine["unit"]) == {unit}
    assert flag_store.for_scope(flags, Scope()).height == flags.height
    assert flag_store.for_scope(flags, Scope(pseudonymise=True)).height == 0


def test_the_cli_reads_the_stored_flags_and_refresh_recomputes(city):
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["flags", "--db", str(city), "--refresh"]) == 0
    assert "flags stored" in out.getvalue()
    progress = flag_store.progress_file(city)
    assert progress.exists() and flag_store.progress(city) is None  # finished
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["flags", "--db", str(city), "--kinds", "rotation"]) == 0
    printed = pl.read_csv(io.StringIO(out.getvalue()))
    expected = stored(city, Settings()).flags.filter(pl.col("kind") == "rotation")
    assert printed.height == expected.height > 0 and set(printed["kind"]) == {"rotation"}


def test_a_second_process_does_not_compute_the_same_run(city):
    import fcntl

    lock = flag_store._lock_file(city)
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        assert flag_store.compute(city, Settings()) is None


def test_the_app_shows_the_last_run_while_the_new_one_computes_and_then_the_new_one(city, monkeypatch):
    """A store too large to compute in the page: the flags page shows the stored run, says it is behind (in
    both languages), starts the background run, and shows the new run once that has stored its flags."""
    from tests.test_app import metric, no_exception, open_app

    settings = load_settings()  # what the app runs with (settings.toml)
    first = flag_store.compute(city, settings)
    con = store.connect(city)
    try:
        con.execute(
            "DELETE FROM quarterly_facts WHERE person_key IN "
            "(SELECT person_key FROM quarterly_people WHERE unit = (SELECT min(unit) FROM quarterly_people))"
        )
    finally:
        con.close()
    monkeypatch.setattr(flag_store, "QUICK_ROWS", 0)  # as a province: never computed in the page
    monkeypatch.setattr(flag_store, "_STARTED", {})
    at = open_app(city, monkeypatch, "pages/overview.py")
    no_exception(at)
    behind = [c.value for c in at.caption if "上一版数据" in c.value]
    assert behind and "正在计算" in behind[0], [c.value for c in at.caption]
    assert int(metric(at, "待核查预警").replace(",", "")) == first  # the last run's flags, none reviewed yet
    (child,) = flag_store._STARTED.values()
    assert child.wait(timeout=600) == 0
    at.run()
    no_exception(at)
    assert not [c.value for c in at.caption if "上一版数据" in c.value]
    fresh = stored(city, settings)
    assert fresh.current
    assert int(metric(at, "待核查预警").replace(",", "")) == fresh.flags.height


def test_the_behind_note_speaks_english_too(city, monkeypatch):
    from tests.test_app import no_exception, open_app

    flag_store.compute(city, load_settings())
    con = store.connect(city)
    try:
        con.execute("DELETE FROM outcomes WHERE person_id = (SELECT min(person_id) FROM outcomes)")
    finally:
        con.close()
    monkeypatch.setattr(flag_store, "QUICK_ROWS", 0)
    monkeypatch.setattr(flag_store, "start", lambda *a, **k: True)  # the run "is going": nothing computes here
    at = open_app(city, monkeypatch, "pages/overview.py", lang="en")
    no_exception(at)
    notes = [c.value for c in at.caption if "previous data" in c.value]
    assert notes and "being computed" in notes[0], [c.value for c in at.caption]
    assert not any("上一版" in c.value for c in at.caption)
