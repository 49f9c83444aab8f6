"""Delivery: turn due outbox rows into mails, send them, record what happened.

Guarantees, with the outbox as the only state:
- nothing is lost: a row stays `pending` until a server accepted it (or refused it for good);
- nothing is sent twice, however many deliverers run: a row is *claimed* (a lease, compare-and-
  set) before it is sent, and settled with a compare-and-set on its claim. Only a crash between
  the server's acceptance and the outbox update (outcomes are committed in small groups, see
  `Recorder`) can send a row again, once the lease has run out, and then with the same
  Message-ID;
- a closed or waived item gets no further reminders, even those queued before it closed: rows are
  checked against their item when claimed;
- every recipient, To or copy (Cc), is a row with its own state: a copy refused with 4xx is
  retried, one refused for good is reported, as for a To; a mail goes out once to all its rows
  still pending, with the same Message-ID for each;
- claims count from the database's clock, never from the instant a run acts as of, and are
  renewed while a run lasts; a server that stops answering, or answers too slowly, stops the
  run (see `notifications.smtp.SmtpTransport`), and its answer to a message's data is awaited,
  so a message it took is not sent again;
- a leader gets at most one mail per run: their escalations are claimed together;
- a run sends over several SMTP connections at once (`CCHC_SMTP_CONNECTIONS`): the mails of a
  claim are taken one by one by whichever connection is free, so each goes out once, and each
  connection stops on its own when the server stops answering it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import defaultdict
from collections.abc import Collection, Iterator, Sequence
from collections.abc import Set as AbstractSet
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from jinja2 import TemplateError
from sqlalchemy import Engine

from models.tables import Outbox, saved_id
from notifications.claims import (
    LEASE,
    Audience,
    Lease,
    Scope,
    anything_to_claim,
    claim,
    held_rows,
)
from notifications.compose import Composer, Evidence
from notifications.delivery_report import DeliveryReport
from notifications.documents.overview import OverviewSource, overview_for
from notifications.facts import Facts
from notifications.links import intake_linker
from notifications.mail import Mail
from notifications.recording import Recorder
from notifications.render import Renderer, error_location
from notifications.smtp import make_transports
from notifications.template_sets import templates_in_use
from notifications.transport import Outcome, Transport
from schedules.notices import digest_addresses, in_digest
from schedules.plan import Plan
from schedules.vocabulary import MailKind

log = logging.getLogger("cchc.mail")

CHUNK = 200
"""Rows claimed at a time; a digest unit's mail groups its rows within a chunk (a leader's,
within the run)."""


def deliver_pending(
    plan: Plan, engine: Engine, settings, at: datetime, force: bool = False, **options
) -> DeliveryReport:
    """Deliver the outbox rows due at `at` (every pending row with `force`); see
    `deliver_pending_async`. `settings` is a `cchc.runtime.settings.Settings`. Callable from
    code that runs an event loop of its own: the run then gets a thread and a loop of its own."""

    def run() -> DeliveryReport:
        return asyncio.run(deliver_pending_async(plan, engine, settings, at, force, **options))

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return run()
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(run).result()


async def deliver_pending_async(
    plan: Plan,
    engine: Engine,
    settings,
    at: datetime,
    force: bool = False,
    *,
    transport: Transport | Sequence[Transport] | None = None,
    lease: timedelta = LEASE,
    chunk: int = CHUNK,
    evidence: Evidence | None = None,
    items: Collection[int] | None = None,
    overview: OverviewSource | None = None,
) -> DeliveryReport:
    """One delivery run as of `at`; `evidence` gives the files an item's mails attach (see
    `Composer`); `items` limits the run to those items' rows (what an action just queued);
    `overview` builds the leaders' quarterly overview (default: from `engine`, as of `at`).
    `transport`: one, or several sent over at once (default: `make_transports`).

    1. open the transport (the first of the run's SMTP connections, or the .eml folder),
       unless there is nothing to claim (then only count the rows another run holds);
    2. claim, all at once, the leaders' escalations (and their copies) due: each leader gets
       them in one mail (a digest when there are several);
    3. claim a chunk of the other rows: pending, due (`send_after <= at`, or any with
       `force`), not held by another deliverer's live claim; rows of items closed or waived
       meanwhile, and reminders an item has moved past, are cancelled instead. Claims last
       `lease` by the database's clock (never `at`: deliverers acting as of different instants
       share the rows) and are renewed while the run lasts (`Lease`);
    4. render the chunk's mails: one per mail (its To and copies together), one per recipient
       for digest units;
    5. send each over the first free connection (the next mail is built while the server
       answers, see `_send`) and record the
       outcome of each recipient (grouped commits in a worker thread, overlapping the next
       sends, see `Recorder`): sent; retry later with backoff (4xx, connection trouble); or
       failed (5xx), which queues a notice to the standing office;
    6. repeat from 3 with the rows after the chunk until none is left: a row that must wait
       is not tried again in the same run, even with `force`; then count the rows another
       deliverer still holds (`DeliveryReport.held`).
    """
    composer = Composer(
        plan,
        settings.smtp.sender,
        link=intake_linker(settings),
        evidence=evidence,
        renderer=templates_in_use(plan, settings.smtp.sender, at),
        overview=overview or overview_for(plan, engine),
    )
    if transport is None:
        transports = make_transports(settings.smtp, settings.data_dir)
    elif isinstance(transport, Sequence):
        transports = list(transport)
    else:
        transports = [transport]
    report = DeliveryReport(at, transports[0].via)
    scope = Scope(plan, at, force, uuid.uuid4().hex, items)
    if not await asyncio.to_thread(anything_to_claim, engine, scope):
        report.held, report.held_until = await asyncio.to_thread(held_rows, engine, scope)
        return report
    keeper = Lease(engine, scope.token, lease)
    await transports[0].open()  # the others connect when a mail comes to them
    renewing = asyncio.ensure_future(keeper.keep())
    try:
        if scope.leaders:
            claimed = await asyncio.to_thread(
                claim, engine, scope, lease, report, audience=Audience.LEADERS
            )
            if claimed is not None and claimed[0]:
                await _deliver(composer, transports, engine, scope, claimed, report)
        cursor = 0
        while True:
            claimed = await asyncio.to_thread(
                claim, engine, scope, lease, report, cursor=cursor, chunk=chunk
            )
            if claimed is None:
                break
            cursor = claimed[2]
            if claimed[0]:
                await _deliver(composer, transports, engine, scope, claimed, report)
        report.held, report.held_until = await asyncio.to_thread(held_rows, engine, scope)
    finally:
        renewing.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await renewing
        await asyncio.gather(*(t.close() for t in transports))
    return report


async def _deliver(
    composer: Composer,
    transports: Sequence[Transport],
    engine: Engine,
    scope: Scope,
    claimed: tuple[list[Outbox], Facts, int],
    report: DeliveryReport,
) -> None:
    """Compose, send and record the rows of one claim, over every transport at once: each
    takes the next mail when it is free (one iterator: each mail is built, so sent, once)."""
    rows, facts, _ = claimed
    recorder = Recorder(scope.plan, engine, scope.at, scope.token, report)
    digest_to = digest_addresses(scope.plan)
    mails = _compose(composer, rows, facts, scope.at, digest_to, scope.leaders, recorder)
    sender = composer.envelope_from
    lanes = transports[: max(1, min(len(transports), len(rows)))]
    try:
        async with asyncio.TaskGroup() as group:  # the first error stops every lane
            for transport in lanes:
                group.create_task(_send(transport, sender, mails, report, recorder))
    except* Exception as errors:
        raise errors.exceptions[0] from None
    await recorder.close()


async def _send(
    transport: Transport,
    sender: str,
    mails: Iterator[Mail],
    report: DeliveryReport,
    recorder: Recorder,
) -> None:
    """Send `mails` (an iterator other lanes may share) one after the other over the
    transport, recording each outcome. Each mail is built while the server answers the first
    command of the one before (whose send has started and waits for the reply), not while the
    server waits for us."""
    sending: tuple[Mail, asyncio.Future[list[Outcome]]] | None = None
    try:
        for mail in mails:  # builds the next mail
            if sending is not None:
                done, sending = sending, None
                _sent(report, recorder, done[0], await done[1])
            await recorder.ready()
            task = asyncio.ensure_future(transport.send(mail.message, sender, mail.recipients))
            sending = (mail, task)
            await asyncio.sleep(0)  # the send writes its first command
        if sending is not None:
            done, sending = sending, None
            _sent(report, recorder, done[0], await done[1])
    finally:
        if sending is not None:  # stopped by an error: let the send end before the transport
            with contextlib.suppress(Exception):
                await sending[1]


def _sent(report: DeliveryReport, recorder: Recorder, mail: Mail, outcomes: list[Outcome]) -> None:
    """Record the outcome of each row of `mail`: its recipient's."""
    if any(o.status == "sent" for o in outcomes):
        report.messages += 1
        report.deliveries += sum(o.status == "sent" for o in outcomes)
    by_recipient = {r.lower(): o for r, o in zip(mail.recipients, outcomes, strict=True)}
    recorder.add([(row, by_recipient[row.recipient.lower()]) for row in mail.rows], mail.msg_id)


