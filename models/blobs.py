"""Deliverable bytes, content-addressed by sha256 under the data dir, durable before use."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

CHUNK = 1 << 20
STALE_AFTER = 24 * 3600.0
"""Seconds after which a spooled upload nobody renamed is an orphan (its writer was killed): an
upload may take up to 20 times CCHC_INTAKE_BODY_TIMEOUT to arrive."""
SHORT_LIVED = 3600.0
"""Seconds after which any other temporary file or folder, or a stored file nothing records,
is an orphan: they live for the seconds it takes to copy or record a file."""
LEFTOVERS: list[tuple[str, str, float]] = [
    ("deliverables", ".incoming-*", SHORT_LIVED),
    ("incoming", ".upload-*", STALE_AFTER),
    ("incoming", ".attach-*", SHORT_LIVED),
    ("outbox", "*.eml.tmp", SHORT_LIVED),
]
"""Temporary files and folders under the data dir (folder, pattern, age in seconds after which
one is an orphan): blobs being stored or discarded (`store_blob`, `discard_blob`), uploads being
spooled (the intake), `cchc attach`'s private copies, mails being written to the outbox."""
BLOB_NAME = re.compile(r"[0-9a-f]{64}")
log = logging.getLogger("cchc.blobs")


@dataclass(frozen=True)
class StoredBlob:
    sha256: str
    size: int
    path: Path
    created: bool = False
    """This call wrote the file (it was not stored yet): `discard_blob` may remove it."""
    stamp: tuple[int, int] = (0, 0)
    """The file's inode and mtime (ns) as this call left it: another writer changes them."""


def store_blob(root: Path, stream: BinaryIO, max_size: int | None = None) -> StoredBlob:
    """Copy `stream` into `root/<aa>/<sha256>`, hashing as it goes; fsync before returning.

    Raises ValueError when the stream is empty or larger than `max_size`, OSError when the
    disk refuses (full, read-only, a file-size limit); nothing is kept either way. Storing the
    same bytes twice keeps one file: the second call refreshes its mtime (so an orphan sweep
    running meanwhile keeps it, see `_remove_unless`)."""
    root.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    fd, tmp_name = tempfile.mkstemp(dir=root, prefix=".incoming-")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := stream.read(CHUNK):
                size += len(chunk)
                if max_size is not None and size > max_size:
                    raise ValueError(f"file larger than {max_size} bytes")
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if size == 0:
            raise ValueError("empty file")
        sha = digest.hexdigest()
        final = root / sha[:2] / sha
        final.parent.mkdir(exist_ok=True)
        try:
            os.utime(final)
            return StoredBlob(sha, size, final)
        except FileNotFoundError:
            pass
        os.replace(tmp, final)
        _fsync_dir(final.parent)
        st = os.stat(final)
        return StoredBlob(sha, size, final, created=True, stamp=(st.st_ino, st.st_mtime_ns))
    finally:
        tmp.unlink(missing_ok=True)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def discard_blob(blob: StoredBlob, recorded: Callable[[str], bool]) -> bool:
    """Remove a file this process stored (`blob.created`) for a hand-in that was not recorded,
    unless `recorded(sha256)` (another hand-in of the same bytes was) or another writer stored
    the same bytes since; True when it was removed."""
    if not blob.created:
        return False

    def keep(st: os.stat_result) -> bool:
        return (st.st_ino, st.st_mtime_ns) != blob.stamp or recorded(blob.sha256)

    return _remove_unless(blob.path, keep)


def _remove_unless(path: Path, keep: Callable[[os.stat_result], bool]) -> bool:
    """Remove the stored file at `path` unless `keep` says otherwise, safely against a writer
    storing the same bytes meanwhile: the file is first renamed aside (atomic: a writer then
    finds the name free and writes its own, or already wrote and refreshed the file, which
    `keep` sees), then judged, then removed or put back."""
    aside = path.parent.parent / f".incoming-discard-{path.name}-{os.getpid()}-{time.time_ns()}"
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return False
    try:
        kept = True  # put back, whatever happens while judging
        kept = keep(os.stat(aside))
        return not kept
    finally:
        if kept:
            with contextlib.suppress(FileExistsError):  # the same bytes were stored meanwhile
                os.link(aside, path)
        aside.unlink(missing_ok=True)


def stored_files(root: Path) -> Iterator[Path]:
    """The blobs under `root` (`<aa>/<sha256>`), nothing else found there."""
    if not root.is_dir():
        return
    for folder in root.iterdir():
        if len(folder.name) == 2 and folder.is_dir():
            for path in folder.iterdir():
                if BLOB_NAME.fullmatch(path.name) and path.name.startswith(folder.name):
                    yield path


def remove_orphan_blobs(
    root: Path, recorded: set[str], older_than: float = SHORT_LIVED
) -> list[Path]:
    """Remove the blobs under `root` that no row records (`recorded`: the sha256s rows name)
    and nobody wrote for `older_than` seconds (a younger one may be about to be recorded), and
    log each; returns those removed."""
    limit = time.time() - older_than
    removed = []
    for path in stored_files(root):
        if path.name in recorded:
            continue
        try:
            if _remove_unless(path, lambda st: st.st_mtime >= limit):
                removed.append(path)
        except OSError as exc:
            log.warning("cannot remove unrecorded file %s: %s", path, exc)
    for path in removed:
        log.warning("removed unrecorded file %s (stored for a hand-in that failed)", path)
    return removed


def remove_stale_temp(data_dir: Path, older_than: float | None = None) -> list[Path]:
    """Remove the temporary files and folders a killed process, a full disk or a file-size
    limit left under `data_dir` (`LEFTOVERS`) once they are older than their kind's age (or
    `older_than` seconds; a younger one may still be written), and log each; returns those
    removed. Called where the store is opened (engine and intake start) and by `cchc clean`."""
    removed: list[Path] = []
    now = time.time()
    for folder, pattern, age in LEFTOVERS:
        root = Path(data_dir) / folder
        if not root.is_dir():
            continue
        limit = now - (age if older_than is None else older_than)
        for path in root.glob(pattern):
            try:
                if path.lstat().st_mtime >= limit:
                    continue
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                else:
                    path.unlink()
                removed.append(path)
            except OSError as exc:  # gone meanwhile, or not ours to remove: keep going
                log.warning("cannot remove stale temporary file %s: %s", path, exc)
    for path in removed:
        log.warning("removed stale temporary file %s (left by an interrupted write)", path)
    return removed
