"""The saved dataset beside the snapshots, and the notes that let a new process find its snapshot unhashed."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from analytics import dataset_cache, snapshots, store
from analytics.dataset import EVERYTHING, Scope, load_dataset
from analytics.settings import Settings

SETTINGS = Settings()


@pytest.fixture
def city(demo_city) -> Path:
    yield demo_city
    snapshots.forget()


def _version(db: Path) -> str:
    con = store.connect(db, read_only=True)
    try:
        return snapshots.data_version(con)
    finally:
        con.close()


def _load(db: Path, scope: Scope = EVERYTHING):
    con = store.connect(db, read_only=True)
    try:
        return dataset_cache.load(con, db, _version(db), SETTINGS, scope), load_dataset(con, SETTINGS, scope)
    finally:
        con.close()


def _same(a, b) -> None:
    for part in dataset_cache.PARTS:
        assert getattr(a, part).equals(getattr(b, part)), part


def test_the_saved_dataset_reads_back_as_load_dataset_builds_it(city):
    first, built = _load(city)
    _same(first, built)
    folder = dataset_cache.place(city, _version(city), SETTINGS)
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"{p}.parquet" for p in dataset_cache.PARTS)
    again = dataset_cache.read(city, _version(city), SETTINGS)
    _same(again, built)
    assert again.quarterly.height == built.quarterly.height > 0


def test_a_researcher_gets_the_saved_dataset_pseudonymised_with_the_stores_key(city):
    _load(city)  # saved
    seen, built = _load(city, Scope(pseudonymise=True))
    _same(seen, built)
    named = dataset_cache.read(city, _version(city), SETTINGS)
    assert not seen.quarterly["name"].is_in(named.quarterly["name"].implode()).any()


def test_a_scope_of_some_units_is_read_from_the_store_and_never_saved(city):
    con = store.connect(city, read_only=True)
    units = frozenset(con.execute("SELECT DISTINCT unit FROM quarterly ORDER BY unit LIMIT 2").fetchall()[0])
    con.close()
    seen, built = _load(city, Scope(units=units))
    _same(seen, built)
    assert set(seen.quarterly["unit"].unique()) == set(units)
    assert not list(snapshots.folder(city).glob("dataset-*"))


def test_other_settings_or_other_data_mean_another_saved_dataset(city):
    version = _version(city)
    other = dataclasses.replace(SETTINGS, lanes=dataclasses.replace(SETTINGS.lanes, min_size=99))
    assert dataset_cache.place(city, version, other) != dataset_cache.place(city, version, SETTINGS)
    _load(city)
    assert dataset_cache.read(city, version, other) is None
    assert dataset_cache.read(city, "another-version", SETTINGS) is None


def test_a_damaged_saved_dataset_is_built_again_from_the_store(city):
    _load(city)
    folder = dataset_cache.place(city, _version(city), SETTINGS)
    (folder / "quarterly.parquet").write_bytes(b"not parquet")
    assert dataset_cache.read(city, _version(city), SETTINGS) is None
    seen, built = _load(city)
    _same(seen, built)


def test_a_new_process_finds_its_snapshot_from_the_note_without_hashing_the_rows(city, monkeypatch):
    first = snapshots.current(city)
    assert list(snapshots.folder(city).glob("state-*.json"))
    snapshots.forget()  # as a restarted app: nothing known in memory

    def no_hashing(*args):
        raise AssertionError("hashed every row again")

    monkeypatch.setattr(snapshots, "_fingerprint", no_hashing)
    again = snapshots.current(city)
    assert (again.path, again.version, again.data_version, again.fingerprint) == (
        first.path,
        first.version,
        first.data_version,
        first.fingerprint,
    )


def test_new_data_are_not_mistaken_for_a_noted_state(city):
    first = snapshots.current(city)
    snapshots.forget()
    con = store.connect(city)
    con.execute("DELETE FROM outcomes WHERE person_id = (SELECT min(person_id) FROM outcomes)")
    con.close()
    second = snapshots.current(city)
    assert second.data_version != first.data_version and second.path != first.path
