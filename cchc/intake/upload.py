"""Receive a multipart/form-data upload as it streams in: each file part goes straight to a
temporary file on disk, counted as it arrives, so a request never sits in memory and an
oversized file is refused as soon as it passes the limit.

1. A declared Content-Length over the request limit is refused before a byte is read.
2. The body is fed, chunk by chunk, to python-multipart's push parser; file parts are written
   to `incoming/`, text fields are kept (a few KB at most).
3. A file part over `max_file_bytes`: its temporary file is deleted at once and the rest of the
   body is read and dropped (never stored), so the browser gets the answer rather than a reset
   connection; past `max_body` the reading stops.
4. A spool folder that refuses a write (full, read-only) is refused with 507, and logged.
5. A body that stalls (nothing for `read_timeout` seconds, or not complete within
   `BODY_DEADLINE_FACTOR` times that) is refused with 408, and so is a body that ends before
   the closing boundary (a truncated upload is never taken for a complete file).

Text fields are checked by `clean_text` before anything is stored.
"""

from __future__ import annotations

import asyncio
import codecs
import logging
import os
import tempfile
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request

from notifications.phrases import file_size
from usecases.errors import STORAGE_FULL

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

MAX_FIELD_BYTES = 16 * 1024
MAX_FIELDS = 20
MAX_HEADER_BYTES = 8 * 1024
BODY_DEADLINE_FACTOR = 20
"""The whole body must arrive within this many read timeouts (a drip of a byte a minute
would otherwise hold the request for ever)."""
MAX_FILES = 10
"""Files the intake takes in one upload."""
MAX_FORM_BYTES = 64 * 1024
"""The office's forms (a reason, a date): anything larger is refused unread."""
MAX_BOUNDARY = 200
"""The longest multipart boundary taken (RFC 2046 allows 70; browsers send 40 to 70)."""
log = logging.getLogger("cchc.intake")


