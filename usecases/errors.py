"""Errors a user can act upon: the CLI prints them and exits non-zero; nothing was changed.

Their messages follow the language rule of docs/development.md: a Vietnamese sentence, English
only for what the admin types (a command, an option, a config key, a variable, a status)."""


class UserError(Exception):
    """A refused request, with a message for the person who made it."""


class StorageFull(UserError):
    """The data folder refused a write (full, read-only, a file-size limit): nothing was
    recorded and the item is as it was. The message is for people (Vietnamese, no server
    path); `cause` says what the disk answered, for the log."""

    def __init__(self, cause: OSError):
        super().__init__(STORAGE_FULL)
        self.cause = cause


STORAGE_FULL = (
    "Máy chủ không ghi được tệp vào kho lưu trữ (hết dung lượng hoặc thư mục dữ liệu chỉ cho "
    "đọc). Không có tệp nào được lưu và nhiệm vụ vẫn như trước; hãy nộp lại sau ít phút hoặc báo "
    "cơ quan thường trực về cải cách hành chính."
)
"""Why a hand-in was not taken when the data folder refused a write: no server path, no blame
on the unit."""


def unknown_unit(code: str) -> UserError:
    """The one wording of a unit code that no commune has (command line and intake)."""
    return UserError(f"Không có đơn vị mã '{code}'")


def unknown_item(item_id: int) -> UserError:
    """The one wording of an item id that does not exist (or belongs to another commune)."""
    return UserError(f"Không có nhiệm vụ số {item_id}")
