"""The kinds of commune-level unit (xã, phường, đặc khu) and how a text names them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from enum import StrEnum


class CommuneKind(StrEnum):
    """`commune.kind:` the commune-level unit a commune is (Luật Tổ chức chính quyền địa phương
    2025): a xã, a phường or a đặc khu; its mails, pages and shared plans name it so."""

    XA = "xa"
    PHUONG = "phuong"
    DAC_KHU = "dac_khu"


COMMUNE_KIND_LABELS = {
    CommuneKind.XA: "xã",
    CommuneKind.PHUONG: "phường",
    CommuneKind.DAC_KHU: "đặc khu",
}
"""How a text names each commune kind (lower case, as after "của", "Toàn", "UBND")."""


def commune_kinds_phrase(kinds: Iterable[str]) -> str:
    """ "xã, phường" for a city of xã and phường: the kinds present, in the law's order
    ("xã, phường, đặc khu"); "xã" for none."""
    present = set(kinds)
    words = [label for kind, label in COMMUNE_KIND_LABELS.items() if kind in present]
    return ", ".join(words) or COMMUNE_KIND_LABELS[CommuneKind.XA]


def communes_count(kinds: Iterable[str]) -> str:
    """ "60 xã, 40 phường, 2 đặc khu": how many communes of each kind `kinds` holds (one
    entry per commune); "0 xã" for none."""
    counted = Counter(kinds)
    parts = [f"{counted[k]} {label}" for k, label in COMMUNE_KIND_LABELS.items() if counted[k]]
    return ", ".join(parts) or "0 xã"
