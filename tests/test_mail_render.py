"""Mail text and headers, without a database: every template renders for a sample, admins'
overrides are used and checked, HTML is escaped, headers survive Vietnamese and hostile names."""

from __future__ import annotations

import email
from datetime import UTC, date, datetime
from email import policy
from email.header import decode_header, make_header
from pathlib import Path

import pytest
from click.testing import CliRunner

from cchc.cli import main
from models.tables import Outbox, WorkItem
from notifications.commune_views import salutations
from notifications.compose import Composer
from notifications.facts import Facts
from notifications.item_view import item_view
from notifications.mail_bytes import eml_bytes
from notifications.message import digest_message_id, message_id
from notifications.phrases import countdown
from notifications.render import Renderer
from notifications.samples import check_mail
from schedules.contents import report_contents
from schedules.dates import local_instant
from schedules.periods import period_label
from schedules.plan_loader import load_plan
from schedules.vocabulary import MailKind

AT = datetime(2027, 3, 9, 1, 0, tzinfo=UTC)  # 08:00 in Hanoi, Tuesday 09/03/2027


def kt_item(plan, **changes) -> WorkItem:
    fields = dict(
        id=42,
        commune=plan.commune.code,
        obligation="bao-cao-cchc-dinh-ky",
        unit="KT",
        period="2027-Q1",
        title=plan.obligations["bao-cao-cchc-dinh-ky"].title,
        window_start=date(2026, 12, 15),
        window_end=date(2027, 3, 14),
        opens_on=date(2027, 3, 2),
        due=date(2027, 3, 16),
        adhoc=False,
        status="open",
        step="reminder-5",
        escalation_level=0,
        opened_at=local_instant(date(2027, 3, 2), plan.commune.sweep_time, plan.zone),
    )
    return WorkItem(**(fields | changes))


def mail_for(plan, item: WorkItem, kind: str = "reminder", step: str = "reminder-5", cc=()):
    row = Outbox(
        id=1,
        item_id=item.id,
        step=step,
        kind=kind,
        recipient=str(plan.units[item.unit].email),
        cc=list(cc),
        created_at=AT,
        send_after=AT,
    )
    return Composer(plan).for_row(row, Facts(items={item.id: item}), AT)


def parsed(message) -> email.message.EmailMessage:
    return email.message_from_bytes(eml_bytes(message), policy=policy.default)


def raw_header(message, name: str) -> str:
    raw = email.message_from_bytes(eml_bytes(message), policy=policy.compat32)[name]
    return str(make_header(decode_header(raw)))


def edit(folder: Path, name: str, old: str, new: str) -> None:
    path = folder / name
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_every_template_renders_against_a_sample(plan):
    assert check_mail(plan, None, AT) == []


def test_reminder_states_what_when_and_whom_to_call(plan):
    msg = parsed(mail_for(plan, kt_item(plan)).message)
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    for part in (text, html):
        assert "Báo cáo định kỳ tình hình thực hiện công tác cải cách hành chính" in part
        assert "quý I năm 2027" in part
        assert "số liệu từ 15/12/2026 đến 14/03/2027" in part
        assert "Thứ Ba, ngày 16/03/2027" in part
        assert "còn 05 ngày làm việc" in part
        assert "84/KH-UBND, Mục V.1" in part
        assert "Công chức phụ trách CCHC, Phòng Văn hóa - Xã hội" in part
        assert "0220 000 0000" in part
    assert '<meta name="viewport"' in html
    assert msg["X-CCHC-Kind"] == "reminder" and msg["X-CCHC-Item"] == "42"
    assert msg["Auto-Submitted"] == "auto-generated"


