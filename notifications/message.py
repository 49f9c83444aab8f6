"""RFC 5322 messages from rendered text: headers, alternatives, attachments, stable Message-IDs.

Bodies and MIME structure come from the stdlib `email` package (`policy.SMTP`). Headers that
may hold Vietnamese (Subject, the display names of From/To/Cc/Reply-To) are encoded here with
`email.header.Header` (RFC 2047, folded) and stored as they are: the policy's own folding of
such headers takes ~15 ms per header and, in Python 3.11, drops the space between two encoded
words ("Văn phòng" arrived as "Vănphòng"). Every value is flattened to one line first and
addresses are checked, so a name from the config cannot add a header.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email import base64mime, policy
from email.header import Header
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, parseaddr

from schedules.vocabulary import MailKind

MAIL_POLICY = policy.SMTP
KIND_PATTERN = re.compile(r"[a-z][a-z_-]{0,31}")
"""Values of the X-CCHC-Kind header (and of template names): `schedules.vocabulary.MailKind`;
the pattern keeps a header value and a template name safe, whatever a caller passes."""

ALTERNATIVE_BOUNDARY = "cchc-alt-part"
MIXED_BOUNDARY = "cchc-mixed-part"
"""MIME boundaries, the same in every mail: every leaf part is base64, whose lines never hold
a "-", so no line of a part can be taken for a boundary. Fixed, each multipart's Content-Type is
parsed once per process when the mail is written (`notifications.mail_bytes.smtp_bytes`), not
once per mail (a third of the cost of writing one)."""

_ID_UNSAFE = re.compile(r"[^A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+")


@dataclass(frozen=True)
class Attachment:
    filename: str
    maintype: str
    subtype: str
    data: bytes | str
    """Text (`str`, sent as UTF-8 with its charset named) or bytes."""
    params: tuple[tuple[str, str], ...] = ()


def one_line(text: str) -> str:
    """Collapse all whitespace, CR and LF included, to single spaces."""
    return " ".join(text.split())


def address(email: str, name: str | None = None) -> Address:
    """A mailbox; raises ValueError when `email` is not a plain addr-spec."""
    email = email.strip()
    if any(c.isspace() for c in email) or email.count("@") != 1:
        raise ValueError(f"not an e-mail address: {email!r}")
    local, domain = email.split("@")
    return Address(display_name=one_line(name or ""), username=local, domain=domain)


def parse_sender(text: str) -> Address:
    """`Name <addr>` or `addr`, as CCHC_SMTP_FROM gives it."""
    name, email = parseaddr(one_line(text))
    if not email:
        raise ValueError(f"CCHC_SMTP_FROM={text!r} is not an address")
    return address(email, name)


WORD_BYTES = 39
"""UTF-8 bytes per RFC 2047 encoded word: 52 base64 characters, a 64-character word, a
first line of 73 columns after "Subject: " (RFC 5322: at most 78)."""


def encode_text(name: str, value: str) -> str:
    """A one-line header value, folded under 78 columns; when not ASCII, RFC 2047 "B" words
    (`email.base64mime.header_encode`) of at most `WORD_BYTES` bytes, each cut between two
    characters. `email.header.Header` does the same cutting char by char, encoding each: a
    fifth of the time a mail took to build (issue 25)."""
    value = one_line(value)
    if value.isascii():
        return Header(value, "us-ascii", header_name=name).encode(linesep="\r\n")
    data = value.encode("utf-8")
    words, start = [], 0
    while start < len(data):
        end = min(start + WORD_BYTES, len(data))
        while end < len(data) and data[end] & 0xC0 == 0x80:  # inside a character
            end -= 1
        words.append(base64mime.header_encode(data[start:end], "utf-8"))
        start = end
    return "\r\n ".join(words)


def encode_mailboxes(name: str, mailboxes: Sequence[Address]) -> str:
    """`Name <addr>` items, the names encoded like `encode_text`, one mailbox per line."""
    return ",\r\n ".join(_mailbox(name, box.display_name, box.addr_spec) for box in mailboxes)


@functools.lru_cache(maxsize=4096)
def _mailbox(name: str, display: str, addr_spec: str) -> str:
    """A commune has a few dozen addresses: each is encoded once per process."""
    display = one_line(display)
    if not display:
        return addr_spec
    if display.isascii():
        return formataddr((display, addr_spec))
    encoded = Header(display, "utf-8", header_name=name).encode(linesep="\r\n")
    return f"{encoded}\r\n <{addr_spec}>"


@functools.lru_cache(maxsize=16)
def _date_header(date: datetime) -> str:
    """A run's mails share their Date."""
    return format_datetime(date)


def _token(text: str) -> str:
    return _ID_UNSAFE.sub(".", text).strip(".") or "x"


def _sha(text: str, n: int = 12) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:n]


def message_id(commune: str, item_id: int, step: str, recipient: str, round_no: int = 0) -> str:
    """Derived from the outbox key (item, step, recipient) and the item's return round: a resend
    after a crash carries the same id, so the receiving side can recognise it, and the mails of a
    new round (after `cchc return`: the same step names again) carry new ones, which clients that
    drop duplicate ids do not hide. Round 0 (never returned) has no round mark."""
    mark = f"-r{round_no}" if round_no else ""
    sha = _sha(recipient.lower())
    return f"<outbox-{item_id}-{_token(step)}{mark}-{sha}@{_token(commune)}.cchc>"


