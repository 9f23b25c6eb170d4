"""A real OpenID Connect provider for the login tests: oidc-provider-mock (PyPI), a Flask app
built on Authlib's authorization server, run in a thread of the test process on 127.0.0.1 and a
free port. It has real discovery, the authorization code flow, signed ID tokens, userinfo and
an end-session (logout) endpoint; it accepts any client id and secret, and its authorize page
lets the test type who logs in.

    with oidc_provider() as issuer:                       # http://127.0.0.1:PORT
        with app_server(data_dir, secrets=auth_secrets(issuer)) as (url, _, _):
            context = browser.new_context()
            block_outside(context)
            page = context.new_page()
            page.goto(url)
            page.get_by_role("button", name="Log in").click()   # the app calls st.login()
            login(page, "ann@example.org")                 # back on the app, logged in
            ...
            page.get_by_role("button", name="Log out").click()  # the app calls st.logout()
            end_session(page)                              # back on the app, logged out

Use one host name everywhere, 127.0.0.1: Streamlit only accepts its identity cookie on a
websocket whose Origin is redirect_uri's origin, and the provider names itself (its issuer)
after the Host it is asked under.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import secrets
import threading
import urllib.parse
import urllib.request
import warnings
from collections.abc import Iterator

import werkzeug.serving

AUTHORIZE = re.compile(r"^http://127\.0\.0\.1:\d+/oauth2/authorize\?")
END_SESSION = re.compile(r"^http://127\.0\.0\.1:\d+/oauth2/end_session\?")
# anything but this machine's loopback: the provider's pages link a stylesheet from a CDN
OUTSIDE = re.compile(r"^(?!(?:https?|wss?)://127\.0\.0\.1[:/])[a-z]+://")


class _QuietHandler(werkzeug.serving.WSGIRequestHandler):
    def log_request(self, *args, **kwargs) -> None:  # no line on stderr per request
        pass


@contextlib.contextmanager
def oidc_provider() -> Iterator[str]:
    """Start the provider on a free 127.0.0.1 port; yield its issuer URL (discovery is at
    `issuer + "/.well-known/openid-configuration"`); stop it after. Ready at once (about 0.5 s,
    most of it importing Flask and Authlib)."""
    with warnings.catch_warnings(record=True):  # 0.3's imports of Authlib's deprecated modules
        import oidc_provider_mock

    server = werkzeug.serving.make_server("127.0.0.1", 0, oidc_provider_mock.app(), threaded=True,
                                          request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                              name="oidc-provider", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def auth_secrets(issuer: str, client_id: str = "mnist-app") -> dict:
    """The secrets that make st.login() use the provider at `issuer`, for
    `app_server(..., secrets=...)`. `{port}` in redirect_uri is Streamlit's own placeholder for
    the server's port; the cookie secret is new each time (identity cookies of an earlier server
    are then refused)."""
    return {
        "auth": {
            "redirect_uri": "http://127.0.0.1:{port}/oauth2callback",
            "cookie_secret": secrets.token_hex(32),
            "client_id": client_id,
            "client_secret": secrets.token_urlsafe(24),
            "server_metadata_url": f"{issuer}/.well-known/openid-configuration",
        }
    }


def subject_for(email: str) -> str:
    """The provider's `sub` for `email` when login() is not given one: stable, opaque (as
    Google's or Microsoft's are), and not the email, so code that mixes the two up shows it."""
    return "uid-" + hashlib.sha256(email.lower().encode()).hexdigest()[:16]


def set_user(issuer: str, sub: str, claims: dict) -> None:
    """Tell the provider the claims (email, name, ...) of the user `sub` for later logins."""
    request = urllib.request.Request(f"{issuer}/users/{urllib.parse.quote(sub, safe='')}", method="PUT",
                                     data=json.dumps(claims).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 204, response.status


def block_outside(context) -> None:
    """Abort every request of a Playwright browser context that would leave this machine (the
    provider's pages load a CDN stylesheet that would otherwise stall each page load here)."""
    context.route(OUTSIDE, lambda route: route.abort())


def login(page, email: str, *, sub: str | None = None, name: str | None = None, timeout: float = 30_000) -> str:
    """Log in at the provider as `email`, once the app has sent `page` there (st.login());
    return when the browser is back on the app. The ID token then holds `sub` (by default
    subject_for(email)), `email`, `email_verified` (true) and `name` if given: st.user shows
    them. Returns the sub."""
    page.wait_for_url(AUTHORIZE, timeout=timeout)
    issuer = page.url.split("/oauth2/", 1)[0]
    sub = sub or subject_for(email)
    set_user(issuer, sub, {"email": email, "email_verified": True, **({"name": name} if name else {})})
    page.locator("input[name=sub]").fill(sub)
    page.get_by_role("button", name="Authorize", exact=True).click()
    page.wait_for_url(lambda url: not url.startswith(issuer), timeout=timeout)
    return sub


def end_session(page, timeout: float = 30_000) -> None:
    """st.logout() sends the browser to the provider's end-session page (the provider announces
    one): confirm it there; the browser goes back to the app (its /oauth2callback, which
    redirects to the app's root)."""
    page.wait_for_url(END_SESSION, timeout=timeout)
    issuer = page.url.split("/oauth2/", 1)[0]
    page.get_by_role("button", name="End session").click()
    page.wait_for_url(lambda url: not url.startswith(issuer), timeout=timeout)
