"""A teacher's lesson link on the pages (mnist_core.lesson_link): the step it opens, and the
popover where a teacher makes one from the page as it is.

    lesson = lesson_for("train")                            # the step this visitor follows here, or None
    preset_name, values = lesson_settings(lesson, setting_input)   # the Train page's form under it
    label = lesson_model(lesson, choices)                   # the Draw page's model under it
    lesson_maker("train", preset_name, config)              # "Make a lesson link", in the sidebar

A link followed is kept for the session, so that a student who looks at another page and comes
back finds the step as the teacher set it; "Leave" lets them go.
"""

from __future__ import annotations

import re

import streamlit as st

from mnist_core import words
from mnist_core.config import PRESET_NOTES, PRESETS, TrainConfig, format_value, settings
from mnist_core.lesson_link import KEYS, PAGES, LessonError, LessonLink, app_root

LESSON = "lesson"  # session state: the LessonLink this visitor followed


def lesson_for(page: str) -> LessonLink | None:
    """The lesson step this visitor follows on `page` ("train", "draw"), with its banner drawn
    here; a link that cannot be followed is one line, and the page is as usual."""
    try:
        given = LessonLink.from_query(st.query_params.to_dict())
    except LessonError as e:
        st.error(f"This lesson link cannot be followed: {e}.", icon=":material/school:")
        return None
    if given is not None:
        st.session_state[LESSON] = given
    lesson = st.session_state.get(LESSON)
    if lesson is None or lesson.page != page:
        return None
    banner, leave = st.columns([4, 1], vertical_alignment="center")
    changeable = ", ".join(label.lower() for name, label in _labels().items() if name in lesson.open)
    what = f"**A lesson: {plain(lesson.title)}.**" if lesson.title else "**A step of a lesson.**"
    if page == "train":
        what += f" {PRESET_NOTES[lesson.preset]}. " + (f"You may change: {changeable}." if changeable
                                                       else "Everything is set: press Start and watch.")
    elif lesson.model:
        what += f" The model is {plain(lesson.model)}, as your teacher chose."
    banner.info(what, icon=":material/school:")
    if page == "train" and words.explain(PRESET_NOTES[lesson.preset]):
        banner.caption(words.explain(PRESET_NOTES[lesson.preset]))
    leave.button("Leave", key=f"{page}_lesson_leave", on_click=_leave, icon=":material/logout:",
                 help="Leave the lesson: the page as usual, every setting yours")
    return lesson


def lesson_settings(lesson: LessonLink, setting_input) -> tuple[str, dict]:
    """The Train page's settings under a lesson: the preset it names, the open settings as the
    page's own fields (`setting_input(name, setting, value, suffix)`), the shown ones written out
    fixed, the rest as the link says. Returns (preset name, values as the page's form gives them)."""
    values = {name: _as_the_form_gives(getattr(lesson.config, name)) for name, _ in settings()}
    st.caption(f"Network: **{lesson.preset}**. {PRESET_NOTES[lesson.preset]}.")
    for name, setting in settings():
        if name in lesson.open:
            values[name] = setting_input(name, setting, getattr(lesson.config, name), f"{lesson.preset}_{lesson.key}")
    if lesson.shown:
        st.markdown("**Fixed by the lesson**\n\n" + "\n".join(
            f"- {_labels()[name]}: {format_value(getattr(lesson.config, name))}" for name in lesson.shown))
    return lesson.preset, values


def lesson_model(lesson: LessonLink | None, choices: dict[str, str]) -> str | None:
    """The Draw page's model list's label for the lesson's model, or None (no lesson, or no model
    named: the list is the visitor's); a model this server lacks is one line, then None."""
    if lesson is None or not lesson.model:
        return None
    for label, ref in choices.items():
        if ref == lesson.model or label.startswith(f"Run: {lesson.model} ("):
            return label
    st.warning(f"The lesson's model {lesson.model!r} is not on this server: choose one yourself.")
    return None


def lesson_maker(page: str, preset: str = "seed", config: TrainConfig | None = None, model: str = "") -> None:
    """The popover where a teacher makes a link to this page as it is now: for the students, and
    for the projector (the class's view)."""
    with st.popover("Make a lesson link", icon=":material/school:", width="stretch"):
        st.caption(words.LESSON_LINK)
        title = st.text_input("What this step is", key=f"{page}_lesson_title", max_chars=80,
                              placeholder="Watch the ten templates form")
        open_, shown = (), ()
        if page == "train":
            labels = _labels()
            open_ = tuple(st.multiselect("Students may change", list(labels), format_func=labels.get,
                                         key="train_lesson_open"))
            shown = tuple(st.multiselect("Shown to them, fixed", [n for n in labels if n not in open_],
                                         format_func=labels.get, key="train_lesson_show"))
        try:
            link = LessonLink(page=page, title=title.strip(), preset=preset, config=config or PRESETS[preset],
                              open=open_, shown=shown, model=model)
        except LessonError as e:
            st.error(str(e))
            return
        root = app_root(str(getattr(st.context, "url", "") or ""), PAGES[page])
        st.caption("For the students:")
        st.code(link.url(root), language=None, wrap_lines=True)
        st.caption("For the projector, the class's view of the same step:")
        st.code(link.for_class().url(root), language=None, wrap_lines=True)


def _leave() -> None:
    st.session_state.pop(LESSON, None)
    names = {*KEYS, *(name for name, _ in settings())}
    for key in [k for k in st.query_params if k in names]:
        del st.query_params[key]


def plain(text: str) -> str:
    """Text from a link, shown as it is written: Markdown's signs escaped (a link's title must
    not become a link, or an image fetched from elsewhere, inside the app's own banner), and an
    invisible space before each ':', '@' and '.', or Streamlit would still make a bare address or
    email in it a link (escaping them does not stop that)."""
    escaped = re.sub(r"([\\`*_{}\[\]()#+\-.!<>|~$])", r"\\\1", text)
    return re.sub(r"(?=[:@]|\\\.)", NO_LINK, escaped)


NO_LINK = "\u200b"  # a zero-width space: in "www\u200b.", "http\u200b:" or "a\u200b@b" no address is recognised


def _labels() -> dict[str, str]:
    return {name: setting.label for name, setting in settings()}


def _as_the_form_gives(value: object) -> object:
    """A setting's value as the Train page's field for it gives it (hidden layers: the text)."""
    return format_value(value).replace("none", "") if isinstance(value, tuple) else value

