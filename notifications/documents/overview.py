"""The quarterly overview's documents, pure functions of a `usecases.overview.Overview`: its
workbook (`overview_xlsx`: the units' table, the open directives, one sheet of raw keys), the
file the leaders' mail attaches (`overview_files`), and `overview_for`, the delivery's way to
build an overview as of the sending instant (as `scorecard.evidence_for`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from notifications.documents.house_style import (
    TITLE_SIZE,
    XLSX_MIME,
    Table,
    data_sheet,
    table_sheet,
    workbook_bytes,
)
from schedules.dates import vn_date, vn_datetime
from schedules.indicators import MET, NO_DATA, vn_number
from schedules.periods import period_label
from schedules.plan import Plan
from usecases.overview_data import LATE, MISSING, ON_TIME, REPORT_STATES

if TYPE_CHECKING:  # `cchc check` renders the overview's mail without loading the database layer
    from sqlalchemy import Engine

    from usecases.overview_data import Overview

File = tuple[str, str, str, bytes]
"""(file name, MIME main type, subtype, bytes) of a mail's attachment."""

COLUMNS = (
    ("unit", "Mã đơn vị"),
    ("name", "Đơn vị"),
    ("due", "Số nhiệm vụ đến hạn trong quý"),
    ("on_time", "Hoàn thành đúng hạn"),
    ("late", "Hoàn thành sau hạn"),
    ("open", "Chưa hoàn thành"),
    ("overdue_open", "Trong đó: quá hạn"),
    ("extended", "Được gia hạn"),
)
"""The units' table: the JSON keys of `UnitQuarter.as_dict` and their headings (the table of
`cchc overview`, the mail's and the workbook's)."""


def span_text(overview: Overview) -> str:
    """ "quý I/2027 (nhiệm vụ có hạn từ 19/12/2026 đến 18/03/2027)"."""
    cycle = overview.cycle
    return f"{cycle.label} (nhiệm vụ có hạn từ {vn_date(cycle.first)} đến {vn_date(cycle.last)})"


