"""What is the state: work items, deliverables, directives, extensions, the event log, the
outbox, the opening marks.

Instants are aware UTC; due dates and windows are civil dates (Asia/Ho_Chi_Minh). Each table
carries the commune code so that one deployment can later serve many communes.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, Table, UniqueConstraint, inspect
from sqlmodel import Field, SQLModel

from schedules.documents import document_title
from schedules.vocabulary import DeliverableStatus, ExtensionStatus, OutboxStatus


class Directive(SQLModel, table=True):
    """A directive (văn bản chỉ đạo) the standing office acts on: the document as its number and
    symbol, date, issuer and subject name it, what it asks of which units by when, and its file
    if one was kept (stored by sha256 like a deliverable's). Each lead unit owes one work item
    (`WorkItem.directive_id`; period `vb-<id>`)."""

    __tablename__ = "directive"
    __table_args__ = (
        UniqueConstraint("commune", "number", "issued_on", name="uq_directive_document"),
    )

    id: int | None = Field(default=None, primary_key=True)
    commune: str = Field(max_length=32)
    number: str = Field(max_length=64)
    """Số, ký hiệu: "125/SNV-CCHC"."""
    issued_on: date
    issuer: str
    """Who issued it: "Sở Nội vụ", "UBND xã"."""
    subject: str
    """Trích yếu: what it is about."""
    task: str | None = None
    """What it asks the lead units to do (the items' title; the subject when not given)."""
    product: str | None = None
    """What they hand in."""
    due: date
    """The due date as the directive sets it (each item's is shifted off a day off)."""
    obligation: str = Field(max_length=64)
    """The ad hoc obligation its items belong to (its policy: reminders, escalations)."""
    units: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    """Lead units (chủ trì), one item each."""
    coordinators: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    """Coordinating units (phối hợp), asked for their inputs by each item."""
    file_name: str | None = None
    file_size: int | None = None
    file_sha256: str | None = Field(default=None, max_length=64)
    file_path: str | None = None
    file_type: str | None = Field(default=None, max_length=16)
    recorded_at: datetime
    recorded_by: str = Field(max_length=64, default="admin")


class WorkItem(SQLModel, table=True):
    """One obligation owed by one unit for one period."""

    __tablename__ = "work_item"
    __table_args__ = (
        UniqueConstraint("commune", "obligation", "unit", "period", name="uq_work_item_key"),
        # The sweep's only read: "open items of this commune whose next action has come".
        Index("ix_work_item_next_action", "commune", "next_action_at"),
        # A city's sweep: the same read for every commune at once.
        Index("ix_work_item_next_action_all", "next_action_at", "id"),
        Index("ix_work_item_unit_status", "commune", "unit", "status"),
        Index("ix_work_item_due", "commune", "due"),
    )

    id: int | None = Field(default=None, primary_key=True)
    commune: str = Field(max_length=32)
    obligation: str = Field(max_length=64)
    unit: str = Field(max_length=32)
    period: str = Field(max_length=16)
    title: str
    window_start: date
    window_end: date
    opens_on: date
    due: date
    nominal_due: date | None = Field(
        default=None, description="The due date before the shift off a day off (None: the same)"
    )
    adhoc: bool = False
    status: str = Field(max_length=16)
    step: str = Field(max_length=32, description="Last step of the timeline acted upon")
    escalation_level: int = 0
    opened_at: datetime
    closed_at: datetime | None = None
    on_time: bool | None = None
    """The verdict, decided when the first version arrived (`judged_due`) and kept through a
    return; None before any version."""
    waived_reason: str | None = None
    next_action_at: datetime | None = Field(
        default=None, description="Instant of the next step; NULL once closed, waived or done"
    )
    original_due: date | None = Field(
        default=None,
        description="The first due date in force: an extension or a return moves `due`, never "
        "this (NULL only on a row written by hand: the same as `due`)",
    )
    judged_due: date | None = Field(
        default=None,
        description="The due date in force when the first version arrived: `on_time` was "
        "judged against it, once (see schedules.timeliness); NULL before any version",
    )
    directive_id: int | None = Field(default=None, foreign_key="directive.id", index=True)
    """The directive the item acts on (`Directive`); NULL for the plan's items."""
    held_on: date | None = None
    """The commune's go-live date, for an item opened due before it and not done: it was held
    for the standing office to sort out (`usecases.golive`); kept once the office re-opened or
    waived it. NULL for an item never held."""


class Deliverable(SQLModel, table=True):
    """One file of a version of the product handed in for an item (a version may hold several
    files: its parts); the bytes live under the data dir. The standing office accepts or
    returns a version as a whole; the first accepted version decides whether the item was on
    time."""

    __tablename__ = "deliverable"
    __table_args__ = (UniqueConstraint("item_id", "version", "part", name="uq_deliverable_part"),)

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="work_item.id", index=True)
    version: int
    part: int = Field(default=1, sa_column_kwargs={"server_default": "1"})
    original_name: str
    """As the sender named it, cleaned; for display only (the bytes are stored by sha256)."""
    size: int
    sha256: str = Field(max_length=64)
    stored_path: str
    file_type: str | None = Field(default=None, max_length=16)
    """What its content is (pdf, docx, xlsx, ...), whatever its name says."""
    submitted_by: str | None = None
    received_at: datetime
    note: str | None = None
    on_time: bool | None = None
    """Received by the end of the item's due date in force then."""
    status: str = Field(
        default=DeliverableStatus.RECEIVED,
        max_length=16,
        sa_column_kwargs={"server_default": DeliverableStatus.RECEIVED.value},
        description="received | accepted | returned (by the standing office)",
    )
    reviewed_at: datetime | None = None
    reviewed_by: str | None = None
    review_note: str | None = None
    """Why the standing office returned it."""
    doc_number: str | None = Field(default=None, max_length=64)
    """Received through the document-management system: the official document's number and
    symbol ("số, ký hiệu văn bản", e.g. 12/BC-CAX). Such a version has no file: `size` 0,
    `sha256` and `stored_path` empty."""
    doc_date: date | None = None
    """The official document's date, the date it was received (on time is judged by it)."""
    signature: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    """What the intake found of the file's digital signatures (a PDF; None for other files and
    documents): {"state": "signed" | "unsigned" | "invalid", "signatures": [{"signer", "at",
    "intact", "trusted"}], "roots": bool}, as `cchc.intake.signatures.verify` returns it."""

    @property
    def document(self) -> str:
        """ "Báo cáo số 12/BC-CAX ngày 05/04/2027" (the kind its symbol shows) for a version
        without a file; "" for a file."""
        if not self.doc_number:
            return ""
        day = f" ngày {self.doc_date.strftime('%d/%m/%Y')}" if self.doc_date else ""
        return f"{document_title(self.doc_number)}{day}"


class Contribution(SQLModel, table=True):
    """A file a coordinating unit sent for the lead's item, through its own signed link: input
    for the lead, not a version of the product (it never closes the item)."""

    __tablename__ = "contribution"

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="work_item.id", index=True)
    unit: str = Field(max_length=32)
    original_name: str
    size: int
    sha256: str = Field(max_length=64)
    stored_path: str
    file_type: str | None = Field(default=None, max_length=16)
    note: str | None = None
    received_at: datetime


