"""Errors a user can act upon: the CLI prints them and exits non-zero; nothing was changed."""


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
