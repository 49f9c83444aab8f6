"""The names of mail kinds, steps and outbox statuses in Vietnamese, as subjects, the command
line's tables and the status pages show them (an item's status:
`schedules.item_standing.standing`)."""

from __future__ import annotations

from schedules.step_names import parse_step
from schedules.vocabulary import MailKind, OutboxStatus, StepKind, working_days

KIND_LABELS: dict[str, str] = {
    MailKind.OPENED: "Thông báo nhiệm vụ",
    MailKind.REMINDER: "Nhắc hạn",
    MailKind.DUE: "Đến hạn hôm nay",
    MailKind.OVERDUE: "Quá hạn",
    MailKind.ESCALATION: "Đôn đốc",
    MailKind.CLOSED: "Đã nhận sản phẩm",
    MailKind.RETURNED: "Trả lại để hoàn thiện",
    MailKind.COORDINATE: "Đề nghị phối hợp",
    MailKind.EXTENSION: "Gia hạn",
    MailKind.CORRECTION: "Đã nhận sản phẩm (sau chuyển cấp)",
    MailKind.OVERVIEW: "Báo cáo tình hình thực hiện nhiệm vụ CCHC",
}

OUTBOX_STATUS_LABELS = {
    OutboxStatus.PENDING: "chờ gửi",
    OutboxStatus.SENT: "đã gửi",
    OutboxStatus.FAILED: "lỗi",
    OutboxStatus.CANCELLED: "đã hủy",
}
DIGEST_LABEL = "Tổng hợp"


def outbox_status_label(status: str) -> str:
    try:
        return OUTBOX_STATUS_LABELS[OutboxStatus(status)]
    except ValueError:
        return str(status)


def kind_label(kind: MailKind | str) -> str:
    """A mail kind in Vietnamese (the subjects' words, `KIND_LABELS`)."""
    return KIND_LABELS.get(kind, DIGEST_LABEL if kind == MailKind.DIGEST else str(kind))


def step_label(step: str) -> str:
    """A step name (`schedules.step_names`) in Vietnamese: "nhắc hạn, còn 5 ngày làm việc",
    "chuyển cấp 2", "báo thư lỗi: quá hạn", "thông báo nhiệm vụ (trước lần trả lại 1)"; a name
    `parse_step` does not read is shown as it is."""
    try:
        name = parse_step(step)
    except ValueError:
        return step
    n = name.number
    words = {
        StepKind.OPENED: "thông báo nhiệm vụ",
        StepKind.REMINDER: f"nhắc hạn, còn {working_days(n or 0)}",
        StepKind.DUE: "đến hạn",
        StepKind.OVERDUE: "quá hạn gửi bổ sung" if n else "quá hạn",
        StepKind.ESCALATION: f"chuyển cấp {n}",
        StepKind.CLOSED: f"đã nhận bản {n}" if n else "đã nhận",
        StepKind.RETURNED: f"trả lại lần {n}",
        StepKind.WAIVED: "miễn",
        StepKind.REQUESTED: f"đề nghị gia hạn lần {n}",
        StepKind.EXTENDED: f"gia hạn lần {n}",
        StepKind.REFUSED: f"không gia hạn lần {n}",
        StepKind.CORRECTION: "báo đã nhận sau chuyển cấp",
        StepKind.HELD: "tồn đọng trước khi vận hành, chờ xử lý",
        StepKind.OVERVIEW: "tổng hợp tình hình quý gửi lãnh đạo",
    }[name.kind]
    if name.undelivered:
        words = f"báo thư lỗi: {words}"
    if name.archived is not None:
        words += f" (trước lần trả lại {name.archived})"
    return words