def overview_xlsx(overview: Overview) -> bytes:
    """The workbook: the units' table (a total row last), the directives still open, the raw
    keys. A4 landscape, one page wide, as the scorecard's."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    assert ws is not None, "a new workbook has a sheet"
    if overview.communes is not None:
        return _city_xlsx(wb, ws, overview)
    ws.title = "Tổng hợp quý"
    keys = [key for key, _ in COLUMNS]
    rows = [row.as_dict() for row in [*overview.units, overview.total()]]
    table = Table(
        [heading for _, heading in COLUMNS],
        [[data[key] for key in keys] for data in rows],
        set(),
        [12, 44, 14, 14, 14, 14, 14, 12],
        frozen_columns=2,
        header_height=48,
    )
    title = (
        f"TÌNH HÌNH THỰC HIỆN NHIỆM VỤ CẢI CÁCH HÀNH CHÍNH "
        f"{overview.cycle.label.replace('quý', 'QUÝ')}"
    )
    subtitle = f"{overview.commune} – Kế hoạch {overview.plan_short}; {span_text(overview)}"
    footnote = (
        f"Số liệu đến {vn_datetime(overview.at, overview.zone)}. Nhiệm vụ tính theo hạn nộp ban "
        "đầu trong quý; nhiệm vụ được miễn không tính; “được gia hạn”: nhiệm vụ đã được gia hạn ít "
        "nhất một lần."
    )
    table_sheet(ws, title, table, (subtitle, footnote))
    if overview.directives:
        table_sheet(
            wb.create_sheet("Văn bản chỉ đạo"),
            "VĂN BẢN CHỈ ĐẠO CÒN NHIỆM VỤ CHƯA HOÀN THÀNH",
            _directives_table(overview),
            None,
            TITLE_SIZE - 1,
        )
    if overview.indicators:
        table_sheet(
            wb.create_sheet("Chỉ số"),
            f"CHỈ SỐ CẢI CÁCH HÀNH CHÍNH {overview.cycle.label.replace('quý', 'QUÝ')}",
            indicators_table(overview),
            (
                f"{overview.commune} – kỳ báo cáo: {period_label(overview.indicators[0].period)}",
                f"Giá trị chung của {overview.total_label.removeprefix('Toàn ').lower()}: tổng "
                "tử số của các đơn vị trên tổng mẫu số, so với mục tiêu của kế hoạch; “báo cáo "
                "đúng hạn”: số liệu nhập đến hạn báo cáo của đơn vị.",
            ),
            TITLE_SIZE - 1,
        )
    data_sheet(wb, keys + ["waived"], [row.as_dict() for row in overview.units], name_width=44)
    name = f"Tình hình thực hiện nhiệm vụ CCHC {overview.cycle.label}"
    return workbook_bytes(wb, name, overview.at)


INDICATOR_HEADINGS = [
    "Mã chỉ số",
    "Mục",
    "Chỉ số",
    "Giá trị",
    "Mục tiêu",
    "Đánh giá",
    "Đơn vị phải báo cáo",
    "Đã báo cáo",
    "Báo cáo đúng hạn",
]


def _city_xlsx(wb, ws, overview: Overview) -> bytes:
    """The Sở's workbook: each commune's report (sheet "Báo cáo các xã"), the city's
    indicators, the communes furthest from the targets, the raw keys."""
    from schedules.periods import period_label as label_of

    assert overview.communes is not None
    ws.title = "Báo cáo các xã"
    counts = overview.report_counts()
    rows: list[list] = [
        [
            c.code,
            c.name,
            REPORT_STATES[c.state],
            vn_date(c.due) if c.due else "",
            vn_date(c.received) if c.received else "",
        ]
        for c in overview.communes
    ]
    rows.append(
        [
            "Cộng",
            f"{len(overview.communes)} {overview.kinds}",
            f"đúng hạn {counts[ON_TIME]}, muộn {counts[LATE]}, chưa gửi {counts[MISSING]}",
            "",
            "",
        ]
    )
    table = Table(
        ["Mã", overview.kinds.capitalize(), "Báo cáo gửi Sở", "Hạn gửi", "Ngày nhận"],
        rows,
        set(),
        [12, 36, 34, 14, 14],
        frozen_columns=2,
    )
    period = label_of(overview.cycle.period) if overview.cycle.period else overview.cycle.label
    title = f"TÌNH HÌNH BÁO CÁO CẢI CÁCH HÀNH CHÍNH CỦA CÁC {overview.kinds.upper()} - {period}"
    subtitle = f"{overview.commune}; {span_text(overview)}"
    footnote = f"Số liệu đến {vn_datetime(overview.at, overview.zone)}."
    table_sheet(ws, title, table, (subtitle, footnote))
    if overview.indicators:
        table_sheet(
            wb.create_sheet("Chỉ số"),
            f"CHỈ SỐ CẢI CÁCH HÀNH CHÍNH TOÀN THÀNH PHỐ - {period}",
            indicators_table(overview),
            None,
            TITLE_SIZE - 1,
        )
    if overview.furthest:
        far = [
            [c.code, c.name, c.gap, f"{c.met}/{c.expected}", f"{c.with_data}/{c.expected}"]
            for c in overview.furthest
        ]
        far.append(["", "", "", "", ""])
        table_sheet(
            wb.create_sheet("Xa mục tiêu nhất"),
            f"CÁC {overview.kinds.upper()} CÒN XA MỤC TIÊU NHẤT",
            Table(
                [
                    "Mã",
                    overview.kinds.capitalize(),
                    "Bình quân còn thiếu (điểm %)",
                    "Chỉ số đạt",
                    "Chỉ số có số liệu",
                ],
                far,
                set(),
                [12, 36, 16, 12, 12],
                frozen_columns=2,
            ),
            None,
            TITLE_SIZE - 1,
        )
    keys = ["commune", "name", "state", "due", "received"]
    data_sheet(wb, keys, [c.as_dict() for c in overview.communes], name_width=36)
    return workbook_bytes(
        wb, f"Tình hình báo cáo CCHC của các {overview.kinds} {period}", overview.at
    )


def indicators_table(overview: Overview) -> Table:
    """The sheet "Chỉ số": each indicator against its target, and who reported it."""
    rows: list[list] = [
        [
            line.id,
            line.ref,
            line.name,
            line.value,
            line.target,
            line.verdict,
            line.expected,
            line.reported,
            line.reported_on_time,
        ]
        for line in overview.indicators
    ]
    met = sum(1 for line in overview.indicators if line.verdict == MET)
    missing = sum(1 for line in overview.indicators if line.verdict == NO_DATA)
    rows.append(
        ["Cộng", "", f"{len(rows)} chỉ số", "", "", f"{met} đạt, {missing} chưa có số liệu"]
        + ["", "", ""]
    )
    return Table(
        INDICATOR_HEADINGS, rows, set(), [22, 16, 60, 12, 18, 30, 12, 12, 12], frozen_columns=3
    )


def _directives_table(overview: Overview) -> Table:
    headings = ["Văn bản", "Trích yếu", "Đơn vị chưa hoàn thành", "Hạn", "Số nhiệm vụ quá hạn"]
    rows: list[list] = [
        [d.reference, d.subject, ", ".join(d.units), vn_date(d.due), d.overdue]
        for d in overview.directives
    ]
    rows.append(["Cộng", f"{len(overview.directives)} văn bản", "", "", ""])
    return Table(headings, rows, set(), [34, 44, 36, 12, 12], frozen_columns=1)


def overview_file_name(overview: Overview) -> str:
    city = "thanh-pho-" if overview.communes is not None else ""
    return f"tong-hop-cchc-{city}{overview.cycle.year}-quy-{overview.cycle.quarter}.xlsx"


def overview_files(overview: Overview) -> list[File]:
    """What the leaders' mail attaches: the workbook."""
    return [(overview_file_name(overview), *XLSX_MIME, overview_xlsx(overview))]


