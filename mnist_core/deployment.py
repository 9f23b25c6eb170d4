"""A deployment's settings, read once from the app's secrets (and the environment where a secret
is not given): where the database is, who is an admin, what a job may take, where jobs train.

    deployment = Deployment.from_secrets(secrets)   # the secrets as a mapping (st.secrets.to_dict())
    deployment.budget.seconds                       # what a job may take (budget.Budget)
    deployment.trains_here                          # False with `[training] on = "workers"`

The secrets (`.streamlit/secrets.toml` on one's own machine, the app's Secrets on Community
Cloud), every one optional:

    [connections.mnist] url = "postgresql://..."   else $MNIST_DATABASE_URL, else SQLite in data/
    [budget] shared = true, seconds = 600, ...      a class's defaults (as on Community Cloud), Budget's fields
    [training] on = "workers", slots = 2            where jobs train; trainings at once on this server
    [admins] emails = ["teacher@school.org"], password = "..."
    [identity] secret = "..."                       else $MNIST_IDENTITY_SECRET, else the database's own
    [http] images = 20000, bytes = ..., pixels = ...  the HTTP API's work in flight (http_api.Limits.read)
    [http] sessions_per_address = 60                else $MNIST_SESSIONS_PER_ADDRESS (websocket_limits)
    [auth] ...                                      Streamlit's login (st.login): its presence offers "Log in"

A wrong setting raises DeploymentError, one line that names it. The app server reads it as it
starts, for its doors (`[http]`: streamlit_app.py), and the pages again only when the secrets change.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from mnist_core.errors import UserError
from mnist_core.http_api import LIMIT_VARIABLES, Limits, whole
from mnist_core.jobs.pace import training_slots
from mnist_core.store.database import database_url
from mnist_core.training.budget import Budget, running_on_community_cloud
from mnist_core.websocket_limits import PER_ADDRESS, PER_ADDRESS_VARIABLE

DATABASE = ("connections", "mnist")  # the secrets' table of the database's URL
# what from_secrets reads besides the secrets (store.database, budget.running_on_community_cloud,
# the doors' limits), and the working folder: a deployment read once stays right while these stay the same
VARIABLES = ("MNIST_DATABASE_URL", "MNIST_DATA_DIR", "MNIST_SHARED", *LIMIT_VARIABLES.values(), PER_ADDRESS_VARIABLE)


class DeploymentError(UserError):
    """A setting in the secrets is wrong; the message is one line naming it."""


class Training(enum.StrEnum):
    """Where jobs train (`[training] on`)."""

    SERVER = "server"  # this app server (the default)
    WORKERS = "workers"  # only `python -m mnist_core worker` processes: the server's container stays small
    BOTH = "both"


@dataclass(frozen=True)
class Deployment:
    database_url: str  # SQLite or Postgres (store.database)
    shared: bool  # used by a class (Community Cloud, or `[budget] shared = true`): lists start at the class's
    budget: Budget  # what a job, a person and the line may take
    training: Training = Training.SERVER
    slots: int = 1  # trainings at once on this server (jobs.pace.training_slots by default)
    admins: tuple[str, ...] = ()  # logged-in emails that are admins, lower-cased
    admin_password: str = field(default="", repr=False)  # "": no password offered
    identity_secret: str = field(default="", repr=False)  # "": $MNIST_IDENTITY_SECRET or the database's (Keys.of)
    login: bool = False  # `[auth]` is set: visitors may log in
    http: Limits = field(default_factory=Limits)  # what the HTTP API's requests may have in flight together
    sessions_per_address: int = PER_ADDRESS  # the app's websockets one client address may hold at once

    @property
    def trains_here(self) -> bool:
        return self.training != Training.WORKERS

    @classmethod
    def from_secrets(cls, secrets: Mapping) -> Deployment:
        """The deployment the secrets describe (a mapping of tables, as TOML reads them)."""
        budget, training, admins = (_table(secrets, name) for name in ("budget", "training", "admins"))
        shared = bool(budget.get("shared")) or running_on_community_cloud()
        mode = str(training.get("on") or Training.SERVER)
        if mode not in list(Training):
            raise DeploymentError(f'`[training] on` must be "server", "workers" or "both", not {mode[:20]!r}')
        emails = admins.get("emails", [])
        if not isinstance(emails, list | tuple):  # a string would match substrings: "her@x" in "teacher@x"
            raise DeploymentError('`[admins] emails` must be a list, e.g. emails = ["teacher@school.org"]')
        try:
            limits = Budget.for_deployment(shared, dict(budget))
            slots = int(training.get("slots") or training_slots())
        except (TypeError, ValueError) as e:
            raise DeploymentError(f"`[budget]` and `[training] slots` take numbers ({str(e)[:80]})") from None
        table = _table(secrets, "http")
        try:
            http = Limits.read(table)
            sessions = whole("sessions_per_address", table["sessions_per_address"] if "sessions_per_address" in table
                             else os.environ.get(PER_ADDRESS_VARIABLE) or PER_ADDRESS)
        except ValueError as e:
            name, why = str(e).split(" ", 1)  # "images must be ..."
            raise DeploymentError(f"`[http] {name}` {why[:100]}") from None
        return cls(database_url=database_url(_table(secrets, *DATABASE).get("url")), shared=shared, budget=limits,
                   training=Training(mode), slots=max(1, slots),
                   admins=tuple(str(e).strip().lower() for e in emails),
                   admin_password=str(admins.get("password") or ""),
                   identity_secret=str(_table(secrets, "identity").get("secret") or ""),
                   login=bool(_table(secrets, "auth")), http=http, sessions_per_address=sessions)


def _table(secrets: Mapping, *keys: str) -> Mapping:
    """A table of the secrets, {} where absent (or not a table)."""
    table = secrets
    for key in keys:
        table = table.get(key, {}) if isinstance(table, Mapping) else {}
    return table if isinstance(table, Mapping) else {}