class UploadRefused(Exception):
    """The request cannot be taken; `status` for HTTP, `message` for people (Vietnamese)."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers


@dataclass
class ReceivedFile:
    field: str
    filename: str
    """As the browser sent it: not yet checked (see filetypes.clean_name)."""
    path: Path
    size: int = 0


@dataclass
class ReceivedForm:
    fields: dict[str, str] = field(default_factory=dict)
    files: list[ReceivedFile] = field(default_factory=list)
    repeated: dict[str, list[str]] = field(default_factory=dict)
    """Every value of each text field, in order (a multiple choice repeats its name)."""

    def discard(self) -> None:
        """Delete the temporary files (whatever happens next to their bytes)."""
        for received in self.files:
            received.path.unlink(missing_ok=True)


def too_large_message(max_file_bytes: int) -> str:
    return (
        f"Tệp quá lớn: mỗi tệp tối đa {file_size(max_file_bytes)}. Hãy giảm dung lượng (ví dụ nén "
        "hoặc tách tệp) rồi nộp lại. Không có tệp nào được lưu."
    )


def clean_text(value: str | None, limit: int, label: str) -> str | None:
    """A text field as it will be stored: line ends made `\n`, trimmed, None when empty; or
    UploadRefused(400) when it holds control characters other than newline and tab (a NUL
    byte, an escape sequence) or is longer than `limit` characters. Checked before anything
    is written: PostgreSQL refuses a NUL in text."""
    text = (value or "").replace("\r\n", "\n").replace("\r", "\n").strip()
    bad = next(
        (ch for ch in text if ch not in "\n\t" and unicodedata.category(ch) in ("Cc", "Cs")),
        None,
    )
    if bad is not None:
        raise UploadRefused(
            400,
            f"{label} chứa ký tự điều khiển không in được (mã {ord(bad):#04x}). Hãy gõ lại nội "
            "dung rồi gửi lại. Không có tệp nào được lưu.",
        )
    if len(text) > limit:
        raise UploadRefused(
            400,
            f"{label} quá dài: tối đa {limit} ký tự (đang có {len(text)}). Hãy rút gọn rồi gửi "
            "lại. Không có tệp nào được lưu.",
        )
    return text or None


def stalled_message(seconds: float) -> str:
    return (
        f"Quá {seconds:g} giây không nhận được dữ liệu của tệp (đường truyền quá chậm hoặc bị "
        "gián đoạn). Hãy nộp lại. Không có tệp nào được lưu."
    )


def declared_length(request: Request) -> int | None:
    text = request.headers.get("content-length")
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        raise UploadRefused(400, "Yêu cầu không hợp lệ (Content-Length sai).") from None


class _Parts:
    """The parser's callbacks: build the form, writing file data to disk as it comes."""

    def __init__(self, incoming: Path, max_file_bytes: int, max_files: int, charset: str):
        self.incoming = incoming
        self.max_file_bytes = max_file_bytes
        self.max_files = max_files
        self.charset = charset
        self.form = ReceivedForm()
        self.refusal: UploadRefused | None = None
        self._header_name = b""
        self._header_value = b""
        self._headers: dict[bytes, bytes] = {}
        self._name = ""
        self._data = bytearray()
        self._file: ReceivedFile | None = None
        self._out: IO[bytes] | None = None
        self._dropping = False
        self.ended = False
        """The closing boundary was seen: the body is complete."""

    def callbacks(self) -> MultipartCallbacks:
        return {
            "on_part_begin": self.on_part_begin,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
            "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
            "on_end": self.on_end,
        }

    def refuse(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        if self.refusal is None:
            self.refusal = UploadRefused(status, message, headers)
        self._close_file(delete=True)
        self._dropping = True

    def on_end(self) -> None:
        self.ended = True

    def on_part_begin(self) -> None:
        self._headers, self._name, self._data, self._file = {}, "", bytearray(), None

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]
        if len(self._header_value) > MAX_HEADER_BYTES:
            self.refuse(400, "Yêu cầu không hợp lệ (phần đầu quá dài).")

    def on_header_end(self) -> None:
        self._headers[self._header_name.strip().lower()] = self._header_value
        self._header_name, self._header_value = b"", b""

    def on_headers_finished(self) -> None:
        if self._dropping:
            return
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        self._name = _decode(options.get(b"name", b""), self.charset)
        if b"filename" not in options:
            if len(self.form.fields) >= MAX_FIELDS:
                self.refuse(400, "Yêu cầu không hợp lệ (quá nhiều trường).")
            return
        filename = _decode(options[b"filename"], self.charset)
        if not filename:
            return  # an <input type=file> left empty: browsers send a part with no name
        if len(self.form.files) >= self.max_files:
            self.refuse(400, f"Mỗi lần nộp tối đa {self.max_files} tệp.")
            return
        fd, name = tempfile.mkstemp(dir=self.incoming, prefix=".upload-")
        self._file = ReceivedFile(self._name, filename, Path(name))
        self._out = os.fdopen(fd, "wb")
        self.form.files.append(self._file)

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._dropping:
            return
        if self._out is not None:
            assert self._file is not None
            self._file.size += end - start
            if self._file.size > self.max_file_bytes:
                self.refuse(413, too_large_message(self.max_file_bytes))
                return
            self._out.write(data[start:end])
        elif self._file is None:
            self._data += data[start:end]
            if len(self._data) > MAX_FIELD_BYTES:
                self.refuse(400, "Nội dung ghi chú quá dài.")

    def on_part_end(self) -> None:
        if self._dropping:
            return
        if self._out is not None:
            self._close_file(delete=False)
        elif self._file is None and self._name:
            self.form.fields[self._name] = _decode(bytes(self._data), self.charset)
            self.form.repeated.setdefault(self._name, []).append(self.form.fields[self._name])
        self._file = None

    def _close_file(self, delete: bool) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None
        if delete and self._file is not None:
            self._file.path.unlink(missing_ok=True)
            self.form.files.remove(self._file)
            self._file = None


_CHARSETS = frozenset({"utf-8", "ascii", "latin-1", "iso8859-1", "cp1252", "cp1258"})
"""Text encodings a form may declare; any other (`unicode_escape`, `utf-7`, which make lone
surrogates out of plain bytes) is read as UTF-8."""


