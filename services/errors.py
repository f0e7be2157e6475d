"""Domain errors carry a user-facing message id; the handlers' error handler translates it.

Services do not know the reader's language, so they raise with an untranslated message id
(marked with ``N_`` so Babel extracts it) and keyword arguments for the placeholders.
"""

from __future__ import annotations

from typing import Any


def N_(message: str) -> str:
    """Mark a string for extraction without translating it here."""
    return message


class DomainError(Exception):
    """A rule of the domain said no; the message id explains why to the user."""

    def __init__(self, message_id: str, **params: Any) -> None:
        super().__init__(message_id)
        self.message_id = message_id
        self.params = params


class ServiceUnavailable(DomainError):
    """A system we depend on (the database, an external API) did not answer."""
