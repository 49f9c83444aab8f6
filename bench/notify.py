"""Mail delivery throughput: cchc's delivery against a bare aiosmtplib loop.

In one run, against one local aiosmtpd sink (a separate process, so it does not share our GIL):

1. cchc: N pending outbox rows (open items of the shipped plan, five steps each) delivered by
   `notifications.delivery.deliver_pending` — claim, render from the templates, build, send
   over one SMTP connection, record each outcome in the database;
2. bare: the same N messages, built beforehand, sent by a plain loop over one aiosmtplib
   connection, nothing recorded.

Prints messages per second for both and their ratio (target: cchc >= 0.5 of the bare loop).

    .venv/bin/python bench/notify.py [--messages 5000] [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import aiosmtplib
from sqlalchemy import select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scratch import scratch_database  # noqa: E402  (bench/scratch.py)

from flows.settings import Settings  # noqa: E402
from models.db import ensure_schema, make_engine, transaction  # noqa: E402
from models.tables import Outbox, WorkItem  # noqa: E402
from notifications.compose import Composer, load_facts  # noqa: E402
from notifications.delivery import deliver_pending  # noqa: E402
from notifications.smtp import SmtpSettings  # noqa: E402
from schedules.dates import local_instant  # noqa: E402
from schedules.plan import load_plan  # noqa: E402

STEPS = (("opened", "opened"), ("reminder-5", "reminder"), ("reminder-2", "reminder"),
         ("due", "due"), ("overdue", "overdue"))  # fmt: skip
AT = datetime(2027, 3, 2, 1, 0, tzinfo=UTC)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_sink(port: int) -> subprocess.Popen:
    """aiosmtpd's Sink handler (accepts and drops every message) in its own process."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}",
         "-c", "aiosmtpd.handlers.Sink"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("aiosmtpd sink did not start")


def seed(plan, engine, messages: int) -> None:
    """Open items (KT's periodic report, one per fake period) and their pending rows."""
    items = (messages + len(STEPS) - 1) // len(STEPS)
    ob = plan.obligations["bao-cao-cchc-dinh-ky"]
    units = [u for u in plan.units.values() if u.in_all]
    opened_at = local_instant(date(2027, 3, 2), plan.commune.sweep_time, plan.zone)
    with transaction(engine) as session:
        rows = [
            WorkItem(
                commune=plan.commune.code,
                obligation=ob.id,
                unit=units[i % len(units)].code,
                period=f"bench-{i:05d}",
                title=ob.title,
                window_start=date(2026, 12, 15),
                window_end=date(2027, 3, 14),
                opens_on=date(2027, 3, 2),
                due=date(2027, 3, 16),
                status="open",
                step="opened",
                opened_at=opened_at,
                next_action_at=opened_at + timedelta(days=365),
            )
            for i in range(items)
        ]
        session.add_all(rows)
        session.flush()
        outbox = []
        for item in rows:
            for step, kind in STEPS:
                if len(outbox) < messages:
                    outbox.append(
                        Outbox(
                            item_id=item.id,
                            step=step,
                            kind=kind,
                            recipient=str(plan.units[item.unit].email),
                            cc=[],
                            created_at=AT,
                            send_after=AT,
                        )
                    )
        session.add_all(outbox)


def prebuilt(plan, engine) -> list:
    """The same messages cchc sent, built again outside the timing: what the bare loop sends."""
    composer = Composer(plan)
    with transaction(engine) as session:
        rows = list(session.execute(select(Outbox).order_by(Outbox.id)).scalars())
        facts = load_facts(session, rows)
    return [composer.for_row(r, facts, AT) for r in rows], composer.sender.addr_spec


async def bare_loop(port: int, mails, sender: str) -> float:
    start = time.perf_counter()
    async with aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False) as smtp:
        for mail in mails:
            await smtp.send_message(mail.message, sender=sender, recipients=[mail.to, *mail.cc])
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument(
        "--database-url",
        default=None,
        help="postgresql://user@host/db: create a scratch database there (default: SQLite)",
    )
    args = parser.parse_args()
    plan = load_plan(ROOT / "config")
    port = free_port()
    sink = start_sink(port)
    try:
        with (
            tempfile.TemporaryDirectory() as tmp,
            scratch_database(args.database_url) as url,
        ):
            engine = make_engine(url)
            ensure_schema(engine)
            seed(plan, engine, args.messages)
            settings = Settings(
                config_dir=ROOT / "config",
                data_dir=Path(tmp),
                database_url=url,
                smtp=SmtpSettings(host="127.0.0.1", port=port, timeout=30),
            )
            start = time.perf_counter()
            report = deliver_pending(plan, engine, settings, AT)
            cchc_s = time.perf_counter() - start
            assert report.messages == args.messages and not report.retrying, report
            mails, sender = prebuilt(plan, engine)
            bare_s = asyncio.run(bare_loop(port, mails, sender))
            engine.dispose()
    finally:
        sink.terminate()
        sink.wait(5)
    cchc_rate = args.messages / cchc_s
    bare_rate = len(mails) / bare_s
    ratio = cchc_rate / bare_rate
    db = "sqlite" if url.startswith("sqlite") else url.split("://", 1)[0]
    print(f"messages:  {args.messages} to a local aiosmtpd sink, outbox in {db}")
    print(f"cchc:      {cchc_rate:8.0f} msg/s  ({cchc_s:.2f} s: claim, render, send, record)")
    print(f"bare loop: {bare_rate:8.0f} msg/s  ({bare_s:.2f} s: prebuilt messages, one connection)")
    print(f"ratio:     {ratio:8.2f}  (target >= 0.50: {'met' if ratio >= 0.5 else 'NOT met'})")


if __name__ == "__main__":
    main()
