"""The deployment's settings, read once from the secrets: defaults, a class's, and wrong ones in one line."""

from __future__ import annotations

import pytest
import requests

from mnist_core.deployment import Deployment, DeploymentError, Training
from mnist_core.http_api import Limits
from mnist_core.training.budget import SHARED, Budget


def test_no_secrets_is_ones_own_machine(monkeypatch):
    monkeypatch.delenv("MNIST_DATABASE_URL", raising=False)
    monkeypatch.delenv("MNIST_SHARED", raising=False)
    d = Deployment.from_secrets({})
    assert d.database_url.startswith("sqlite:///") and d.budget == Budget() and not d.shared
    assert d.training == Training.SERVER and d.trains_here and d.slots >= 1
    assert (d.admins, d.admin_password, d.identity_secret, d.login) == ((), "", "", False)
    assert d.http == Limits() and d.sessions_per_address == 60


def test_every_table_is_read_once_into_one_type():
    d = Deployment.from_secrets({
        "connections": {"mnist": {"url": "postgresql://db/x"}},
        "budget": {"shared": True, "seconds": "120"},
        "training": {"on": "workers", "slots": 3},
        "admins": {"emails": [" Teacher@School.org"], "password": "correct horse"},
        "identity": {"secret": "s3cret"},
        "auth": {"redirect_uri": "http://x"},
        "http": {"images": 300, "bytes": "1000000", "sessions_per_address": 90},
    })
    assert d.database_url == "postgresql://db/x" and d.shared and d.budget.seconds == 120
    assert d.budget.max_waiting == SHARED.max_waiting  # a class's defaults under what is given
    assert d.training == Training.WORKERS and not d.trains_here and d.slots == 3
    assert d.admins == ("teacher@school.org",) and d.login
    assert (d.http.images, d.http.bytes, d.http.pixels) == (300, 1_000_000, Limits.pixels)
    assert d.sessions_per_address == 90
    assert "correct horse" not in repr(d) and "s3cret" not in repr(d)  # a log line leaks no secret


@pytest.mark.parametrize(("secrets", "names"), [
    ({"training": {"on": "moon"}}, "`[training] on`"),
    ({"admins": {"emails": "teacher@school.org"}}, "`[admins] emails` must be a list"),
    ({"budget": {"seconds": "ten"}}, "`[budget]`"),
    ({"training": {"slots": "two"}}, "`[training] slots`"),
    ({"http": {"images": "many"}}, "`[http] images` must be a whole number over 0"),
    ({"http": {"pixels": -5}}, "`[http] pixels` must be"),
    ({"http": {"bytes": 1.5}}, "`[http] bytes` must be"),
    ({"http": {"sessions_per_address": "all"}}, "`[http] sessions_per_address` must be"),
    ({"http": {"images": 0}}, "`[http] images` must be a whole number over 0, not '0'"),
    ({"http": {"pixels": "²"}}, "`[http] pixels` must be"),
])
def test_a_wrong_setting_is_one_line_that_names_it(secrets, names):
    with pytest.raises(DeploymentError, match="^.*$") as e:
        Deployment.from_secrets(secrets)
    assert names in str(e.value) and "\n" not in str(e.value)


def test_the_doors_limits_come_from_the_secrets_else_the_environment(monkeypatch):
    monkeypatch.setenv("MNIST_HTTP_MAX_IMAGES", "50")
    monkeypatch.setenv("MNIST_SESSIONS_PER_ADDRESS", "7")
    monkeypatch.setenv("MNIST_HTTP_MAX_PIXELS", "0")  # a wrong one, where the secrets do not say
    with pytest.raises(DeploymentError, match="pixels` must be a whole number over 0, not '0'"):
        Deployment.from_secrets({})
    d = Deployment.from_secrets({"http": {"pixels": 1_000_000}})
    assert (d.http.images, d.http.pixels, d.sessions_per_address) == (50, 1_000_000, 7)


@pytest.mark.slow
def test_the_app_server_answers_http_within_the_limits_its_secrets_set(tmp_path):
    """A real server started with `[http] images = 3`: a request of four 28x28 arrays is over
    what it takes at once (413), three are read."""
    from benchmarks.app_server import app_server

    digits = {"images": [[[0] * 28] * 14 + [[0] * 12 + [255] * 4 + [0] * 12] * 14] * 4}
    with app_server(tmp_path, secrets={"http": {"images": 3}}) as (url, _, _):
        over = requests.post(f"{url}/predict", json=digits, timeout=30)
        assert over.status_code == 413 and "over what this server takes at once" in over.json()["error"]
        within = requests.post(f"{url}/predict", json={"images": digits["images"][:3]}, timeout=30)
        assert within.status_code == 200 and len(within.json()["predictions"]) == 3


def test_a_wrong_number_in_the_secrets_stops_the_app_with_one_line_not_a_traceback():
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from tests.helpers import APP, APP_TIMEOUT

    st.cache_resource.clear()
    at = AppTest.from_file(APP, default_timeout=APP_TIMEOUT)
    at.secrets["budget"] = {"seconds": "ten minutes"}
    at.run()
    assert not at.exception and at.error[0].value.startswith("The secrets are wrong: `[budget]`")


def test_the_pages_read_the_deployment_anew_when_what_it_reads_changes(monkeypatch):
    from app_pages.common import deployment

    for url in ("sqlite:///one.db", "sqlite:///two.db"):
        monkeypatch.setenv("MNIST_DATABASE_URL", url)
        assert deployment().database_url == url and deployment() is deployment()
