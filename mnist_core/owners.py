"""Who owns what, and how a visitor is known: signed private links, pseudonyms, admins.

    keys = Keys.of(db, configured_secret)     # the deployment's secret: every server agrees
    link = keys.new_link()                    # "k3J9...x2.Qm9v...": what goes in ?me=
    keys.owner_of(link)                       # "link:k3J9...x2", or None when the server never signed it
    keys.pseudonym("link:k3J9...x2")          # "brave-otter-7k2m9q4x": what others are shown
    links = Links(keys, db)                   # links as they stand now: replaceable
    newer = links.replace(link)               # the same owner; `link` stops working on every server
    visit = follow(links, given=url_link, kept=session_link)   # who a page's visitor is, and why a link was set aside
    visitor = Actor(links.owner_of(newer), names=keys.pseudonym)
    visitor.may_change(run.owner)             # False for a stranger's run
    visitor.whose(run.owner)                  # "yours", "brave-otter-7k2m9q4x's" or "the operator's"
    OPERATOR.may_change(anything)             # the command line: whoever runs the server

An owner is a string: "user:<email>" with Streamlit's login, "link:<id>" without it, and "" for
what the operator made (the command line, runs imported from old folders). A private link is
the id and an HMAC of it under the deployment's secret, so nobody can make up a link, and the
owner string alone (should it ever be seen) is not a key. A link whose owner replaced it (it
leaked) is signed anew with its version, which the database keeps, so the old one is refused
by every server at its next use while the owner, and everything theirs, stays the same. Owners
never leave the server: pages,
files and HTTP answers name people as "yours", a keyed pseudonym, which cannot be reversed
without the secret (an unkeyed hash of `user:<email>` could be, from a class roster), or
"the operator's". Every page labels an owner by one policy, the actor's (Actor.whose): a class
sees each other by pseudonym, whoever looks, as the class page and run names do.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import ipaddress
import math
import os
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from mnist_core.errors import UserError

LINK_ID_BYTES = 12  # 96 random bits: the link's id, the owner's name in the database
LINK_MAC_BYTES = 16  # 128 bits of HMAC-SHA256: what makes the link the server's own
SECRET_VARIABLE = "MNIST_IDENTITY_SECRET"


class NotAllowed(UserError):
    """The actor may not change this; the message is one line for the user."""


@dataclass(frozen=True)
class Actor:
    """Who acts (the owner string and whether an admin), and how they see everyone else."""

    owner: str
    admin: bool = False
    # owner -> pseudonym (Keys.pseudonym); None when the deployment's keys cannot be read (the
    # database is down): others are then "another visitor's"
    names: Callable[[str], str] | None = field(default=None, compare=False, repr=False)

    def may_change(self, owner: str) -> bool:
        return self.admin or (bool(owner) and owner == self.owner)

    def whose(self, owner: str) -> str:
        """How this actor sees the owner of anything, on every page (a run, a job, a drawing):
        "yours", "the operator's", or the owner's pseudonym ("brave-otter-7k2m9q4x's"), the
        same whether the actor is an admin or not."""
        if owner and owner == self.owner:
            return "yours"
        if not owner:
            return "the operator's"
        return f"{self.names(owner)}'s" if self.names is not None else "another visitor's"

    def require(self, owner: str, what: str) -> None:
        """Raise NotAllowed unless this actor may change something of `owner`'s."""
        if not self.may_change(owner):
            raise NotAllowed(f"only its owner or an admin may {what}")


OPERATOR = Actor("", admin=True)


def is_login(owner: str) -> bool:
    """True for an owner known by a login (an email); False for a private link or a session."""
    return owner.startswith("user:")


class SecretKeeper(Protocol):
    """Where a deployment keeps its secrets (store.database.Database): made once, then the same."""

    def secret(self, name: str) -> bytes: ...


class LinkVersions(Protocol):
    """Where a deployment keeps each private link's version (store.database.Database): 0 until
    its owner first replaces it."""

    def link_version(self, link_id: str) -> int: ...

    def replace_link_version(self, link_id: str, version: int) -> bool:
        """`version` + 1 kept, if `version` is still the current one (else False: replaced meanwhile)."""
        ...