class Extension(SQLModel, table=True):
    """An extension of an item's due date (gia hạn): a unit's request, pending until the office
    grants or refuses it, or a grant the office makes on its own. The item's events log each
    step; the item keeps its `original_due`."""

    __tablename__ = "extension"
    __table_args__ = (UniqueConstraint("item_id", "seq", name="uq_extension_seq"),)

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="work_item.id", index=True)
    seq: int
    """1, 2, ... per item: the N of its mails' steps (`requested-N`, `extended-N`, `refused-N`)."""
    status: str = Field(max_length=16, description="pending | granted | refused")
    requested_by: str | None = Field(default=None, max_length=32)
    """The unit that asked; None for a grant the office made on its own."""
    requested_at: datetime | None = None
    reason: str | None = None
    """Why the unit asks."""
    proposed_due: date | None = None
    decided_at: datetime | None = None
    decided_by: str | None = Field(default=None, max_length=64)
    decision_note: str | None = None
    """Why it was granted or refused."""
    previous_due: date | None = None
    """The due date in force before a grant."""
    granted_due: date | None = None
    """The due date a grant set (shifted off a day off like any due date)."""

    @property
    def pending(self) -> bool:
        return self.status == ExtensionStatus.PENDING


class Event(SQLModel, table=True):
    """Append-only log of every transition (opened, reminded, overdue, escalated, closed ...)."""

    __tablename__ = "event"

    id: int | None = Field(default=None, primary_key=True)
    item_id: int | None = Field(default=None, foreign_key="work_item.id", index=True)
    at: datetime
    kind: str = Field(max_length=32, description="schedules.vocabulary.EventKind")
    actor: str = Field(max_length=64, default="engine")
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class IndicatorValue(SQLModel, table=True):
    """One entry of an indicator's value for an item (the unit's report of a period):
    append-only, each change a new row with who and when; the newest row of (item, indicator)
    is the value in force. A row with `numerator` None clears the value."""

    __tablename__ = "indicator_value"
    __table_args__ = (Index("ix_indicator_value_item", "item_id", "indicator", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="work_item.id")
    commune: str = Field(max_length=32)
    indicator: str = Field(max_length=64)
    unit: str = Field(max_length=32)
    period: str = Field(max_length=16)
    numerator: float | None = None
    denominator: float | None = None
    """A ratio's denominator, 1 for a yes/no; None for a count."""
    at: datetime
    actor: str = Field(max_length=64)
    """Who entered it: the unit's code (its upload page), `standing_office`, `admin` (CLI)."""
    source: str = Field(max_length=16, default="cli")
    """Where it came from: `page` (the unit's upload page), `office`, `cli`, `sheet` (the
    Sở's data sheet)."""
    confirmed: str | None = None
    """The jump warning the person confirmed, when there was one."""


class Outbox(SQLModel, table=True):
    """A notification to deliver: one row per item, step and recipient, written before sending."""

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("item_id", "step", "recipient", name="uq_outbox_key"),
        Index("ix_outbox_status_send_after", "status", "send_after"),
    )

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="work_item.id", index=True)
    step: str = Field(max_length=32)
    kind: str = Field(
        max_length=16, description="schedules.vocabulary.MailKind (never digest: a digest is rows)"
    )
    recipient: str
    cc: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    status: str = Field(default=OutboxStatus.PENDING, max_length=16)
    created_at: datetime
    send_after: datetime
    attempts: int = 0
    last_error: str | None = None
    sent_at: datetime | None = None
    claimed_until: datetime | None = Field(
        default=None, description="A deliverer holds the row until then (lease; see delivery)"
    )
    claim_token: str | None = Field(
        default=None, max_length=32, description="Which deliverer holds the claim"
    )
    addressed_to: str | None = Field(
        default=None,
        description="A copy: the To of the mail this row's recipient is copied on (its Cc); "
        "NULL: the mail is addressed to the recipient",
    )
    message_id: str | None = Field(
        default=None, max_length=255, description="The Message-ID the mail was sent with"
    )


