"""A generated city config: `city.yaml`, the shipped calendar shared, the shipped plan as the
template every commune `extends`, and one folder per commune made from the shipped Mao Điền one
(its own code, addresses, 7 to 10 units and, for some, a local day off). Used by the tests and by
bench/city.py."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from schedules.city import City

SHIPPED = Path(__file__).resolve().parent.parent / "config"

CITY_YAML = """\
city:
  code: haiphong
  name: Thành phố Hải Phòng
  office:
    name: Sở Nội vụ thành phố Hải Phòng
    email: cchc@snv.haiphong.example
    address: Số 1 Đinh Tiên Hoàng, Hồng Bàng, Hải Phòng
  leadership:
    - name: Phó Chủ tịch UBND thành phố
      title: Phó Chủ tịch UBND thành phố
      email: pct@haiphong.example
      in_charge: true
# The city office's own report: it sums up the communes' consolidated reports, by its own
# deadline (each level its own, Nghị định 09/2019).
reports:
  - id: bao-cao-cchc-thanh-pho
    title: Tổng hợp báo cáo cải cách hành chính của các xã, phường
    kind: consolidated_report
    ref: Chế độ báo cáo công tác cải cách hành chính của UBND thành phố
    lead: [SNV]
    product: >-
      Báo cáo tổng hợp kết quả thực hiện công tác cải cách hành chính {period} của các xã,
      phường, đặc khu
    timing: Định kỳ hàng quý, 6 tháng, hàng năm
    schedule: {every: quarterly-cchc, due: {working_days_after_window: 8}}
    consolidates: bao-cao-cchc-tong-hop
"""

EXTRA_UNITS = [
    ("QS", "Ban Chỉ huy quân sự xã"),
    ("TYT", "Trạm Y tế xã"),
    ("DTN", "Đoàn Thanh niên xã"),
]


KIND_LABELS = {"xa": "xã", "phuong": "phường", "dac_khu": "đặc khu"}


def commune_kind(index: int, count: int) -> str:
    """With `kinds`: Hải Phòng's mix (67 xã, 45 phường, 2 đặc khu of 114): the last two
    communes are đặc khu, two in five of the others phường."""
    if count >= 4 and index >= count - 2:
        return "dac_khu"
    return "phuong" if index % 5 in (1, 3) else "xa"


def commune_codes(count: int) -> list[str]:
    return [f"xa{i:03d}" for i in range(1, count + 1)]


def write_city(
    folder: Path, codes: list[str], *, minimal: bool = False, kinds: bool = False
) -> Path:
    """Write a city of `codes` under `folder`. `minimal`: only `city.yaml` with the city and
    complete commune folders (no shared calendar, no template). `kinds`: xã, phường and đặc
    khu (`commune_kind`), each named and its units named as such (Nghị định 150/2025), the
    template and the city's report naming them by placeholder."""
    folder = Path(folder)
    (folder / "communes").mkdir(parents=True, exist_ok=True)
    if minimal:
        (folder / "city.yaml").write_text(
            "\n".join(CITY_YAML.splitlines()[:6]) + "\n", encoding="utf-8"
        )
    else:
        (folder / "city.yaml").write_text(CITY_YAML, encoding="utf-8")
        shutil.copy(SHIPPED / "calendar.yaml", folder / "calendar.yaml")
        template = folder / "plans" / "xa"
        template.mkdir(parents=True, exist_ok=True)
        for path in SHIPPED.glob("obligations-*.yaml"):
            shutil.copy(path, template / path.name)  # its reports say {commune_kind}
        if kinds:
            city_yaml = folder / "city.yaml"
            text = city_yaml.read_text(encoding="utf-8")
            text = text.replace("các xã, phường, đặc khu", "các {commune_kinds}")
            text = text.replace("các xã,\n      phường, đặc khu", "các {commune_kinds}")
            text = text.replace("các xã, phường", "các {commune_kinds}")
            text = text.replace(  # the Sở's own lateness goes to its Giám đốc
                "    address: Số 1 Đinh Tiên Hoàng, Hồng Bàng, Hải Phòng\n",
                "    address: Số 1 Đinh Tiên Hoàng, Hồng Bàng, Hải Phòng\n"
                "    director: {name: Giám đốc Sở Nội vụ, title: Giám đốc Sở Nội vụ, "
                "email: giamdoc@snv.haiphong.example}\n",
            )
            city_yaml.write_text(text, encoding="utf-8")
    for index, code in enumerate(codes):
        kind = commune_kind(index, len(codes)) if kinds else None
        write_commune(folder / "communes" / code, code, index, minimal=minimal, kind=kind)
    return folder


