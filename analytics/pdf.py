"""HTML to PDF through a real browser engine: headless Chromium's print-to-pdf.

The report and the appeal pack are HTML with print CSS (`@page` size and margins, running headers);
Chromium lays them out the way a user's browser prints them, CJK fonts included. Chromium runs with the
flags that keep it offline (no background networking, no component updates, no sync) and an empty
profile of its own, so it neither phones home nor touches a user's profile. `--virtual-time-budget`
lets the inlined Plotly scripts draw before the page is printed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from analytics.errors import UserError

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
OFFLINE_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--no-pdf-header-footer",
    "--run-all-compositor-stages-before-draw",
    "--virtual-time-budget=8000",
)
TIMEOUT_S = 180


class PdfEngineMissing(UserError):
    """No Chromium on this machine: the PDF cannot be made, the HTML still can."""


def find_chromium() -> str | None:
    """The Chromium to use: $KAOHE_CHROMIUM when set, else the first browser on PATH."""
    override = os.environ.get("KAOHE_CHROMIUM")
    if override:
        return override if Path(override).exists() else None
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def html_to_pdf(html: str) -> bytes:
    """Print `html` (a whole document, print CSS included) to PDF bytes with headless Chromium."""
    browser = find_chromium()
    if browser is None:
        raise PdfEngineMissing(
            "无法生成 PDF：本机未安装 Chromium 浏览器（管理员可执行 apt-get install chromium）；"
            "可先下载网页版报告，用浏览器“打印 → 另存为 PDF”。"
            " / Cannot make the PDF: Chromium is not installed on this machine (apt-get install chromium);"
            " download the HTML report and use the browser's Print → Save as PDF."
        )
    with tempfile.TemporaryDirectory(prefix="kaohe-pdf-") as tmp:
        page = Path(tmp) / "report.html"
        out = Path(tmp) / "report.pdf"
        page.write_text(html, encoding="utf-8")
        command = [
            browser,
            *OFFLINE_FLAGS,
            f"--user-data-dir={Path(tmp) / 'profile'}",
            f"--print-to-pdf={out}",
            page.as_uri(),
        ]
        try:
            done = subprocess.run(command, capture_output=True, timeout=TIMEOUT_S, check=False)
        except subprocess.TimeoutExpired as exc:
            raise UserError(f"生成 PDF 超时（{TIMEOUT_S} 秒）/ making the PDF took longer than {TIMEOUT_S} s") from exc
        if not out.exists() or out.stat().st_size == 0:
            tail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
            raise UserError(f"Chromium 未能生成 PDF（退出码 {done.returncode}）/ Chromium made no PDF: {tail[0][:200]}")
        return out.read_bytes()