def digest_message_id(commune: str, outbox_ids: Sequence[int], recipient: str) -> str:
    key = ",".join(str(i) for i in sorted(outbox_ids))
    return f"<{DIGEST_ID_PREFIX}{_sha(key, 16)}-{_sha(recipient.lower())}@{_token(commune)}.cchc>"


DIGEST_ID_PREFIX = "digest-"
"""What a digest's Message-ID starts with, after its `<`."""


def is_digest_id(msg_id: str | None) -> bool:
    return msg_id is not None and msg_id.startswith(f"<{DIGEST_ID_PREFIX}")


def base64_lines(data: bytes) -> str:
    """`base64.encodebytes(data).decode()`: 76-character lines, each ending in a newline; one
    encoding pass instead of one per 57 bytes (a mail's bodies are 20-50 KB)."""
    text = base64.b64encode(data).decode("ascii")
    lines = [text[i : i + 76] for i in range(0, len(text), 76)]
    return "\n".join(lines) + "\n" if lines else ""


def _text_part(text: str, subtype: str, disposition: str | None = None) -> EmailMessage:
    """A UTF-8 text part, base64 (safe through any relay, and shorter than quoted-printable
    for Vietnamese). Headers are set raw: the policy's header parsing costs more than the rest
    of the message."""
    part = EmailMessage(policy=MAIL_POLICY)
    part.set_raw("Content-Type", f'text/{subtype}; charset="utf-8"')
    part.set_raw("Content-Transfer-Encoding", "base64")
    if disposition:
        part.set_raw("Content-Disposition", disposition)
    part.set_payload(base64_lines(text.encode()))
    return part


def _attachment_part(att: Attachment) -> EmailMessage:
    """Each parameter on a line of its own: a header line over 78 columns is folded again by
    the policy when the mail is written, parsing the header each time."""
    name = _token(att.filename)
    params = [f'{_token(k)}="{_token(v)}"' for k, v in att.params]
    if isinstance(att.data, str):
        params.insert(0, 'charset="utf-8"')
    data = att.data.encode() if isinstance(att.data, str) else att.data
    part = EmailMessage(policy=MAIL_POLICY)
    part.set_raw(
        "Content-Type",
        ";\r\n ".join([f"{_token(att.maintype)}/{_token(att.subtype)}", *params, f'name="{name}"']),
    )
    part.set_raw("Content-Transfer-Encoding", "base64")
    part.set_raw("Content-Disposition", f'attachment;\r\n filename="{name}"')
    part.set_payload(base64_lines(data))
    return part


def _multipart(
    subtype: str, parts: list[EmailMessage], boundary: str, msg: EmailMessage | None = None
) -> EmailMessage:
    msg = msg if msg is not None else EmailMessage(policy=MAIL_POLICY)
    msg.set_raw("Content-Type", f'multipart/{subtype}; boundary="{boundary}"')
    msg.set_payload([*parts])  # a list[Message | str]: typeshed's list is invariant
    return msg


def build_message(
    *,
    sender: Address,
    to: Address,
    cc: Sequence[Address] = (),
    reply_to: Address | None,
    subject: str,
    text: str,
    html: str,
    msg_id: str,
    kind: MailKind,
    item_ids: Sequence[int],
    date: datetime,
    attachments: Sequence[Attachment] = (),
    on_behalf: Address | None = None,
) -> EmailMessage:
    """`on_behalf`: who actually sends a mail whose From is another's (a commune's office, the
    city office), the `Sender` header (RFC 5322 3.6.2): CCHC_SMTP_FROM.

    multipart/alternative (plain text, then HTML), wrapped in multipart/mixed when there are
    attachments, with fixed boundaries (`ALTERNATIVE_BOUNDARY`): a resend is the same
    message."""
    if not KIND_PATTERN.fullmatch(kind):
        raise ValueError(f"bad mail kind {kind!r}")
    if any(c.isspace() for c in msg_id) or not msg_id.isascii():
        raise ValueError(f"bad Message-ID {msg_id!r}")
    msg = EmailMessage(policy=MAIL_POLICY)
    headers = [
        ("From", encode_mailboxes("From", [sender])),
        ("Sender", encode_mailboxes("Sender", [on_behalf]) if on_behalf else None),
        ("To", encode_mailboxes("To", [to])),
        ("Cc", encode_mailboxes("Cc", cc) if cc else None),
        ("Reply-To", encode_mailboxes("Reply-To", [reply_to]) if reply_to else None),
        ("Subject", encode_text("Subject", subject)),
        ("Date", _date_header(date)),
        ("Message-ID", msg_id),
        ("Auto-Submitted", "auto-generated"),
        ("Content-Language", "vi"),
        ("X-CCHC-Kind", str(kind)),
        ("X-CCHC-Item", ", ".join(str(int(i)) for i in item_ids)),
        ("MIME-Version", "1.0"),
    ]
    for name, value in headers:
        if value is not None:
            msg.set_raw(name, value)
    alternative = [_text_part(text, "plain"), _text_part(html, "html")]
    if not attachments:
        return _multipart("alternative", alternative, ALTERNATIVE_BOUNDARY, msg)
    parts = [_multipart("alternative", alternative, ALTERNATIVE_BOUNDARY)]
    parts += [_attachment_part(a) for a in attachments]
    return _multipart("mixed", parts, MIXED_BOUNDARY, msg)