def write_commune(
    folder: Path, code: str, index: int, *, minimal: bool = False, kind: str | None = None
) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    word = KIND_LABELS[kind or "xa"]
    commune = (SHIPPED / "commune.yaml").read_text(encoding="utf-8")
    commune = commune.replace("code: maodien", f"code: {code}")
    commune = commune.replace("xã Mao Điền", f"{word} {code.upper()}")
    if kind is not None:
        commune = commune.replace(f"code: {code}\n", f"code: {code}\n  kind: {kind}\n", 1)
        commune = commune.replace("UBND xã", f"UBND {word}")
    commune = re.sub(r"@maodien\.example", f"@{code}.example", commune)
    # Live since its start date: a late first sweep catches up on everything due since, as
    # these tests and the city bench expect (go-live itself: tests/test_golive.py).
    commune = re.sub(r"^(  start: (\S+))$", r"\1\n  go_live: \2", commune, count=1, flags=re.M)
    if not minimal:
        commune += "\nextends: ../../plans/xa\n"
    (folder / "commune.yaml").write_text(commune, encoding="utf-8")
    units = (SHIPPED / "units.yaml").read_text(encoding="utf-8")
    units = re.sub(r"@maodien\.example", f"@{code}.example", units)
    if kind is not None:
        units = re.sub(r"\bxã\b", word, units)
        if kind == "phuong":  # Nghị định 150/2025: a phường's economic office
            units = units.replace("name: Phòng Kinh tế", 'name: "Phòng Kinh tế, Hạ tầng và Đô thị"')
    for unit, name in EXTRA_UNITS[: index % 4]:
        name = name.replace(" xã", f" {word}")
        units += (
            f"  - code: {unit}\n    name: {name}\n    email: {unit.lower()}@{code}.example\n"
            f"    head: {{name: Trưởng {name}, email: truong.{unit.lower()}@{code}.example}}\n"
        )
    (folder / "units.yaml").write_text(units, encoding="utf-8")
    if minimal:
        for path in SHIPPED.glob("obligations-*.yaml"):
            shutil.copy(path, folder / path.name)
        shutil.copy(SHIPPED / "calendar.yaml", folder / "calendar.yaml")
    elif index % 5 == 1:
        # A local day off (the commune's own festival), on top of the city's calendar.
        (folder / "calendar.yaml").write_text(
            "calendar:\n  2027:\n    days_off: [2027-03-15]\n", encoding="utf-8"
        )


def make_city(folder: Path, count: int, code: str = "haiphong", kinds: bool = False) -> City:
    """A generated city of `count` communes (its code `code`); xa002, when there, also takes
    2027-03-02 off. `kinds`: see `write_city`."""
    write_city(folder, commune_codes(count), kinds=kinds)
    city_yaml = folder / "city.yaml"
    city_yaml.write_text(
        city_yaml.read_text(encoding="utf-8").replace("code: haiphong", f"code: {code}", 1),
        encoding="utf-8",
    )
    xa002 = folder / "communes" / "xa002"
    if xa002.is_dir():
        (xa002 / "calendar.yaml").write_text(
            "calendar:\n  2027:\n    days_off: [2027-03-02, 2027-03-15]\n", encoding="utf-8"
        )
    from schedules.city_loader import load_city

    return load_city(folder)
