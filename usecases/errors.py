"""Errors a user can act upon: the CLI prints them and exits non-zero; nothing was changed."""


class UserError(Exception):
    """A refused request, with a message for the person who made it."""