Batch = tuple[list[Outbox], list[Outbox]]
"""The rows of one mail, and for copies of a digest retried alone the rows its To was sent."""


def _batches(
    rows: list[Outbox],
    digest_to: set[str],
    leaders: set[str],
    sent_with: dict[str, list[Outbox]],
    alone: AbstractSet[int] = frozenset(),
) -> list[Batch]:
    """The rows of each mail, in row order: a mail's To and copies together; a digest unit's
    rows (without copies) together; a leader's escalations, with their copies, together (but
    the rows `alone`, the city office's: each a mail of its own); the copies of a digest whose To
    was sent (`Facts.sent_with`) together, as that digest."""
    groups: dict[tuple, list[Outbox]] = defaultdict(list)
    for row in rows:
        to = (row.addressed_to or row.recipient).lower()
        if row.addressed_to is not None and row.message_id in sent_with:
            key: tuple = ("again", row.message_id)
        elif row.kind == MailKind.ESCALATION and to in leaders and saved_id(row) not in alone:
            key = ("leader", to)
        elif in_digest(row.recipient, row.cc, digest_to) and saved_id(row) not in alone:
            key = ("digest", to)
        else:
            key = ("mail", row.item_id, row.step, to)
        groups[key].append(row)
    batches: list[Batch] = []
    for key, batch in groups.items():
        if key[0] == "again":
            batches.append((batch, sent_with[key[1]]))
        elif key[0] == "leader" and len({(r.item_id, r.step) for r in batch}) > 1:
            batches.append((batch, []))  # a digest
        elif key[0] == "leader":
            batches += [(mail, []) for mail in _by_mail(batch)]
        else:
            batches.append((batch, []))
    batches.sort(key=lambda b: min(map(saved_id, b[0])))
    return batches


