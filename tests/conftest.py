"""Shared fixtures: sample exports, throwaway stores, and the demo city (built once per session)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

# The app's warm-up thread (pages/_ui/warm.py) is for a server's first visitor; AppTest runs many stores in one
# process, so it stays off here and tests/test_app.py checks it on its own.
os.environ.setdefault("KAOHE_WARM", "0")

SAMPLES = Path(__file__).parent / "samples"


@pytest.fixture
def samples() -> Path:
    """Small real-looking exports copied from shared/samples (see tests/samples/README.md)."""
    return SAMPLES


@pytest.fixture
def tmp_db(tmp_path: Path) -> Path:
    """Path of a store that does not exist yet."""
    return tmp_path / "store.duckdb"


@pytest.fixture(scope="session")
def _demo_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default demo city (seed 7) as built, once per test session; only ever copied."""
    from analytics.demo import build_demo

    path = tmp_path_factory.mktemp("demo-build") / "demo.duckdb"
    build_demo(path, seed=7)
    return path


@pytest.fixture(scope="session")
def demo_db(_demo_build: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo city shared by the session's tests. Treat as read-only; the app tests that open it
    still write audit rows and its stored flags into it (use `demo_city` to see the store as built)."""
    path = tmp_path_factory.mktemp("demo") / "demo.duckdb"
    shutil.copyfile(_demo_build, path)
    return path


@pytest.fixture
def demo_city(_demo_build: Path, tmp_path: Path) -> Path:
    """A private copy of the demo city exactly as built (no stored flags, no audit rows), free to change."""
    path = tmp_path / "city.duckdb"
    shutil.copyfile(_demo_build, path)
    return path


@pytest.fixture(autouse=True)
def _one_test_one_process_kind():
    """An AppTest runs app.py in this process, which declares it the app's kind (analytics.store.share_connections);
    the next test in the same worker starts as a CLI process again, with no snapshot instances left open."""
    yield
    from analytics import snapshots, store, write_queue

    assert write_queue.WRITES.flush(timeout=60), "queued store writes still pending after the test"
    store.share_connections(False)
    snapshots.forget()
