"""What a quarter's overview holds (`Overview`: its units' rows, the directives still open, the
indicators' lines, `IndicatorLine`): plain data, apart from `usecases.overview`, which reads it
from the database, so that `cchc check` renders the overview's mail from a sample without loading
the database layer."""

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


@dataclass(frozen=True)
class IndicatorLine:
    """One indicator for the commune in the quarter's consolidated report period, against
    its target, with how complete its units' reporting is (`usecases.indicator_report`)."""

    id: str
    ref: str
    name: str
    period: str
    value: str
    """As people read it: "85,5 %", "12", "—" without data."""
    target: str
    """ "≥ 85 %" (by 2030: "≥ 85 % (đến năm 2030)")."""
    verdict: str
    """ "đạt", "chưa đạt (còn thiếu x điểm %)", "chưa có số liệu"."""
    expected: int
    """Units expected to report it."""
    reported: int
    reported_on_time: int

    @property
    def label(self) -> str:
        return f"{self.name} ({self.ref})"

    @property
    def completeness(self) -> str:
        """ "3/4 đơn vị đã báo cáo (2 đúng hạn)"."""
        return (
            f"{self.reported}/{self.expected} đơn vị đã báo cáo ({self.reported_on_time} đúng hạn)"
        )

    @property
    def text(self) -> str:
        """The line's value: "85,5 % (mục tiêu ≥ 85 %): đạt; 3/4 đơn vị đã báo cáo (2 đúng
        hạn)"."""
        shown = "" if self.value == "—" else f"{self.value} "
        return f"{shown}(mục tiêu {self.target}): {self.verdict}; {self.completeness}"

    def as_dict(self) -> dict:
        """`cchc overview --format json`: the line (label, value) and its parts."""
        return {
            "label": self.label,
            "value": self.text,
            "id": self.id,
            "ref": self.ref,
            "name": self.name,
            "period": self.period,
            "figure": self.value,
            "target": self.target,
            "verdict": self.verdict,
            "expected": self.expected,
            "reported": self.reported,
            "reported_on_time": self.reported_on_time,
        }


ON_TIME = "on_time"
LATE = "late"
MISSING = "missing"
REPORT_STATES = {ON_TIME: "đúng hạn", LATE: "muộn", MISSING: "chưa gửi"}
"""A commune's report to the city, as the Sở's overview reads it."""


@dataclass(frozen=True)
class CommuneReport:
    """A commune's consolidated report of the period, as the Sở received it (the Sở's
    overview)."""

    code: str
    name: str
    """In its own kind word: "xã Mẫu", "phường Mẫu", "đặc khu Mẫu"."""
    state: str
    """ON_TIME, LATE or MISSING (not received yet, or no report opened)."""
    due: date | None
    received: date | None

    @property
    def text(self) -> str:
        """ "đúng hạn (nhận ngày 09/04/2027)", "chưa gửi (hạn 09/04/2027)"."""
        from schedules.dates import vn_date

        words = REPORT_STATES[self.state]
        if self.received is not None:
            return f"{words} (nhận ngày {vn_date(self.received)})"
        return f"{words} (hạn {vn_date(self.due)})" if self.due else words

    def as_dict(self) -> dict:
        return {
            "commune": self.code,
            "name": self.name,
            "state": self.state,
            "state_text": REPORT_STATES[self.state],
            "due": self.due.isoformat() if self.due else None,
            "received": self.received.isoformat() if self.received else None,
        }


@dataclass(frozen=True)
class FarCommune:
    """A commune among those furthest from the indicators' targets in the period."""

    code: str
    name: str
    gap: float
    """Points of % its figures (ratios, yes/no) fall short of their targets, on average."""
    met: int
    with_data: int
    expected: int
    """Indicators it owes figures for in the period."""

    def as_dict(self) -> dict:
        return {
            "commune": self.code,
            "name": self.name,
            "gap": self.gap,
            "met": self.met,
            "with_data": self.with_data,
            "indicators": self.expected,
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
    indicators: list[IndicatorLine] = field(default_factory=list)
    """The indicators for the commune in the quarter's consolidated report period (issue 24);
    empty when the config has none or no report carrying them was opened."""
    total_label: str = TOTAL
    """The commune as a whole: "Toàn xã", "Toàn phường", "Toàn đặc khu" (its kind)."""
    communes: list[CommuneReport] | None = None
    """The Sở's overview (a city office's plan): each commune's report to the city of the
    period; `indicators` are then the city's aggregate. None: a commune's overview."""
    furthest: list[FarCommune] = field(default_factory=list)
    """The Sở's overview: the communes furthest from the indicators' targets, furthest first."""
    kinds: str = "xã"
    """The Sở's overview: the kinds of its communes, as its texts name them ("xã, phường")."""

    @property
    def is_city(self) -> bool:
        return self.communes is not None

    def report_counts(self) -> dict[str, int]:
        """The Sở's overview: communes on time, late, missing."""
        found = dict.fromkeys(REPORT_STATES, 0)
        for row in self.communes or []:
            found[row.state] += 1
        return found

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
            "indicators": [line.as_dict() for line in self.indicators],
        } | (
            {
                "communes": [row.as_dict() for row in self.communes],
                "reports": self.report_counts(),
                "furthest": [row.as_dict() for row in self.furthest],
            }
            if self.communes is not None
            else {}
        )
