"""The file `cchc attach` hands in: opened without following any link, copied privately, its
name cleaned and its content checked as a web upload's.

The path is walked one component at a time from `/` (or the current folder), each folder opened
with `O_NOFOLLOW | O_DIRECTORY` relative to the previous one and the file itself with
`O_NOFOLLOW | O_NONBLOCK`: a symbolic link anywhere (`etclink/shadow`) is refused, not only as
the last component, and nothing can swap a folder for a link between the check and the read. A
folder, a FIFO or a device is refused without blocking; the copy that is checked is the copy
stored.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from usecases.errors import UserError


@dataclass(frozen=True)
class Attachable:
    """The private copy of the file (named as the sender named it, cleaned) and, when checked,
    the accepted type of its content and, for a PDF, its signatures' verdict."""

    path: Path
    file_type: str | None = None
    signature: dict | None = None


NO_CHECK = "; --no-check để vẫn đính kèm"
"""How `cchc attach` goes on with a file the check refuses."""


@contextmanager
def attachable(
    file: Path,
    data_dir: Path,
    check: bool,
    config_dir: Path | None = None,
    bypass: str = NO_CHECK,
) -> Iterator[Attachable]:
    """A private copy of FILE under the data dir's `incoming/`, removed afterwards. `check`:
    refuse what the web upload refuses (name and content: `cchc.intake.filetypes`), and verify
    a PDF's signatures (trust roots from `config_dir`). `bypass`: how a refusal says to go on
    anyway ("" where no option does)."""
    from cchc.intake import filetypes, names
    from cchc.intake.signatures import verify

    name = names.local_name(file.name) or "tep"
    if check:
        name = _checked(file, filetypes.clean_name, name, bypass)
    with _open_regular(file) as source:
        incoming = Path(data_dir) / "incoming"
        incoming.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(dir=incoming, prefix=".attach-"))
        copy = folder / name
        try:
            with open(copy, "xb") as out:
                shutil.copyfileobj(source, out)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
    try:
        sniffed = _checked(file, filetypes.sniff, copy, bypass) if check else None
        kind = sniffed.kind if sniffed else None
        signature = verify(copy, config_dir) if kind == "pdf" else None
        yield Attachable(copy, kind, signature)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _checked(file: Path, rule, value, bypass: str):
    """`rule(value)`, a refusal made a UserError naming FILE."""
    from cchc.intake import filetypes

    try:
        return rule(value)
    except filetypes.Refused as exc:
        raise UserError(f"{file}: {exc.message} (bị từ chối{bypass})") from None


def _open_regular(file: Path) -> BinaryIO:
    """FILE opened for reading through a walk that follows no link, without blocking;
    UserError unless it is a regular file (then set to blocking reads)."""
    fd = _walk(file)
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise UserError(f"{file} là thư mục, không phải tệp")
        if not stat.S_ISREG(mode):
            raise UserError(f"{file} không phải tệp thường (mà là FIFO, thiết bị hoặc socket)")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _walk(file: Path) -> int:
    """A descriptor of FILE, each component opened relative to the one before, none a link."""
    parts = [p for p in file.parts if p not in ("/", ".")] if file.parts else []
    if not parts:
        raise UserError(f"{file} là thư mục, không phải tệp")
    here = os.open("/" if file.is_absolute() else ".", os.O_RDONLY | os.O_DIRECTORY)
    try:
        for n, part in enumerate(parts):
            last = n == len(parts) - 1
            flags = os.O_RDONLY | os.O_NOFOLLOW | (os.O_NONBLOCK if last else os.O_DIRECTORY)
            try:
                following = os.open(part, flags, dir_fd=here)
            except OSError as exc:
                raise _refusal(file, part, exc, last) from None
            os.close(here)
            here = following
        return here
    except BaseException:
        os.close(here)
        raise


def _refusal(file: Path, part: str, exc: OSError, last: bool) -> UserError:
    if exc.errno == errno.ELOOP or (exc.errno == errno.ENOTDIR and not last and _is_link(file)):
        where = "" if last else f" (qua thư mục liên kết {part!r})"
        return UserError(
            f"{file} là liên kết tượng trưng (symbolic link){where}, không phải tệp: hãy đính "
            "kèm chính tệp đó"
        )
    return UserError(f"Không đọc được tệp {file}: {exc.strerror}")


def _is_link(file: Path) -> bool:
    """Some component of FILE is a symbolic link (to word the refusal only)."""
    path = Path("/") if file.is_absolute() else Path(".")
    for part in file.parts:
        path = path / part
        if path.is_symlink():
            return True
    return False
