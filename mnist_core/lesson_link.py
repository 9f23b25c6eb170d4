"""A lesson link: one address a teacher gives a class, that opens the app on one step of a
lesson for every student (as TensorFlow Playground's address holds its whole state): which
page, which network and settings, which settings a student may change, and which are shown
fixed; the same link with `view=class` opens the class's view, for a projector.

    link = LessonLink(page="train", title="Watch the templates form", config=PRESETS["seed"].replace(epochs=20),
                      open=("learning_rate",), shown=("epochs",))
    link.url("https://mnist.example")   # https://mnist.example/train?lesson=train&title=...&epochs=20&open=...
    LessonLink.from_query(st.query_params.to_dict())   # None without `lesson=`; LessonError (one line) if bad
    link.for_class().url(root)          # the projector's: the class page, the same step

What the address holds, each a query parameter:
- `lesson`: the step's page, `train` or `draw`;
- `title`: what the step is, in the teacher's words;
- `preset`: the network the Train page starts from (config.PRESETS), and any setting by its
  name (`epochs=20`, `hidden=128,64`, as the command line writes them) that differs from it;
- `open`: the settings a student may change; `show`: the settings shown but fixed; every
  other setting is not shown, and is what the link says;
- `model`: the Draw page's model (`default`, `seed`, or a run's id or name);
- `view=class`: the class's view (CLASS_PAGE), for a projector.
Never who made it: a private link (`me=`) stays the teacher's.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from mnist_core.config import PRESETS, ConfigError, TrainConfig, format_value, parse_hidden, settings
from mnist_core.errors import UserError

PAGES = {"draw": "", "train": "train"}  # a step's page -> its address's path
CLASS_PAGE = "teacher"  # the class's view, for a projector: the page app_pages/teacher.py (issue 32)
CLASS = "class"
KEYS = ("lesson", "title", "preset", "open", "show", "model", "view")  # the link's own parameters
TITLE_LIMIT = 80
MODEL_NAME = re.compile(r"[\w .:#'()-]{1,80}")  # a shipped model's name, or a run's id or name


class LessonError(UserError):
    """A lesson link that cannot be followed; the message is one line for the person who opened it."""


@dataclass(frozen=True)
class LessonLink:
    page: str = "train"  # the step's page: "train" or "draw"
    title: str = ""  # what the step is, in the teacher's words (at most TITLE_LIMIT characters)
    preset: str = "seed"  # the Train page's network, as config.PRESETS names it
    config: TrainConfig = PRESETS["seed"]  # the preset with the settings the link gives
    open: tuple[str, ...] = ()  # settings a student may change
    shown: tuple[str, ...] = ()  # settings shown, fixed
    model: str = ""  # the Draw page's model: "default", "seed", or a run's id or name ("": the page's own)
    view: str = ""  # "class": the class's view, for a projector

    def __post_init__(self) -> None:
        if self.page not in PAGES:
            raise LessonError(f"a lesson is a step on {' or '.join(PAGES)}, not {self.page[:20]!r}")
        if self.preset not in PRESETS:
            raise LessonError(f"there is no network called {self.preset[:40]!r} (the presets: {', '.join(PRESETS)})")
        names = dict(settings())
        for name in (*self.open, *self.shown):
            if name not in names:
                raise LessonError(f"there is no setting called {name[:40]!r} (the settings: {', '.join(names)})")
        if set(self.open) & set(self.shown):
            raise LessonError(f"{', '.join(sorted(set(self.open) & set(self.shown)))}: a setting is either open "
                              "or shown fixed, not both")
        if len(self.title) > TITLE_LIMIT:
            raise LessonError(f"a lesson's title has at most {TITLE_LIMIT} characters")
        if self.model and not MODEL_NAME.fullmatch(self.model):
            raise LessonError("a lesson's model is named by default, seed, or a run's id or name")
        if self.view not in ("", CLASS):
            raise LessonError(f"a lesson's view is `class` or none, not {self.view[:20]!r}")

    @property
    def path(self) -> str:
        """The address's path of the page it opens ("" for the Draw page)."""
        return CLASS_PAGE if self.view == CLASS else PAGES[self.page]

    @property
    def key(self) -> str:
        """A short name of this step, the same for everyone who opens it (for the form's fields)."""
        return hashlib.sha256(urlencode(sorted(self.to_query().items())).encode()).hexdigest()[:8]

    def for_class(self) -> LessonLink:
        """The same step, as the class's view shows it on a projector."""
        return dataclasses.replace(self, view=CLASS)

    def to_query(self) -> dict[str, str]:
        """The link's query parameters, in order: the page, then what differs from the preset."""
        query = {"lesson": self.page, "title": self.title}
        if self.page == "train":
            base = PRESETS[self.preset]
            query["preset"] = self.preset
            query |= {name: format_value(getattr(self.config, name)) for name, _ in settings()
                      if getattr(self.config, name) != getattr(base, name)}
            query |= {"open": ",".join(self.open), "show": ",".join(self.shown)}
        query |= {"model": self.model, "view": self.view}
        return {k: v for k, v in query.items() if v}

    def url(self, root: str) -> str:
        """The whole address, from the app's root (`app_root`)."""
        return f"{root.rstrip('/')}/{self.path}?{urlencode(self.to_query())}"

    @classmethod
    def from_query(cls, query: Mapping[str, Any]) -> LessonLink | None:
        """The lesson in an address's query parameters (a value may be a list: the last counts);
        None when there is none; LessonError (one line) when it cannot be followed."""
        params = {k: (v[-1] if isinstance(v, list | tuple) and v else v) for k, v in query.items()}
        page = params.get("lesson")
        if not page:
            return None
        preset = str(params.get("preset") or "seed")
        if preset not in PRESETS:
            raise LessonError(f"there is no network called {preset[:40]!r} (the presets: {', '.join(PRESETS)})")
        values = {name: _value(setting.label, getattr(PRESETS[preset], name), str(params[name]))
                  for name, setting in settings() if name in params}
        try:
            config = PRESETS[preset].replace(**values)
        except ConfigError as e:
            raise LessonError(str(e)) from None
        return cls(page=str(page), title=" ".join(str(params.get("title") or "").split()), preset=preset, config=config,
                   open=_names(params.get("open")), shown=_names(params.get("show")),
                   model=str(params.get("model") or "").strip(), view=str(params.get("view") or ""))


def app_root(url: str, page_path: str) -> str:
    """The app's root address from a page's whole address (st.context.url) and that page's path."""
    address = url.split("?", 1)[0].split("#", 1)[0].rstrip("/")
    if page_path and address.endswith("/" + page_path):
        address = address[: -len(page_path) - 1]
    return address


def _names(text: Any) -> tuple[str, ...]:
    return tuple(n.strip() for n in str(text or "").split(",") if n.strip())


def _value(label: str, like: Any, text: str) -> Any:
    """A setting's value as the link writes it, of the type of `like` (the preset's value)."""
    try:
        if isinstance(like, tuple):
            return parse_hidden(text)
        if isinstance(like, str):
            return text.strip()
        if isinstance(like, int):
            return int(text)
        return float(text)
    except ConfigError as e:
        raise LessonError(str(e)) from None
    except ValueError:
        raise LessonError(f"{label.lower()}: {text[:20]!r} is not a number") from None
