"""What the office's receive form may record for an item: a document (số, ký hiệu and date) that
can be the item's product. Refused, with a message in Vietnamese: a number without the shape
"số/ký hiệu" (an example is given), a date that is not one, in the future, absurd (before
2000: 0001-01-01 once made a 500), or before the item's work could have been done (a report
before its data window closed, a directive's item before the directive). Text is cleaned of
NUL and control characters (`schedules.documents.clean_doc_number`)."""

from __future__ import annotations

from datetime import date, datetime

from cchc.intake.forms import form_date
from models.tables import WorkItem
from schedules.dates import local_date, vn_date
from schedules.documents import clean_doc_number
from schedules.plan import Plan
from schedules.vocabulary import REPORT_KINDS
from usecases.directives import EARLIEST
from usecases.errors import UserError


def received_document(
    plan: Plan, item: WorkItem, fields: dict[str, str], at: datetime
) -> tuple[str, date]:
    """The number and date the form records for `item` (no date: today); UserError for what
    cannot be true."""
    try:
        number = clean_doc_number(fields.get("doc"))
    except ValueError as exc:
        raise UserError(str(exc)) from None
    today = local_date(at, plan.zone)
    day = form_date(fields, "date", "Ngày văn bản") if fields.get("date") else today
    if day > today:
        raise UserError(
            f"Ngày văn bản {vn_date(day)} chưa đến (hôm nay là {vn_date(today)}): "
            "hãy nhập ngày đã nhận văn bản."
        )
    if day < EARLIEST:
        raise UserError(f"Ngày văn bản {vn_date(day)} không hợp lệ: hãy kiểm tra lại.")
    earliest, what = earliest_document(plan, item)
    if earliest is not None and day < earliest:
        raise UserError(
            f"Ngày văn bản {vn_date(day)} trước {what} ({vn_date(earliest)}): văn bản này không "
            "thể là sản phẩm của nhiệm vụ; hãy kiểm tra số và ngày văn bản."
        )
    return number, day


def earliest_document(plan: Plan, item: WorkItem) -> tuple[date | None, str]:
    """The first date a document answering `item` can bear, and what that date is: a report is
    written once its data window has closed (its last day); a directive's item answers a
    directive issued first. Other items: no bound (a plan may be issued before its year)."""
    ob = plan.obligations.get(item.obligation)
    if ob is not None and ob.kind in REPORT_KINDS:
        return item.window_end, "ngày chốt số liệu của kỳ báo cáo"
    if item.directive_id is not None:
        return item.window_start, "ngày của văn bản chỉ đạo"
    return None, ""
