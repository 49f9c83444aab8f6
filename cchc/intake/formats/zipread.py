"""A ZIP read to its end, trusting nothing it declares.

`zipfile` parses the central directory; `StrictZip` then holds the archive to what an office
tool writes: entries laid one after another from the first byte, each local header agreeing with
the central directory, nothing between them nor after the central directory (no hidden file, no
polyglot), no password, only stored or deflated data. An entry is inflated from its local data,
streamed, counted against the upload's `Budget` (refused by ratio and total before a byte is
inflated), and must end exactly where it says: a deflate stream that ends within its compressed
size, inflates to its declared size (not one byte more: `unzip` would write what `zipfile`
skips), with its declared CRC.
"""

from __future__ import annotations

import struct
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

from cchc.intake.formats.common import DAMAGED, PASSWORD, Budget, Refused, shown

CHUNK = 256 * 1024
SPOOL_IN_MEMORY = 8 * 1024 * 1024
_LOCAL = struct.Struct("<4sHHHHHIIIHH")
_EOCD = b"PK\x05\x06"


def hidden(why: str) -> Refused:
    return Refused(
        f"Tệp ZIP có cấu trúc bất thường ({why}): có thể giấu dữ liệu mà phần mềm giải nén vẫn "
        "đọc. Hãy nén lại bằng Windows (Gửi tới → Thư mục nén) hoặc lưu lại tài liệu rồi nộp lại."
    )


