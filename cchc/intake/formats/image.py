"""Scans and photos of signed pages: PNG and JPEG, decoded to the last pixel by Pillow within a
pixel limit, ending where the format ends (nothing appended: no ZIP, no video, no web page)."""

from __future__ import annotations

import struct
import zlib
from typing import IO

from PIL import Image

from cchc.intake.formats.common import Refused, no_polyglot

MAX_PIXELS = 60_000_000
"""An A4 page scanned at 600 dpi is 35 million pixels; 60 million keeps one decoded colour
picture under 180 MB."""
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"
_TRAILING = b" \t\r\n\x00"
_REDO = "Hãy chụp hoặc quét lại (hoặc lưu lại ảnh bằng phần mềm xem ảnh) rồi nộp lại."


def inspect_image(source: IO[bytes]) -> str:
    """png or jpeg, after every check."""
    source.seek(0)
    data = source.read()
    source.seek(0)
    if data.startswith(PNG_MAGIC):
        _png_chunks(data)
        decode(source, "PNG")
        kind, label = "png", "PNG"
    elif data.startswith(JPEG_MAGIC):
        decode(source, "JPEG")
        body = data.rstrip(_TRAILING)
        if not body.endswith(b"\xff\xd9") or len(data) - len(body) > 1024:
            raise Refused(
                f"Ảnh JPEG có dữ liệu khác nối sau phần ảnh (ví dụ ảnh động, tệp ẩn). {_REDO}"
            )
        kind, label = "jpeg", "JPEG"
    else:
        raise Refused("Tệp không phải ảnh PNG hay JPEG.")
    no_polyglot(data, label)
    return kind


def decode(source: IO[bytes], expected: str | None = None) -> None:
    """Pillow opens the picture, checks it, and decodes every pixel (at most `MAX_PIXELS`)."""
    try:
        with Image.open(source) as picture:
            if expected and picture.format != expected:
                raise Refused(f"Tệp không phải ảnh {expected} đúng chuẩn. {_REDO}")
            width, height = picture.size
            if width * height > MAX_PIXELS:
                raise Refused(
                    f"Ảnh quá lớn ({width} × {height} điểm ảnh; tối đa "
                    f"{MAX_PIXELS // 1_000_000} triệu). Hãy quét ở độ phân giải thấp hơn "
                    "(200–300 dpi) rồi nộp lại."
                )
            picture.verify()
        source.seek(0)
        with Image.open(source) as picture:
            picture.load()
    except Refused:
        raise
    except Image.DecompressionBombError:
        raise Refused(f"Ảnh quá lớn. {_REDO}") from None
    except Exception:  # noqa: BLE001  (Pillow raises many kinds on a damaged picture)
        raise Refused(f"Ảnh bị hỏng, không mở được. {_REDO}") from None


def _png_chunks(data: bytes) -> None:
    """Every chunk of a PNG, CRC checked, up to IEND, which must close the file."""
    at = len(PNG_MAGIC)
    while True:
        if at + 12 > len(data):
            raise Refused(f"Ảnh PNG bị cắt cụt hoặc hỏng. {_REDO}")
        size, kind = struct.unpack_from(">I4s", data, at)
        end = at + 12 + size
        if end > len(data):
            raise Refused(f"Ảnh PNG bị cắt cụt hoặc hỏng. {_REDO}")
        (crc,) = struct.unpack_from(">I", data, end - 4)
        if zlib.crc32(data[at + 4 : end - 4]) != crc:
            raise Refused(f"Ảnh PNG bị hỏng (sai mã kiểm tra). {_REDO}")
        if kind == b"IEND":
            if data[end:].strip(_TRAILING):
                raise Refused(f"Ảnh PNG có dữ liệu khác nối sau phần ảnh. {_REDO}")
            return
        at = end
