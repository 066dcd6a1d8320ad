"""Shared fixtures: sample exports, throwaway stores, and the demo city (built once per session)."""

from __future__ import annotations

from pathlib import Path

import pytest

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
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default demo city (seed 7), built once for the whole test session. Treat as read-only."""
    from analytics.demo import build_demo

    path = tmp_path_factory.mktemp("demo") / "demo.duckdb"
    build_demo(path, seed=7)
    return path
