"""End to end, as a unit's clerk would do it: the assignment mail arrives (real SMTP server on
loopback), its link opens the intake page in headless Chromium (Debian's package, driven by
Playwright), a PDF is uploaded, and `cchc items` shows the item closed. Every part is real: the
CLI, `cchc serve-intake` as its own process, SMTP, the browser."""

from __future__ import annotations

import hashlib
import json
import re
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from intake_support import SECRET, pdf_bytes
from support import CHROMIUM, cli_env, launch_chromium, run_cchc_process
from test_mail_support import running_smtp_server

from schedules.dates import local_date

LINK = re.compile(r"http://127\.0\.0\.1:\d+/items/\d+/[A-Za-z0-9_.\-]+")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="Debian's chromium is not installed (.ci/run installs it)"
    ),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def env(tmp_path, sqlite_url):
    return cli_env(
        tmp_path / "data",
        sqlite_url,
        CCHC_SECRET=SECRET,
        CCHC_PUBLIC_URL=f"http://127.0.0.1:{free_port()}",
    )


def cchc(env, *args: str) -> str:
    return run_cchc_process(env, *args).stdout


@pytest.fixture
def intake_server(env, tmp_path):
    port = str(httpx.URL(env["CCHC_PUBLIC_URL"]).port)
    log = open(tmp_path / "intake.log", "wb")  # noqa: SIM115  (closed below)
    server = subprocess.Popen(
        [sys.executable, "-m", "cchc.cli", "serve-intake", "--port", port],
        env=env | {"PYTHONUNBUFFERED": "1"},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = env["CCHC_PUBLIC_URL"]
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, (tmp_path / "intake.log").read_text()
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "intake server did not answer"
            time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=20)
        log.close()


def test_a_clerk_opens_the_mail_link_and_uploads_a_pdf(plan, env, intake_server, tmp_path):
    from playwright.sync_api import sync_playwright

    today = local_date(datetime.now(UTC), plan.zone)
    due = plan.calendar.next_working_day(today + timedelta(days=14))
    left = plan.calendar.working_days_between(today, due)
    with running_smtp_server() as smtp:
        mail_env = {**env, "CCHC_SMTP_HOST": "127.0.0.1", "CCHC_SMTP_PORT": str(smtp.port)}
        opened = cchc(
            mail_env, "open", "--obligation", "nhiem-vu-dot-xuat", "--unit", "VP",
            "--due", due.isoformat(),
        )  # fmt: skip
        item_id = int(re.search(r"Nhiệm vụ số (\d+)", opened).group(1))
        cchc(mail_env, "send")
        [mail] = [m for m in smtp.inbox.for_item(item_id) if m.kind == "opened"]
    assert mail.rcpt_tos == ["vanphong@maodien.example"]
    [link] = set(LINK.findall(mail.text))
    assert link.startswith(f"{intake_server}/items/{item_id}/")
    assert link in mail.html

    data = pdf_bytes("Bao cao dot xuat")
    upload = tmp_path / "Báo cáo đột xuất.pdf"
    upload.write_bytes(data)
    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            page = browser.new_page(viewport={"width": 390, "height": 844}, locale="vi-VN")
            page.goto(link)
            assert "Nhiệm vụ CCHC đột xuất" in page.locator("h1").inner_text()
            assert f"còn {left:02d} ngày làm việc" in page.locator(".countdown").inner_text()
            page.set_input_files("#files", str(upload))
            page.fill("#note", "Kính gửi Phòng Văn hóa - Xã hội")
            page.get_by_role("button", name="Nộp sản phẩm").click()
            page.wait_for_url(re.compile(r".*/v/1$"))
            assert page.get_by_role("heading", name="Biên nhận sản phẩm").is_visible()
            receipt = page.content()
            page.screenshot(path=str(tmp_path / "receipt.png"), full_page=True)
        finally:
            browser.close()
    assert hashlib.sha256(data).hexdigest() in receipt
    assert "Báo cáo đột xuất.pdf" in receipt

    items = json.loads(cchc(env, "items", "--format", "json"))
    [row] = [i for i in items if i["id"] == item_id]
    assert (row["status"], row["on_time"]) == ("closed", True)

    access_log = (tmp_path / "intake.log").read_text()
    assert f"/items/{item_id}/…" in access_log  # the requests are logged,
    assert link.rsplit("/", 1)[1] not in access_log  # their tokens are not
