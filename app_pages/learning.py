"""The Train page's look inside a network as it learns, and after: drawn from the training's
frames (mnist_core.training.watching), in two calls the page makes.

    curve_words()                 # under the curves: what an epoch, validation and the loss are
    show_live(state.extras)       # in the live fragment, every 2 s: its weights and its mistakes now
    show_film(run_store(), run)   # after training: a slider through the epochs the run kept

The pictures are inline PNGs in one HTML block each (st.html), so a redraw every two seconds
swaps them in place without fetching a file per picture, and the tiles wrap to the width of a
phone.
"""

from __future__ import annotations

import html

import numpy as np
import streamlit as st

from mnist_core import words
from mnist_core.pictures import RED_BLUE, data_uri, grey, red_blue
from mnist_core.store.runs import RunError, RunStore
from mnist_core.training.watching.film import FILM_FILE, Film
from mnist_core.training.watching.frame import Frame

HOLD = 6  # showings of a played film's last frame: the loop rests on what it learned
STYLE = """<style>
.mw-tiles{display:grid;grid-template-columns:repeat(var(--wide),minmax(0,1fr));gap:8px 6px;max-width:760px}
@media (max-width:640px){.mw-tiles{grid-template-columns:repeat(var(--narrow),minmax(0,1fr))}}
.mw-tiles figure{margin:0;text-align:center}
.mw-tiles img{width:100%;aspect-ratio:1;image-rendering:pixelated;border-radius:3px;display:block}
.mw-tiles figcaption{font-size:12px;opacity:.75;margin-top:2px;line-height:1.2}
.mw-cm{display:grid;grid-template-columns:repeat(11,minmax(0,1fr));gap:1px;max-width:360px;font-size:11px;
  text-align:center;font-variant-numeric:tabular-nums}
.mw-cm div{padding:3px 0;border-radius:2px}
.mw-cm .h{opacity:.6}
.mw-cm .d{outline:1px solid rgba(255,255,255,.35)}
.mw-axis{font-size:12px;opacity:.6;margin:2px 0 4px}
</style>"""


def curve_words() -> None:
    """Under the curves: what an epoch is, and what validation is."""
    st.caption(f"{words.EPOCH} {words.VALIDATION} {words.LOSS}")


def show_live(extras: dict | None) -> None:
    """The latest frame of a training in progress (its `extras`, loop.Watch), if it sent one."""
    frame = _frame(extras)
    if frame is None:
        return
    st.subheader("Inside, as it learns")
    weights, mistakes = st.columns([3, 2], gap="large")
    with weights:
        _weights(frame, _when(frame.epoch))
    with mistakes:
        _mistakes(frame)


def show_film(store: RunStore, run_id: str) -> bool:
    """A saved run's film, with a slider through its epochs; False when the run kept none."""
    film = _film(store, store.db.url, run_id)
    if film is None:
        return False
    st.fragment(_film_view)(film, run_id)
    return True


def _film_view(film: Film, run_id: str) -> None:
    """Redrawn alone when the slider moves (a fragment): the pictures and confusion at an epoch,
    or, played, every epoch kept one after another."""
    st.subheader("What it learned, epoch by epoch")
    if st.toggle("Play it", key=f"train_film_play_{run_id}",
                 help="Every epoch it kept, one after another, again and again: from noise to what it learned"):
        st.html(play_html(film))
        return
    epoch = st.select_slider("Epoch", film.epochs, value=film.epochs[-1], key=f"train_film_{run_id}",
                             help="The epochs this run kept: every one of the first ten, then one every 30% more")
    frame = film.at(epoch)
    weights, confusion = st.columns([3, 2], gap="large")
    with weights:
        _weights(frame, _when(epoch))
    with confusion:
        st.markdown(f"**Its confusions then** · {frame.accuracy:.1%} right")
        _confusion(frame.confusion)


def _weights(frame: Frame, when: str) -> None:
    st.markdown(f"**The ten digit templates, {when}**" if frame.outputs else f"**First-layer units, {when}**")
    st.html(weights_html(frame))
    if frame.outputs:
        st.caption(f"{words.TEMPLATES} {words.RED_BLUE}")
    else:
        st.caption(f"{words.FIRST_LAYER} {words.most_changed(len(frame.units), frame.layer_units)} {words.RED_BLUE}")


def _mistakes(frame: Frame) -> None:
    st.markdown(f"**Its mistakes now** · {frame.accuracy:.1%} right")
    if frame.mistakes:
        st.html(mistakes_html(frame))
    _confusion(frame.confusion)
    st.caption(f"{words.sample(int(frame.confusion.sum()))} {words.CONFUSION}")


def _confusion(counts: np.ndarray) -> None:
    st.html(confusion_html(counts))


def weights_html(frame: Frame) -> str:
    """The frame's pictures: the ten templates five a row, or the units eight a row (four on a phone)."""
    captions = [str(u) if frame.outputs else f"unit {u}" for u in frame.units]
    wide, narrow = (5, 5) if len(captions) <= 10 else (8, 4)
    return STYLE + _tiles([data_uri(red_blue(p, peak=_bright(p)), RED_BLUE) for p in frame.pictures], captions,
                          wide, narrow, "weights")