def test_vietnamese_headers_survive_encoding(plan):
    item = kt_item(plan)
    mail = mail_for(plan, item)
    subject = raw_header(mail.message, "Subject")
    assert subject == (
        "[CCHC] Phòng Kinh tế, hạn 16/03/2027 – Nhắc hạn: Báo cáo CCHC quý I năm 2027"
    )
    assert parsed(mail.message)["Subject"] == subject
    assert raw_header(mail.message, "To") == "Phòng Kinh tế <kinhte@maodien.example>"
    assert raw_header(mail.message, "From").startswith("Nhắc việc CCHC - Ủy ban nhân dân xã")
    assert all(len(line) <= 78 for line in eml_bytes(mail.message).split(b"\r\n"))
    assert eml_bytes(mail.message).isascii()
    # Each encoded word holds whole characters: a client that decodes word by word shows them.
    words = email.message_from_bytes(eml_bytes(mail.message), policy=policy.compat32)["Subject"]
    decoded = [part.decode("utf-8") for w in words.split() for part, _ in decode_header(w)]
    assert len(decoded) > 1 and "".join(decoded) == subject


def test_message_id_comes_from_the_outbox_key(plan):
    first = message_id("maodien", 42, "reminder-5", "kinhte@maodien.example")
    assert first == message_id("maodien", 42, "reminder-5", "KinhTe@maodien.example")
    assert first != message_id("maodien", 42, "reminder-5", "vhxh@maodien.example")
    assert first.startswith("<outbox-42-reminder-5-") and first.endswith("@maodien.cchc>")
    mail = mail_for(plan, kt_item(plan))
    assert mail.message["Message-ID"] == first
    assert eml_bytes(mail.message) == eml_bytes(mail_for(plan, kt_item(plan)).message)
    assert digest_message_id("maodien", [3, 1, 2], "a@b.example") == digest_message_id(
        "maodien", [1, 2, 3], "a@b.example"
    )


def test_html_is_escaped_and_text_is_not(plan):
    item = kt_item(plan, title='Báo cáo <script>alert("x")</script> & phụ lục')
    msg = parsed(mail_for(plan, item).message)
    html = msg.get_body(("html",)).get_content()
    text = msg.get_body(("plain",)).get_content()
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; phụ lục" in html
    assert 'Báo cáo <script>alert("x")</script> & phụ lục' in text


def test_names_from_config_cannot_inject_headers(config_dir):
    edit(
        config_dir,
        "units.yaml",
        "name: Phòng Kinh tế\n",
        'name: "Phòng Kinh tế\\r\\nBcc: spy@evil.example\\nX-Evil: 1"\n',
    )
    plan = load_plan(config_dir)
    item = kt_item(plan, title="Báo cáo\r\nBcc: spy2@evil.example")
    message = mail_for(plan, item, "escalation", "escalation-1", ["vhxh@maodien.example"]).message
    msg = parsed(message)
    assert msg["Bcc"] is None and msg["X-Evil"] is None
    assert [a.addr_spec for a in msg["Cc"].addresses] == ["vhxh@maodien.example"]
    assert "\n" not in raw_header(message, "Subject")
    assert raw_header(message, "Subject").count("Bcc: spy@evil.example") == 1  # as text


def test_admin_template_overrides_the_shipped_one(config_dir):
    (config_dir / "templates").mkdir()
    (config_dir / "templates" / "reminder.subject.j2").write_text(
        "Nhắc việc {{ item.unit.name }}: hạn {{ item.due }}", encoding="utf-8"
    )
    plan = load_plan(config_dir)
    mail = mail_for(plan, kt_item(plan))
    assert raw_header(mail.message, "Subject") == "Nhắc việc Phòng Kinh tế: hạn 16/03/2027"
    assert check_mail(plan, None, AT) == []


def test_unknown_variable_fails_check_not_a_live_send(config_dir):
    folder = config_dir / "templates"
    folder.mkdir()
    (folder / "overdue.txt.j2").write_text(
        "Kính gửi {{ recipient.name }}\n\n{{ item.titel }}\n", encoding="utf-8"
    )
    (folder / "closed.subject.j2").write_text("{{ nguoi_gui }} đã nhận", encoding="utf-8")
    plan = load_plan(config_dir)
    problems = [str(p) for p in check_mail(plan, None, AT)]
    assert any(
        p.startswith(f"{folder / 'overdue.txt.j2'}:3:") and "titel" in p for p in problems
    ), problems
    assert any(
        p.startswith(f"{folder / 'closed.subject.j2'}:1:") and "nguoi_gui" in p for p in problems
    ), problems
    result = CliRunner().invoke(main, ["--config", str(config_dir), "check"])
    assert result.exit_code == 1
    assert "overdue.txt.j2:3:" in result.output and "Mẫu thư không hợp lệ" in result.output


