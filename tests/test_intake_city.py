"""One intake for a whole city: the real app under uvicorn on loopback, a real SQLite file, a
generated 3-commune city swept by the real sweep. Each item's page uses its own commune's plan;
a commune's office link lists, downloads and acts on that commune's items only; the city's
office link sees every commune (and the city office's own reports), with filters by commune,
unit and status."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
import pytest
from city_support import commune_codes, write_city
from intake_support import (
    SECRET,
    Clock,
    LiveIntake,
    deliverable_count,
    deliverables,
    pdf_bytes,
    reload,
    t,
)
from sqlalchemy import select

from cchc.intake import create_app
from cchc.runtime.settings import IntakeSettings, Settings
from models.db import make_engine, transaction
from models.tables import Deliverable, WorkItem
from notifications.links import office_secret, office_token
from schedules.city import City
from schedules.city_loader import load_city
from schedules.vocabulary import ItemStatus
from usecases.sweep import sweep, sweep_communes

REPORT = "bao-cao-cchc-dinh-ky"
NOW = "2027-03-10T09:00"  # the Q1 2027 reports are open, due 16/03/2027
A, B, C = commune_codes(3)


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    return load_city(write_city(tmp_path_factory.mktemp("city"), [A, B, C]))


@pytest.fixture
def engine(sqlite_engine, city):
    sweep_communes(city.select(None), sqlite_engine, t("2027-03-02T07:30"))  # the city office's too
    return sqlite_engine


@pytest.fixture
def live(city, engine, tmp_path):
    with LiveIntake(
        city,
        engine,
        tmp_path / "data",
        Clock(t(NOW)),
        office_user="snv",
        office_password="mat-khau-so",
    ) as server:
        yield server


def item_of(engine, commune: str, unit: str = "VP", obligation: str = REPORT) -> WorkItem:
    with transaction(engine) as s:
        query = select(WorkItem).where(
            WorkItem.commune == commune,
            WorkItem.obligation == obligation,
            WorkItem.unit == unit,
            WorkItem.period == "2027-Q1",
        )
        return s.exec(query).scalars().one()


def items_due_in(engine, year: int, **where) -> list[WorkItem]:
    """The items due in `year` whose columns have the values `where` gives."""
    with transaction(engine) as s:
        query = select(WorkItem).filter_by(**where)
        return [i for i in s.exec(query).scalars() if i.due.year == year]


def items_owed(engine, **where) -> list[WorkItem]:
    """The items still owed, whatever their year, whose columns have the values `where` gives:
    what an office page lists by default (none of them has a version awaiting review)."""
    with transaction(engine) as s:
        query = select(WorkItem).filter_by(**where)
        return [i for i in s.exec(query).scalars() if ItemStatus(i.status).is_open]


def token_of(link: str) -> str:
    return httpx.URL(link).params["t"]


def listed(page: str) -> set[int]:
    """The item ids an office page shows."""
    return {int(n) for n in re.findall(r'id="item-(\d+)"', page)}


def hand_in(live: LiveIntake, item: WorkItem, text: str = "v1") -> Deliverable:
    response = httpx.post(
        live.link(item),
        files=[("files", (f"bao-cao-{text}.pdf", pdf_bytes(text), "application/pdf"))],
    )
    assert response.status_code == 303, response.text[-300:]
    return deliverables(live.engine, item.id)[-1]


# ----- a unit's link --------------------------------------------------------------------------


def test_an_items_page_uses_its_own_communes_plan(live, engine):
    for code in (A, B):
        item = item_of(engine, code)
        page = httpx.get(live.link(item))
        assert page.status_code == 200
        assert f"Ủy ban nhân dân xã {code.upper()}" in page.text
        assert f"cchc.vhxh@{code}.example" in page.text  # the commune's own contact
    # a unit only xa003 has, on its own item's page
    tyt = items_due_in(engine, 2027, commune=C, unit="TYT")[0]
    assert "Trạm Y tế xã" in httpx.get(live.link(tyt)).text


def test_a_units_link_never_opens_another_item(live, engine):
    mine, theirs = item_of(engine, A), item_of(engine, B)  # both VP's, in two communes
    token = live.link(mine).rsplit("/", 1)[1]
    foreign = f"{live.base}/items/{theirs.id}/{token}"
    assert httpx.get(foreign).status_code == 403
    upload = httpx.post(foreign, files=[("files", ("x.pdf", pdf_bytes(), "application/pdf"))])
    assert upload.status_code == 403
    assert httpx.get(f"{foreign}/v/1").status_code == 403
    assert deliverable_count(engine) == 0
    assert reload(engine, theirs.id).status == "open"


def test_an_item_of_a_commune_not_in_the_config_is_not_found(city, engine, tmp_path):
    """xa003 left the config (its items stay in the database): its links open nothing."""
    served = City(city.folder, city.info, {code: city.plans[code] for code in (A, B)})
    gone = item_of(engine, C)
    with LiveIntake(served, engine, tmp_path / "data", Clock(t(NOW))) as server:
        assert httpx.get(server.link(gone)).status_code == 404
        assert httpx.get(server.link(item_of(engine, A))).status_code == 200
        assert httpx.get(server.office(scope=C)).status_code == 403  # its office link too
        everything = httpx.get(server.office()).text  # the city's office: A and B only
        assert gone.id not in listed(everything) and item_of(engine, B).id in listed(everything)
        receive = f"{server.base}/office/items/{gone.id}/receive"
        answer = httpx.post(receive, data={"t": token_of(server.office()), "doc": "1/BC"})
        assert answer.status_code == 404 and reload(engine, gone.id).status == "open"


# ----- a commune's standing office ------------------------------------------------------------


def test_a_communes_office_lists_its_own_items_only(live, engine):
    page = httpx.get(live.office(scope=A))
    assert page.status_code == 200
    assert "Ủy ban nhân dân xã XA001" in page.text and 'name="commune"' not in page.text
    shown = listed(page.text)
    assert shown == {i.id for i in items_owed(engine, commune=A)}
    assert not shown & {i.id for i in items_owed(engine, commune=B)}
    # asking for another commune changes nothing
    token = token_of(live.office(scope=A))
    asked = httpx.get(f"{live.base}/office", params={"t": token, "commune": B})
    assert listed(asked.text) == shown


def test_a_communes_office_link_opens_no_item_page(live, engine):
    token = token_of(live.office(scope=A))
    for item in (item_of(engine, A), item_of(engine, B)):
        assert httpx.get(f"{live.base}/items/{item.id}/{token}").status_code == 403


def test_a_communes_office_cannot_download_another_communes_file(live, engine):
    theirs = hand_in(live, item_of(engine, B))
    url = f"{live.base}/office/files/{theirs.id}"
    refused = httpx.get(url, params={"t": token_of(live.office(scope=A))})
    assert refused.status_code == 404 and b"%PDF" not in refused.content
    for scope in (B, live.city.code):  # its own office and the city's may
        download = httpx.get(url, params={"t": token_of(live.office(scope=scope))})
        assert download.status_code == 200 and download.content == pdf_bytes("v1")


def test_a_communes_office_cannot_accept_another_communes_version(live, engine):
    item = item_of(engine, B)
    hand_in(live, item)
    accept = f"{live.base}/office/items/{item.id}/versions/1/accept"
    refused = httpx.post(accept, data={"t": token_of(live.office(scope=A))})
    assert refused.status_code == 404
    assert [d.status for d in deliverables(engine, item.id)] == ["received"]
    done = httpx.post(accept, data={"t": token_of(live.office(scope=B))})
    assert done.status_code == 200 and "Đã chấp nhận phiên bản 1" in done.text
    assert [d.status for d in deliverables(engine, item.id)] == ["accepted"]


def test_a_communes_office_cannot_return_another_communes_version(live, engine):
    item = item_of(engine, B)
    hand_in(live, item)
    give_back = f"{live.base}/office/items/{item.id}/versions/1/return"
    form = {"reason": "Thiếu số liệu", "due": "2027-03-23"}
    refused = httpx.post(give_back, data={"t": token_of(live.office(scope=A)), **form})
    assert refused.status_code == 404
    assert reload(engine, item.id).status == "closed"
    assert [d.status for d in deliverables(engine, item.id)] == ["received"]
    done = httpx.post(give_back, data={"t": token_of(live.office(scope=B)), **form})
    assert done.status_code == 200 and reload(engine, item.id).status == "open"


def test_a_communes_office_cannot_record_a_document_for_another_commune(city, engine, tmp_path):
    item = item_of(engine, B)
    # On the due date: a Q1 report is dated after its data window closed (14/03).
    with LiveIntake(city, engine, tmp_path / "data", Clock(t("2027-03-16T09:00"))) as live:
        receive = f"{live.base}/office/items/{item.id}/receive"
        form = {"doc": "12/BC-VP", "date": "2027-03-15"}
        refused = httpx.post(receive, data={"t": token_of(live.office(scope=A)), **form})
        assert refused.status_code == 404
        assert reload(engine, item.id).status == "open" and deliverables(engine, item.id) == []
        done = httpx.post(receive, data={"t": token_of(live.office(scope=B)), **form})
        assert done.status_code == 200 and reload(engine, item.id).status == "closed"


# ----- the city's office ----------------------------------------------------------------------


def test_the_city_office_sees_every_commune(live, engine):
    page = httpx.get(live.office())
    assert page.status_code == 200
    assert "Thành phố Hải Phòng" in page.text and "Sở Nội vụ thành phố Hải Phòng" in page.text
    everything = items_owed(engine)  # whatever their year, the city office's own report too
    assert {i.commune for i in everything} == {A, B, C, live.city.code}
    assert {i.due.year for i in everything} == {2026, 2027}
    assert listed(page.text) == {i.id for i in everything}
    assert f"<strong>{len(everything)}</strong> nhiệm vụ" in page.text
    for code in (A, B, C):  # the commune filter and a line per commune
        assert f'<option value="{code}"' in page.text
        assert f"commune={code}" in page.text
    assert "xã XA002 · Văn phòng HĐND và UBND xã" in page.text  # grouped by commune and unit


def test_the_city_office_filters_by_commune_unit_and_status(live, engine):
    token = token_of(live.office())
    url = f"{live.base}/office"

    def ids(**params) -> set[int]:
        page = httpx.get(url, params={"t": token, **params})
        assert page.status_code == 200
        return listed(page.text)

    assert ids(commune=B) == {i.id for i in items_owed(engine, commune=B)}
    assert ids(unit="VP") == {i.id for i in items_owed(engine, unit="VP")}
    assert ids(commune=C, unit="VP") == {i.id for i in items_owed(engine, commune=C, unit="VP")}
    assert ids(commune=B, year="2027") == {i.id for i in items_due_in(engine, 2027, commune=B)}
    overdue = {i.id for i in items_owed(engine, status="overdue")}
    assert overdue and ids(status="overdue") == overdue
    assert ids(status="overdue", year="2026") == {
        i.id for i in items_due_in(engine, 2026, status="overdue")
    }
    waiting = item_of(engine, C)
    hand_in(live, waiting)
    assert ids(status="review") == {waiting.id}
    assert ids(status="review", commune=A) == set()
    assert ids(commune="nowhere") == ids()  # an unknown commune is no filter


def test_the_city_offices_own_report_is_the_citys_alone(live, engine):
    """The city office's consolidated report (items under the city's code, unit SNV)."""
    [own] = items_due_in(engine, 2026, commune=live.city.code)
    assert own.unit == "SNV"
    page = httpx.get(live.link(own))
    assert page.status_code == 200 and "Thành phố Hải Phòng" in page.text
    url = f"{live.base}/office"
    city = httpx.get(url, params={"t": token_of(live.office()), "year": 2026}).text
    assert own.id in listed(city) and "Sở Nội vụ thành phố Hải Phòng</a>" in city
    commune = httpx.get(url, params={"t": token_of(live.office(scope=A)), "year": 2026}).text
    assert own.id not in listed(commune)
    receive = f"{live.base}/office/items/{own.id}/receive"
    form = {"t": token_of(live.office(scope=A)), "doc": "1/BC-SNV", "date": "2027-03-09"}
    assert httpx.post(receive, data=form).status_code == 404
    assert reload(engine, own.id).status == "overdue"


def test_the_city_office_acts_on_any_commune(live, engine):
    item = item_of(engine, C)
    hand_in(live, item)
    accept = f"{live.base}/office/items/{item.id}/versions/1/accept"
    done = httpx.post(accept, data={"t": token_of(live.office())})
    assert done.status_code == 200 and "Thành phố Hải Phòng" in done.text
    [row] = deliverables(engine, item.id)
    assert (row.status, row.reviewed_by) == ("accepted", "city_office")


def test_a_long_city_list_shows_its_first_rows_and_says_so(live, engine, monkeypatch):
    import cchc.intake.office_views as office_views

    monkeypatch.setattr(office_views, "MAX_ROWS", 5)
    page = httpx.get(live.office()).text
    total = len(items_owed(engine))
    assert len(listed(page)) == 5
    assert f"Đang hiển thị 5 trên {total} nhiệm vụ" in page
    assert f"<strong>{total}</strong> nhiệm vụ" in page  # the counts cover every item


# ----- credentials, per scope -----------------------------------------------------------------


def test_basic_auth_is_the_city_office_and_its_token_stays_the_citys(live, engine):
    page = httpx.get(f"{live.base}/office", auth=("snv", "mat-khau-so"))
    assert page.status_code == 200
    assert listed(page.text) == {i.id for i in items_owed(engine)}
    [token] = set(re.findall(r'name="t" value="([^"]+)"', page.text))
    again = httpx.get(f"{live.base}/office", params={"t": token, "commune": B})
    assert listed(again.text) == {i.id for i in items_owed(engine, commune=B)}
    live.clock.at += timedelta(hours=13)  # a session token, not a bookmark
    assert httpx.get(f"{live.base}/office", params={"t": token}).status_code == 403


def test_a_new_office_key_revokes_every_scopes_links(city, engine, tmp_path):
    at = t(NOW)
    old = {scope: office_token(office_secret(SECRET, None), scope, at) for scope in (A, "haiphong")}
    options = {"office_key": "khoa-so-noi-vu-2"}
    with LiveIntake(city, engine, tmp_path / "data", Clock(at), intake_options=options) as server:
        for token in old.values():
            assert httpx.get(f"{server.base}/office", params={"t": token}).status_code == 403
        assert httpx.get(server.office(scope=A)).status_code == 200
        assert httpx.get(server.office()).status_code == 200
        assert httpx.get(server.link(item_of(engine, A))).status_code == 200


def test_a_single_communes_office_opens_no_other_scope(plan, sqlite_engine, tmp_path):
    """A single commune (today's config): its own code is the only office scope."""
    engine = sqlite_engine
    sweep(plan, engine, t("2027-03-02T07:30"))
    with LiveIntake(plan, engine, tmp_path / "data", Clock(t(NOW))) as server:
        assert server.city.code == plan.commune.code
        assert httpx.get(server.office()).status_code == 200
        assert httpx.get(server.office(scope="haiphong")).status_code == 403
        assert httpx.get(server.office(scope=A)).status_code == 403


def test_a_city_whose_code_is_a_communes_is_refused(city, tmp_path):
    clash = City(city.folder, city.info.model_copy(update={"code": A}), city.plans)
    settings = Settings(
        tmp_path, tmp_path / "data", "sqlite://", intake=IntakeSettings(secret=SECRET)
    )
    with pytest.raises(ValueError, match="also a commune's"):
        create_app(clash, make_engine("sqlite://"), settings)
