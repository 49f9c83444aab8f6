"""Samples of the office's daily work for `cchc check` (`samples.sample_contexts`): the notice
of a directive's item, and the three mails of an extension, so that every branch of the
templates they take is rendered at check time."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from notifications.compose import Composer
from notifications.facts import Facts
from notifications.sample_rows import changed, directive_row, extension_row
from schedules.documents import directive_period
from schedules.vocabulary import ExtensionStatus, MailKind

if TYPE_CHECKING:
    from models.tables import WorkItem

SAMPLE_DIRECTIVE: dict[str, Any] = dict(
    number="125/SNV-CCHC",
    issuer="Sở Nội vụ",
    subject="V/v báo cáo kết quả thực hiện nhiệm vụ cải cách hành chính",
    task="Báo cáo kết quả thực hiện nhiệm vụ cải cách hành chính được giao",
    product="Báo cáo kết quả thực hiện (bản có chữ ký số)",
    file_name="125-SNV-CCHC.pdf",
    file_size=123456,
)


def office_samples(
    composer: Composer, item: WorkItem, opened: datetime, recipient: str
) -> list[tuple[MailKind, dict]]:
    """(kind, context) of a directive's opened and coordinate mails, and of an extension's
    request, grant and refusal, from the sample item."""
    directive = directive_row(
        id=0,
        commune=item.commune,
        issued_on=item.opens_on - timedelta(days=3),
        due=item.due,
        obligation=item.obligation,
        units=[item.unit],
        coordinators=[],
        recorded_at=opened,
        **SAMPLE_DIRECTIVE,
    )
    tasked = changed(item, directive_id=0, period=directive_period(0), title=directive.task)
    later = item.due + timedelta(days=7)
    extension = extension_row(
        item_id=0,
        seq=1,
        status=ExtensionStatus.GRANTED,
        requested_by=item.unit,
        requested_at=opened,
        reason="Chờ số liệu của cơ quan cấp trên",
        proposed_due=later,
        decision_note="Đồng ý theo đề nghị của đơn vị",
        previous_due=item.due,
        granted_due=later,
    )
    extended = changed(item, due=later, original_due=item.due)
    facts = Facts(items={0: tasked}, directives={0: directive}, extensions={(0, 1): extension})
    out = []
    for kind in (MailKind.OPENED, MailKind.COORDINATE):
        entry = composer.entry(kind, "opened", tasked, opened, facts)
        out.append((kind, composer.context(kind, recipient, opened, [entry], (), True)))
    for step, subject in (("requested-1", item), ("extended-1", extended), ("refused-1", item)):
        entry = composer.entry(MailKind.EXTENSION, step, subject, opened, facts)
        out.append(
            (MailKind.EXTENSION, composer.context(MailKind.EXTENSION, recipient, opened, [entry]))
        )
    return out
