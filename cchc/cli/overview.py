"""`overview`: the quarterly overview the Chủ tịch and the leader in charge receive, shown or
written without mailing it (a table, JSON, or the workbook the mail attaches)."""

from __future__ import annotations

from pathlib import Path

import click

from cchc.cli.common import App, at_option, fail, now_or, pass_app
from cchc.cli.output import Column, render


@click.command("overview")
@click.option(
    "--quarter",
    default=None,
    metavar="YYYYQn",
    help="The quarter, e.g. 2027Q1 (default: the last one whose overview was due by --at).",
)
@click.option("--format", "fmt", type=click.Choice(["table", "json", "xlsx"]), default="table")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write to FILE (required with --format xlsx).",
)
@at_option
@pass_app
def overview_cmd(app: App, quarter, fmt, output, at) -> None:
    """The quarterly overview for the leaders, as of --at: per unit, the items due in the
    quarter (by their first due date), done on time, done late, still open (overdue), extended;
    the directives with items still open. The items counted are those due after the previous
    consolidated report's due date and by this quarter's. Nothing is mailed: the sweep mails
    it `overview_after` working days after the consolidated report is due."""
    from notifications.documents.overview import COLUMNS, overview_xlsx
    from schedules.dates import local_date, vn_date
    from schedules.overview import latest_cycle, parse_quarter, quarter_cycle
    from usecases.overview import build_overview

    app.read_only = True
    if fmt == "xlsx" and output is None:
        fail("--format xlsx cần --output FILE")
    plan = app.plan
    when = now_or(at)
    if quarter is not None:
        try:
            year, number = parse_quarter(quarter)
        except ValueError:
            fail(f"Quý không hợp lệ: '{quarter}' (ví dụ: 2027Q1)")
        cycle = quarter_cycle(plan, year, number)
    else:
        cycle = latest_cycle(plan, local_date(when, plan.zone))
    found = build_overview(plan, app.reader, cycle, when)
    if fmt == "xlsx":
        output.write_bytes(overview_xlsx(found))
        click.echo(f"Tổng hợp {cycle.label}: {output}")
        return
    if fmt == "json":
        import json

        text = json.dumps(found.as_dict(), ensure_ascii=False, indent=2)
    elif found.communes is not None:
        text = "\n".join(_city_lines(found))
    else:
        columns = [Column(key, header) for key, header in COLUMNS]
        rows = [row.as_dict() for row in [*found.units, found.total()]]
        lines = [
            f"Tình hình thực hiện nhiệm vụ CCHC {cycle.label}: nhiệm vụ có hạn từ "
            f"{vn_date(cycle.first)} đến {vn_date(cycle.last)}",
            render(rows, "table", columns, plan.zone),
        ]
        if found.directives:
            lines.append("\nVăn bản chỉ đạo còn nhiệm vụ chưa hoàn thành:")
            lines += [
                f"- {d.reference} {d.subject}: {', '.join(d.units)}; hạn {vn_date(d.due)}"
                + (f", {d.overdue} việc quá hạn" if d.overdue else "")
                for d in found.directives
            ]
        else:
            lines.append("\nKhông có văn bản chỉ đạo nào còn nhiệm vụ chưa hoàn thành.")
        if found.indicators:
            lines.append("\nChỉ số (so với mục tiêu của kế hoạch):")
            lines += [f"- {line.label}: {line.text}" for line in found.indicators]
        text = "\n".join(lines)
    if output is not None:
        output.write_text(text + "\n", encoding="utf-8")
    else:
        click.echo(text)


def _city_lines(found) -> list[str]:
    """The Sở's overview as text: each commune's report, the city's indicators, the communes
    furthest from the targets."""
    from schedules.dates import vn_date

    counts = found.report_counts()
    lines = [
        f"Tình hình báo cáo CCHC của các {found.kinds} {found.cycle.label} (báo cáo tổng hợp "
        f"của thành phố hạn {vn_date(found.cycle.last)}): đúng hạn {counts['on_time']}, muộn "
        f"{counts['late']}, chưa gửi {counts['missing']}",
        *(f"- {c.name}: {c.text}" for c in found.communes),
    ]
    if found.indicators:
        lines.append("\nChỉ số toàn thành phố (so với mục tiêu của kế hoạch):")
        lines += [f"- {line.label}: {line.text}" for line in found.indicators]
    if found.furthest:
        lines.append(f"\nCác {found.kinds} còn xa mục tiêu nhất:")
        lines += [
            f"- {c.name}: bình quân còn thiếu {c.gap:g} điểm %, {c.met}/{c.expected} chỉ số đạt"
            for c in found.furthest
        ]
    return lines
