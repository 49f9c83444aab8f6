"""Config names in the Markdown the Prefect UI renders (issue 21, "Around the app"): a unit named
with `|`, `[x](javascript:…)`, a remote image or HTML prints as written, in the sweep summary,
the scorecard, and every artifact's description and table cells. Each test failed on the tree
before the change."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import replace

import pytest

from schedules.dates import parse_instant
from schedules.vocabulary import ItemStatus

HOSTILE = "Tổ | A [bấm](javascript:alert(1)) ![x](https://evil.example/p.png) <img src=x> `c` *b*"
UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")


def rendered_as_text(markdown: str) -> None:
    """No live link, image, HTML, code or emphasis built from the hostile name."""
    assert "](" not in markdown.replace("\\](", "")
    assert "![" not in markdown.replace("\\![", "")
    assert re.search(r"(?<!\\)<img", markdown) is None
    assert "javascript:alert\\(1\\)" in markdown


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Văn phòng HĐND và UBND", "Văn phòng HĐND và UBND"),
        ("a|b", "a\\|b"),
        ("[x](javascript:y)", "\\[x\\]\\(javascript:y\\)"),
        ("![i](https://e/p.png)", "\\!\\[i\\]\\(https://e/p.png\\)"),
        ("<script>", "\\<script\\>"),
        ("`code` *em* _u_ ~s~ &amp;", "\\`code\\` \\*em\\* \\_u\\_ \\~s\\~ \\&amp;"),
        ("# Tiêu đề", "\\# Tiêu đề"),
        ("- mục", "\\- mục"),
        ("12. Kế hoạch", "12\\. Kế hoạch"),
        ("dòng\nmới\r\n| x |", "dòng mới \\| x \\|"),
        ("12/KH-UBND", "12/KH-UBND"),
    ],
)
def test_md_text_prints_as_written(text, expected):
    from notifications.markdown_text import md_text

    assert md_text(text) == expected


def test_a_hostile_unit_name_stays_text_in_the_sweep_summary(plan):
    from notifications.sweep_summary import sweep_summary_markdown

    unit = plan.units["VP"].model_copy(update={"name": HOSTILE})
    hostile = replace(plan, units={**plan.units, "VP": unit})
    counts = {"VP": Counter({ItemStatus.OPEN: 2})}
    markdown = sweep_summary_markdown(
        hostile, parse_instant("2027-03-10T07:30"), [], [], 0, [], counts, None
    )
    [row] = [line for line in markdown.splitlines() if line.startswith("| VP ")]
    assert len(UNESCAPED_PIPE.findall(row)) == 7  # six columns, as the heading has
    rendered_as_text(markdown)


def test_a_hostile_unit_name_stays_text_in_the_scorecard(plan, engine):
    from notifications.documents.scorecard import scorecard_markdown
    from usecases.scorecard import build_scorecard

    unit = plan.units["VP"].model_copy(update={"name": HOSTILE})
    hostile = replace(plan, units={**plan.units, "VP": unit})
    card = build_scorecard(hostile, engine, 2027, parse_instant("2027-03-10T07:30"))
    markdown = scorecard_markdown(card)
    heading = next(line for line in markdown.splitlines() if line.startswith("| Đơn vị"))
    [row] = [line for line in markdown.splitlines() if line.startswith("| Tổ ")]
    assert len(UNESCAPED_PIPE.findall(row)) == len(UNESCAPED_PIPE.findall(heading))
    rendered_as_text(markdown)


def test_artifact_descriptions_and_table_cells_are_published_as_text(monkeypatch):
    import prefect.artifacts

    from flows.artifacts import publish
    from notifications.status_pages import Page

    published: list[dict] = []

    def table(rows, **kw):
        published.append({"table": rows, **kw})

    def markdown(text, **kw):
        published.append({"markdown": text, **kw})

    monkeypatch.setattr(prefect.artifacts, "create_table_artifact", table)
    monkeypatch.setattr(prefect.artifacts, "create_markdown_artifact", markdown)
    publish(Page("cchc-x-open-items", [{"Nhiệm vụ": HOSTILE, "Mã việc": 12}], HOSTILE))
    publish(Page("cchc-x-sweep-summary", "# Kết quả", f"Kết quả — {HOSTILE}"))
    table, summary = published
    rendered_as_text(table["description"])
    [row] = table["table"]
    rendered_as_text(row["Nhiệm vụ"])
    assert row["Mã việc"] == 12
    assert summary["markdown"] == "# Kết quả"  # built as Markdown already
    rendered_as_text(summary["description"])
