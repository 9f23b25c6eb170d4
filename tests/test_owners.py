"""Identity: signed private links nobody can make up, keyed pseudonyms, the admin password's throttle."""

from __future__ import annotations

import re

import pytest

from mnist_core.owners import Actor, Keys, Links, NotAllowed, Throttle, Visit, follow
from mnist_core.store.database import Database


def test_a_link_is_the_servers_own_and_names_its_owner():
    keys = Keys(b"deployment secret")
    link = keys.new_link()
    owner = keys.owner_of(link)
    assert owner == f"link:{link.split('.')[0]}" and keys.new_link() != link
    assert Keys(b"deployment secret").owner_of(link) == owner  # another server of the deployment agrees


@pytest.mark.parametrize("forge", [
    lambda link: link.split(".")[0],  # the id alone (what the database holds)
    lambda link: link[:-1] + ("A" if link[-1] != "A" else "B"),  # one character of the signature changed
    lambda link: "A" + link[1:] if link[0] != "A" else "B" + link[1:],  # another id, the same signature
    lambda link: "alice2025",  # any string, as ?me= used to accept
    lambda link: "ä" * 16 + "." + "ö" * 22,
    lambda link: Keys(b"another deployment").new_link(),
    lambda link: "",
])
def test_a_link_the_server_did_not_sign_is_refused(forge):
    keys = Keys(b"deployment secret")
    assert keys.owner_of(forge(keys.new_link())) is None


def test_pseudonyms_are_stable_readable_keyed_and_48_bits():
    keys = Keys(b"deployment secret")
    name = keys.pseudonym("user:ann@example.org")
    assert name == keys.pseudonym("user:ann@example.org")
    assert re.fullmatch(r"[a-z]+-[a-z]+-[0-9a-z]{8}", name)
    assert Keys(b"another secret").pseudonym("user:ann@example.org") != name  # a roster cannot be hashed
    assert "ann" not in name and keys.pseudonym("") == "the operator"
    many = {keys.pseudonym(f"link:{i}") for i in range(5000)}
    assert len(many) == 5000


def test_a_replaced_link_stops_working_and_the_new_one_is_the_same_owner(database_url):
    db = Database.open(database_url)
    links = Links(Keys(b"deployment secret"), db)
    old = links.keys.new_link()
    owner = links.owner_of(old)
    newer = links.replace(old)
    assert links.owner_of(newer) == owner and links.owner_of(old) is None and newer != old
    assert links.replaced(old) and not links.replaced(newer) and not links.replaced(links.keys.new_link())
    assert Links(Keys(b"deployment secret"), Database.open(database_url)).owner_of(old) is None  # another server
    with pytest.raises(NotAllowed):
        links.replace(old)  # the leaked link cannot take the new one back
    newest = links.replace(newer)
    assert [links.owner_of(link) for link in (old, newer, newest)] == [None, None, owner]
    assert not links.replaced("alice2025") and links.owner_of("") is None


def test_two_replacements_of_one_link_at_once_leave_one_link_working(database_url):
    db = Database.open(database_url)
    links = Links(Keys(b"deployment secret"), db)
    link = links.keys.new_link()
    link_id = link.split(".")[0]
    assert db.replace_link_version(link_id, 0) and not db.replace_link_version(link_id, 0)  # the second lost
    assert db.link_version(link_id) == 1 and links.owner_of(links.keys.link(link_id, 1)) is not None


def test_the_secret_is_made_once_per_database(tmp_path, monkeypatch):
    monkeypatch.delenv("MNIST_IDENTITY_SECRET", raising=False)
    url = f"sqlite:///{tmp_path / 'a.db'}"
    link = Keys.of(Database.open(url)).new_link()
    assert Keys.of(Database.open(url)).owner_of(link) is not None  # a restart, or a second server
    assert Keys.of(Database.open(f"sqlite:///{tmp_path / 'b.db'}")).owner_of(link) is None
    assert Keys.of(Database.open(url), "configured").owner_of(link) is None  # the deployer's own secret wins


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_wrong_passwords_wait_longer_each_time_and_a_minute_caps_them():
    clock = Clock()
    throttle = Throttle(per_session=5, clock=clock)
    assert throttle.wait("a") == 0
    waits = []
    for _ in range(5):
        throttle.failed("a")
        waits.append(throttle.wait("a"))
        clock.now += waits[-1]
    assert waits[:4] == [1, 2, 4, 8]  # a growing delay
    assert waits[4] > 16  # the fifth wrong try in a minute: wait until the first leaves the window
    assert throttle.wait("b") == 0  # another session is not slowed by this one's streak
    throttle.succeeded("a")
    assert throttle.wait("a") == 0