class StrictZip:
    """An opened ZIP whose layout was checked; read entries with `read`, `chunks` or `spool`."""

    def __init__(self, stream: IO[bytes], budget: Budget):
        self.stream = stream
        self.budget = budget
        try:
            self.zip = zipfile.ZipFile(stream)
            self.members = self.zip.infolist()
        except (zipfile.BadZipFile, ValueError, OSError, EOFError, NotImplementedError):
            raise Refused("Tệp ZIP bị hỏng, không mở được.") from None
        budget.count(len(self.members))
        self._data_at: dict[int, int] = {}
        self._check_layout()

    def _check_layout(self) -> None:
        """Entries back to back from byte 0, then the central directory, then its end record
        closing the file; every local header agrees with the directory."""
        expected = 0
        names: set[str] = set()
        for member in sorted(self.members, key=lambda m: m.header_offset):
            if member.header_offset != expected:
                raise hidden("dữ liệu lạ giữa các tệp")
            if member.flag_bits & 0x41:
                raise Refused(PASSWORD.replace("Tệp có", "Tệp ZIP có"))
            if member.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise Refused(
                    f"Tệp {shown(member.filename)} trong tệp ZIP nén theo cách không hỗ trợ. "
                    "Hãy nén lại bằng Windows (Gửi tới → Thư mục nén)."
                )
            if member.filename.lower() in names:
                raise hidden(f"tên {shown(member.filename)} lặp lại")
            names.add(member.filename.lower())
            start = self._local_header(member)
            self._data_at[id(member)] = start
            expected = start + member.compress_size + self._descriptor(member, start)
        if getattr(self.zip, "start_dir", expected) != expected:
            raise hidden("dữ liệu lạ trước danh mục tệp")
        self._check_end()

    def _local_header(self, member: zipfile.ZipInfo) -> int:
        """Where the entry's data starts, once its local header agrees with the directory."""
        self.stream.seek(member.header_offset)
        raw = self.stream.read(_LOCAL.size)
        if len(raw) != _LOCAL.size:
            raise Refused(DAMAGED)
        sig, _, flags, method, _, _, crc, csize, size, n, extra = _LOCAL.unpack(raw)
        name = self.stream.read(n)
        if sig != b"PK\x03\x04" or method != member.compress_type:
            raise hidden("phần đầu tệp không khớp danh mục")
        decoded = name.decode("utf-8" if flags & 0x800 else "cp437", "replace")
        if decoded != member.orig_filename:
            raise hidden(f"tên {shown(member.filename)} không khớp danh mục")
        if not flags & 0x8 and crc != member.CRC:
            raise hidden(f"mã kiểm tra của {shown(member.filename)} không khớp danh mục")
        sizes = (csize, size)
        if (
            not flags & 0x8
            and 0xFFFFFFFF not in sizes
            and sizes != (member.compress_size, member.file_size)
        ):
            raise hidden(f"kích thước của {shown(member.filename)} không khớp danh mục")
        return member.header_offset + _LOCAL.size + n + extra

    def _descriptor(self, member: zipfile.ZipInfo, start: int) -> int:
        """The length of the data descriptor after the entry's data (flag bit 3), or 0."""
        if not member.flag_bits & 0x8:
            return 0
        self.stream.seek(start + member.compress_size)
        raw = self.stream.read(24)
        body = raw[4:] if raw.startswith(b"PK\x07\x08") else raw
        sig = len(raw) - len(body)
        crc, csize, size = struct.unpack_from("<III", body.ljust(12, b"\0"))
        if crc == member.CRC and (csize, size) == (member.compress_size, member.file_size):
            return sig + 12
        long_sizes = struct.unpack_from("<IQQ", body.ljust(20, b"\0"))
        if long_sizes == (member.CRC, member.compress_size, member.file_size):
            return sig + 20
        raise hidden(f"phần mô tả của {shown(member.filename)} không khớp danh mục")

    def _check_end(self) -> None:
        """The end record is the file's last bytes (its comment included)."""
        self.stream.seek(0, 2)
        size = self.stream.tell()
        self.stream.seek(max(0, size - 65557))
        tail = self.stream.read()
        at = tail.rfind(_EOCD)
        if at == -1 or at + 22 > len(tail):
            raise Refused(DAMAGED)
        (comment,) = struct.unpack_from("<H", tail, at + 20)
        if at + 22 + comment != len(tail):
            raise hidden("dữ liệu lạ sau danh mục tệp")

    # ----- reading entries -------------------------------------------------------------------

    def chunks(self, member: zipfile.ZipInfo) -> Iterator[bytes]:
        """The entry's bytes, inflated as they are read; Refused when they are not exactly the
        declared size and CRC, or the budget is spent."""
        self.budget.admit(member.filename, member.file_size, member.compress_size)
        self.stream.seek(self._data_at[id(member)])
        left, out, crc = member.compress_size, 0, 0
        inflate = zlib.decompressobj(-15) if member.compress_type else None
        while left > 0:
            raw = self.stream.read(min(CHUNK, left))
            if not raw:
                raise Refused(DAMAGED)
            left -= len(raw)
            for piece in _inflated(inflate, raw, member):
                out += len(piece)
                if out > member.file_size:
                    raise hidden(f"{shown(member.filename)} lớn hơn kích thước khai báo")
                self.budget.spend(len(piece))
                crc = zlib.crc32(piece, crc)
                yield piece
        if inflate is not None and not inflate.eof:
            raise hidden(f"dữ liệu nén của {shown(member.filename)} dài hơn kích thước khai báo")
        if out != member.file_size or crc != member.CRC:
            raise Refused(
                f"Tệp {shown(member.filename)} trong tệp ZIP bị hỏng (sai kích thước hoặc mã "
                "kiểm tra)."
            )

    def read(self, member: zipfile.ZipInfo) -> bytes:
        return b"".join(self.chunks(member))

    def drain(self, member: zipfile.ZipInfo) -> bytes:
        """Read the entry to its end (checking it); its first 64 KB."""
        head = bytearray()
        for piece in self.chunks(member):
            if len(head) < 65536:
                head += piece[: 65536 - len(head)]
        return bytes(head)

    @contextmanager
    def spool(self, member: zipfile.ZipInfo) -> Iterator[IO[bytes]]:
        """The entry as a seekable file (memory up to 8 MB, then a temporary file), read to
        its end and checked first."""
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY) as out:
            for piece in self.chunks(member):
                out.write(piece)
            out.seek(0)
            yield out


def _inflated(inflate, raw: bytes, member: zipfile.ZipInfo) -> Iterator[bytes]:
    """What `raw` inflates to, in pieces of at most CHUNK bytes (stored data as it is)."""
    if inflate is None:
        yield raw
        return
    try:
        while raw:
            if inflate.eof:
                raise hidden(f"dữ liệu thừa sau phần nén của {shown(member.filename)}")
            piece = inflate.decompress(raw, CHUNK)
            raw = inflate.unconsumed_tail
            if inflate.eof and inflate.unused_data:
                raise hidden(f"dữ liệu thừa sau phần nén của {shown(member.filename)}")
            yield piece
            if not piece and not raw:
                return
    except zlib.error:
        raise Refused(
            f"Tệp {shown(member.filename)} trong tệp ZIP bị hỏng, không giải nén được."
        ) from None
