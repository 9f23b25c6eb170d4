"""Login, for real: the app with st.login against the OpenID provider the tests start
(tests/oidc.py), in Chromium. Ann and Bob log in and own what they make; the teacher is an admin
by email; logging out returns to a private link."""

from __future__ import annotations

import re

import pytest

from benchmarks.app_server import app_server
from mnist_core.config import TrainConfig
from mnist_core.store.database import Database
from mnist_core.store.drawings import DrawingStore
from mnist_core.store.runs import RunStore
from mnist_core.training.loop import train
from tests.e2e.pages import ONE, draw, open_selectbox, prediction, settled
from tests.helpers import load_tiny_mnist
from tests.oidc import auth_secrets, block_outside, end_session, login

pytestmark = pytest.mark.browser
TEACHER = "teacher@example.org"


@pytest.fixture(scope="module")
def app(tmp_path_factory, oidc_issuer):
    folder = tmp_path_factory.mktemp("login")
    secrets = {**auth_secrets(oidc_issuer), "admins": {"emails": [TEACHER]}}
    with app_server(folder, secrets=secrets) as (url, _, _):
        yield url, Database.open(f"sqlite:///{folder / 'mnist.db'}")


def logged_in(browser, url: str, email: str):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    block_outside(context)
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(url)
    page.get_by_role("button", name="Log in").click()
    login(page, email)
    page.get_by_text(f"Signed in as {email}").wait_for()
    return page


def show_run(page, url: str, name: str) -> None:
    page.goto(f"{url}/runs")
    open_selectbox(page, "Run").filter(has_text=name).click()
    settled(page)


def test_people_who_log_in_own_what_they_make_an_admin_by_email_and_logout(browser, app):
    url, db = app
    ann = logged_in(browser, url, "ann@example.org")
    draw(ann, ONE)
    assert prediction(ann) == "1"
    ann.get_by_role("button", name="Yes, a 1").click()
    ann.get_by_text("Kept as a 1.").wait_for()
    (kept,) = DrawingStore(db).page()
    assert kept.owner == "user:ann@example.org"
    RunStore(db).save(train(TrainConfig(epochs=1, batch_size=100), load_tiny_mnist()), name="ann's run",
                      owner="user:ann@example.org")  # as her job would have saved it

    show_run(ann, url, "ann's run")
    assert ann.get_by_role("checkbox", name="I want to delete this run").is_enabled()
    bob = logged_in(browser, url, "bob@example.org")
    show_run(bob, url, "ann's run")
    bob.get_by_text(re.compile(r"^This run is [a-z]+-[a-z]+-[0-9a-z]{8}'s:")).wait_for()  # Ann, by pseudonym
    assert bob.get_by_role("checkbox", name="I want to delete this run").is_disabled()
    assert "ann@example.org" not in bob.content()  # the stranger sees no email

    teacher = logged_in(browser, url, TEACHER)
    teacher.get_by_text(re.compile(rf"Signed in as {re.escape(TEACHER)} \(admin\)")).wait_for()
    show_run(teacher, url, "ann's run")
    assert teacher.get_by_role("checkbox", name="I want to delete this run").is_enabled()

    ann.get_by_role("button", name="Log out").click()
    end_session(ann)
    ann.get_by_text(re.compile(r"You are \S+ to this app")).wait_for()
    assert re.search(r"[?&]me=[\w-]{16}\.[\w-]{22}", ann.url)  # a private link again
    for page in (ann, bob, teacher):
        page.context.close()