class Keys:
    """The deployment's secret, and what is made with it: private links and pseudonyms."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    @classmethod
    def of(cls, db: SecretKeeper, configured: str | None = None) -> Keys:
        """The deployer's secret (`[identity] secret` in the app's secrets, or
        `$MNIST_IDENTITY_SECRET`), else the one kept in the database: made once, so that every
        server of a deployment, and the command line, sign and name alike."""
        configured = configured or os.environ.get(SECRET_VARIABLE)
        return cls(configured.encode() if configured else db.secret("identity"))

    def _mac(self, purpose: str, text: str, size: int) -> bytes:
        return hmac.new(self._secret, f"{purpose}\n{text}".encode(), hashlib.sha256).digest()[:size]

    def new_link(self) -> str:
        """A fresh private link: a random id, a dot, and the server's signature of it."""
        return self.link(_b64(secrets.token_bytes(LINK_ID_BYTES)), 0)

    def link(self, link_id: str, version: int) -> str:
        """The private link of `link_id` at `version` (0 as first made, then 1 for its first
        replacement...): the id, a dot, and the server's signature of both."""
        signed = link_id if version == 0 else f"{link_id}\n{version}"
        return f"{link_id}.{_b64(self._mac('link', signed, LINK_MAC_BYTES))}"

    def owner_of(self, link: str, version: int = 0) -> str | None:
        """The owner a private link stands for; None unless this deployment signed it at `version`."""
        link_id, _, mac = link.partition(".")
        if not is_link_id(link_id) or not mac.isascii():
            return None
        if not hmac.compare_digest(mac, self.link(link_id, version).partition(".")[2]):
            return None
        return f"link:{link_id}"

    def tag(self, address: str) -> str:
        """A client address as the database may keep it: keyed, so not an address any more."""
        return _b64(self._mac("address", address, 12))

    def client(self, address: str) -> str:
        """A visitor's network address as the line and the admin throttle count it (a keyed
        tag); "" when it is unknown, or this machine's own (a proxy in front, or a test). An IPv6
        address counts by its /64: one host may hold the whole of it."""
        if not address or address in ("127.0.0.1", "::1"):
            return ""
        with contextlib.suppress(ValueError):
            ip = ipaddress.ip_address(address)
            if ip.version == 6 and ip.ipv4_mapped is None:
                address = str(ipaddress.ip_network(f"{ip}/64", strict=False))
        return self.tag(address)

    def pseudonym(self, owner: str) -> str:
        """A readable name for an owner, stable, and not reversible without the secret: 48
        keyed bits as an adjective, an animal and 8 base-32 characters."""
        if not owner:
            return "the operator"
        n = int.from_bytes(self._mac("pseudonym", owner, 6), "big")
        code = "".join(_BASE32[(n >> 5 * i) & 31] for i in range(8))  # the low 40 bits
        return f"{_ADJECTIVES[(n >> 42) & 63]}-{_ANIMALS[(n >> 36) & 63]}-{code}"


def is_link_id(text: str) -> bool:
    return len(text) == len(_b64(bytes(LINK_ID_BYTES))) and text.isascii()


class Links:
    """Private links as they stand now: signed by the deployment, and replaceable by their owner.

        links = Links(keys, db)
        links.owner_of(link)          # the owner while `link` is current; None once replaced, or if forged
        links.replaced(link)          # True for a link this deployment signed and its owner replaced since
        newer = links.replace(link)   # the same owner, with all they made; `link` acts no more, anywhere

    Every server reads the version from the database at each use (one indexed row), so a
    replaced link is refused at once wherever it is tried. Whoever holds a link may replace it:
    the owner should, as soon as they fear it leaked (a login cannot leak this way).
    """

    RECOGNISED = 100  # replaced versions still told apart from a forgery (for the message only)

    def __init__(self, keys: Keys, versions: LinkVersions) -> None:
        self.keys, self.versions = keys, versions

    def owner_of(self, link: str) -> str | None:
        link_id = link.partition(".")[0]
        if not is_link_id(link_id):  # no database trip for what cannot be a link
            return None
        return self.keys.owner_of(link, self.versions.link_version(link_id))

    def replaced(self, link: str) -> bool:
        link_id = link.partition(".")[0]
        if not is_link_id(link_id):
            return False
        current = self.versions.link_version(link_id)
        return any(self.keys.owner_of(link, v) for v in range(max(0, current - self.RECOGNISED), current))

    def replace(self, link: str) -> str:
        """A new link for the owner of `link`, which stops working; NotAllowed unless `link` is current."""
        link_id = link.partition(".")[0]
        version = self.versions.link_version(link_id) if is_link_id(link_id) else 0
        if self.keys.owner_of(link, version) is None or not self.versions.replace_link_version(link_id, version):
            raise NotAllowed("this link is not the current one: it was replaced, or never made here")
        return self.keys.link(link_id, version + 1)


@dataclass(frozen=True)
class Visit:
    owner: str
    link: str  # the visitor's link now: kept in their session and their URL
    notice: str = ""  # one line on a link set aside, for the visitor


def follow(links: Links, given: str | None, kept: str | None) -> Visit:
    """Who a visitor is, from the link in their URL (`given`) and the one their session kept: a
    link followed (a bookmark, another device) wins over the session's own; one this deployment
    did not sign, or one its owner replaced since, acts no more and is set aside for a fresh
    one, with a line saying why. StoreError when the database cannot be read."""
    link, notice = kept, ""
    if given and given != link:
        if links.owner_of(given) is not None:
            link = given
        else:
            notice = _set_aside(links, given, "That private link")
    owner = links.owner_of(link) if link else None
    if owner is None:
        if link:
            notice = _set_aside(links, link, "Your private link")
        link = links.keys.new_link()
        owner = links.keys.owner_of(link)
    return Visit(owner, link, notice)


