"""Every mail kind's HTML fits a phone: rendered in Chromium 390 px wide, no horizontal scrolling
(a signed upload link is one long unbreakable string unless the layout lets it break), and the
unit's mails carry a "Nộp sản phẩm" button."""

from __future__ import annotations

import pytest
from support import CHROMIUM, launch_chromium

from notifications.compose import Composer
from notifications.samples import sample_contexts
from schedules.dates import parse_instant

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="Debian's chromium is not installed (.ci/run installs it)"
    ),
]

LONG_LINK = "https://cchc.maodien.example/items/17/" + "eyJpIjoxNywidSI6IlZQIn0" * 6


def test_every_mail_kind_fits_390_px_without_scrolling(plan):
    from playwright.sync_api import sync_playwright

    composer = Composer(plan, link=lambda item_id, unit, at: LONG_LINK)
    samples = sample_contexts(composer, parse_instant("2026-12-01T07:30"))
    kinds = {kind for kind, _ in samples}
    assert {"opened", "coordinate", "escalation", "closed", "returned", "digest"} <= kinds
    with sync_playwright() as p:
        browser = launch_chromium(p)
        page = browser.new_page(viewport={"width": 390, "height": 800})
        for kind, context in samples:
            html = composer.renderer.template(f"{kind}.html.j2").render(context)
            page.set_content(html)
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 390, f"{kind}: {width} px wide at 390"
            if context["upload_url"] and kind != "coordinate":
                button = page.get_by_role("link", name="Nộp sản phẩm")
                assert button.count() == 1, kind
                # On the first screen, above the task's details and the contents list.
                box = button.bounding_box()
                assert box and box["y"] + box["height"] <= 800, (kind, box)
        browser.close()


def test_the_first_notice_of_a_long_report_shows_its_button_on_the_first_screen(plan):
    """A unit's first notice lists every row it reports on (34 for a unit that coordinates
    most of the annex): the deadline and the "Nộp sản phẩm" button come before that list."""
    from playwright.sync_api import sync_playwright

    composer = Composer(plan, link=lambda item_id, unit, at: LONG_LINK)
    context = next(  # the plan item's notice (the office's samples follow it)
        c for k, c in sample_contexts(composer, parse_instant("2026-12-01T07:30")) if k == "opened"
    )
    assert sum(len(g.rows) for g in context["item"].contents) > 20
    html = composer.renderer.template("opened.html.j2").render(context)
    with sync_playwright() as p:
        browser = launch_chromium(p)
        page = browser.new_page(viewport={"width": 390, "height": 800})
        page.set_content(html)
        button = page.get_by_role("link", name="Nộp sản phẩm").bounding_box()
        contents = page.get_by_text("Nội dung báo cáo:").bounding_box()
        deadline = page.get_by_text(f"hạn nộp {context['item'].due_weekday}").first.bounding_box()
        assert button and contents and deadline
        assert deadline["y"] < button["y"] < contents["y"] and button["y"] < 800
        browser.close()
