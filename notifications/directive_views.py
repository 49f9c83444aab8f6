"""What a mail says about the directive an item acts on (văn bản chỉ đạo), in an office's words:
"Thực hiện Công văn số 125/SNV-CCHC ngày 18/03/2027 của Sở Nội vụ về …, Phòng Văn hóa - Xã hội
đề nghị Công an xã …, gửi … trước ngày 29/03/2027."."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from schedules.dates import vn_date
from schedules.documents import (
    directive_basis,
    document_reference,
    document_title,
    lower_first,
)

if TYPE_CHECKING:
    from models.tables import Directive

DEFAULT_TASK = "triển khai thực hiện"
DEFAULT_PRODUCT = "báo cáo kết quả thực hiện"


@dataclass(frozen=True)
class DirectiveView:
    """A directive as the mails name it (`directive_view`)."""

    number: str
    title: str
    """ "Công văn số 125/SNV-CCHC"."""
    date: str
    issuer: str
    subject: str
    reference: str
    """ "Công văn số 125/SNV-CCHC ngày 18/03/2027 của Sở Nội vụ"."""
    basis: str
    """The reference and its subject: "… của Sở Nội vụ về việc …"."""
    task: str
    product: str
    request: str
    """The sentence an office writes for the item's unit and due date."""
    file_name: str
    file_size: str


def directive_view(
    directive: Directive, *, office: str, unit: str, office_own: bool, due: date, size: str
) -> DirectiveView:
    """The directive as the mails of an item of `unit` (a name) due on `due` name it; `office`:
    the standing office's name; `size`: the file's size as the mails write it."""
    basis = directive_basis(
        directive.number, directive.issued_on, directive.issuer, directive.subject
    )
    task = directive.task or ""
    product = directive.product or DEFAULT_PRODUCT
    what = lower_first(task) or DEFAULT_TASK
    if office_own:  # the office does not ask itself: it has a task
        request = (
            f"Thực hiện {basis}, {office} {what}, hoàn thành {lower_first(product)} "
            f"trước ngày {vn_date(due)}."
        )
    else:
        request = (
            f"Thực hiện {basis}, {office} đề nghị {unit} {what}, gửi {lower_first(product)} "
            f"về {office} trước ngày {vn_date(due)}."
        )
    return DirectiveView(
        number=directive.number,
        title=document_title(directive.number),
        date=vn_date(directive.issued_on),
        issuer=directive.issuer,
        subject=directive.subject,
        reference=document_reference(directive.number, directive.issued_on, directive.issuer),
        basis=basis,
        task=task,
        product=product,
        request=request,
        file_name=directive.file_name or "",
        file_size=size,
    )