def test_template_syntax_error_names_file_and_line(config_dir):
    folder = config_dir / "templates"
    folder.mkdir()
    (folder / "due.html.j2").write_text("<p>\n{% if item.due_today %}\n<p>", encoding="utf-8")
    problems = [str(p) for p in check_mail(load_plan(config_dir), None, AT)]
    assert any(p.startswith(f"{folder / 'due.html.j2'}:") for p in problems), problems


def test_a_sender_that_is_not_an_address_fails_check(plan):
    assert check_mail(plan, "CCHC <không phải địa chỉ>", AT) != []
    assert check_mail(plan, "CCHC Mao Điền <cchc@maodien.example>", AT) == []


@pytest.mark.parametrize(
    ("key", "label"),
    [
        ("2027", "năm 2027"),
        ("2027-H1", "6 tháng đầu năm 2027"),
        ("2027-H2", "6 tháng cuối năm 2027"),
        ("2027-Q1", "quý I năm 2027"),
        ("2027-Q3", "quý III năm 2027"),
        ("2027-02", "tháng 02/2027"),
        ("2027-02-28", "đợt ngày 28/02/2027"),
    ],
)
def test_period_labels(key, label):
    assert period_label(key) == label


def test_working_days_left_and_late(plan):
    due = date(2027, 3, 16)  # a Tuesday
    assert countdown(plan, due, date(2027, 3, 9)) == (5, 0, "còn 05 ngày làm việc")
    assert countdown(plan, due, date(2027, 3, 13)) == (2, 0, "còn 02 ngày làm việc")  # Saturday
    assert countdown(plan, due, due) == (0, 0, "hạn là hôm nay")
    assert countdown(plan, due, date(2027, 3, 17)) == (0, 1, "đã quá hạn 01 ngày làm việc")
    assert countdown(plan, due, date(2027, 3, 20)) == (0, 3, "đã quá hạn 03 ngày làm việc")


def test_mail_kinds_the_cli_and_the_templates_agree():
    """One vocabulary: `cchc preview --kind` offers exactly the mail kinds, every kind has its
    three templates, and no template exists for a kind the vocabulary does not know."""
    from cchc.cli import preview_cmd

    [kind_option] = [p for p in preview_cmd.params if p.name == "kind"]
    assert list(kind_option.type.choices) == [k.value for k in MailKind]
    folder = Path(__file__).resolve().parent.parent / "notifications" / "templates"
    named = {f.name.split(".")[0] for f in folder.glob("*.j2") if not f.name.startswith("_")}
    assert named == {k.value for k in MailKind}
    for kind in MailKind:
        for part in ("subject", "txt", "html"):
            assert (folder / f"{kind}.{part}.j2").is_file(), f"{kind}.{part}.j2"


def templates_rendered(monkeypatch) -> list[str]:
    """The names of the templates rendered from now on, in order (each `Template.render`)."""
    from jinja2 import Template

    rendered: list[str] = []
    render = Template.render
    monkeypatch.setattr(
        Template,
        "render",
        lambda self, *a, **k: rendered.append(self.name) or render(self, *a, **k),
    )
    return rendered


