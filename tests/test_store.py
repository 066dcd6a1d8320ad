"""The app's store access: one instance per process shared by every session, snapshots while a writer holds the lock."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import duckdb
import pytest

from analytics import access, audit, snapshots, store, write_queue


@pytest.fixture
def shared():
    """This test process behaves as the app does (reads from snapshots, short writes, audit rows queued when locked)."""
    store.share_connections()
    snapshots.forget()
    yield
    write_queue.WRITES.flush(timeout=60)
    store.share_connections(False)
    snapshots.forget()


@pytest.fixture
def city(demo_city) -> Path:
    return demo_city


HOLD = """
import duckdb, sys, time
con = duckdb.connect(sys.argv[1])
con.execute("DELETE FROM quarterly_facts WHERE person_key IN "
            "(SELECT person_key FROM quarterly_people WHERE unit = (SELECT min(unit) FROM quarterly_people))")
print("holding", flush=True)
sys.stdin.readline()
con.close()
"""


def hold_lock(db: Path) -> subprocess.Popen:
    """Another process (a CLI import, say) holding the store's write lock until told to let go."""
    child = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(db)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert child.stdout.readline().strip() == "holding"
    return child


def let_go(child: subprocess.Popen) -> None:
    child.stdin.write("\n")
    child.stdin.flush()
    child.wait(timeout=60)


def count(db: Path, sql: str) -> int:
    con = store.connect(db, read_only=True)
    try:
        return con.execute(sql).fetchone()[0]
    finally:
        con.close()


def test_many_sessions_read_and_write_at_once_without_conflicts(shared, city):
    errors: list[str] = []

    def session(i: int) -> None:
        try:
            for _ in range(3):
                assert count(city, "SELECT count(*) FROM quarterly") > 0
                access.record(city, f"user{i}", "view_person", f"P{i}")
                access.current_user(city, "nobody")
        except Exception as exc:  # every failure is reported, not just the first
            errors.append(f"{type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=session, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert access.read_audit(city, action="view_person").height == 60


def test_reads_keep_the_last_committed_data_while_another_process_writes(shared, city):
    before = count(city, "SELECT count(*) FROM quarterly")
    child = hold_lock(city)
    try:
        assert snapshots.current(city).busy
        assert count(city, "SELECT count(*) FROM quarterly") == before  # the committed data, not the writer's
        assert access.record(city, "head", "view_person", "P1") is None  # queued, the page does not wait
        assert write_queue.WRITES.pending() == 1
    finally:
        let_go(child)
    assert write_queue.WRITES.flush(timeout=60)
    assert write_queue.WRITES.pending() == 0
    after = snapshots.current(city)
    assert not after.busy
    assert count(city, "SELECT count(*) FROM quarterly") < before  # the writer's commit, now visible
    assert access.read_audit(city, "head", "view_person").height == 1


def test_a_locked_store_without_any_snapshot_says_busy_plainly(shared, city, monkeypatch):
    monkeypatch.setattr(store, "LOCK_WAIT_S", 0.2)
    child = hold_lock(city)
    try:
        with pytest.raises(store.StoreBusy, match="数据正在更新"):
            snapshots.current(city)
    finally:
        let_go(child)


def test_a_snapshot_is_taken_once_per_version_not_per_audit_row(shared, city):
    first = snapshots.current(city)
    access.record(city, "head", "export", "x.csv")
    assert snapshots.current(city).path == first.path  # audit rows are not a new version
    con = store.connect(city)
    try:
        con.execute("DELETE FROM outcomes WHERE person_id = (SELECT min(person_id) FROM outcomes)")
    finally:
        con.close()
    second = snapshots.current(city)
    assert second.path != first.path and second.data_version != first.data_version
    with duckdb.connect(str(second.path), read_only=True) as snap:
        assert snap.execute("SELECT count(*) FROM outcomes").fetchone()[0] == count(
            city, "SELECT count(*) FROM outcomes"
        )
    assert len(list(snapshots.folder(city).glob("*.duckdb"))) <= snapshots.KEEP


def test_readers_holding_a_snapshot_do_not_queue_behind_another_sessions_check(shared, city):
    first = snapshots.current(city)
    access.record(city, "head", "export", "x.csv")  # the file changed: the next read checks the store again
    check = snapshots._REFRESH[str(city.resolve())]
    with check:  # another session's check is under way
        assert snapshots.current(city) is first  # served at once, not after that check
    again = snapshots.current(city)  # the check, now: an audit row is no new version
    assert again.path == first.path and again.raw != first.raw


def test_cli_writers_wait_for_the_lock_instead_of_failing(city):
    child = hold_lock(city)
    threading.Timer(0.5, let_go, args=(child,)).start()
    con = store.connect(city, wait=30)  # waits until the holder lets go
    try:
        audit.record(con, "cli", "import", "x.csv")
    finally:
        con.close()
    child.wait(timeout=30)


def test_cli_writers_give_up_with_a_plain_message(city):
    child = hold_lock(city)
    try:
        with pytest.raises(store.StoreBusy):
            store.connect(city, wait=0.2)
    finally:
        let_go(child)


def test_pseudonyms_keep_the_stores_key_when_the_app_reads_a_snapshot(shared, city):
    from analytics import privacy

    cli_key = privacy.pseudonym_key(city)
    con = store.connect(city, read_only=True)  # the app: a cursor on the snapshot
    try:
        on_snapshot = con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()")
        assert snapshots.folder(city) in Path(on_snapshot.fetchone()[0]).parents
        assert privacy.pseudonym_key(con) == cli_key
    finally:
        con.close()
    assert not list(snapshots.folder(city).glob("*.secrets"))  # no second secret beside a snapshot
