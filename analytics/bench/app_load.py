"""The app as its users meet it, timed in a headless browser (Debian's Chromium driven by Playwright).

- cold start: from `streamlit run` (a new process) to the first page drawn with its 5 metrics and 3
  charts, for a bare Streamlit page of 5 metrics + 3 Plotly charts (the floor) and for our overview;
- simultaneous logins: N users log in at once and open the overview on one process; each one's time from
  the first request to the overview's elements all sent. The users speak Streamlit's protocol
  (deploy/load_users.py), since N Chromium tabs on this machine would measure the browsers; a bare
  page of the same shape is the floor, and a run of browser tabs shows what the same machine draws;
- replicas: the same behind nginx (deploy/nginx.conf's sticky-cookie upstream) with 1 and 3 Streamlit
  processes reading the store's snapshots, p50 / p95 against the number of users.

The store is copied first (the copy gets login accounts and required login), so the province stays as it was.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from analytics import store

CHROMIUM = Path("/usr/bin/chromium")
PASSWORD = "Kaohe-load-2026!"
READY_METRICS = 5
READY_CHARTS = 3
START_LIMIT_S = 180.0

# The floor: a bare Streamlit page shaped like the overview (deploy/bare_page.py; this package never imports streamlit).
BARE_PAGE = (Path(__file__).resolve().parents[2] / "deploy" / "bare_page.py").read_text(encoding="utf-8")
LOAD_USERS = Path(__file__).resolve().parents[2] / "deploy" / "load_users.py"  # users speaking Streamlit's protocol


def available() -> str | None:
    """Why the app measurements cannot run here, or None."""
    if not CHROMIUM.exists():
        return "no /usr/bin/chromium (apt-get install chromium)"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "playwright is not installed"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(script: Path, port: int, env: dict, log: Path) -> subprocess.Popen:
    """`streamlit run script` on 127.0.0.1:port (headless, no usage statistics)."""
    command = [sys.executable, "-m", "streamlit", "run", str(script), "--server.port", str(port),
               "--server.headless", "true", "--server.address", "127.0.0.1",
               "--browser.gatherUsageStats", "false"]  # fmt: skip
    out = open(log, "ab")  # noqa: SIM115 (the child keeps it)
    proc = subprocess.Popen(command, cwd=store.PROJECT_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    out.close()
    return proc


def wait_healthy(base: str, proc: subprocess.Popen | None = None, limit: float = START_LIMIT_S) -> None:
    deadline = time.monotonic() + limit
    while True:
        try:
            if urllib.request.urlopen(f"{base}/_stcore/health", timeout=1).status == 200:
                return
        except OSError:
            pass
        if time.monotonic() > deadline or (proc is not None and proc.poll() is not None):
            raise RuntimeError(f"no server answered at {base}")
        time.sleep(0.05)


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# ----------------------------------------------------------------------------- browser sessions


async def _launch(pw):
    return await pw.chromium.launch(
        executable_path=str(CHROMIUM),
        args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-sync"],
    )


async def _drawn(page, limit_s: float) -> None:
    """Until the page shows its 5 metrics and 3 charts."""
    await page.wait_for_function(
        f"document.querySelectorAll('[data-testid=\"stMetric\"]').length >= {READY_METRICS} && "
        f"document.querySelectorAll('.js-plotly-plot').length >= {READY_CHARTS}",
        timeout=limit_s * 1000,
    )


async def _session(browser, url: str, user: str | None, limit_s: float) -> float:
    """One user: open the address, log in when asked, until the overview is drawn; seconds taken."""
    context = await browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN")
    page = await context.new_page()
    started = time.perf_counter()
    try:
        await page.goto(url, timeout=limit_s * 1000)
        if user is not None:
            await page.get_by_label("用户名").fill(user, timeout=limit_s * 1000)
            await page.get_by_label("密码").fill(PASSWORD)
            await page.locator('[data-testid="stFormSubmitButton"] button').click()
        await _drawn(page, limit_s)
        return time.perf_counter() - started
    finally:
        await context.close()


async def _sessions(url: str, users: list[str | None], limit_s: float) -> list[float | None]:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await _launch(pw)
        try:
            await _session(browser, url, None if users[0] is None else users[0], limit_s)  # warm the browser
            found = await asyncio.gather(*(_session(browser, url, u, limit_s) for u in users), return_exceptions=True)
        finally:
            await browser.close()
    return [f if isinstance(f, float) else None for f in found]


async def _cold(script: Path, env: dict, log: Path, user: str | None, limit_s: float) -> float:
    """Seconds from starting the server process to the first page drawn (the browser is started before)."""
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await _launch(pw)
        try:
            port = _free_port()
            base = f"http://127.0.0.1:{port}"
            started = time.perf_counter()
            proc = serve(script, port, env, log)
            try:
                await asyncio.to_thread(wait_healthy, base, proc)
                healthy = time.perf_counter() - started
                return healthy + await _session(browser, base, user, limit_s)
            finally:
                stop(proc)
        finally:
            await browser.close()


# ----------------------------------------------------------------------------- the store and servers


def prepare_store(db: Path, folder: Path, users: int) -> tuple[Path, Path]:
    """A copy of the store with `users` inspector accounts and login required; (store, settings file)."""
    from analytics import auth

    folder.mkdir(parents=True, exist_ok=True)
    copy = folder / "app.duckdb"
    for stale in (copy, Path(str(copy) + ".wal")):
        stale.unlink(missing_ok=True)
    shutil.rmtree(folder / "snapshots", ignore_errors=True)
    shutil.copyfile(db, copy)
    con = store.connect(copy)
    try:
        for i in range(users):
            auth.add_user(con, f"load{i:02d}", "inspector", PASSWORD, None)
    finally:
        con.close()
    settings = folder / "settings.toml"
    text = (
        (store.PROJECT_ROOT / "settings.toml").read_text(encoding="utf-8")
        if (store.PROJECT_ROOT / "settings.toml").exists()
        else ""
    )
    if "[auth]" not in text:
        text += "\n[auth]\nrequired = true\n"
    settings.write_text(text, encoding="utf-8")
    return copy, settings


def compute_flags(db: Path, settings_file: Path) -> float:
    """What the app's background run does after an import, untimed by the page: from a snapshot of the new
    data, store the flags (and leave the dataset and the flags' snapshot ready for the next process)."""
    from analytics import snapshots

    started = time.perf_counter()
    source = snapshots.current(db).path
    subprocess.run([sys.executable, "-m", "analytics", "flags", "--refresh", "--quiet", "--db", str(db),
                    "--from-snapshot", str(source), "--settings", str(settings_file)],
                   check=True, cwd=store.PROJECT_ROOT)  # fmt: skip
    return time.perf_counter() - started


def nginx_config(ports: list[int], listen: int, folder: Path) -> Path:
    """deploy/nginx.conf's upstream and proxy, on loopback, running from `folder` (no root paths)."""
    template = (store.PROJECT_ROOT / "deploy" / "nginx.conf").read_text(encoding="utf-8")
    servers = "\n".join(f"        server 127.0.0.1:{p};" for p in ports)
    body = template.split("# --- http block ---", 1)[1]
    body = body.replace("        # REPLICAS\n", servers + "\n").replace("listen 80;", f"listen 127.0.0.1:{listen};")
    text = (f"worker_processes 2;\npid {folder}/nginx.pid;\nerror_log {folder}/error.log;\n"
            f"events {{ worker_connections 1024; }}\nhttp {{\n  access_log off;\n"
            f"  client_body_temp_path {folder}/body; proxy_temp_path {folder}/proxy;\n"
            f"  fastcgi_temp_path {folder}/fastcgi; uwsgi_temp_path {folder}/uwsgi; scgi_temp_path {folder}/scgi;\n"
            f"{body}\n}}\n")  # fmt: skip
    conf = folder / "nginx.conf"
    conf.write_text(text, encoding="utf-8")
    return conf


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q * (len(ordered) - 1))))
    return ordered[k]