def test_rows_that_differ_only_in_recipient_render_the_rest_once(plan, monkeypatch):
    """A closed mail goes to the unit and to the standing office: one composer renders the
    subject once for both, the text and HTML (which greet the recipient) for each, and each
    mail is byte for byte the one a composer of its own builds."""
    item = kt_item(plan, status="closed", step="closed-v1", closed_at=AT, on_time=True)
    rows = [
        Outbox(id=n, item_id=item.id, step="closed-v1", kind="closed", recipient=to, cc=[],
               created_at=AT, send_after=AT)
        for n, to in enumerate(["kinhte@maodien.example", "vhxh@maodien.example"], 1)
    ]  # fmt: skip
    facts = Facts(items={item.id: item})
    alone = [eml_bytes(Composer(plan).for_row(row, facts, AT).message) for row in rows]
    rendered = templates_rendered(monkeypatch)
    composer = Composer(plan)
    together = [composer.for_row(row, facts, AT) for row in rows]
    assert rendered.count("closed.subject.j2") == 1
    assert rendered.count("closed.txt.j2") == rendered.count("closed.html.j2") == 2
    assert [eml_bytes(mail.message) for mail in together] == alone
    assert raw_header(together[0].message, "To") != raw_header(together[1].message, "To")


def test_a_units_task_list_is_rendered_once_for_all_its_mails(plan, monkeypatch):
    """A periodic report's task list (`_contents.*`) is the same in every reminder of a unit:
    one renderer renders it once per unit and kind of notice, and each mail is byte for byte
    the one a composer of its own builds."""
    items = [kt_item(plan, id=n, period=f"2027-Q{n}") for n in (1, 2)]
    items.append(kt_item(plan, id=3, unit="CA"))
    rows = [
        Outbox(id=item.id, item_id=item.id, step="reminder-5", kind="reminder",
               recipient=str(plan.units[item.unit].email), cc=[], created_at=AT, send_after=AT)
        for item in items
    ]  # fmt: skip
    facts = Facts(items={item.id: item for item in items})
    alone = [  # each with templates of its own: nothing rendered before
        eml_bytes(Composer(plan, renderer=Renderer()).for_row(row, facts, AT).message)
        for row in rows
    ]
    rendered = templates_rendered(monkeypatch)
    composer = Composer(plan, renderer=Renderer())
    together = [eml_bytes(composer.for_row(row, facts, AT).message) for row in rows]
    assert together == alone
    assert rendered.count("reminder.html.j2") == 3
    assert rendered.count("_contents.html.j2") == rendered.count("_contents.txt.j2") == 2
    kt, _, ca = (
        email.message_from_bytes(b, policy=policy.default).get_body(("plain",)).get_content()
        for b in together
    )
    assert "mục V.2.e:" in ca and "mục V.2.e:" not in kt  # each unit's own list


def test_an_admins_task_list_template_is_used(config_dir):
    (config_dir / "templates").mkdir()
    shipped = Path(__file__).parent.parent / "notifications" / "templates" / "_contents.txt.j2"
    (config_dir / "templates" / "_contents.txt.j2").write_text(
        shipped.read_text(encoding="utf-8").replace("Nội dung báo cáo:", "Báo cáo gồm:"),
        encoding="utf-8",
    )
    plan = load_plan(config_dir)
    text = parsed(mail_for(plan, kt_item(plan)).message).get_body(("plain",)).get_content()
    assert "Báo cáo gồm: kết quả thực hiện các nhiệm vụ sau của Kế hoạch" in text
    assert check_mail(plan, None, AT) == []


def test_an_edited_override_is_used_from_the_next_run_on(config_dir):
    """Templates are compiled once per renderer; a composer (one per delivery run) picks up an
    override edited since the last one."""
    (config_dir / "templates").mkdir()
    subject = config_dir / "templates" / "reminder.subject.j2"
    subject.write_text("Nhắc việc: hạn {{ item.due }}", encoding="utf-8")
    plan = load_plan(config_dir)
    assert (
        raw_header(mail_for(plan, kt_item(plan)).message, "Subject") == "Nhắc việc: hạn 16/03/2027"
    )
    subject.write_text("Nhắc việc lần nữa: hạn {{ item.due }}", encoding="utf-8")
    assert (
        raw_header(mail_for(plan, kt_item(plan)).message, "Subject")
        == "Nhắc việc lần nữa: hạn 16/03/2027"
    )


