"""Who owns what: a run and a training job belong to whoever started them, and only they, or an
admin, may stop, cancel, rename or delete them; everyone may view, compare, download and draw.

    visitor = Actor("link:Qm9v...")          # a browser, known by its private link (or its login)
    visitor.may_change(run.owner)            # False for a stranger's run
    OPERATOR.may_change(anything)            # the command line: whoever runs the server

An owner is a string: "user:<email>" with Streamlit's login, "link:<token>" without it (the
token lives in the visitor's own URL, so a reload or a bookmark comes back to the same runs),
and "" for runs made by the operator (the command line, runs imported from old folders).
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass


class NotAllowed(Exception):
    """The actor may not change this; the message is one line for the user."""


@dataclass(frozen=True)
class Actor:
    owner: str
    admin: bool = False

    def may_change(self, owner: str) -> bool:
        return self.admin or (bool(owner) and owner == self.owner)

    def require(self, owner: str, what: str) -> None:
        """Raise NotAllowed unless this actor may change something of `owner`'s."""
        if not self.may_change(owner):
            raise NotAllowed(f"only its owner or an admin may {what}")


OPERATOR = Actor("", admin=True)


def new_link_token() -> str:
    """A private link's secret: 96 random bits, URL-safe."""
    return secrets.token_urlsafe(12)


def is_link_token(text: str) -> bool:
    return 8 <= len(text) <= 64 and all(c.isalnum() or c in "-_" for c in text)


def password_matches(given: str, expected: str) -> bool:
    """The admin password, compared in constant time (no timing hints to a guesser)."""
    return bool(expected) and hmac.compare_digest(given.encode(), expected.encode())