def _set_aside(links: Links, link: str, which: str) -> str:
    """One line on why a link does not act: replaced by its owner, or never made here."""
    why = "was replaced by its owner (the link leaked?), so it no longer works" if links.replaced(link) else \
        "was not made by this app, so it was set aside"
    return f"{which} {why}: this page has a new one of its own."


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


_BASE32 = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford's: no i, l, o, u
_ADJECTIVES = (
    "amber agile bold brave bright brisk calm clever cosy crisp curious daring deft eager fair fancy fleet fond "
    "gentle glad golden grand happy hardy honest jolly keen kind lively lucky merry mighty modest neat noble "
    "patient plucky polite proud quick quiet rapid ready royal rustic sharp shy silent silver smart snug steady "
    "sturdy sunny swift tidy tough true vivid warm wise witty zany zesty"
).split()
_ANIMALS = (
    "badger bat bear beaver bison boar camel cat cobra crane crow deer dingo dove eagle eel elk falcon ferret "
    "finch fox frog gecko goat goose hare hawk heron ibis jay koala lark lemur lion llama lynx mole moose newt "
    "otter owl panda puffin quail rabbit raven robin seal shark sloth snail swan tapir tiger toad trout turtle "
    "viper walrus whale wolf wombat yak zebra"
).split()
assert len(_ADJECTIVES) == 64 and len(_ANIMALS) == 64  # 6 bits each: 48 bits with the code


def password_matches(given: str, expected: str) -> bool:
    """The admin password, compared in constant time (no timing hints to a guesser)."""
    return bool(expected) and hmac.compare_digest(given.encode(), expected.encode())


class Throttle:
    """Wrong admin passwords cost the guesser time, never the admin.

        throttle.wait(session, address)     # seconds before this session may try (0: now)
        throttle.failed(session, address)   # a wrong try
        throttle.succeeded(session)         # the right one: this session starts afresh

    A session waits 1, 2, 4 ... up to 60 s after each wrong try in a row, and at most
    `per_session` of its wrong tries a minute count; an address (a keyed tag, "" when the server
    does not know it) at most `per_address`, however many sessions it opens. Over `per_server`
    wrong tries a minute for everyone, only a clean session at a clean address is heard: one
    with no wrong try of its own in the minute. A try that must wait is not compared at all, so
    a guesser learns nothing from it; a fresh session elsewhere (the admin's) is compared and,
    when right, admitted: no number of wrong tries from others keeps the admin out.
    """

    WINDOW = 60.0
    MAX_DELAY = 60.0

    def __init__(self, per_session: int = 5, per_address: int = 10, per_server: int = 30,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.per_session, self.per_address, self.per_server, self.clock = per_session, per_address, per_server, clock
        self._server: deque[float] = deque()
        self._tries: dict[str, deque[float]] = {}  # "s:<session>" and "a:<address>" -> times of wrong tries
        self._streak: dict[str, int] = {}  # session -> wrong tries in a row
        self._lock = threading.Lock()

    def wait(self, session: str, address: str = "") -> float:
        now = self.clock()
        with self._lock:
            mine = self._recent(self._tries.get(f"s:{session}", deque()), now)
            here = self._recent(self._tries.get(f"a:{address}", deque()), now) if address else deque()
            server = self._recent(self._server, now)
            waits = [0.0]
            if mine:
                waits.append(mine[-1] + min(2.0 ** (self._streak.get(session, 1) - 1), self.MAX_DELAY) - now)
            if len(mine) >= self.per_session:
                waits.append(mine[-self.per_session] + self.WINDOW - now)
            if len(here) >= self.per_address:
                waits.append(here[-self.per_address] + self.WINDOW - now)
            if len(server) >= self.per_server and (mine or here):
                waits.append(server[-self.per_server] + self.WINDOW - now)
            return max(waits)

    def failed(self, session: str, address: str = "") -> None:
        now = self.clock()
        with self._lock:
            for key in (f"s:{session}", f"a:{address}") if address else (f"s:{session}",):
                self._tries.setdefault(key, deque()).append(now)
            self._server.append(now)
            self._streak[session] = self._streak.get(session, 0) + 1
            for times in (self._server, *self._tries.values()):
                self._recent(times, now)
            self._tries = {k: v for k, v in self._tries.items() if v}  # bounded by the window's tries
            self._streak = {k: v for k, v in self._streak.items() if f"s:{k}" in self._tries}

    def attempt(self, session: str, address: str, given: str, password: str) -> str | None:
        """One try at the admin `password`, counted once: None when it is right (the session
        starts afresh), else the line the guesser is shown. A try that must wait is not compared."""
        wait = self.wait(session, address)
        if wait > 0:
            return f"Too many wrong passwords: try again in {math.ceil(wait)} s."
        if password_matches(given, password):
            self.succeeded(session)
            return None
        self.failed(session, address)
        return f"Wrong password; the next try in {math.ceil(self.wait(session, address))} s."

    def succeeded(self, session: str) -> None:
        with self._lock:
            self._tries.pop(f"s:{session}", None)
            self._streak.pop(session, None)

    def _recent(self, times: deque[float], now: float) -> deque[float]:
        while times and times[0] <= now - self.WINDOW:
            times.popleft()
        return times