def _decode(raw: bytes, charset: str) -> str:
    """A name or a field as text: never a lone surrogate (what cannot be read is replaced, and
    the name rules or `clean_text` refuse what is left)."""
    try:
        codec = codecs.lookup(charset).name
    except LookupError:
        codec = "utf-8"
    if codec not in _CHARSETS:
        codec = "utf-8"
    try:
        return raw.decode(codec)
    except UnicodeDecodeError:
        return raw.decode("utf-8", "replace")


async def receive_form(
    request: Request,
    incoming: Path,
    *,
    max_file_bytes: int,
    max_files: int,
    max_body: int,
    read_timeout: float | None = None,
) -> ReceivedForm:
    """The fields and files of a multipart upload (files as temporary files under `incoming`,
    which the caller must `discard()`), or UploadRefused with nothing left on disk.

    `read_timeout`: the longest wait for the next piece of the body, in seconds (None: no
    limit); the whole body must arrive within `BODY_DEADLINE_FACTOR` times that."""
    content_type, params = parse_options_header(request.headers.get("content-type", ""))
    if content_type != b"multipart/form-data" or b"boundary" not in params:
        raise UploadRefused(400, "Yêu cầu không hợp lệ: hãy gửi tệp bằng biểu mẫu nộp sản phẩm.")
    length = declared_length(request)
    if length is not None and length > max_body:
        raise UploadRefused(413, too_large_message(max_file_bytes))
    boundary = params[b"boundary"]
    if not 1 <= len(boundary) <= MAX_BOUNDARY:
        raise UploadRefused(400, "Yêu cầu không hợp lệ (ranh giới các phần của biểu mẫu sai).")
    parts = _Parts(
        incoming,
        max_file_bytes,
        max_files,
        params.get(b"charset", b"utf-8").decode("ascii", "replace").strip(),
    )
    parser = MultipartParser(boundary, parts.callbacks())
    received = 0
    try:
        incoming.mkdir(parents=True, exist_ok=True)
        async for chunk in _timed(request, read_timeout):
            received += len(chunk)
            if received > max_body:
                parts.refuse(413, too_large_message(max_file_bytes))
                break
            if parts.refusal is None:
                parser.write(chunk)
        if parts.refusal is None:
            parser.finalize()
            if not parts.ended:
                parts.refuse(
                    400,
                    "Dữ liệu gửi lên không đầy đủ (bị cắt ngang trước khi kết thúc). Hãy nộp "
                    "lại. Không có tệp nào được lưu.",
                )
    except ClientDisconnect:
        parts.refuse(400, "Kết nối bị ngắt khi đang gửi tệp. Hãy nộp lại.")
    except TimeoutError:
        parts.refuse(408, stalled_message(read_timeout or 0), {"Connection": "close"})
    except OSError as exc:  # the spool folder refused a write: the server's fault
        log.error("upload not spooled to %s: %s", incoming, exc)
        parts.refuse(507, STORAGE_FULL)
    except Exception:  # noqa: BLE001  (python-multipart raises several kinds)
        parts.refuse(400, "Dữ liệu gửi lên bị hỏng. Hãy nộp lại.")
    if parts.refusal is not None:
        parts._close_file(delete=True)
        parts.form.discard()
        raise parts.refusal
    return parts.form


async def _timed(request: Request, read_timeout: float | None):
    """The request's body chunks; TimeoutError when the next one takes longer than
    `read_timeout`, or the whole body longer than `BODY_DEADLINE_FACTOR` times that."""
    stream = request.stream().__aiter__()
    deadline = (
        None if read_timeout is None else time.monotonic() + read_timeout * BODY_DEADLINE_FACTOR
    )
    while True:
        wait = None
        if read_timeout is not None and deadline is not None:
            wait = min(read_timeout, max(deadline - time.monotonic(), 0.0))
        try:
            chunk = await asyncio.wait_for(stream.__anext__(), wait)
        except StopAsyncIteration:
            return
        yield chunk