@dataclass(frozen=True)
class OverviewMail:
    """What an overview mail carries: the overview (its body) and its files."""

    overview: Overview
    files: list[File]


OverviewSource = Callable[..., OverviewMail]
"""`source(item, at)`: the overview an outbox row on `item` speaks of, as of `at`."""


def overview_for(plan: Plan, engine: Engine) -> OverviewSource:
    """For the mails: the overview of the quarter whose consolidated report is `item`, as of
    the sending instant, and its workbook."""
    from usecases.overview import build_overview, cycle_of_item

    def source(item, at: datetime) -> OverviewMail:
        found = build_overview(plan, engine, cycle_of_item(plan, item), at)
        return OverviewMail(found, overview_files(found))

    return source


def overview_view(overview: Overview) -> dict:
    """What the overview mail's templates read (`overview` in their context)."""
    total = overview.total()
    return {
        "label": overview.cycle.label,
        "span": span_text(overview),
        "first": vn_date(overview.cycle.first),
        "last": vn_date(overview.cycle.last),
        "report_due": vn_date(overview.cycle.report_due) if overview.cycle.report_due else "",
        "as_of": vn_date(overview.today),
        "columns": [heading for key, heading in COLUMNS if key not in ("unit",)],
        "units": [row.as_dict() for row in overview.units],
        "total": total.as_dict(),
        "behind": [row.as_dict() for row in overview.late_units()],
        "directives": [
            d.as_dict() | {"due_text": vn_date(d.due), "units_text": ", ".join(d.units)}
            for d in overview.directives
        ],
        "indicators": [line.as_dict() for line in overview.indicators],
        "file": overview_file_name(overview),
    } | (_city_view(overview) if overview.communes is not None else {"city": False})


def _city_view(overview: Overview) -> dict:
    """The Sở's overview: its communes' reports, the communes furthest from the targets."""
    communes = overview.communes or []
    by_state = {state: [c.name for c in communes if c.state == state] for state in (LATE, MISSING)}
    return {
        "city": True,
        "kinds": overview.kinds,
        "reports": overview.report_counts() | {"total": len(communes)},
        "communes": [c.as_dict() | {"text": c.text} for c in communes],
        "late_names": ", ".join(by_state[LATE]),
        "missing_names": ", ".join(by_state[MISSING]),
        "furthest": [
            c.as_dict()
            | {
                "text": f"bình quân còn thiếu {vn_number(c.gap)} điểm % so với mục tiêu; "
                f"{c.met}/{c.expected} chỉ số đạt, {c.with_data}/{c.expected} có số liệu"
            }
            for c in overview.furthest
        ],
    }
