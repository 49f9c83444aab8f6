"""When the city office (Sở Nội vụ) speaks to a commune, and what it says it as.

A commune of a city owes the city office the reports the city's own report sums up
(`Plan.city_report`: the commune's consolidated report, due before the city's). Those are the
Sở's business with the commune, not the commune's with itself, so these mails of the item come
from the Sở, in its words, with its address as From and Reply-To:

| mail                                  | what the Sở says                                        |
|---------------------------------------|---------------------------------------------------------|
| overdue (the day after its due date)  | "Sở Nội vụ đề nghị UBND phường … gửi Báo cáo …"         |
| the last escalation level             | the same, to the commune's Chủ tịch (`chair_addresses`) |
| closed (the report recorded)          | "Sở Nội vụ đã nhận Báo cáo … của UBND phường …"         |
| returned from the city's office page  | "Sở Nội vụ trả lại Báo cáo số … của UBND phường … để    |
|                                       | hoàn thiện …"                                           |
| correction, once the Sở escalated     | "Sở Nội vụ đã nhận Báo cáo … của UBND phường …: nội     |
|                                       | dung đề nghị trước đây không cần xử lý thêm"            |

Who gets them is `schedules.notices`'; the templates read `city_voice` (docs/mail.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from schedules.city import short_name
from schedules.dates import vn_date
from schedules.notices import is_city_escalation
from schedules.plan import Plan
from schedules.step_names import parse_step
from schedules.vocabulary import CITY_RETURN, MailKind, StepKind

if TYPE_CHECKING:  # `cchc check` renders the Sở's mails without loading the database layer
    from models.tables import WorkItem


@dataclass(frozen=True)
class CityVoice:
    office: str
    """The city office's name, e.g. "Sở Nội vụ thành phố Hải Phòng"."""
    email: str
    commune: str
    """The commune as the Sở addresses it: "UBND phường Mẫu"."""
    city_due: str
    """The city's due date for the commune's report ("" for none): the Sở needs it by then."""
    contact: dict[str, str]
    """Whom the commune calls at the Sở: name, e-mail, phone."""
    city: str
    """The city's name, under the Sở's signature."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "office": self.office,
            "email": self.email,
            "commune": self.commune,
            "city_due": self.city_due,
            "contact": self.contact,
            "city": self.city,
        }


def city_voice(
    plan: Plan, item: WorkItem, kind: MailKind | str, step: str, returned_by: str = ""
) -> CityVoice | None:
    """The Sở's voice for this mail of `item`, or None when the commune speaks (see the
    module's table). `returned_by`: the return event's `by` (CITY_RETURN: the Sở returned it)."""
    upper = plan.upper
    if upper is None or plan.city_report(item.obligation) is None:
        return None
    name = parse_step(step)
    if name.undelivered:
        return None
    if kind == MailKind.ESCALATION:
        if not is_city_escalation(plan, item.obligation, name.number or 1):
            return None
    elif kind == MailKind.RETURNED:
        if returned_by != CITY_RETURN:
            return None
    elif kind == MailKind.CORRECTION:  # the report arrived after the Sở's own escalation
        if not is_city_escalation(plan, item.obligation, item.escalation_level or 0):
            return None
    elif not (
        kind == MailKind.OVERDUE or (kind == MailKind.CLOSED and name.kind == StepKind.CLOSED)
    ):
        return None
    office = upper.units[upper.commune.standing_office]
    contact = upper.commune.contact
    first_due: date = item.original_due or item.due
    city_due = plan.consolidated_due(item.obligation, first_due)
    return CityVoice(
        office=office.name,
        email=str(office.email),
        commune=f"UBND {short_name(plan.commune.name)}",
        city_due=vn_date(city_due) if city_due else "",
        contact={
            "name": contact.name,
            "email": str(contact.email),
            "phone": contact.phone or "",
        },
        city=upper.commune.name,
    )
