"""The intake under load and on a bad day (issue 21, "Concurrency and data", "Around the app"):
concurrent uploads and receives of one item, a version cap and an upload quota per link, a data
folder that refuses writes, what interrupted writes leave behind, a coordinator's link on the
lead's receipt, malformed requests. Real HTTP to the intake under uvicorn, real SQLite and
PostgreSQL, the real `cchc` command. Each test failed on the tree before the change.

A full disk is simulated without root-proof permissions (the tests run as root, where chmod
stops nothing): a regular file where the data folder needs a folder (every write under it
fails, as on a read-only or full disk), and a file-size limit (RLIMIT_FSIZE, SIGXFSZ ignored:
writes past it fail with EFBIG) on a `cchc attach` process."""

from __future__ import annotations

import hashlib
import logging
import os
import resource
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from intake_support import (
    Clock,
    LiveIntake,
    deliverable_count,
    deliverables,
    pdf_bytes,
    reload,
    t,
)
from support import cli_env, find_item, run_cchc

from notifications.links import item_link
from usecases.review import submit
from usecases.sweep import sweep

REPORT = "bao-cao-cchc-dinh-ky"
NOW = "2027-03-16T09:00"  # Q1 2027 report of VP: open, due today (16/03/2027)
ONE_OFF = "ra-soat-vbqppl-chinh-quyen-2-cap"  # VP leads, CA coordinates
HOUR_AGO = 2 * 3600


@pytest.fixture
def item(plan, engine):
    sweep(plan, engine, t("2027-03-02T07:30"))
    return find_item(engine, REPORT, "VP", "2027-Q1")


def serve(plan, engine, tmp_path: Path, **options) -> LiveIntake:
    return LiveIntake(plan, engine, tmp_path / "data", Clock(t(NOW)), intake_options=options)


def upload(url: str, name: str, data: bytes) -> httpx.Response:
    files = [("files", (name, data, "application/pdf"))]
    return httpx.post(url, files=files, follow_redirects=False, timeout=60)


def together(count: int, action) -> list:
    """`action(n)` for n in range(count), in threads released at the same instant."""
    start = threading.Barrier(count)
    results: list = [None] * count

    def run(n: int) -> None:
        start.wait()
        try:
            results[n] = action(n)
        except Exception as exc:  # noqa: BLE001  (the test reports it)
            results[n] = exc

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def blobs(data_dir: Path) -> list[Path]:
    """The stored files (not the temporary ones)."""
    root = data_dir / "deliverables"
    return [p for p in root.glob("*/*") if p.is_file()] if root.exists() else []


def leftovers(data_dir: Path) -> list[Path]:
    """Temporary files and folders: spooled uploads, attach copies, blobs being written."""
    return [
        p for p in (*data_dir.glob("incoming/.*"), *data_dir.glob("deliverables/.*")) if p.exists()
    ]


# ----- concurrency ------------------------------------------------------------------------------


def test_concurrent_uploads_of_different_files_each_become_a_version(plan, engine, item, tmp_path):
    with serve(plan, engine, tmp_path, uploads_per_hour=100) as live:
        url = live.link(item)
        answers = together(
            8, lambda n: upload(url, f"bao-cao-{n}.pdf", pdf_bytes(f"Bao cao ban {n}"))
        )
        assert [getattr(a, "status_code", a) for a in answers] == [303] * 8
        rows = deliverables(engine, item.id)
        assert sorted(r.version for r in rows) == list(range(1, 9))
        assert len({r.sha256 for r in rows}) == 8
        assert len(blobs(live.data_dir)) == 8 and leftovers(live.data_dir) == []
        assert reload(engine, item.id).status == "closed"


