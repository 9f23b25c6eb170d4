"""The login test infrastructure on its own (tests/oidc.py): a minimal page that only logs in
and out with st.login / st.logout against the real OpenID provider the tests start, in
Chromium. Two people in two browsers each see their own identity; logging out ends one only."""

from __future__ import annotations

import pytest

from benchmarks.app_server import app_server
from tests.oidc import auth_secrets, block_outside, end_session, login, subject_for

pytestmark = pytest.mark.browser

PAGE = '''
import streamlit as st

if st.user.is_logged_in:
    st.text(f"email: {st.user.email}")
    st.text(f"sub: {st.user.sub}")
    st.text(f"name: {st.user.get('name')}")
    st.text(f"email_verified: {st.user.get('email_verified')}")
    if st.button("Log out"):
        st.logout()
else:
    st.text("Not logged in")
    if st.button("Log in"):
        st.login()
'''


@pytest.fixture(scope="module")
def login_app(tmp_path_factory, oidc_issuer):
    folder = tmp_path_factory.mktemp("login_app")
    (folder / "page.py").write_text(PAGE)
    with app_server(folder, secrets=auth_secrets(oidc_issuer), script=folder / "page.py") as (url, _, _):
        yield url


def new_page(browser):
    context = browser.new_context()
    block_outside(context)
    page = context.new_page()
    page.set_default_timeout(30_000)
    return page


def test_two_people_log_in_and_one_logs_out(browser, login_app):
    ann, bob = new_page(browser), new_page(browser)
    try:
        for page, email, name in ((ann, "ann@example.org", "Ann"), (bob, "bob@example.org", None)):
            page.goto(login_app)
            page.get_by_text("Not logged in").wait_for()
            page.get_by_role("button", name="Log in").click()
            assert login(page, email, name=name) == subject_for(email)
            page.get_by_text(f"email: {email}").wait_for()
            page.get_by_text(f"sub: {subject_for(email)}").wait_for()
            page.get_by_text(f"name: {name}").wait_for()
            page.get_by_text("email_verified: True").wait_for()
        cookies = {c["name"]: c for c in ann.context.cookies()}
        assert cookies["_streamlit_user"]["httpOnly"]  # the identity cookie: signed, out of scripts' reach

        ann.reload()  # a new session in the same browser: still Ann (the cookie), not Bob
        ann.get_by_text("email: ann@example.org").wait_for()

        ann.get_by_role("button", name="Log out").click()
        end_session(ann)
        ann.get_by_text("Not logged in").wait_for()
        assert "_streamlit_user" not in {c["name"] for c in ann.context.cookies()}  # so a reload stays out

        bob.reload()  # Bob's browser is still logged in
        bob.get_by_text("email: bob@example.org").wait_for()
    finally:
        ann.context.close()
        bob.context.close()
