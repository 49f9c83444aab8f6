"""What a delivery run did (`DeliveryReport`), and how the summaries say it in Vietnamese: `cchc
send` and `cchc sweep` (`describe_delivery`), the sweep's page in Prefect (`waiting_words`)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

WAITING_LABELS = {
    "held": "đang do một lần gửi khác giữ (đang chạy hoặc đã dừng đột ngột)",
    "refused": "máy chủ thư tạm từ chối (4xx)",
    "slow": "máy chủ thư trả lời chậm",
    "down": "không gửi được tới máy chủ thư (không kết nối được, không trả lời)",
    "unbuilt": "không tạo được thư (mẫu thư lỗi: chạy cchc check)",
}
"""Why rows wait, as the summaries say it (`DeliveryReport.why_waiting`)."""


@dataclass
class DeliveryReport:
    at: datetime
    via: str = ""
    messages: int = 0
    """Messages handed over (a digest counts once)."""
    deliveries: int = 0
    """(message, recipient) pairs handed over: what its recipients received (a digest listing
    ten outbox rows is one delivery to its addressee; a mail with a copy, two)."""
    sent: list[tuple[int, str, int, str]] = field(default_factory=list)
    """(outbox id, kind, item id, recipient) of the rows delivered."""
    retrying: list[tuple[int, str, str, datetime]] = field(default_factory=list)
    """(outbox id, recipient, error, next attempt)."""
    failed: list[tuple[int, str, str]] = field(default_factory=list)
    """(outbox id, recipient, error)."""
    dropped: list[tuple[int, str]] = field(default_factory=list)
    """(outbox id, reason): rows cancelled because their item closed or moved on."""
    lost_claims: int = 0
    """Rows settled by someone else while we were sending (lease ran out, or item closed)."""
    held: int = 0
    """Rows due that another deliverer's live claim holds (a run in progress, or one that
    died), which this run therefore left alone ..."""
    held_until: datetime | None = None
    """... until then at the latest (when the last of those claims runs out)."""
    waiting_for: Counter[str] = field(default_factory=Counter)
    """The rows to retry (`retrying`) by why they wait (`notifications.transport.Cause`)."""

    @property
    def waiting(self) -> int:
        """Rows due that still wait: to retry, or held by another deliverer."""
        return len(self.retrying) + self.held

    def why_waiting(self) -> str:
        """How many rows wait and why, in Vietnamese ("" when none waits)."""
        counts = Counter(self.waiting_for)
        counts["held"] += self.held
        return "; ".join(f"{n} {WAITING_LABELS[why]}" for why, n in counts.items() if n)

    def add(self, other: DeliveryReport) -> None:
        """Count `other` (another commune's run) in this report."""
        self.via = self.via or other.via
        self.messages += other.messages
        self.deliveries += other.deliveries
        self.sent += other.sent
        self.retrying += other.retrying
        self.failed += other.failed
        self.dropped += other.dropped
        self.lost_claims += other.lost_claims
        self.held += other.held
        self.waiting_for.update(other.waiting_for)
        if other.held_until and (self.held_until is None or other.held_until > self.held_until):
            self.held_until = other.held_until


def waiting_words(report: DeliveryReport) -> str:
    """ "N chờ gửi lại (why)": the rows to retry and those another run holds, as every summary
    of a delivery run says it (`cchc send`, `cchc sweep`, the engine's sweep)."""
    why = report.why_waiting()
    return f"{report.waiting} chờ gửi lại" + (f" ({why})" if why else "")


def describe_delivery(report: DeliveryReport) -> str:
    """What a delivery run did, in Vietnamese (`cchc sweep`, `cchc send`): how the mail went, the
    counts, then one line per outbox row (#id) sent, to retry, failed or cancelled."""
    from notifications.labels import kind_label
    from schedules.dates import vn_datetime

    via = report.via
    if via.startswith("files in "):  # FileTransport: the folder of the .eml files
        via = "tệp .eml trong " + via.removeprefix("files in ")
    lines = [
        f"Gửi thư qua {via}: {report.messages} thư ({len(report.sent)} thông báo); "
        f"{waiting_words(report)}, {len(report.failed)} lỗi, "
        f"{len(report.dropped)} đã hủy"
        + (f", {report.lost_claims} do nơi gửi khác xử lý" if report.lost_claims else "")
    ]
    lines += [
        f"  đã gửi #{i}: {kind_label(kind)}, việc #{item} → {to}"
        for i, kind, item, to in report.sent
    ]
    lines += [
        f"  gửi lại #{i}: {to} lúc {vn_datetime(when)}: {error}"
        for i, to, error, when in report.retrying
    ]
    if report.held:
        until = vn_datetime(report.held_until) if report.held_until else "?"
        lines.insert(
            1,
            f"{report.held} thông báo đang do một lần gửi khác giữ đến {until} (lần gửi đó "
            "đang chạy, hoặc đã dừng đột ngột: khi đó các thông báo này được gửi sau giờ trên)",
        )
    lines += [f"  LỖI #{i}: {to}: {error}" for i, to, error in report.failed]
    lines += [f"  đã hủy #{i}: {reason}" for i, reason in report.dropped]
    return "\n".join(lines)