def test_concurrent_receives_record_each_document_once(plan, engine, item, tmp_path):
    with serve(plan, engine, tmp_path) as office:
        token = httpx.URL(office.office()).params["t"]
        url = f"{office.base}/office/items/{item.id}/receive"

        def receive(n: int) -> httpx.Response:  # five documents, each sent twice
            form = {"t": token, "doc": f"{n % 5 + 10}/BC-VP", "date": "2027-03-15"}
            return httpx.post(url, data=form, timeout=60)

        answers = together(10, receive)
        assert [getattr(a, "status_code", a) for a in answers] == [200] * 10
        rows = deliverables(engine, item.id)
        assert sorted(r.version for r in rows) == [1, 2, 3, 4, 5]
        assert sorted(r.doc_number for r in rows) == [f"{n}/BC-VP" for n in range(10, 15)]


def test_a_version_cap_holds_under_concurrent_uploads(plan, engine, item, tmp_path):
    with serve(plan, engine, tmp_path, max_versions=2, uploads_per_hour=100) as live:
        url = live.link(item)
        answers = together(5, lambda n: upload(url, f"v{n}.pdf", pdf_bytes(f"Ban {n}")))
        codes = sorted(getattr(a, "status_code", a) for a in answers)
        assert codes == [303, 303, 409, 409, 409]
        refused = next(a for a in answers if a.status_code == 409)
        assert "đã nhận đủ 2 phiên bản" in refused.text
        assert "Không có tệp nào được lưu" in refused.text
        assert sorted(r.version for r in deliverables(engine, item.id)) == [1, 2]
        # the refused uploads' files, stored before the cap was seen, are gone again
        assert len(blobs(live.data_dir)) == 2 and leftovers(live.data_dir) == []
        again = upload(url, "v9.pdf", pdf_bytes("Ban 9"))
        assert again.status_code == 409 and len(blobs(live.data_dir)) == 2
        newest = max(deliverables(engine, item.id), key=lambda r: r.version)
        n = newest.original_name.removeprefix("v").removesuffix(".pdf")
        repeat = upload(url, newest.original_name, pdf_bytes(f"Ban {n}"))  # a double submit
        assert repeat.status_code == 303 and repeat.headers["location"].endswith("/v/2?lap=1")


def test_uploads_per_link_are_capped_per_hour(plan, engine, item, tmp_path):
    with serve(plan, engine, tmp_path, uploads_per_hour=3) as live:
        url = live.link(item)
        for n in range(3):
            assert upload(url, f"v{n}.pdf", pdf_bytes(f"Ban {n}")).status_code == 303
        refused = upload(url, "v3.pdf", pdf_bytes("Ban 3"))
        assert refused.status_code == 429 and "3 lần trong một giờ qua" in refused.text
        assert int(refused.headers["retry-after"]) > 0
        assert deliverable_count(engine) == 3
        live.clock.at += timedelta(minutes=61)
        assert upload(url, "v3.pdf", pdf_bytes("Ban 3")).status_code == 303


# ----- a data folder that refuses writes -------------------------------------------------------


def blocked(path: Path) -> None:
    """A regular file where the intake needs a folder: every write under it fails."""
    if path.is_dir():
        path.rmdir()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"not a folder")


@pytest.mark.parametrize("folder", ["deliverables", "incoming"])
def test_a_data_folder_that_refuses_writes_answers_507(
    plan, engine, item, tmp_path, folder, caplog
):
    with serve(plan, engine, tmp_path) as live:
        blocked(live.data_dir / folder)
        with caplog.at_level(logging.ERROR, logger="cchc.intake"):
            refused = upload(live.link(item), "bao-cao.pdf", pdf_bytes())
        assert refused.status_code == 507, refused.text[-400:]
        assert "không ghi được tệp vào kho lưu trữ" in refused.text
        assert str(live.data_dir) not in refused.text  # no server path
        assert "Dữ liệu gửi lên bị hỏng" not in refused.text  # the unit is not blamed
        assert str(live.data_dir / folder) in caplog.text  # the cause is logged
        assert reload(engine, item.id).status == "open"
        assert deliverable_count(engine) == 0
        assert blobs(live.data_dir) == [] and leftovers(live.data_dir) == []


