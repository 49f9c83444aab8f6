"""cchc for a whole city on the engine's clock side (issue 13), no Prefect: the schedules and
the engine's jobs follow the obligations, not the communes, and each commune's calendar reaches
them. (On the Prefect side: test_city_prefect.py.)

The 3-commune city: xa002 has the city's calendar plus its own days off, 2027-03-15 (from
city_support) and 2027-03-02: its 2027-Q1 periodic report opens on 01/03/2027 (02/03 in the
others).
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from city_support import make_city

from flows.engine import configure
from schedules.city import City
from schedules.clock import SWEEP, city_schedules, openings_schedule, sweep_schedules
from schedules.dates import parse_instant

REPORT = "bao-cao-cchc-dinh-ky"
XA002_OPENS = parse_instant("2027-03-01T07:30")
OTHERS_OPEN = parse_instant("2027-03-02T07:30")


@pytest.fixture(scope="module")
def city3(tmp_path_factory) -> City:
    return make_city(tmp_path_factory.mktemp("city3"), 3)


@pytest.fixture(scope="module")
def city30(tmp_path_factory) -> City:
    return make_city(tmp_path_factory.mktemp("city30"), 30)


def test_schedules_and_engine_jobs_do_not_grow_with_communes(city3, city30):
    three, thirty = city_schedules(city3.select(None)), city_schedules(city30.select(None))
    assert [s.slug for s in three] == [s.slug for s in thirty]
    assert three[0].slug == SWEEP and len(three) == 1 + sum(1 for s in three if s.flow != SWEEP)
    jobs = []
    for city in (city3, city30):
        scheduler = BackgroundScheduler(timezone="Asia/Ho_Chi_Minh")  # never started
        configure(scheduler, city)
        jobs.append(sorted(job.id for job in scheduler.get_jobs()))
    assert jobs[0] == jobs[1] and len(jobs[0]) == len(three)


def test_each_communes_calendar_reaches_the_shared_schedules(city3):
    plans = city3.select(None)
    opening = openings_schedule(plans, REPORT)
    instants = set(opening.instants(XA002_OPENS - timedelta(days=1), OTHERS_OPEN))
    assert instants == {XA002_OPENS, OTHERS_OPEN}  # xa002's own day, then the others'
    [sweep] = sweep_schedules(plans)
    days = {
        i.date()
        for i in sweep.instants(parse_instant("2027-03-01T00:00"), parse_instant("2027-03-16"))
    }
    # 02/03 and 15/03 are working days in xa001: the city's sweep runs (xa002's items have no
    # step on its days off, so the sweep does nothing for it then).
    assert {date(2027, 3, 2), date(2027, 3, 15)} <= days


def test_the_office_of_the_city_is_served_too(city3):
    """The city office's own reports (city.yaml `reports`) open and are swept like a commune's."""
    assert city3.office is not None
    slugs = {s.slug for s in city_schedules(city3.select(None))}
    assert set(city3.office.schedules) <= slugs