def _by_mail(rows: list[Outbox]) -> list[list[Outbox]]:
    groups: dict[tuple, list[Outbox]] = defaultdict(list)
    for row in rows:
        groups[(row.item_id, row.step)].append(row)
    return list(groups.values())


def _compose(
    composer: Composer,
    rows: list[Outbox],
    facts: Facts,
    at: datetime,
    digest_to: set[str],
    leaders: set[str],
    recorder: Recorder,
) -> Iterator[Mail]:
    """Mails for a claim, in row order; a row whose mail cannot be built waits for a retry
    (a template edited after `cchc check`, say) instead of stopping the run."""
    # The Sở's mails to a commune are mails of their own, never in a digest from the commune.
    alone = {saved_id(r) for r in rows if composer.city_voiced(r, facts)}
    for batch, sent in _batches(rows, digest_to, leaders, facts.sent_with, alone):
        to = (batch[0].addressed_to or batch[0].recipient).lower()
        try:
            if sent:
                yield composer.for_digest(batch, facts, at, sent)
            elif (to not in digest_to or alone.issuperset(map(saved_id, batch))) and len(
                {(r.item_id, r.step) for r in batch}
            ) == 1:
                main = next((r for r in batch if r.addressed_to is None), batch[0])
                yield composer.for_row(main, facts, at, [r for r in batch if r is not main])
            else:
                yield composer.for_digest(batch, facts, at)
        except Exception as exc:  # noqa: BLE001  (one bad mail must not block the others)
            why = f"cannot build the mail: {unbuilt_reason(composer.renderer, exc)}"
            log.error("mail: outbox rows %s: %s", [r.id for r in batch], why)
            unbuilt = Outcome("retry", why, cause="unbuilt")
            recorder.add([(r, unbuilt) for r in batch])


def unbuilt_reason(renderer: Renderer, exc: Exception) -> str:
    """Why a mail cannot be built, in one line: with the template's FILE:LINE when a template
    raised it (a template broken after `cchc check`)."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, TemplateError):
        path, line = error_location(renderer, exc, "")
        if path.endswith(".j2"):
            return f"{path}:{line}: {text}"
    return text
