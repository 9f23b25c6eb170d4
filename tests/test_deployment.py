"""The deployment's settings, read once from the secrets: defaults, a class's, and wrong ones in one line."""

from __future__ import annotations

import pytest

from mnist_core.deployment import Deployment, DeploymentError, Training
from mnist_core.training.budget import SHARED, Budget


def test_no_secrets_is_ones_own_machine(monkeypatch):
    monkeypatch.delenv("MNIST_DATABASE_URL", raising=False)
    monkeypatch.delenv("MNIST_SHARED", raising=False)
    d = Deployment.from_secrets({})
    assert d.database_url.startswith("sqlite:///") and d.budget == Budget() and not d.shared
    assert d.training == Training.SERVER and d.trains_here and d.slots >= 1
    assert (d.admins, d.admin_password, d.identity_secret, d.login) == ((), "", "", False)


def test_every_table_is_read_once_into_one_type():
    d = Deployment.from_secrets({
        "connections": {"mnist": {"url": "postgresql://db/x"}},
        "budget": {"shared": True, "seconds": "120"},
        "training": {"on": "workers", "slots": 3},
        "admins": {"emails": [" Teacher@School.org"], "password": "correct horse"},
        "identity": {"secret": "s3cret"},
        "auth": {"redirect_uri": "http://x"},
    })
    assert d.database_url == "postgresql://db/x" and d.shared and d.budget.seconds == 120
    assert d.budget.max_waiting == SHARED.max_waiting  # a class's defaults under what is given
    assert d.training == Training.WORKERS and not d.trains_here and d.slots == 3
    assert d.admins == ("teacher@school.org",) and d.login
    assert "correct horse" not in repr(d) and "s3cret" not in repr(d)  # a log line leaks no secret


@pytest.mark.parametrize(("secrets", "names"), [
    ({"training": {"on": "moon"}}, "`[training] on`"),
    ({"admins": {"emails": "teacher@school.org"}}, "`[admins] emails` must be a list"),
    ({"budget": {"seconds": "ten"}}, "`[budget]`"),
    ({"training": {"slots": "two"}}, "`[training] slots`"),
])
def test_a_wrong_setting_is_one_line_that_names_it(secrets, names):
    with pytest.raises(DeploymentError, match="^.*$") as e:
        Deployment.from_secrets(secrets)
    assert names in str(e.value) and "\n" not in str(e.value)


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