def test_a_read_only_database_answers_507_and_keeps_no_file(plan, sqlite_url, tmp_path, caplog):
    from sqlalchemy import event

    from models.db import ensure_schema, make_engine

    engine = make_engine(sqlite_url)
    ensure_schema(engine)
    sweep(plan, engine, t("2027-03-02T07:30"))
    item = find_item(engine, REPORT, "VP", "2027-Q1")

    @event.listens_for(engine, "connect")
    def read_only(dbapi_connection, _record):  # as a read-only data folder makes it
        dbapi_connection.execute("PRAGMA query_only = ON")

    engine.dispose()
    with serve(plan, engine, tmp_path) as live:
        with caplog.at_level(logging.ERROR, logger="cchc.intake"):
            refused = upload(live.link(item), "bao-cao.pdf", pdf_bytes("x" * 20_000))
        assert refused.status_code == 507, refused.text[-400:]
        assert "không ghi được vào kho dữ liệu" in refused.text
        assert "readonly database" in caplog.text
        assert blobs(live.data_dir) == [] and leftovers(live.data_dir) == []
    event.remove(engine, "connect", read_only)
    engine.dispose()
    assert reload(engine, item.id).status == "open" and deliverable_count(engine) == 0


def test_files_stored_before_the_disk_refused_one_are_removed(plan, engine, item, tmp_path):
    from usecases.errors import StorageFull
    from usecases.handin import IncomingFile

    data = tmp_path / "data"
    first, second = tmp_path / "a.pdf", tmp_path / "b.pdf"
    first.write_bytes(pdf_bytes("Mot"))
    n = 0
    while True:  # a second file whose blob folder differs from the first's
        second.write_bytes(pdf_bytes(f"Hai {n}"))
        a, b = (hashlib.sha256(p.read_bytes()).hexdigest()[:2] for p in (first, second))
        if a != b:
            break
        n += 1
    blocked(data / "deliverables" / b)
    files = [IncomingFile("a.pdf", first), IncomingFile("b.pdf", second)]
    with pytest.raises(StorageFull):
        submit(plan, engine, data, item.id, "VP", files, t(NOW))
    assert blobs(data) == [] and (data / "deliverables" / b).is_file()  # the first is gone
    assert reload(engine, item.id).status == "open" and deliverable_count(engine) == 0


def test_cchc_attach_past_a_file_size_limit_prints_one_line(plan, engine, item, tmp_path):
    data = tmp_path / "data"
    env = {**cli_env(data, str(engine.url)), "PYTHONDONTWRITEBYTECODE": "1"}
    big = tmp_path / "bao-cao.pdf"
    big.write_bytes(pdf_bytes() + b"%" + b"0" * 300_000)

    def limited() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (128 * 1024, 128 * 1024))

    def attach() -> str:
        done = subprocess.run(
            [sys.executable, "-m", "cchc.cli", "attach", str(item.id), str(big), "--no-check"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            preexec_fn=limited,
        )
        assert done.returncode == 1, done.stderr
        assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
        return done.stderr

    if engine.url.get_backend_name() == "sqlite":  # the database file is past the limit too
        assert "database" in attach()
    run_cchc(env, "clean")  # a writing command records the config: attach writes no more
    assert "File too large" in attach()
    assert reload(engine, item.id).status == "open" and deliverable_count(engine) == 0
    assert not list((data / "incoming").glob(".attach-*"))  # the failed copy removed its own


# ----- what interrupted writes leave behind ----------------------------------------------------


def test_cchc_clean_and_the_intake_start_remove_what_interrupted_writes_left(
    plan, engine, item, tmp_path
):
    from models.housekeeping import clean_data_dir

    data = tmp_path / "data"
    submit(plan, engine, data, item.id, "VP", [_file(tmp_path, "kept.pdf")], t(NOW))
    [kept] = blobs(data)
    orphan = data / "deliverables" / "ab" / ("ab" + "1" * 62)
    fresh_orphan = data / "deliverables" / "cd" / ("cd" + "2" * 62)
    attach_copy = data / "incoming" / ".attach-x1y2" / "bao-cao.pdf"
    mail = data / "outbox" / "abc@cchc.eml.tmp"
    spool = data / "incoming" / ".upload-abc"
    for path in (orphan, fresh_orphan, attach_copy, mail, spool):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"partial")
    old = time.time() - HOUR_AGO
    for path in (kept, orphan, attach_copy.parent, mail, spool):
        os.utime(path, (old, old))
    done = clean_data_dir(engine, data)
    assert set(done.unrecorded) == {orphan}
    assert set(done.temporary) == {attach_copy.parent, mail}
    assert kept.exists() and fresh_orphan.exists()
    assert spool.exists()  # an upload may still be arriving: a day, not an hour

    os.utime(fresh_orphan, (old, old))
    with LiveIntake(plan, engine, data, Clock(t(NOW))):
        assert not fresh_orphan.exists() and kept.exists()