def play_html(film: Film, seconds: float = 0.35) -> str:
    """The film as a loop, `seconds` a frame: each unit's pictures at every epoch kept, one PNG of
    them all (a row a frame, a column a unit) that CSS steps through, the epoch written above.
    The last frame is shown HOLD times over, so that the loop rests on what it learned."""
    frames = [*film.frames, *[film.frames[-1]] * HOLD]
    m, k = len(frames), len(frames[0].units)
    sheet = np.concatenate([np.concatenate([red_blue(p, peak=_bright(p)) for p in f.pictures], axis=1)
                            for f in frames])  # (m * 28, k * 28)
    timing = f"{m * seconds:.2f}s steps({m}, jump-none) infinite"
    style = (f"<style>.mw-play .mw-f{{aspect-ratio:1;border-radius:3px;image-rendering:pixelated;"
             f"background-image:url({data_uri(sheet, RED_BLUE)});background-size:{k * 100}% {m * 100}%;"
             f"animation:mw-film {timing}}}"
             "@keyframes mw-film{from{background-position-y:0%}to{background-position-y:100%}}"
             ".mw-when{height:1.5em;line-height:1.5em;overflow:hidden;font-weight:600;margin-bottom:6px}"
             f".mw-when div{{animation:mw-when {timing}}}"
             f"@keyframes mw-when{{from{{transform:translateY(0)}}to{{transform:translateY(-{1.5 * (m - 1):.1f}em)}}}}"
             "@media (prefers-reduced-motion:reduce){.mw-play .mw-f{animation:none;background-position-y:100%}"
             f".mw-when div{{animation:none;transform:translateY(-{1.5 * (m - 1):.1f}em)}}}}</style>")
    when = "".join(f"<p style='margin:0;line-height:1.5em'>{_when(f.epoch).capitalize()}</p>" for f in frames)
    captions = [str(u) if frames[0].outputs else f"unit {u}" for u in frames[0].units]
    wide, narrow = (5, 5) if k <= 10 else (8, 4)
    figures = "".join(f'<figure><div class="mw-f" style="background-position-x:{100 * j / max(k - 1, 1):.3f}%">'
                      f"</div><figcaption>{html.escape(c)}</figcaption></figure>" for j, c in enumerate(captions))
    return (STYLE + style + f'<div class="mw-play"><div class="mw-when"><div>{when}</div></div>'
            f'<div class="mw-tiles" style="--wide:{wide};--narrow:{narrow}">{figures}</div></div>')


def mistakes_html(frame: Frame) -> str:
    """The frame's wrong digits, four a row, each with what it said."""
    return STYLE + _tiles([data_uri(grey(m.image)) for m in frame.mistakes],
                          [f"{m.true}, said {m.predicted}" for m in frame.mistakes], 4, 4, "mistakes")


def confusion_html(counts: np.ndarray) -> str:
    """A 10x10 confusion matrix as a small grid of shaded counts (rows: the true digit)."""
    peak = np.log1p(counts.max()) or 1.0
    cells = ['<div class="h">·</div>', *(f'<div class="h">{d}</div>' for d in range(10))]
    for t in range(10):
        cells.append(f'<div class="h">{t}</div>')
        for p in range(10):
            n = int(counts[t, p])
            shade = np.log1p(n) / peak
            colour = f"rgba(79,139,249,{0.08 + 0.85 * shade:.2f})" if n else "transparent"
            cells.append(f'<div class="{"d" if t == p else ""}" style="background:{colour}">{n if n else ""}</div>')
    return (STYLE + '<div class="mw-axis">rows: the true digit · columns: what it said</div>'
            f'<div class="mw-cm">{"".join(cells)}</div>')


def _tiles(uris: list[str], captions: list[str], wide: int, narrow: int, kind: str) -> str:
    """Pictures with captions in rows of `wide` (`narrow` on a phone); `kind` names them for tests."""
    figures = "".join(f'<figure><img src="{u}" alt="{html.escape(c)}"><figcaption>{html.escape(c)}</figcaption>'
                      "</figure>" for u, c in zip(uris, captions, strict=True))
    return f'<div class="mw-tiles mw-{kind}" style="--wide:{wide};--narrow:{narrow}">{figures}</div>'


def _when(epoch: int) -> str:
    return "before training" if epoch == 0 else f"after epoch {epoch}"


def _bright(picture: np.ndarray) -> float:
    """Full brightness at the 99th percentile of a picture's magnitudes, not at its one largest
    weight: early in training, noise whose peak leaves the rest of it dark."""
    return float(np.percentile(np.abs(picture), 99)) or 1.0


def _frame(extras: dict | None) -> Frame | None:
    record = (extras or {}).get("frame")
    if not record:
        return None
    try:
        return Frame.from_json(record)
    except ValueError:  # a training of another version's: its curves are still shown
        return None


@st.cache_resource(show_spinner=False, max_entries=16)
def _film(_store: RunStore, url: str, run_id: str) -> Film | None:
    """A run's film, read once (a saved run's never changes); None for a run without one."""
    try:
        return Film.from_bytes(_store.file(run_id, FILM_FILE))
    except (RunError, ValueError):  # a run from before films, an upload's, or a damaged file
        return None
