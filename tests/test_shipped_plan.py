"""The shipped config folder: every row of the annex of Kế hoạch 84/KH-UBND is there, once.

The list below was transcribed from the annex table "DANH MỤC NHIỆM VỤ CỤ THỂ" of the plan
(shared seed 000_216e4bf6d47724c0.txt), independently of config/obligations-annex.yaml: it is the
check that no annex row was dropped or given to the wrong lead unit.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from schedules.plan_loader import load_plan

CONFIG = Path(__file__).parent.parent / "config"

# (ref, lead unit codes as written in the plan's "Cơ quan chủ trì" column)
ANNEX_ROWS: list[tuple[str, list[str]]] = [
    # I. Cải cách thể chế
    ("Phụ lục mục I.1", ["VP"]),
    ("Phụ lục mục I.2", ["VP"]),
    ("Phụ lục mục I.3", ["VP"]),
    ("Phụ lục mục I.4", ["VP"]),
    ("Phụ lục mục I.5", ["VP"]),
    ("Phụ lục mục I.6", ["VP"]),
    # II. Cải cách thủ tục hành chính
    ("Phụ lục mục II.1", ["ALL"]),
    ("Phụ lục mục II.2", ["TTPVHCC"]),  # grouping row: lead of its sub-rows
    ("Phụ lục mục II.2, ý 1", ["TTPVHCC"]),
    ("Phụ lục mục II.2, ý 2", ["TTPVHCC"]),
    ("Phụ lục mục II.2, ý 3", ["TTPVHCC"]),
    ("Phụ lục mục II.2, ý 4", ["TTPVHCC"]),
    ("Phụ lục mục II.3", ["TTPVHCC"]),
    ("Phụ lục mục II.4", ["TTPVHCC", "VP"]),
    # III. Cải cách tổ chức bộ máy
    ("Phụ lục mục III.1", ["VHXH"]),
    ("Phụ lục mục III.1, ý 1", ["VHXH"]),
    ("Phụ lục mục III.2", ["VHXH"]),
    ("Phụ lục mục III.2, ý 1", ["VHXH"]),
    ("Phụ lục mục III.3", ["ALL"]),
    ("Phụ lục mục III.3, ý 1", ["ALL"]),
    ("Phụ lục mục III.4", ["VHXH"]),
    # IV. Cải cách chế độ công vụ
    ("Phụ lục mục IV.1", ["VHXH"]),
    ("Phụ lục mục IV.2", ["VHXH"]),
    ("Phụ lục mục IV.3", ["VHXH"]),
    ("Phụ lục mục IV.4", ["VHXH"]),
    ("Phụ lục mục IV.5", ["VHXH"]),
    # V. Cải cách tài chính công
    ("Phụ lục mục V.1", ["KT"]),
    ("Phụ lục mục V.2", ["KT"]),
    # VI. Xây dựng và phát triển Chính phủ điện tử, Chính phủ số
    ("Phụ lục mục VI.1", ["VHXH"]),  # grouping row: lead of its sub-rows
    ("Phụ lục mục VI.1, ý 1", ["VHXH"]),
    ("Phụ lục mục VI.1, ý 2", ["VHXH"]),
    ("Phụ lục mục VI.1, ý 3", ["VHXH"]),
    ("Phụ lục mục VI.2", ["VHXH"]),
    ("Phụ lục mục VI.3", ["VHXH"]),
    ("Phụ lục mục VI.4", ["VP"]),
    ("Phụ lục mục VI.5", ["VHXH"]),
    ("Phụ lục mục VI.6", ["VP"]),
    ("Phụ lục mục VI.7", ["VHXH"]),
    # VII. Công tác chỉ đạo điều hành
    ("Phụ lục mục VII.1", ["VHXH"]),
    ("Phụ lục mục VII.2", ["VHXH"]),
    ("Phụ lục mục VII.3", ["VHXH"]),
    ("Phụ lục mục VII.4", ["VHXH"]),
    # The last row of VII: unnumbered (after VII.4), four communication bullets sharing one set
    # of cells. The plan has no VII.5: the config names the row by its section and bullets.
    ("Phụ lục mục VII, ý 1-4", ["VHXH"]),
    ("Phụ lục mục VII, ý 1", ["VHXH"]),
    ("Phụ lục mục VII, ý 2", ["VHXH"]),
    ("Phụ lục mục VII, ý 3", ["VHXH"]),
    ("Phụ lục mục VII, ý 4", ["VHXH"]),
]

UNSCHEDULED_KINDS = {"standing", "ad_hoc"}


@pytest.fixture(scope="module")
def plan():
    return load_plan(CONFIG)


def test_expected_list_has_no_duplicates():
    refs = Counter(ref for ref, _ in ANNEX_ROWS)
    assert [r for r, n in refs.items() if n > 1] == []
    assert len(ANNEX_ROWS) == 47


@pytest.mark.parametrize(("ref", "lead"), ANNEX_ROWS, ids=[r for r, _ in ANNEX_ROWS])
def test_annex_row_present_once_with_its_lead(plan, ref, lead):
    found = [ob for ob in plan.obligations.values() if ob.ref == ref]
    assert len(found) == 1, f"{ref}: found {len(found)} obligations"
    assert found[0].lead == lead


def test_no_annex_ref_beyond_the_transcribed_rows(plan):
    expected = {ref for ref, _ in ANNEX_ROWS}
    extra = sorted(
        ob.ref
        for ob in plan.obligations.values()
        if ob.ref.startswith("Phụ lục") and ob.ref not in expected
    )
    assert extra == []


def test_every_scheduled_kind_has_a_schedule(plan):
    missing = [
        oid
        for oid, ob in plan.obligations.items()
        if ob.kind not in UNSCHEDULED_KINDS and ob.schedule is None
    ]
    assert missing == []
    assert all(oid in plan.schedules for oid, ob in plan.obligations.items() if ob.schedule)


def test_no_ref_names_a_row_the_plan_does_not_have(plan):
    """The annex of Kế hoạch 84 numbers VII.1 to VII.4 only."""
    assert not [ob.ref for ob in plan.obligations.values() if "VII.5" in ob.ref]


def test_standing_entries_are_reported_somewhere_that_exists(plan):
    """Every standing task is reported in a report its lead unit owes; the Front's duty
    (Mục V.2.g: the plan requests it, the Front owes no periodic report) is reported nowhere,
    rather than attached to a report that never reaches it."""
    standing = {oid: ob for oid, ob in plan.obligations.items() if ob.kind == "standing"}
    assert standing
    unreported = [oid for oid, ob in standing.items() if ob.reported_in is None]
    assert unreported == ["giam-sat-truyen-thong-mttq-v2g"]
    assert plan.warnings == []  # no row is attached to a report its lead never owes
    for oid, ob in standing.items():
        if ob.reported_in is None:
            continue
        assert ob.reported_in in plan.obligations, f"{oid}: unknown {ob.reported_in}"
        assert plan.obligations[ob.reported_in].schedule is not None


def test_body_obligations_are_present(plan):
    kinds = {
        oid: plan.obligations[oid].kind
        for oid in (
            "bao-cao-cchc-dinh-ky",
            "bao-cao-cchc-tong-hop",
            "tong-ket-ke-hoach-2030",
            "nhiem-vu-dot-xuat",
        )
    }
    assert kinds == {
        "bao-cao-cchc-dinh-ky": "periodic_report",
        "bao-cao-cchc-tong-hop": "consolidated_report",
        "tong-ket-ke-hoach-2030": "final_summary",
        "nhiem-vu-dot-xuat": "ad_hoc",
    }
    assert plan.obligations["bao-cao-cchc-tong-hop"].consolidates == "bao-cao-cchc-dinh-ky"