def _file(folder: Path, name: str) -> object:
    from usecases.handin import IncomingFile

    path = folder / name
    path.write_bytes(pdf_bytes(name))
    return IncomingFile(name, path)


# ----- links and malformed requests ------------------------------------------------------------


def test_a_coordinators_link_does_not_open_the_leads_receipt(plan, engine, tmp_path):
    sweep(plan, engine, t("2027-01-20T07:30"))
    sweep(plan, engine, t("2027-01-25T07:30"))
    one_off = find_item(engine, ONE_OFF, "VP", "2027-02-28")
    with LiveIntake(plan, engine, tmp_path / "data", Clock(t("2027-02-10T09:00"))) as live:
        assert upload(live.link(one_off), "bao-cao.pdf", pdf_bytes()).status_code == 303
        assert httpx.get(f"{live.link(one_off)}/v/1").status_code == 200
        ca_link = item_link(live.settings, one_off.id, "CA", live.clock.at)
        refused = httpx.get(f"{ca_link}/v/1")
        assert refused.status_code == 404 and "bao-cao.pdf" not in refused.text


def test_a_document_number_with_control_characters_is_refused(plan, engine, item, tmp_path):
    with serve(plan, engine, tmp_path) as office:
        token = httpx.URL(office.office()).params["t"]
        url = f"{office.base}/office/items/{item.id}/receive"
        for number in ("12/BC\x00-VP", "12/BC\x1b[31m", "12/BC\u202e"):
            refused = httpx.post(url, data={"t": token, "doc": number, "date": "2027-03-15"})
            assert refused.status_code in (200, 400, 409), (number, refused.status_code)
        # cleaned or refused, never stored with a control character (nor a 500 on PostgreSQL)
        stored = [r.doc_number or "" for r in deliverables(engine, item.id)]
        assert all(ch.isprintable() for number in stored for ch in number), stored


def test_malformed_multipart_requests_get_a_4xx(plan, engine, item, tmp_path):
    with serve(plan, engine, tmp_path, uploads_per_hour=100) as live:
        boundary = "b" * 300
        body = f"--{boundary}\r\nContent-Disposition: form-data; name=note\r\n\r\nx\r\n"
        body += f"--{boundary}--\r\n"
        for url in (live.link(item), f"{live.base}/office/items/{item.id}/receive"):
            answer = httpx.post(
                url,
                content=body.encode(),
                headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
            )
            assert 400 <= answer.status_code < 500, (url, answer.status_code)
        odd = httpx.post(
            live.link(item),
            content=(
                b'--x\r\nContent-Disposition: form-data; name=files; filename="a\\ud800.pdf"'
                b"\r\n\r\n" + pdf_bytes() + b"\r\n--x--\r\n"
            ),
            headers={"Content-Type": "multipart/form-data; boundary=x; charset=unicode_escape"},
        )
        assert odd.status_code < 500
        assert leftovers(live.data_dir) == []
