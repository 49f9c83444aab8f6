"""Mail delivery throughput: cchc's delivery against a bare aiosmtplib loop.

Against one local aiosmtpd sink (a separate process, so it does not share our GIL):

1. cchc: N pending outbox rows (open items of the shipped plan, five steps each) delivered by
   `notifications.delivery.deliver_pending` — claim, render from the templates, build (with the
   signed upload link production mails carry: the settings hold a link-signing secret), send
   over `--connections` SMTP connections (default: cchc's default, 3), record each outcome;
2. bare: the same N messages, built beforehand, sent by as many plain loops as connections,
   each over its own aiosmtplib connection, taking the next message when free; nothing
   recorded.

After a warm-up (a few hundred messages each way), it runs `--pairs` pairs of the two, in
alternating order (cchc first, then bare first, ...), resetting the outbox rows to pending before
each cchc run. Prints messages per second for both, each pair's ratio (cchc / bare) and the
min / median / max of the ratios (target, issue 25: median >= 0.9, min >= 0.8). `--json` prints
one JSON object instead: `messages`, `database`, `cchc_rate`, `bare_rate`, `ratio` (the medians),
`ratio_min`, `ratio_median`, `ratio_max`, `ratios`, `cchc_rates`, `bare_rates`, `connections`,
`target`, `target_min`, `met`, `load`.

    .venv/bin/python bench/notify.py [--messages 3000] [--pairs 3] [--database-url URL]
                                     [--sink-port PORT] [--connections N] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import aiosmtplib
from sqlalchemy import select, update

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scratch import scratch_database  # noqa: E402  (bench/scratch.py)

from cchc.runtime.settings import IntakeSettings, Settings  # noqa: E402
from models.db import ensure_schema, make_engine, transaction  # noqa: E402
from models.tables import Outbox, WorkItem  # noqa: E402
from notifications.compose import Composer  # noqa: E402
from notifications.delivery import deliver_pending  # noqa: E402
from notifications.facts import load_facts  # noqa: E402
from notifications.links import intake_linker  # noqa: E402
from notifications.smtp_settings import CONNECTIONS, SmtpSettings  # noqa: E402
from schedules.dates import local_instant  # noqa: E402
from schedules.plan_loader import load_plan  # noqa: E402
from schedules.vocabulary import OutboxStatus  # noqa: E402

STEPS = (("opened", "opened"), ("reminder-5", "reminder"), ("reminder-2", "reminder"),
         ("due", "due"), ("overdue", "overdue"))  # fmt: skip
AT = datetime(2027, 3, 2, 1, 0, tzinfo=UTC)
LATER = AT + timedelta(days=365)
SECRET = "bench-notify-link-secret-0123456789"
"""Signs the upload links, as CCHC_SECRET does in production."""
TARGET = 0.9
"""Issue 25, goal 2: the median ratio cchc / bare loop, on both databases."""
TARGET_MIN = 0.8
"""... and its minimum."""
WARMUP = 500
"""Messages sent each way before the measured pairs (template compilation, connections)."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_sink(port: int) -> subprocess.Popen:
    """aiosmtpd's Sink handler (accepts and drops every message) in its own process."""
    try:
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))
    except OSError as exc:
        raise SystemExit(f"--sink-port {port}: cannot listen there ({exc})") from None
    proc = subprocess.Popen(
        [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}",
         "-c", "aiosmtpd.handlers.Sink"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit(f"aiosmtpd sink did not start on port {port}")


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
    if engine.dialect.name == "postgresql":
        # As autovacuum would (bench/sweep.py does the same): without statistics the planner
        # joins the claim query's 5 000 pending rows to work_item by a scan each, 0.2 s a chunk.
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE work_item")
            conn.exec_driver_sql("ANALYZE outbox")


def reset(engine, due: int | None = None) -> int:
    """Every row pending again, as seeded; only the first `due` (by id) due at AT, the others
    later. Returns how many rows are due."""
    with transaction(engine) as session:
        ids = session.execute(select(Outbox.id).order_by(Outbox.id)).scalars().all()
        session.execute(
            update(Outbox).values(
                status=OutboxStatus.PENDING,
                attempts=0,
                sent_at=None,
                last_error=None,
                claimed_until=None,
                claim_token=None,
                send_after=AT,
            )
        )
        if due is not None and due < len(ids):
            session.execute(update(Outbox).where(Outbox.id > ids[due - 1]).values(send_after=LATER))
            return due
    return len(ids)


def prebuilt(plan, engine, settings) -> tuple[list, str]:
    """The messages cchc sends (same sender, same signed links), built outside any timing: what
    the bare loop sends."""
    composer = Composer(plan, settings.smtp.sender, link=intake_linker(settings))
    with transaction(engine) as session:
        rows = list(session.execute(select(Outbox).order_by(Outbox.id)).scalars())
        facts = load_facts(session, rows)
    mails = [composer.for_row(r, facts, AT) for r in rows]
    text = mails[0].message.get_body(("plain",)).get_content()
    assert f"{settings.intake.base_url}/items/" in text, "the mails carry no upload link"
    return mails, composer.sender.addr_spec


def time_cchc(plan, engine, settings, due: int | None = None) -> tuple[int, float]:
    expected = reset(engine, due)
    start = time.perf_counter()
    report = deliver_pending(plan, engine, settings, AT)
    seconds = time.perf_counter() - start
    assert report.messages == expected and not report.retrying and not report.failed, report
    return expected, seconds


async def bare_loop(port: int, mails, sender: str, connections: int = 1) -> float:
    """The prebuilt `mails` sent by `connections` plain loops at once, each over its own
    aiosmtplib connection, each taking the next mail when it is free."""
    start = time.perf_counter()
    queue = iter(mails)

    async def one_connection() -> None:
        async with aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False) as smtp:
            for mail in queue:
                await smtp.send_message(mail.message, sender=sender, recipients=[mail.to, *mail.cc])

    await asyncio.gather(*(one_connection() for _ in range(connections)))
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--pairs", type=int, default=3, help="measured cchc/bare pairs")
    parser.add_argument(
        "--database-url",
        default=None,
        help="postgresql://user@host/db: create a scratch database there (default: SQLite)",
    )
    parser.add_argument("--sink-port", type=int, default=None, help="default: a free port")
    parser.add_argument(
        "--connections",
        type=int,
        default=CONNECTIONS,
        help=f"SMTP connections, for cchc and the bare loop alike (default {CONNECTIONS})",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    if args.messages < 1 or args.pairs < 1:
        parser.error("--messages and --pairs must be at least 1")
    plan = load_plan(ROOT / "config")
    load_average = os.getloadavg()[0]
    port = args.sink_port or free_port()
    sink = start_sink(port)
    cchc_rates: list[float] = []
    bare_rates: list[float] = []
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
                smtp=SmtpSettings(
                    host="127.0.0.1", port=port, timeout=30, connections=args.connections
                ),
                intake=IntakeSettings(secret=SECRET, single_machine=True),  # sink on loopback
            )
            mails, sender = prebuilt(plan, engine, settings)
            warm = min(WARMUP, len(mails))
            time_cchc(plan, engine, settings, warm)
            asyncio.run(bare_loop(port, mails[:warm], sender, args.connections))
            for pair in range(args.pairs):
                for which in ("cchc", "bare") if pair % 2 == 0 else ("bare", "cchc"):
                    if which == "cchc":
                        n, seconds = time_cchc(plan, engine, settings)
                        cchc_rates.append(n / seconds)
                    else:
                        seconds = asyncio.run(bare_loop(port, mails, sender, args.connections))
                        bare_rates.append(len(mails) / seconds)
            engine.dispose()
    finally:
        sink.terminate()
        sink.wait(5)
    ratios = [c / b for c, b in zip(cchc_rates, bare_rates, strict=True)]
    db = "sqlite" if url.startswith("sqlite") else url.split("://", 1)[0].split("+")[0]
    result = {
        "messages": args.messages,
        "database": db,
        "pairs": args.pairs,
        "connections": args.connections,
        "cchc_rate": round(statistics.median(cchc_rates), 1),
        "bare_rate": round(statistics.median(bare_rates), 1),
        "ratio": round(statistics.median(ratios), 3),
        "ratio_min": round(min(ratios), 3),
        "ratio_median": round(statistics.median(ratios), 3),
        "ratio_max": round(max(ratios), 3),
        "ratios": [round(r, 3) for r in ratios],
        "cchc_rates": [round(r, 1) for r in cchc_rates],
        "bare_rates": [round(r, 1) for r in bare_rates],
        "target": TARGET,
        "target_min": TARGET_MIN,
        "met": statistics.median(ratios) >= TARGET and min(ratios) >= TARGET_MIN,
        "load": round(load_average, 2),
    }
    if args.json:
        print(json.dumps(result))
        return
    print(f"messages:  {args.messages} to a local aiosmtpd sink, outbox in {db}, signed links")
    for i, (c, b, r) in enumerate(zip(cchc_rates, bare_rates, ratios, strict=True), 1):
        print(f"pair {i}:    cchc {c:6.0f} msg/s, bare loop {b:6.0f} msg/s, ratio {r:.2f}")
    print(f"cchc:      {result['cchc_rate']:8.0f} msg/s median (claim, render, send, record)")
    print(
        f"bare loop: {result['bare_rate']:8.0f} msg/s median (prebuilt messages, "
        f"{args.connections} connection(s))"
    )
    print(
        f"ratio:     min {min(ratios):.2f}, median {statistics.median(ratios):.2f}, "
        f"max {max(ratios):.2f}  (target: median >= {TARGET}, min >= {TARGET_MIN}: "
        f"{'met' if result['met'] else 'NOT met'}; load average {load_average:.2f})"
    )


if __name__ == "__main__":
    main()