def guess(throttle: Throttle, tries: int, address: str, clock: Clock | None = None) -> int:
    """A script's wrong passwords, each from a fresh session; how many were compared at all."""
    compared = 0
    for i in range(tries):
        session = f"{address}-{i}"
        if throttle.wait(session, address) == 0:
            throttle.failed(session, address)
            compared += 1
        if clock:
            clock.now += 0.1  # ten tries a second
    return compared


def test_a_guesser_opening_fresh_sessions_is_slowed_by_its_address():
    clock = Clock()
    throttle = Throttle(per_address=10, clock=clock)
    assert guess(throttle, 100, "guesser", clock) == 10  # ten tries a minute from one address
    assert throttle.wait("another fresh session", "guesser") > 45
    clock.now += 60
    assert throttle.wait("another fresh session", "guesser") == 0


def test_a_hundred_wrong_passwords_from_fresh_sessions_do_not_keep_the_admin_out():
    clock = Clock()
    throttle = Throttle(clock=clock)
    guess(throttle, 100, "guesser", clock)
    guess(throttle, 100, "", clock)  # from an address the server does not know (a proxy hides it)
    assert throttle.wait("the admin's session", "the admin's address") == 0
    assert throttle.wait("the admin's session elsewhere", "") == 0


def test_over_the_servers_cap_only_clean_sessions_at_clean_addresses_are_heard():
    clock = Clock()
    throttle = Throttle(per_address=10, per_server=30, clock=clock)
    for n in range(3):  # three addresses, ten wrong tries each: the server's 30 a minute
        guess(throttle, 10, f"guesser {n}")
    assert throttle.wait("fresh", "guesser 0") == pytest.approx(60)
    assert throttle.wait("fresh", "a fourth address") == 0  # compared: the admin's, or one more guess
    throttle.failed("fresh", "a fourth address")
    assert throttle.wait("fresh again", "a fourth address") == pytest.approx(60)
    clock.now += 60.01
    assert throttle.wait("fresh", "guesser 0") == 0


def test_an_actor_sees_its_own_as_yours_and_everyone_else_by_pseudonym_admin_or_not():
    keys = Keys(b"secret")
    ann, admin = Actor("link:ann", names=keys.pseudonym), Actor("user:t@x", admin=True, names=keys.pseudonym)
    assert ann.whose("link:ann") == "yours" and ann.whose("") == "the operator's"
    assert ann.whose("link:bob") == admin.whose("link:bob") == f"{keys.pseudonym('link:bob')}'s"
    assert Actor("link:ann").whose("link:bob") == "another visitor's"  # no keys: the database is down


def test_a_visitor_is_the_link_they_followed_else_their_sessions_else_a_fresh_one(sqlite_url):
    links = Links(Keys(b"deployment secret"), Database.open(sqlite_url))
    ann, bob = links.keys.new_link(), links.keys.new_link()
    assert follow(links, None, ann) == Visit(links.owner_of(ann), ann)  # a reload keeps the session's own
    assert follow(links, bob, ann) == Visit(links.owner_of(bob), bob)  # a bookmark followed wins
    forged = follow(links, "k3J9x2k3J9x2k3J9.not-a-signature", ann)
    assert (forged.owner, forged.link) == (links.owner_of(ann), ann) and "not made by this app" in forged.notice
    newer = links.replace(ann)
    leaked = follow(links, None, ann)  # the session still holds the link its owner replaced
    assert leaked.link not in (ann, newer) and leaked.owner != links.owner_of(newer)
    assert "replaced by its owner" in leaked.notice
    assert follow(links, None, None).notice == ""  # a first visit: a fresh link, nothing to say


def test_a_try_at_the_admin_password_is_compared_only_when_the_guesser_may_try():
    now = [0.0]
    throttle = Throttle(clock=lambda: now[0])
    assert throttle.attempt("s", "", "guess", "correct horse") == "Wrong password; the next try in 1 s."
    assert throttle.attempt("s", "", "correct horse", "correct horse").startswith("Too many wrong passwords")
    now[0] += 1
    assert throttle.attempt("s", "", "correct horse", "correct horse") is None
    assert throttle.attempt("t", "", "", "") is not None  # no password set: nobody is admitted


def test_a_client_counts_by_its_address_and_an_ipv6_host_by_its_64():
    keys = Keys(b"secret")
    assert keys.client("") == keys.client("127.0.0.1") == keys.client("::1") == ""  # unknown, or a proxy in front
    assert keys.client("2001:db8:1:2::5") == keys.client("2001:db8:1:2:ffff::9") != keys.client("2001:db8:1:3::5")
    assert keys.client("203.0.113.7") != keys.client("203.0.113.8") and "203" not in keys.client("203.0.113.7")
    assert keys.client("::ffff:203.0.113.7") != keys.client("::ffff:203.0.113.8")  # IPv4 behind IPv6: each its own
