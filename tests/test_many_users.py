"""Many users at once on one app process (#14 item 5): users log in together and all get the overview.

Each user is a client speaking Streamlit's protocol (deploy/load_users.py): it fills in the login form,
submits it, and waits for every element of the overview. Before the fix, 3 of 10 such logins got DuckDB's
"Unique file handle conflict" (one session opening the store while another closed it) and the page broke.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from analytics import access, store
from analytics.bench import app_load

USERS = 8


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    from analytics.demo import build_demo

    folder = tmp_path_factory.mktemp("many")
    demo = folder / "demo.duckdb"
    build_demo(demo, persons=600, seed=3)
    db, settings = app_load.prepare_store(demo, folder / "app", USERS)  # accounts load00.., login required
    env = dict(os.environ, KAOHE_DB=str(db), KAOHE_SETTINGS=str(settings))
    log = folder / "server.log"
    port = app_load._free_port()
    proc = app_load.serve(store.PROJECT_ROOT / "app.py", port, env, log)
    try:
        app_load.wait_healthy(f"http://127.0.0.1:{port}", proc, limit=90)
        yield {"url": f"http://127.0.0.1:{port}", "db": db, "log": log}
    finally:
        app_load.stop(proc)


def _users_at_once(url: str, names: list[str]) -> list[float | None]:
    done = subprocess.run(
        [sys.executable, str(app_load.LOAD_USERS), url, "--users", ",".join(names), "--password", app_load.PASSWORD,
         "--limit", "150"],
        capture_output=True, text=True, timeout=400, check=True,
    )  # fmt: skip
    return json.loads(done.stdout)


def test_users_logging_in_at_once_all_get_the_overview_and_are_audited(app):
    names = [f"load{i:02d}" for i in range(USERS)]
    times = _users_at_once(app["url"], names)
    assert len(times) == USERS and all(isinstance(t, float) and t > 0 for t in times), times
    text = app["log"].read_text(encoding="utf-8", errors="replace")
    assert "Traceback" not in text and "Unique file handle conflict" not in text
    logins = access.read_audit(app["db"], None, "login")
    # the warm-up session logs in as the first user, then every user once
    assert sorted(logins["user_name"].to_list()) == sorted([names[0], *names])
