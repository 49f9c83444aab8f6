"""As of what the status pages were last published (`models.pages`), on SQLite and PostgreSQL:
what lets a sweep leave a page alone when nothing it shows changed (no Prefect here)."""

from __future__ import annotations

from datetime import date

from models.pages import STATUS, last_event_id, mark_published, page_log
from schedules.dates import parse_instant
from usecases.lifecycle import waive
from usecases.sweep import sweep

AT = parse_instant("2026-12-02T07:30")
DAY = date(2026, 12, 2)


def test_a_page_is_current_until_its_items_the_day_or_its_config_change(engine, plan):
    code = plan.commune.code
    assert not page_log(engine, STATUS, [code]).is_current(code, DAY, "f1")  # never published
    report = sweep(plan, engine, AT)
    assert report.opened
    log = page_log(engine, STATUS, [code, "other"])
    assert log.last_event == last_event_id(engine) > 0
    mark_published(engine, STATUS, code, DAY, log.last_event, "f1", AT)
    mark_published(engine, STATUS, "other", DAY, 0, "f1", AT)  # a commune with no items

    log = page_log(engine, STATUS, [code, "other"])
    assert log.is_current(code, DAY, "f1") and log.is_current("other", DAY, "f1")
    assert not log.is_current(code, date(2026, 12, 3), "f1")  # "today" moved on
    assert not log.is_current(code, DAY, "f2")  # the config it names changed
    assert sweep(plan, engine, AT).opened == []  # nothing to do: no event, still current
    assert page_log(engine, STATUS, [code]).is_current(code, DAY, "f1")

    waive(plan, engine, report.opened[0][0], "Không phát sinh", AT)
    log = page_log(engine, STATUS, [code, "other"])
    assert not log.is_current(code, DAY, "f1")  # its items changed
    assert log.is_current("other", DAY, "f1")  # not the other commune's
    assert not log.is_current("other", DAY, "f1", communes=["other", code])  # a city's page
    mark_published(engine, STATUS, code, DAY, log.last_event, "f1", AT)
    assert page_log(engine, STATUS, [code]).is_current(code, DAY, "f1")