def test_the_smtp_transport_sends_the_bytes_aiosmtplib_would(plan):
    """`smtp_bytes` (header parsing memoised, for every message after the first) writes every
    kind of mail as aiosmtplib's own `flatten_message` does, with and without 8BITMIME."""
    from aiosmtplib.email import flatten_message

    from notifications.mail_bytes import smtp_bytes

    composer = Composer(plan, link=lambda item_id, unit, at: f"https://cchc.example/{item_id}")
    item = kt_item(plan)
    facts = Facts(
        items={item.id: item},
        returns={(item.id, ""): {"reason": "Thiếu số liệu", "previous_due": "2027-03-10"}},
        failures={(item.id, "reminder-5"): [("kinhte@maodien.example", "550 5.1.1 no")]},
    )
    steps = [("opened", "opened"), ("reminder", "reminder-5"), ("due", "due"),
             ("overdue", "overdue"), ("escalation", "escalation-1"), ("returned", "returned-1"),
             ("reminder", "undelivered-reminder-5")]  # fmt: skip
    rows = [
        Outbox(id=n, item_id=item.id, step=step, kind=kind, recipient="kinhte@maodien.example",
               cc=["vhxh@maodien.example"] if kind == "escalation" else [],
               created_at=AT, send_after=AT)
        for n, (kind, step) in enumerate(steps, 1)
    ]  # fmt: skip
    mails = [composer.for_row(row, facts, AT) for row in rows]
    mails.append(composer.for_digest(rows[:4], facts, AT))
    for mail in mails * 2:
        for cte in ("8bit", "7bit"):
            assert smtp_bytes(mail.message, cte) == flatten_message(mail.message, cte_type=cte)


def test_a_run_signs_each_items_link_once(tmp_path, monkeypatch):
    """The mails of an item in one run carry one link, signed once: the link `item_link` gives."""
    from cchc.runtime.settings import IntakeSettings, Settings
    from notifications import links

    settings = Settings(
        config_dir=tmp_path,
        data_dir=tmp_path,
        database_url="sqlite://",
        intake=IntakeSettings(secret="s" * 32),
    )
    signed: list[int] = []
    token = links.item_token
    monkeypatch.setattr(
        links, "item_token", lambda secret, i, *a: signed.append(i) or token(secret, i, *a)
    )
    link = links.intake_linker(settings)
    made = [link(42, "KT", AT) for _ in range(5)] + [link(43, "KT", AT)]
    assert signed == [42, 43]
    assert made[:5] == [links.item_link(settings, 42, "KT", AT)] * 5
    assert made[5] == links.item_link(settings, 43, "KT", AT)


# ----- issue 20 §3: wording and data -----------------------------------------------------------

DEFAULT_DATES = {
    # obligation: the default day the config sets where the plan says only "Hàng năm"
    "ke-hoach-ra-soat-vbqppl-hang-nam": "15/01",
    "ke-hoach-theo-doi-thi-hanh-phap-luat": "15/01",
    "tu-cham-diem-par-index": "15/01",
    "cu-can-bo-boi-duong-cchc": "30/06",
    "tu-kiem-tra-cchc": "31/10",
    "do-luong-su-hai-long": "15/11",
    "kiem-tra-iso-9001": "30/11",
    "ke-hoach-cchc-hang-nam": "25/12",
    "du-toan-kinh-phi-cchc": "15/07",
    "vneid-tinh-trang-hon-nhan": "10/12",
    "thong-tin-tuyen-truyen-cchc": "10/12",
}


