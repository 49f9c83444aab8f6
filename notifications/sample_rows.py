"""The rows of `cchc check`'s sample mails (`notifications.samples`): plain dataclasses with the
fields of the tables' rows (`models.tables`: WorkItem, Deliverable, Directive, Extension), so
that checking the templates loads no database layer (SQLAlchemy, SQLModel). The mail code reads
them as it reads saved rows; tests/test_compiled_config.py checks that their fields and defaults
are the tables'."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, cast

from schedules.documents import version_document
from schedules.vocabulary import DeliverableStatus, ExtensionStatus

if TYPE_CHECKING:
    from models.tables import Deliverable, Directive, Extension, WorkItem


class _Row:
    def model_dump(self) -> dict[str, Any]:
        """Its fields, as a table row's `model_dump()` gives them (tests make rows from it)."""
        return asdict(self)  # type: ignore[call-overload]


@dataclass(kw_only=True)
class SampleItem(_Row):
    id: int | None = None
    commune: str
    obligation: str
    unit: str
    period: str
    title: str
    window_start: date
    window_end: date
    opens_on: date
    due: date
    nominal_due: date | None = None
    adhoc: bool = False
    status: str
    step: str
    escalation_level: int = 0
    opened_at: datetime
    closed_at: datetime | None = None
    on_time: bool | None = None
    waived_reason: str | None = None
    next_action_at: datetime | None = None
    original_due: date | None = None
    judged_due: date | None = None
    directive_id: int | None = None
    held_on: date | None = None


@dataclass(kw_only=True)
class SampleDeliverable(_Row):
    id: int | None = None
    item_id: int
    version: int
    part: int = 1
    original_name: str
    size: int
    sha256: str
    stored_path: str
    file_type: str | None = None
    submitted_by: str | None = None
    received_at: datetime
    note: str | None = None
    on_time: bool | None = None
    status: str = DeliverableStatus.RECEIVED
    reviewed_at: datetime | None = None
    reviewed_by: str | None = None
    review_note: str | None = None
    doc_number: str | None = None
    doc_date: date | None = None
    signature: dict[str, Any] | None = None

    @property
    def document(self) -> str:
        return version_document(self.doc_number, self.doc_date)


@dataclass(kw_only=True)
class SampleDirective(_Row):
    id: int | None = None
    commune: str
    number: str
    issued_on: date
    issuer: str
    subject: str
    task: str | None = None
    product: str | None = None
    due: date
    obligation: str
    units: list[str] = field(default_factory=list)
    coordinators: list[str] = field(default_factory=list)
    file_name: str | None = None
    file_size: int | None = None
    file_sha256: str | None = None
    file_path: str | None = None
    file_type: str | None = None
    recorded_at: datetime
    recorded_by: str = "admin"


@dataclass(kw_only=True)
class SampleExtension(_Row):
    id: int | None = None
    item_id: int
    seq: int
    status: str
    requested_by: str | None = None
    requested_at: datetime | None = None
    reason: str | None = None
    proposed_due: date | None = None
    decided_at: datetime | None = None
    decided_by: str | None = None
    decision_note: str | None = None
    previous_due: date | None = None
    granted_due: date | None = None

    @property
    def pending(self) -> bool:
        return self.status == ExtensionStatus.PENDING


# The mail code is typed with the tables' rows: a sample stands in for one.


def item_row(**fields: Any) -> WorkItem:
    return cast("WorkItem", SampleItem(**fields))


def changed(item: WorkItem, **changes: Any) -> WorkItem:
    """A sample item with `changes` (a copy)."""
    return cast("WorkItem", replace(cast(SampleItem, item), **changes))


def deliverable_row(**fields: Any) -> Deliverable:
    return cast("Deliverable", SampleDeliverable(**fields))


def directive_row(**fields: Any) -> Directive:
    return cast("Directive", SampleDirective(**fields))


def extension_row(**fields: Any) -> Extension:
    return cast("Extension", SampleExtension(**fields))
