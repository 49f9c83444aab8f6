"""Errors a user can act upon: the CLI prints them and exits non-zero; nothing was changed.

Their messages follow the language rule of docs/development.md: a Vietnamese sentence, English
only for what the admin types (a command, an option, a config key, a variable, a status)."""


class UserError(Exception):
    """A refused request, with a message for the person who made it."""


def unknown_unit(code: str) -> UserError:
    """The one wording of a unit code that no commune has (command line and intake)."""
    return UserError(f"Không có đơn vị mã '{code}'")


def unknown_item(item_id: int) -> UserError:
    """The one wording of an item id that does not exist (or belongs to another commune)."""
    return UserError(f"Không có nhiệm vụ số {item_id}")