def occurrence_item(plan, obligation: str, unit: str, year: int = 2027, period: str = ""):
    """The item the sweep would open for the first occurrence of `obligation` due in `year`
    (or for `period`)."""
    occ = next(
        o
        for o in plan.occurrences(date(year, 1, 1), date(year, 12, 31), obligation=obligation)
        if o.unit == unit and period in ("", o.period.key)
    )
    fields = dict(
        id=7,
        commune=plan.commune.code,
        obligation=obligation,
        unit=unit,
        period=occ.period.key,
        title=plan.obligations[obligation].title,
        window_start=occ.period.window_start,
        window_end=occ.period.window_end,
        opens_on=occ.opens,
        due=occ.due.due,
        nominal_due=occ.due.nominal,
        adhoc=False,
        status="open",
        step="opened",
        escalation_level=0,
        opened_at=local_instant(occ.opens, plan.commune.sweep_time, plan.zone),
    )
    return WorkItem(**fields)


def render_row(plan, item: WorkItem, kind: str, step: str, at: datetime, to: str = ""):
    row = Outbox(
        id=1,
        item_id=item.id,
        step=step,
        kind=kind,
        recipient=to or str(plan.units[item.unit].email),
        cc=[],
        created_at=at,
        send_after=at,
    )
    return parsed(Composer(plan).for_row(row, Facts(items={item.id: item}), at).message)


def texts(message) -> tuple[str, str, str]:
    return (
        str(message["Subject"]),
        message.get_body(("plain",)).get_content(),
        message.get_body(("html",)).get_content(),
    )


@pytest.mark.parametrize("obligation", sorted(DEFAULT_DATES))
def test_a_default_date_says_where_it_comes_from(plan, obligation):
    """The plan says "Hàng năm": the day is the commune's, and every mail says whose."""
    ob = plan.obligations[obligation]
    unit = plan.lead_units(obligation)[0]
    item = occurrence_item(plan, obligation, unit)
    assert f"{item.nominal_due:%d/%m}" == DEFAULT_DATES[obligation]
    _, text, html = texts(render_row(plan, item, "opened", "opened", item.opened_at))
    # The plan's words ("Hàng năm" in today's spelling), then who set the day.
    timing = {"Hàng năm": "hằng năm"}.get(ob.timing, ob.timing[:1].lower() + ob.timing[1:])
    basis = f"Thời gian theo Kế hoạch: {timing}; hạn theo Kế hoạch CCHC năm {item.nominal_due.year}"
    assert f"\n- {basis}\n" in text
    assert basis in html


def test_the_plans_own_date_names_no_other_source_and_its_span(plan):
    """I.1 is due "2026 - 02/2027" by the plan itself: its period reads as the plan's span,
    not the day its period key names (28/02, moved to Friday 26/02)."""
    item = occurrence_item(plan, "ra-soat-vbqppl-chinh-quyen-2-cap", "VP")
    assert item.due == date(2027, 2, 26) and item.period == "2027-02-28"
    subject, text, html = texts(render_row(plan, item, "opened", "opened", item.opened_at))
    assert "- Kỳ: 2026 – tháng 02/2027, thời gian từ 01/01/2026 đến 26/02/2027" in text
    assert "đợt ngày" not in text + html
    assert "\n- Thời gian theo Kế hoạch: 2026 - 02/2027\n" in text
    assert "hạn theo" not in text
    assert subject.startswith("[CCHC] Văn phòng HĐND-UBND, hạn 26/02/2027 – ")


def test_the_periodic_report_says_its_dates_are_the_communes(plan):
    _, text, _ = texts(render_row(plan, kt_item(plan), "reminder", "reminder-5", AT))
    assert (
        "- Thời gian theo Kế hoạch: định kỳ hằng quý, 6 tháng, hằng năm; hạn theo Kế hoạch "
        "CCHC năm 2027" in text
    )


def test_the_coordinated_rows_are_listed_in_the_first_notice_only(plan):
    item = kt_item(plan, unit="CA")
    contents = item_view(plan, item, date(2027, 3, 2)).contents
    coordinated = [g for g in contents if g.coordinated]
    assert coordinated and len(coordinated[0].rows) > 10  # the flag survives the mail's view
    _, first, first_html = texts(render_row(plan, item, "opened", "opened", item.opened_at))
    _, later, later_html = texts(render_row(plan, item, "reminder", "reminder-5", AT))
    row = "mục II.2, ý 1: Rà soát, đánh giá thủ tục hành chính"
    assert row in first and "danh mục như thư thông báo nhiệm vụ" not in first
    assert row not in later and row not in later_html
    count = len(coordinated[0].rows)
    assert f"{count} nhiệm vụ, danh mục như thư thông báo nhiệm vụ." in later
    assert "mục V.2.e:" in later  # the unit's own rows are listed in every mail


