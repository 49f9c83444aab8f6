"""Deliverable bytes, content-addressed by sha256 under the data dir, durable before use."""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

CHUNK = 1 << 20
STALE_AFTER = 24 * 3600.0
"""Seconds after which a temporary file nobody renamed is an orphan (its writer was killed)."""
TEMP_PREFIXES = {"deliverables": ".incoming-", "incoming": ".upload-"}
"""Temporary files under the data dir: blobs being stored (`store_blob`), uploads being spooled
(the intake)."""
log = logging.getLogger("cchc.blobs")


@dataclass(frozen=True)
class StoredBlob:
    sha256: str
    size: int
    path: Path


def store_blob(root: Path, stream: BinaryIO, max_size: int | None = None) -> StoredBlob:
    """Copy `stream` into `root/<aa>/<sha256>`, hashing as it goes; fsync before returning.

    Raises ValueError when the stream is empty or larger than `max_size` (nothing is kept).
    Storing the same bytes twice keeps one file.
    """
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
        os.replace(tmp, final)
        _fsync_dir(final.parent)
        return StoredBlob(sha, size, final)
    finally:
        tmp.unlink(missing_ok=True)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def remove_stale_temp(data_dir: Path, older_than: float = STALE_AFTER) -> list[Path]:
    """Remove the temporary files a killed process left under `data_dir` (`TEMP_PREFIXES`)
    once they are older than `older_than` seconds (a younger one may still be written), and
    log each; returns those removed. Called where the store is opened: at engine and intake
    start."""
    removed: list[Path] = []
    limit = time.time() - older_than
    for folder, prefix in TEMP_PREFIXES.items():
        root = Path(data_dir) / folder
        if not root.is_dir():
            continue
        for path in root.glob(f"{prefix}*"):
            try:
                if path.is_file() and path.stat().st_mtime < limit:
                    path.unlink()
                    removed.append(path)
            except OSError as exc:  # gone meanwhile, or not ours to remove: keep going
                log.warning("cannot remove stale temporary file %s: %s", path, exc)
    for path in removed:
        log.warning("removed stale temporary file %s (left by an interrupted write)", path)
    return removed