def _summary(times: list[float | None]) -> dict:
    done = [t for t in times if t is not None]
    return {"users": len(times), "failed": len(times) - len(done),
            "p50_s": round(statistics.median(done), 2) if done else None,
            "p95_s": round(_percentile(done, 0.95), 2) if done else None,
            "slowest_s": round(max(done), 2) if done else None}  # fmt: skip


def _protocol_row(url: str, n: int, page: str, replicas: int, proxy: bool, limit_s: float) -> dict:
    """n users at once speaking Streamlit's protocol (deploy/load_users.py, its own process): what the server delivers."""
    who = ["--users", ",".join(f"load{i:02d}" for i in range(n))] if page == "ours" else ["--count", str(n)]
    done = subprocess.run([sys.executable, str(LOAD_USERS), url, *who, "--password", PASSWORD, "--limit", str(limit_s)],
                          capture_output=True, text=True, timeout=limit_s * 3, check=True)  # fmt: skip
    times = json.loads(done.stdout)
    return {"client": "protocol", "page": page, "replicas": replicas, "proxy": proxy, **_summary(times)}


def _browser_row(url: str, n: int, page: str, limit_s: float) -> dict:
    """n Chromium tabs at once on this machine: the server and the browsers share its cores."""
    names = [f"load{i:02d}" for i in range(n)] if page == "ours" else [None] * n
    times = asyncio.run(_sessions(url, names, limit_s))
    return {"client": "browser", "page": page, "replicas": 1, "proxy": False, **_summary(times)}