def test_the_police_report_lists_its_vneid_duty_in_full_and_no_public_service_rows(plan):
    _, text, html = texts(render_row(plan, kt_item(plan, unit="CA"), "opened", "opened", AT))
    duty = (
        "mục V.2.e: Quản lý cư trú, cấp Căn cước, làm sạch dữ liệu dân cư «đúng, đủ, sạch, "
        "sống»; vận động đăng ký, kích hoạt định danh điện tử và triển khai các tiện ích VNeID"
    )
    assert duty in text
    # IV.2 and V.2 concern public service units: not the commune police's (all_except).
    refs = [ref for g in report_contents(plan, "bao-cao-cchc-dinh-ky", "CA") for ref, _ in g.rows]
    assert "mục IV.2" not in refs and "mục V.2" not in refs and "mục IV.1" in refs
    kt = [ref for g in report_contents(plan, "bao-cao-cchc-dinh-ky", "VP") for ref, _ in g.rows]
    assert "mục IV.2" in kt and "mục V.2" in kt


def test_the_offices_own_overdue_mail_names_who_reports_to_whom(plan, config_dir):
    item = occurrence_item(plan, "ke-hoach-cchc-hang-nam", "VHXH")
    at = local_instant(
        plan.calendar.add_working_days(item.due, 1), plan.commune.sweep_time, plan.zone
    )
    _, text, html = texts(render_row(plan, item, "overdue", "overdue", at))
    said = (
        "Nếu tiếp tục chậm, nhiệm vụ sẽ được báo cáo đồng chí Trưởng phòng Văn hóa - Xã hội, sau "
        "đó Phòng Văn hóa - Xã hội sẽ báo cáo đồng chí Phó Chủ tịch UBND xã phụ trách cải cách "
        "hành chính."
    )
    assert said in text and said in html and "hệ thống sẽ báo cáo" not in text
    # From the config's names, not written into the template.
    edit(config_dir, "units.yaml", "name: Phòng Văn hóa - Xã hội", "name: Phòng Văn hóa")
    edit(
        config_dir, "commune.yaml", "title: Phó Chủ tịch UBND xã", "title: Phó Chủ tịch UBND phường"
    )
    other = load_plan(config_dir)
    _, text, _ = texts(render_row(other, item, "overdue", "overdue", at))
    assert "Phòng Văn hóa sẽ báo cáo đồng chí Phó Chủ tịch UBND phường phụ trách" in text


def test_the_offices_catch_up_subject_is_a_reminder_to_itself(plan):
    item = occurrence_item(plan, "ke-hoach-cchc-hang-nam", "VHXH")
    late = local_instant(
        plan.calendar.add_working_days(item.due, 10), plan.commune.sweep_time, plan.zone
    )
    item = WorkItem(**(item.model_dump() | {"opened_at": late}))
    subject, text, _ = texts(render_row(plan, item, "opened", "opened", late))
    deadline = plan.catch_up_deadline(item.obligation, item.due, late)
    assert subject.startswith("[CCHC] Nhắc việc: hoàn thành bổ sung Xây dựng kế hoạch chỉ đạo")
    assert subject.endswith(f"…, chậm nhất {deadline:%d/%m/%Y}")
    assert "gửi bổ sung" not in subject