class OpeningMark(SQLModel, table=True):
    """How far an obligation's items have been opened: the sweep only looks at occurrences that
    open after `opened_through`, so its cost follows the work due, not the plan's history.
    A changed `fingerprint` (the obligation's config changed) makes the sweep look again from
    the start date."""

    __tablename__ = "opening_mark"

    commune: str = Field(primary_key=True, max_length=32)
    obligation: str = Field(primary_key=True, max_length=64)
    fingerprint: str = Field(max_length=32)
    opened_through: date


class GoLive(SQLModel, table=True):
    """The day a commune went live: its first sweep, as recorded by that sweep (the config's
    `go_live` stands in for it when set). Items due before it are held, not mailed."""

    __tablename__ = "go_live"

    commune: str = Field(primary_key=True, max_length=32)
    day: date
    """The local date of the first sweep."""
    at: datetime
    """The instant of the first sweep."""


class ConfigSnapshot(SQLModel, table=True):
    """The last valid config a command applied to this database: read-only commands fall back
    on it while the config on disk is invalid (an admin in the middle of an edit)."""

    __tablename__ = "config_snapshot"

    commune: str = Field(primary_key=True, max_length=32)
    fingerprint: str = Field(max_length=64)
    """sha256 of the files, to write the row only when the config changed."""
    files: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    """File name -> its text: the config folder's YAML files."""
    saved_at: datetime


class PublishedPage(SQLModel, table=True):
    """As of what a status page of the Prefect UI was last published (`models.pages`): a sweep
    rewrites a page only when something it shows may have changed since: its items (an event
    after `event_id`), its "today" (`day`), or the config it names (`fingerprint`)."""

    __tablename__ = "published_page"

    commune: str = Field(primary_key=True, max_length=32)
    """The commune whose page it is (a city's code for the city's own pages)."""
    page: str = Field(primary_key=True, max_length=16)
    """Which pages: `status` (open items, late items, consolidated report), `league`."""
    day: date
    """The local date the page was published as of: its "today" (states, working days late)."""
    event_id: int
    """The event log's last id when its items were read: a later event may change it."""
    fingerprint: str = Field(max_length=16)
    """What else it shows: unit and commune names, the calendar, the Prefect server."""
    at: datetime
    """The instant it was published as of."""


def table_of(model: type[SQLModel]) -> Table:
    """The `Table` of a table model: SQLModel sets `__table__` but does not declare it."""
    table = inspect(model).local_table
    assert isinstance(table, Table), f"{model.__name__} is not a table model"
    return table


def saved_id(
    row: WorkItem | Deliverable | Contribution | Event | Outbox | Directive | Extension,
) -> int:
    """The id of a row the database holds (read, or flushed after its insert): a new row's
    is None until then."""
    assert row.id is not None, f"{type(row).__name__} has no id: it was never saved"
    return row.id
