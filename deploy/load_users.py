"""Users at once, each speaking Streamlit's own protocol: what the server must deliver, without a browser.

    python deploy/load_users.py http://127.0.0.1:8501 --users load00,load01 --password PW [--limit 90]
    python deploy/load_users.py http://127.0.0.1:8501 --count 20        # a page without login (the bare page)

prints one JSON list: each user's seconds, null for one that failed or ran past --limit. The benchmark
(analytics/bench/app_load.py) runs it as its own process: this file reads Streamlit's protocol classes,
and the analytics package never imports streamlit.

Twenty Chromium tabs on this 2-core machine cost more than the server they load (each tab spends about
3.5 s of CPU drawing the page, and a bare Streamlit page of the same shape takes 14 s for five tabs at
once), so the many-users figures would measure the browsers. Here each user is one websocket client
that does what the browser's script does: fetch the page (which sets nginx's sticky cookie), open
`/_stcore/stream`, ask for a run, fill in the login form and submit it, and wait until the server has sent
the overview's elements (5 metrics and 3 charts) and said the run finished. Every byte the server sends
is received and parsed; only the drawing is left out (the user's own machine does that).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import sys
import time
import urllib.request

READY_METRICS = 5
READY_CHARTS = 3
SUBMIT_LABELS = ("登录", "Log in")


def _page(http_base: str) -> str | None:
    """GET the page as a browser does first; the cookie nginx set (its sticky replica), if any."""
    with urllib.request.urlopen(f"{http_base}/", timeout=30) as reply:
        reply.read()
        cookie = reply.headers.get("Set-Cookie")
    return cookie.split(";", 1)[0] if cookie else None


class _Client:
    def __init__(self, ws, http_base: str):
        self.ws = ws
        self.url = f"{http_base}/"
        self.widgets: dict[str, str] = {}  # label -> widget id, as the server announced them
        self.elements: collections.Counter = collections.Counter()

    async def rerun(self, states: list[tuple[str, object]] = ()) -> None:
        from streamlit.proto.BackMsg_pb2 import BackMsg

        msg = BackMsg()
        state = msg.rerun_script
        state.query_string = ""
        state.context_info.locale = "zh-CN"
        state.context_info.timezone = "Asia/Shanghai"
        state.context_info.url = self.url
        for widget_id, value in states:
            widget = state.widget_states.widgets.add()
            widget.id = widget_id
            if value is True:
                widget.trigger_value = True
            else:
                widget.string_value = str(value)
        await self.ws.send(msg.SerializeToString())

    async def finished(self) -> None:
        """Read messages until the server says a run finished; count the elements and note the widgets."""
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        while True:
            msg = ForwardMsg()
            msg.ParseFromString(await self.ws.recv())
            kind = msg.WhichOneof("type")
            if kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
                element = msg.delta.new_element
                which = element.WhichOneof("type")
                self.elements[which] += 1
                body = getattr(element, which)
                if hasattr(body, "id") and hasattr(body, "label") and body.label:
                    self.widgets[body.label] = body.id
            elif kind == "script_finished":
                return

    def ready(self) -> bool:
        return self.elements["metric"] >= READY_METRICS and self.elements["plotly_chart"] >= READY_CHARTS


async def session(http_base: str, user: str | None, password: str, limit_s: float, runs: int = 8) -> float:
    """Seconds from the first request to the overview's elements all sent (logging in when `user` is given)."""
    import websockets

    started = time.perf_counter()
    cookie = await asyncio.to_thread(_page, http_base)
    ws_url = "ws" + http_base.removeprefix("http") + "/_stcore/stream"
    headers = {"Cookie": cookie} if cookie else {}

    async def run() -> float:
        async with websockets.connect(ws_url, subprotocols=["streamlit"], origin=http_base,
                                      additional_headers=headers, max_size=None) as ws:  # fmt: skip
            client = _Client(ws, http_base)
            await client.rerun()
            await client.finished()
            if user is not None:
                submit = next(v for k, v in client.widgets.items() if k in SUBMIT_LABELS)
                client.elements.clear()
                await client.rerun(
                    [(client.widgets["用户名"], user), (client.widgets["密码"], password), (submit, True)]
                )
            for _ in range(runs):  # the login's own reruns (to the overview) come without asking
                if client.ready():
                    return time.perf_counter() - started
                await client.finished()
            raise RuntimeError(f"no overview after {runs} runs: {dict(client.elements)}")

    return await asyncio.wait_for(run(), timeout=limit_s)


async def sessions(http_base: str, users: list[str | None], password: str, limit_s: float) -> list[float | None]:
    """All at once; None for a session that failed or ran past `limit_s` (after one warm-up session)."""
    with contextlib.suppress(Exception):  # the process's first page view loads its caches: kept out of the figures
        await session(http_base, users[0], password, limit_s)
    found = await asyncio.gather(*(session(http_base, u, password, limit_s) for u in users), return_exceptions=True)
    return [f if isinstance(f, float) else None for f in found]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Users at once against a Streamlit app, in its own protocol.")
    parser.add_argument("url", help="the app's address, e.g. http://127.0.0.1:8501")
    parser.add_argument("--users", default="", help="user names to log in as, comma-separated")
    parser.add_argument("--count", type=int, default=0, help="without --users: this many users, no login")
    parser.add_argument("--password", default="", help="every user's password")
    parser.add_argument("--limit", type=float, default=90.0, help="seconds before a session counts as failed")
    args = parser.parse_args(argv)
    users: list[str | None] = [u for u in args.users.split(",") if u] or [None] * args.count
    if not users:
        parser.error("give --users or --count")
    print(json.dumps(asyncio.run(sessions(args.url.rstrip("/"), users, args.password, args.limit))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
