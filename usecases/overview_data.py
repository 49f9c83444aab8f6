"""What a quarter's overview holds (`Overview`: its units' rows, the directives still open, the
indicators' lines): plain data, apart from `usecases.overview`, which reads it from the
database, so that `cchc check` renders the overview's mail from a sample without loading the
database layer."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from schedules.dates import local_date
from schedules.overview import Cycle

if TYPE_CHECKING:
    from usecases.reporting import UnitYear

TOTAL = "Toàn xã"


@dataclass
class UnitQuarter:
    """One unit's quarter, as the overview's table reads it."""

    unit: str
    name: str
    total: int = 0
    """Items due in the quarter (by their first due date), waived ones left out."""
    on_time: int = 0
    """Done on time, within an extension included."""
    late: int = 0
    """Done after the due date."""
    open: int = 0
    """Not done yet."""
    overdue_open: int = 0
    """Of `open`: past the due date in force."""
    extended: int = 0
    """Items whose due date the office extended (granted at least once)."""
    waived: int = 0

    @classmethod
    def of(cls, counts: UnitYear, extended: int) -> UnitQuarter:
        return cls(
            unit=counts.unit,
            name=counts.name,
            total=counts.due + counts.pending,
            on_time=counts.on_time + counts.on_time_extended,
            late=counts.late,
            open=counts.overdue_open + counts.pending,
            overdue_open=counts.overdue_open,
            extended=extended,
            waived=counts.waived,
        )

    def add(self, other: UnitQuarter) -> None:
        for key in ("total", "on_time", "late", "open", "overdue_open", "extended", "waived"):
            setattr(self, key, getattr(self, key) + getattr(other, key))

    def as_dict(self) -> dict:
        return {
            "unit": self.unit,
            "name": self.name,
            "due": self.total,
            "on_time": self.on_time,
            "late": self.late,
            "open": self.open,
            "overdue_open": self.overdue_open,
            "extended": self.extended,
            "waived": self.waived,
        }


@dataclass(frozen=True)
class OpenDirective:
    """A directive (văn bản chỉ đạo) with items still open: who still owes, by when."""

    number: str
    reference: str
    """ "Công văn số 125/SNV-CCHC ngày 18/03/2027 của Sở Nội vụ"."""
    subject: str
    """ "về việc …": the subject (trích yếu) as it follows the reference."""
    due: date
    """The earliest due date in force of its open items."""
    units: tuple[str, ...]
    """Names of the units still owing, in the config's order."""
    overdue: int
    """Of its open items, those past their due date."""

    def as_dict(self) -> dict:
        return {
            "number": self.number,
            "reference": self.reference,
            "subject": self.subject,
            "due": self.due.isoformat(),
            "units": list(self.units),
            "overdue": self.overdue,
        }


@dataclass
class Overview:
    commune: str
    """The commune's name ("Ủy ban nhân dân xã Mao Điền")."""
    plan_short: str
    cycle: Cycle
    at: datetime
    zone: ZoneInfo
    units: list[UnitQuarter]
    directives: list[OpenDirective] = field(default_factory=list)
    indicators: list[tuple[str, str]] = field(default_factory=list)
    """(label, value) lines for the quarter's indicators (issue 24); empty until they exist."""
    total_label: str = TOTAL
    """The commune as a whole: "Toàn xã", "Toàn phường", "Toàn đặc khu" (its kind)."""

    @property
    def today(self) -> date:
        return local_date(self.at, self.zone)

    def total(self) -> UnitQuarter:
        whole = UnitQuarter(self.total_label, self.total_label)
        for row in self.units:
            whole.add(row)
        return whole

    def late_units(self) -> list[UnitQuarter]:
        """Units with items done late or still overdue, most behind first."""
        behind = [u for u in self.units if u.late or u.overdue_open]
        return sorted(behind, key=lambda u: (-u.overdue_open, -u.late, u.unit))

    def as_dict(self) -> dict:
        """`cchc overview --format json`."""
        return {
            "quarter": self.cycle.key,
            "first": self.cycle.first.isoformat(),
            "last": self.cycle.last.isoformat(),
            "report": self.cycle.obligation,
            "report_due": self.cycle.report_due.isoformat() if self.cycle.report_due else None,
            "send_on": self.cycle.send_on.isoformat() if self.cycle.send_on else None,
            "at": self.at.isoformat(),
            "units": [row.as_dict() for row in self.units],
            "total": self.total().as_dict(),
            "directives": [d.as_dict() for d in self.directives],
            "indicators": [{"label": k, "value": v} for k, v in self.indicators],
        }