def _one_process(script: Path, env: dict, server_log: Path, page: str, users, limit_s: float, log) -> list[dict]:
    """One Streamlit process, no proxy (#14's "many users at once"): protocol clients, then browser tabs."""
    port = _free_port()
    proc = serve(script, port, env, server_log)
    rows = []
    try:
        url = f"http://127.0.0.1:{port}"
        wait_healthy(url, proc)
        for n in users:
            rows.append(_protocol_row(url, n, page, 1, False, limit_s))
            log(f"  app ({page}): {n} users at once, one process: p50 {rows[-1]['p50_s']} s, "
                f"slowest {rows[-1]['slowest_s']} s, failed {rows[-1]['failed']}")  # fmt: skip
        rows.append(_browser_row(url, min(users), page, limit_s))
        log(
            f"  app ({page}): {min(users)} browser tabs at once: p50 {rows[-1]['p50_s']} s, slowest {rows[-1]['slowest_s']} s"
        )
    finally:
        stop(proc)
    return rows


def run_app_bench(db: Path, workdir: Path, users=(10, 20), replicas=(1, 3), limit_s: float = 90.0, log=print) -> dict:
    """Cold start (bare page vs ours), simultaneous logins, and 1 vs 3 replicas behind nginx."""
    why = available()
    if why:
        return {"skipped": why}
    folder = workdir / "app"
    most = max(users)
    copy, settings_file = prepare_store(Path(db), folder, most)
    env = dict(os.environ, KAOHE_DB=str(copy), KAOHE_SETTINGS=str(settings_file))
    out: dict = {"store": str(db)}
    out["flags_s"] = round(compute_flags(copy, settings_file), 1)
    log(f"  app: flags stored in {out['flags_s']} s")
    bare = folder / "bare_page.py"
    bare.write_text(BARE_PAGE, encoding="utf-8")
    ours = store.PROJECT_ROOT / "app.py"
    server_log = folder / "servers.log"
    out["cold_bare_s"] = round(asyncio.run(_cold(bare, env, server_log, None, limit_s)), 2)
    out["cold_ours_s"] = round(asyncio.run(_cold(ours, env, server_log, "load00", limit_s)), 2)
    out["cold_ratio"] = round(out["cold_ours_s"] / out["cold_bare_s"], 2)
    log(f"  app: first page after start: bare {out['cold_bare_s']} s, ours {out['cold_ours_s']} s")
    out["logins"] = [*_one_process(bare, env, server_log, "bare", users, limit_s, log),
                     *_one_process(ours, env, server_log, "ours", users, limit_s, log)]  # fmt: skip
    out["replicas"] = []
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    for count in replicas:
        if nginx is None:
            out["replicas"].append({"replicas": count, "skipped": "nginx is not installed (apt-get install nginx)"})
            continue
        out["replicas"].extend(_behind_nginx(nginx, ours, env, server_log, folder, count, users, limit_s, log))
    return out


def _behind_nginx(nginx: str, script: Path, env: dict, server_log: Path, folder: Path, count: int, users,
                  limit_s: float, log) -> list[dict]:  # fmt: skip
    """`count` replicas behind deploy/nginx.conf's sticky-cookie upstream: p50 / p95 against the users at once."""
    ports = [_free_port() for _ in range(count)]
    procs = [serve(script, p, env, server_log) for p in ports]
    proxy = None
    rows = []
    try:
        for p, proc in zip(ports, procs, strict=True):
            wait_healthy(f"http://127.0.0.1:{p}", proc)
        listen = _free_port()
        nfolder = folder / f"nginx{count}"
        shutil.rmtree(nfolder, ignore_errors=True)
        nfolder.mkdir(parents=True)
        conf = nginx_config(ports, listen, nfolder)
        proxy = subprocess.Popen([nginx, "-c", str(conf), "-p", str(nfolder), "-g", "daemon off;"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)  # fmt: skip
        url = f"http://127.0.0.1:{listen}"
        wait_healthy(url, proxy, limit=20)
        for n in users:
            rows.append(_protocol_row(url, n, "ours", count, True, limit_s))
            log(f"  app: {count} replica(s) behind nginx, {n} users: p50 {rows[-1]['p50_s']} s, "
                f"p95 {rows[-1]['p95_s']} s, failed {rows[-1]['failed']}")  # fmt: skip
    finally:
        if proxy is not None:
            stop(proxy)
        for proc in procs:
            stop(proc)
    return rows