def test_subjects_name_the_unit_and_the_deadline_first_in_about_100_characters(plan):
    """Every mail kind of every scheduled item of 2027: "[CCHC] unit, hạn dd/mm/yyyy – ...";
    a coordinator's: "[CCHC] Hạn dd/mm/yyyy – Đề nghị phối hợp với lead: ...". The unit is named
    by its `short_name` when the config gives one ("Trung tâm PVHCC"), so no subject passes 100."""
    lengths = []
    for occ in plan.occurrences(date(2027, 1, 1), date(2027, 12, 31)):
        item = occurrence_item(plan, occ.obligation, occ.unit, 2027, period=occ.period.key)
        unit = plan.units[occ.unit].short_name or plan.units[occ.unit].name
        due = local_instant(occ.due.due, plan.commune.sweep_time, plan.zone)
        for kind, step in (("reminder", "reminder-2"), ("due", "due")):
            subject = str(render_row(plan, item, kind, step, due)["Subject"])
            assert subject.startswith(f"[CCHC] {unit}, hạn "), subject
            assert occ.due.due.strftime("%d/%m/%Y") in subject[: len(unit) + 40]
            lengths.append(len(subject) - len(unit))
            assert len(subject) <= 100, subject
        for co in plan.coordinating_units(occ.obligation, occ.unit)[:1]:
            to = str(plan.units[co].email)
            subject = str(
                render_row(plan, item, "coordinate", "opened", item.opened_at, to)["Subject"]
            )
            inputs = plan.inputs_due(occ.obligation, occ.due.due, item.opened_at)
            lead = f"{inputs:%d/%m/%Y} – Đề nghị phối hợp với {unit}: "
            assert subject.startswith(f"[CCHC] Hạn {lead}"), subject
            assert len(subject) <= 102, subject
    assert max(lengths) <= 80  # with the unit's name: ~100 characters


def test_a_mail_greets_leaders_and_heads_as_comrades_and_units_by_name(plan):
    """ "Kính gửi: Đồng chí <name>, <title>" for a leader or head; a unit by its name."""
    greetings = {address: words for address, (words, _) in salutations(plan).items()}
    assert greetings["pct.vhxh@maodien.example"] == (
        "Đồng chí Nguyễn Đình Hiền, Phó Chủ tịch UBND xã"
    )
    assert greetings["chutich@maodien.example"] == "Đồng chí Chủ tịch UBND xã"
    assert greetings["truongphong.kt@maodien.example"] == "Đồng chí Trưởng phòng Kinh tế"
    assert greetings["kinhte@maodien.example"] == "Phòng Kinh tế"
    item = kt_item(plan)
    for kind, step, to in (
        ("opened", "opened", "kinhte@maodien.example"),
        ("escalation", "escalation-1", "truongphong.kt@maodien.example"),
    ):
        _, text, html = texts(render_row(plan, item, kind, step, AT, to))
        expected = greetings[to]
        assert (
            f"Kính gửi: {expected}\n" in text and f"Kính gửi: <strong>{expected}</strong>" in html
        )


@pytest.mark.parametrize(
    ("kind", "step", "day"),
    [("opened", "opened", date(2027, 3, 9)), ("due", "due", date(2027, 3, 16)),
     ("overdue", "overdue", date(2027, 3, 18))],
)  # fmt: skip
def test_the_offices_own_task_has_a_date_to_finish_not_to_hand_in(plan, kind, step, day):
    """The standing office hands nothing in to itself: "Hạn hoàn thành", never "Hạn nộp"."""
    own = kt_item(plan, unit="VHXH", obligation="bao-cao-cchc-tong-hop", due=date(2027, 3, 18))
    at = local_instant(day, plan.commune.sweep_time, plan.zone)
    _, text, html = texts(render_row(plan, own, kind, step, at))
    assert "hạn nộp" not in text.lower() and "hạn nộp" not in html.lower()
    assert "hạn hoàn thành" in text.lower() and "hạn hoàn thành" in html.lower()
    if kind == "opened":
        assert "- Hạn hoàn thành: Thứ Năm, ngày 18/03/2027 (còn 07 ngày làm việc)" in text
    unit = texts(render_row(plan, kt_item(plan), kind, step, at))[1]
    assert "hạn nộp" in unit.lower()
