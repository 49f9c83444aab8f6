"""The JSON Schema of the config files, as editors read it (`cchc schema`, `config/schema.json`,
the `schema.json` of `cchc new-config`).

The structure comes from the pydantic models of `schedules.config` and its parts
(`schedules.config_*`, the one home of the config's rules); this module makes it what a standard
validator (check-jsonschema, yaml-language-server, the `jsonschema` library) accepts and what an
admin reads:

- a clock time (`sweep_time: "07:30"`) is a string with a pattern, not `format: time` (RFC 3339
  wants seconds and an offset: "07:30" would be refused);
- every property has a description in Vietnamese with its English term in brackets at the end,
  from `DESCRIPTIONS`, else the model field's own `description`.

Adding a config field: give it a description here (key "Model.field"), or in the model's
`Field(description=...)` written the same way ("Vietnamese … (English term)");
tests/test_schema.py fails until every property has one. Then `cchc schema -o config/schema.json`.
"""

from __future__ import annotations

from typing import Any

from pydantic.json_schema import GenerateJsonSchema

CLOCK_TIME = r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$"
"""HH:MM or HH:MM:SS, as `schedules.config_units.Commune` reads `sweep_time`."""

_PERSON = {
    "name": "Họ và tên (name)",
    "title": "Chức vụ, ví dụ “Chủ tịch UBND xã” (title)",
    "email": "Địa chỉ thư điện tử (e-mail)",
    "phone": "Số điện thoại (phone)",
}

