"""One way to show a file's size: the intake pages, the upload refusals and the mails all say it
with `notifications.phrases.file_size`."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine

from cchc.intake import create_app
from cchc.intake.upload import too_large_message
from cchc.runtime.settings import IntakeSettings, Settings
from models.tables import Deliverable, Outbox, WorkItem
from notifications.compose import Composer
from notifications.facts import Facts
from notifications.phrases import file_size
from notifications.samples import sample_item

AT = datetime(2027, 3, 9, 1, 0, tzinfo=UTC)
LIMIT = 1536 * 1024


@pytest.mark.parametrize(
    ("size", "shown"),
    [
        (0, "0 byte"),
        (123, "123 byte"),
        (1023, "1023 byte"),
        (1024, "1 KB"),
        (1280, "1,3 KB"),  # 1,25 rounds half up
        (2048, "2 KB"),
        (12390, "12,1 KB"),
        (64 * 1024, "64 KB"),
        (1024 * 1024 - 1, "1 MB"),  # not "1024 KB"
        (1024 * 1024, "1 MB"),
        (LIMIT, "1,5 MB"),
        (20 * 1024 * 1024, "20 MB"),
        (3 * 1024**3, "3 GB"),
    ],
)
def test_file_size(size, shown):
    assert file_size(size) == shown


def test_page_refusal_and_mail_show_a_size_alike(plan, tmp_path):
    settings = Settings(
        config_dir=tmp_path,
        data_dir=tmp_path / "data",
        database_url="sqlite://",
        intake=IntakeSettings(secret="test-secret-0123456789abcdef", max_bytes=LIMIT),
    )
    app = create_app(plan, create_engine("sqlite://"), settings)
    env = app.state.cchc.env
    assert env.filters["size"] is file_size
    assert env.globals["max_size"] == "1,5 MB"
    assert env.from_string("{{ n | size }}").render(n=LIMIT) == "1,5 MB"

    assert "mỗi tệp tối đa 1,5 MB." in too_large_message(LIMIT)

    item = sample_item(plan, AT)
    closed = WorkItem(**item.model_dump() | {"status": "closed", "step": "closed", "closed_at": AT})
    got = Deliverable(
        item_id=0,
        version=1,
        original_name="bao-cao.pdf",
        size=LIMIT,
        sha256="0" * 64,
        stored_path="",
        received_at=AT,
    )
    row = Outbox(
        id=1,
        item_id=0,
        step="closed",
        kind="closed",
        recipient=str(plan.units[item.unit].email),
        cc=[],
        created_at=AT,
        send_after=AT,
    )
    mail = Composer(plan).for_row(row, Facts(items={0: closed}, deliverables={0: got}), AT)
    text = mail.message.get_body(("plain",)).get_content()
    assert "lần nộp thứ 1, 1,5 MB)" in text