DESCRIPTIONS: dict[str, dict[str, str]] = {
    "ConfigFile": {
        "commune": "Thông tin của xã: tên, kế hoạch, cơ quan thường trực, lãnh đạo, thời hạn "
        "của kế hoạch, giờ rà soát, chính sách nhắc hạn mặc định (commune)",
        "units": "Danh sách cơ quan, đơn vị được giao nhiệm vụ (units)",
        "calendar": "Lịch làm việc theo năm: ngày nghỉ thêm và ngày làm bù; khóa là năm, "
        "ví dụ 2027 (calendar)",
        "obligations": "Danh sách nhiệm vụ của kế hoạch: báo cáo định kỳ, nhiệm vụ của Phụ lục, "
        "nhiệm vụ đột xuất (obligations)",
        "indicators": "Danh sách chỉ tiêu của kế hoạch, báo cáo kèm báo cáo định kỳ (indicators)",
        "extends": "Kế thừa một kế hoạch mẫu: đường dẫn thư mục mẫu, tính từ thư mục của tệp "
        "này, ví dụ “../../plans/xa”; nhiệm vụ cùng mã trong thư mục của xã thay cho nhiệm "
        "vụ của mẫu (extends)",
    },
    "Commune": {
        "code": "Mã xã: chữ thường, chữ số và dấu gạch ngang, ví dụ “maodien” (code)",
        "name": "Tên đầy đủ, ví dụ “Ủy ban nhân dân xã Mao Điền” (name)",
        "kind": "Loại đơn vị hành chính cấp xã: xa (xã), phuong (phường), dac_khu (đặc khu); "
        "thư, trang và kế hoạch mẫu ({commune_kind}) gọi theo đó, mặc định xa (kind)",
        "sender": "Người gửi (From) các thư của xã; bỏ trống: trong cấu hình thành phố là tên "
        "và địa chỉ của cơ quan thường trực, còn lại là CCHC_SMTP_FROM (sender)",
        "plan": "Kế hoạch CCHC, ví dụ “Kế hoạch số 84/KH-UBND ngày 13/10/2025” (plan)",
        "plan_short": "Số hiệu ngắn của kế hoạch, ví dụ “84/KH-UBND” (plan short reference)",
        "timezone": "Múi giờ, mặc định Asia/Ho_Chi_Minh (time zone)",
        "standing_office": "Mã đơn vị là cơ quan thường trực về CCHC (standing office)",
        "contact": "Người liên hệ tại cơ quan thường trực, ghi trong thư gửi các đơn vị (contact)",
        "leadership": "Lãnh đạo UBND xã nhận báo cáo chuyển cấp khi việc quá hạn (leadership)",
        "plan_start": "Ngày bắt đầu kế hoạch, dạng YYYY-MM-DD (plan start)",
        "plan_end": "Ngày kết thúc kế hoạch, dạng YYYY-MM-DD (plan end)",
        "start": "Ngày hệ thống bắt đầu theo dõi: chỉ mở và nhắc các việc có hạn từ ngày này "
        "(engine start)",
        "go_live": "Ngày xã bắt đầu vận hành hệ thống, dạng YYYY-MM-DD: việc có hạn trước ngày "
        "này mà chưa hoàn thành được giữ lại để cơ quan thường trực xử lý (cchc triage), không "
        "gửi thư; bỏ trống: ngày rà soát đầu tiên ghi trong cơ sở dữ liệu (go-live date)",
        "catch_up_days": "Khi cấu hình thay đổi, rà soát lại tối đa bấy nhiêu ngày đã qua "
        "(catch-up days)",
        "overview_after": "Số ngày làm việc sau hạn báo cáo tổng hợp của xã (mỗi quý) thì gửi "
        "bản tổng hợp tình hình quý cho Chủ tịch và Phó Chủ tịch phụ trách; mặc định 3 "
        "(overview after)",
        "sweep_time": 'Giờ rà soát mỗi sáng ngày làm việc, dạng "HH:MM" đặt trong dấu nháy, '
        'ví dụ "07:30" (sweep time)',
        "submit_hint": "Hướng dẫn nộp sản phẩm ghi trong thư khi chưa có đường liên kết nộp "
        "(submit hint)",
        "defaults": "Chính sách nhắc hạn, mở việc và chuyển cấp mặc định cho mọi nhiệm vụ; bắt "
        "buộc, trừ khi thành phố (city.yaml) đã khai báo (default policy)",
    },
    "Person": _PERSON,
    "Leader": _PERSON
    | {
        "escalation": "Nhận báo cáo chuyển cấp các việc quá hạn (receives escalations)",
        "in_charge": "Lãnh đạo phụ trách CCHC (Phó Chủ tịch phụ trách): nhận chuyển cấp "
        "leader_in_charge, và việc của cơ quan thường trực chuyển cấp lên đây sau Trưởng phòng "
        "(leader in charge)",
        "chair": "Chủ tịch UBND: Sở Nội vụ gửi văn bản đôn đốc báo cáo chậm gửi thành phố đến "
        "đây; không ai được đánh dấu: lãnh đạo có chức vụ bắt đầu bằng “Chủ tịch” (chair)",
        "overview": "Nhận bản tổng hợp tình hình thực hiện nhiệm vụ CCHC hằng quý; bỏ trống: "
        "Chủ tịch và lãnh đạo phụ trách CCHC nhận (quarterly overview)",
    },
    "Sender": {
        "name": "Tên người gửi hiển thị, ví dụ “UBND phường Mẫu” (display name)",
        "email": "Địa chỉ người gửi (e-mail)",
    },
    "Unit": {
        "code": "Mã đơn vị: chữ in hoa, chữ số và gạch dưới, ví dụ VHXH (unit code)",
        "name": "Tên đơn vị bằng tiếng Việt (unit name)",
        "email": "Địa chỉ thư điện tử của đơn vị (e-mail)",
        "head": "Thủ trưởng đơn vị, nhận chuyển cấp mức head (head of unit)",
        "in_all": "Thuộc “Các cơ quan, đơn vị” (ALL) khi nhiệm vụ giao cho tất cả (in ALL)",
        "digest": "Nhận một thư tổng hợp mỗi ngày thay cho từng thư theo việc (daily digest)",
    },
    "EscalationLevel": {
        "after": "Số ngày làm việc sau hạn thì chuyển cấp (working days after due)",
        "to": "Chuyển cho: head, leadership, leader_in_charge, standing_office hoặc mã đơn "
        "vị (recipients)",
        "before": "Chậm nhất vào ngày này: consolidated_due là hạn của báo cáo tổng hợp cùng "
        "kỳ, để việc chuyển cấp xong trước hạn đó (at the latest before)",
    },
    "Policy": {
        "open_before_due": "Mở việc trước hạn bấy nhiêu ngày làm việc (open before due)",
        "reminders": "Các lần nhắc hạn, tính bằng ngày làm việc trước hạn, ví dụ [5, 2] "
        "(reminder lead times)",
        "due_day_notice": "Gửi thư nhắc vào đúng ngày đến hạn (due-day notice)",
        "escalation": "Các mức chuyển cấp khi quá hạn, theo thứ tự (escalation ladder)",
        "shift": "Hạn rơi vào ngày nghỉ: next_working_day dời sang ngày làm việc kế tiếp "
        "(Bộ luật Dân sự), previous_working_day lùi về ngày làm việc trước đó, none giữ "
        "nguyên (due-date shift)",
        "inputs_before_due": "Đơn vị phối hợp gửi số liệu trước hạn của đơn vị chủ trì bấy "
        "nhiêu ngày làm việc, mặc định 3 (inputs before due)",
        "catch_up_grace": "Việc mở sau hạn (chạy bù) có thêm bấy nhiêu ngày làm việc kể từ "
        "khi mở trước khi chuyển cấp, mặc định 3 (catch-up grace)",
        "min_notice": "Việc được mở muộn (sau ngày mở theo lịch) khi còn ít hơn bấy nhiêu ngày "
        "làm việc đến hạn thì hạn nộp được tính bấy nhiêu ngày làm việc kể từ ngày mở, thư ghi "
        "rõ; mặc định 5 (minimum notice)",
        "escalation_time": 'Giờ gửi báo cáo chuyển cấp cho thủ trưởng, lãnh đạo, dạng "HH:MM" '
        "đặt trong dấu nháy, muộn hơn giờ rà soát để kịp ghi nhận văn bản nhận buổi sáng, ví dụ "
        '"14:00"; bỏ trống: gửi cùng lần rà soát buổi sáng (escalation time)',
    },
    "DueRule": {
        "day_of_last_month": "Ngày N của tháng cuối kỳ (tháng ngắn hơn: ngày cuối tháng) "
        "(day of last month)",
        "day_of_month_after": "Ngày N của tháng sau kỳ (tháng ngắn hơn: ngày cuối tháng) "
        "(day of month after)",
        "working_days_after_window": "Số ngày làm việc sau ngày chốt số liệu, từ 1 "
        "(working days after window)",
        "working_days_after_period_end": "Số ngày làm việc sau ngày cuối kỳ (working days "
        "after period end)",
        "on": 'Ngày trong năm của kỳ, dạng "MM-DD" (on)',
        "year_offset": "Dùng với on: năm so với năm của kỳ, -1, 0 hoặc 1 (year offset)",
    },
    "Schedule": {
        "every": "Bộ kỳ có tên: quarterly-cchc, annual, semiannual, quarterly, monthly "
        "(named period set)",
        "rrule": "Quy tắc lặp RFC 5545; mỗi lần lặp đánh dấu một kỳ (RRULE)",
        "once": "Thời hạn một lần, dạng YYYY-MM-DD (one-off deadline)",
        "period": "Dùng với rrule: loại kỳ mà mỗi lần lặp đặt tên: year, half, quarter, "
        "cchc, month, date (period kind)",
        "due": "Cách tính hạn từ kỳ; bỏ trống: hạn là chính ngày lặp (due rule)",
        "window_from": "Dùng với once: ngày bắt đầu thời gian thực hiện (window start)",
        "window_start_day": "Ngày chốt số liệu D: số liệu từ ngày D tháng trước tháng đầu kỳ "
        "đến ngày D-1 tháng cuối kỳ (window start day)",
        "q3_window_from_june": "quarterly-cchc: số liệu quý III từ 15/6 đến 14/9 (nếu không: "
        "từ 15/12 năm trước) (Q3 window from June)",
    },
    "Obligation": {
        "communes": "Chỉ dùng cho nhiệm vụ chung của thành phố: các xã áp dụng (mã xã); bỏ trống "
        "là mọi xã (communes)",
        "id": "Mã nhiệm vụ: chữ thường, chữ số, gạch ngang, ví dụ bao-cao-cchc-dinh-ky "
        "(obligation id)",
        "title": "Tên nhiệm vụ như trong kế hoạch; {plan_short} và {plan} được thay bằng số "
        "hiệu và tên kế hoạch của xã, {commune_kind} bằng xã, phường hoặc đặc khu (kế hoạch "
        "mẫu dùng chung); ở reports của thành phố, {commune_kinds} bằng “xã, phường, đặc khu” "
        "(title)",
        "kind": "Loại nhiệm vụ: báo cáo định kỳ, kế hoạch năm, tự chấm điểm, ... (kind)",
        "ref": "Căn cứ trong kế hoạch, ví dụ “Phụ lục mục II.2” (reference)",
        "lead": "Đơn vị chủ trì: các mã đơn vị, hoặc ALL (lead units)",
        "coordinators": "Đơn vị phối hợp: các mã đơn vị, hoặc ALL (coordinating units)",
        "all_except": "Đơn vị không thuộc “Các cơ quan, đơn vị” (ALL) ở nhiệm vụ này, ví dụ [CA] "
        "với nhiệm vụ về đơn vị sự nghiệp công lập (units ALL leaves out)",
        "product": "Sản phẩm phải nộp, ví dụ “Báo cáo”; {period} được thay bằng kỳ của việc, "
        "ví dụ “Báo cáo … {period}” thành “Báo cáo … quý I năm 2027”; {plan_short}, {plan}, "
        "{commune_kind} như ở title (product)",
        "timing": "Thời gian thực hiện theo lời văn của kế hoạch (timing)",
        "due_source": "Văn bản đặt ngày hạn khi kế hoạch chỉ ghi thời gian (“Hàng năm”), ví dụ "
        "“Kế hoạch CCHC năm {year}” ({year} là năm của ngày hạn); thư ghi “hạn theo …”; bỏ trống "
        "khi ngày hạn do chính kế hoạch quy định (due date source)",
        "description": "Nội dung nhiệm vụ, hiện trong thư và trang nộp (description)",
        "schedule": "Lịch của nhiệm vụ; bỏ trống với nhiệm vụ thường xuyên hoặc đột xuất "
        "(schedule)",
        "reported_in": "Mã nhiệm vụ có báo cáo bao gồm nhiệm vụ này (reported in)",
        "consolidates": "Mã nhiệm vụ mà báo cáo này tổng hợp (consolidates)",
        "start": "Ngày bắt đầu áp dụng nhiệm vụ, dạng YYYY-MM-DD (start)",
        "end": "Ngày thôi áp dụng nhiệm vụ, dạng YYYY-MM-DD (end)",
        "policy": "Chính sách riêng của nhiệm vụ; trường bỏ trống theo mặc định của xã (policy)",
        "signature": "Khi bản nộp không có tệp PDF ký số hợp lệ: warn là vẫn nhận và ghi “chưa "
        "ký số” trên biên nhận và trang văn phòng, refuse là không nhận (signature policy)",
    },
    "CityFile": {
        "city": "Thông tin của thành phố: mã, tên, cơ quan của thành phố (Sở Nội vụ), lãnh đạo, "
        "chính sách mặc định (city)",
        "calendar": "Lịch làm việc chung của mọi xã theo năm: ngày nghỉ thêm và ngày làm bù, "
        "khai báo một lần cho cả thành phố (calendar)",
        "obligations": "Nhiệm vụ chung cho mọi xã, hoặc cho các xã nêu ở communes của từng nhiệm "
        "vụ (shared obligations)",
        "indicators": "Chỉ tiêu chung cho mọi xã, hoặc cho các xã nêu ở communes của từng chỉ "
        "tiêu (shared indicators)",
        "reports": "Nhiệm vụ riêng của cơ quan thành phố, ví dụ báo cáo tổng hợp báo cáo của các "
        "xã: consolidates là mã nhiệm vụ của xã, lead là mã của cơ quan (city office reports)",
    },
    "City": {
        "code": "Mã thành phố: chữ thường, chữ số và dấu gạch ngang, khác mã mọi xã, ví dụ "
        "“haiphong” (code)",
        "name": "Tên thành phố, ví dụ “Thành phố Hải Phòng” (name)",
        "office": "Cơ quan của thành phố theo dõi công tác CCHC của các xã: Sở Nội vụ (office)",
        "leadership": "Lãnh đạo thành phố nhận báo cáo chuyển cấp các nhiệm vụ của cơ quan "
        "thành phố (leadership)",
        "defaults": "Chính sách nhắc hạn mặc định cho các xã không tự khai báo defaults "
        "(default policy)",
        "plan": "Văn bản làm căn cứ cho nhiệm vụ của cơ quan thành phố (plan)",
        "quarantine": "Xã có tệp cấu hình lỗi bị cách ly, các xã khác vẫn chạy: last_valid (mặc "
        "định) — xã đó chạy theo cấu hình hợp lệ gần nhất, tạm dừng nếu chưa có; pause — tạm "
        "dừng xã đó đến khi sửa xong (quarantine)",
    },
    "CityOffice": {
        "name": "Tên cơ quan, ví dụ “Sở Nội vụ thành phố Hải Phòng” (name)",
        "email": "Địa chỉ thư điện tử của cơ quan (e-mail)",
        "code": "Mã đơn vị của cơ quan trong reports, mặc định SNV (unit code)",
        "contact": "Người liên hệ tại cơ quan, ghi trong thư (contact)",
        "address": "Địa chỉ trụ sở của cơ quan (address)",
        "director": "Giám đốc Sở: việc của cơ quan quá hạn chuyển cấp đến đây trước, không "
        "đến lãnh đạo thành phố (director)",
    },
    "Indicator": {
        "id": "Mã chỉ tiêu: chữ thường, chữ số và dấu gạch ngang, ví dụ “ho-so-truc-tuyen” (id)",
        "ref": "Chỗ kế hoạch đặt chỉ tiêu, ví dụ “Mục II.2.a” (plan reference)",
        "name": "Tên chỉ tiêu (name)",
        "reported_by": "Mã các đơn vị báo cáo chỉ tiêu, hoặc ALL: mọi đơn vị có báo cáo "
        "mang chỉ tiêu (reported by)",
        "measure": "Cách đo: ratio (tỷ lệ tử số/mẫu số, tính %), count (số lượng), yes_no "
        "(có/không) (measure)",
        "numerator": "Với ratio: tử số đếm gì (numerator)",
        "denominator": "Với ratio: mẫu số đếm gì (denominator)",
        "direction": "Chiều của mục tiêu: at_least (tối thiểu) hoặc at_most (tối đa) (direction)",
        "target": "Mục tiêu: tỷ lệ % với ratio và yes_no, số lượng với count (target)",
        "by": "Năm phải đạt mục tiêu, ví dụ 2030 (target year)",
        "steps": "Lộ trình theo năm do kế hoạch CCHC năm đặt: năm -> mục tiêu của năm, ví dụ "
        "{2027: 75} (yearly steps)",
        "reported_in": "Mã nhiệm vụ có báo cáo mang chỉ tiêu, ví dụ bao-cao-cchc-dinh-ky "
        "(reported in)",
        "maximum": "Với count: giá trị lớn nhất hợp lệ (maximum)",
        "jump_factor": "Giá trị gấp hơn bấy nhiêu lần (hoặc nhỏ hơn 1/bấy nhiêu) giá trị kỳ "
        "trước của đơn vị phải được xác nhận, mặc định 2 (jump factor)",
        "communes": "Trong chỉ tiêu dùng chung của thành phố: chỉ áp dụng cho các xã này "
        "(communes)",
    },
    "YearCalendar": {
        "days_off": "Ngày nghỉ thêm trong năm, ví dụ ngày nghỉ hoán đổi (extra days off)",
        "working_days": "Ngày làm việc thêm: ngày làm bù (extra working days)",
    },
}
"""Description of each property, per model (`$defs` name; the root is "ConfigFile")."""


class _EditorSchema(GenerateJsonSchema):
    """pydantic's JSON Schema, with clock times that standard validators accept."""

    def time_schema(self, schema: Any) -> dict[str, Any]:
        return {"type": "string", "pattern": CLOCK_TIME}


def config_schema(city: bool = False) -> dict[str, Any]:
    """The JSON Schema of one config file (`schedules.config.ConfigFile`), or of a city's
    `city.yaml` (`CityFile`), described."""
    from schedules.config import CityFile, ConfigFile

    model = CityFile if city else ConfigFile
    schema = model.model_json_schema(schema_generator=_EditorSchema)
    _describe(model.__name__, schema)
    for name, model in schema.get("$defs", {}).items():
        _describe(name, model)
    return schema


def _describe(model: str, schema: dict[str, Any]) -> None:
    texts = DESCRIPTIONS.get(model, {})
    for prop, body in schema.get("properties", {}).items():
        if prop in texts:
            body["description"] = texts[prop]
