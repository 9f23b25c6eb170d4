"""The labelling loop in a real browser: draw a digit, say what it really was, find it on the
Drawings page, export it, import more, fine-tune on them and see the before/after figures."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from playwright.sync_api import expect

from mnist_core.config import PRESET_NOTES, PRESET_TITLES
from tests.e2e.pages import ONE, draw, open_selectbox, prediction, settled, two_visitors
from tests.helpers import synthetic_digits

pytestmark = [pytest.mark.browser, pytest.mark.mnist]


@pytest.mark.timeout(600)  # a fine-tune of the shipped 1024-1024 network
def test_draw_correct_find_export_import_and_fine_tune(page, app_url, gates, tmp_path):
    page.goto(app_url)
    draw(page, ONE)  # a plain "1"
    assert prediction(page) == "1"
    page.get_by_text("Was it a 1?").wait_for()
    page.get_by_text("Labelled drawings are kept").wait_for()  # the person is told, and how to delete
    # say it was a 7 (as a European 7 without its bar can look like a 1)
    page.locator("[data-testid=stButtonGroup]").get_by_role("radio", name="7", exact=True).click()
    page.get_by_text("Kept as a 7").wait_for()
    page.get_by_role("button", name="Undo: don't keep it").wait_for()
    private_link = page.url.split("?", 1)[1]

    page.goto(f"{app_url}/drawings?{private_link}")
    page.get_by_text("Labelled drawings").first.wait_for()
    open_selectbox(page, "Digit").filter(has_text=re.compile(r"^7$")).click()
    page.get_by_text("7 · read 1").wait_for()  # the gallery: label, and what the model read
    page.get_by_text("yours").first.wait_for()
    settled(page)  # a click while the page reruns can land on a button about to be replaced
    with page.expect_download() as download:
        page.get_by_role("button", name="drawings.npz").click()
    exported = tmp_path / "drawings.npz"
    download.value.save_as(exported)
    with np.load(exported) as f:
        assert f["x"].shape == (1, 28, 28) and f["y"].tolist() == [7] and f["predicted"].tolist() == [1]

    # import 40 more (a file someone exported elsewhere), then fine-tune on all of them
    x, y = synthetic_digits(40, seed=5)
    more = io.BytesIO()
    np.savez(more, x=x, y=y)
    (tmp_path / "more.npz").write_bytes(more.getvalue())
    open_selectbox(page, "Digit").filter(has_text="All").click()
    page.locator("[data-testid=stFileUploaderDropzoneInput]").set_input_files(str(tmp_path / "more.npz"))
    page.get_by_role("button", name="Import these drawings").click()
    page.get_by_text("Imported 40 drawings; they are yours").wait_for()

    page.goto(f"{app_url}/train?{private_link}")
    open_selectbox(page, "Network").filter(has_text=PRESET_TITLES["finetune"]).click()
    page.get_by_text(PRESET_NOTES["finetune"][:60]).wait_for()  # the form is the fine-tune's now
    page.get_by_text("More settings").click()
    for name, value in (("Epochs", "1"), ("MNIST per epoch", "2000")):
        field = page.get_by_role("spinbutton", name=name)
        field.fill(value)
        field.press("Tab")
        expect(page.get_by_role("spinbutton", name=name)).to_have_value(value)
    gates.check.touch()  # its own not-a-digit check (test-sized here: tests/gates.py) waits, announced
    try:
        page.get_by_role("button", name="Start training").click()
        page.get_by_text(re.compile("Fitting its own not-a-digit check")).wait_for(timeout=240_000)
    finally:
        gates.check.unlink(missing_ok=True)
    page.get_by_text("Finished after 1 epochs").wait_for(timeout=300_000)
    page.get_by_role("heading", name="Before and after").wait_for()
    page.get_by_text(re.compile(r"Started from default; learned from \d+ labelled drawings; \d+ held out")).wait_for()
    for label in ("Held-out drawings", "MNIST test"):
        metric = page.locator("[data-testid=stMetric]", has_text=label)
        assert re.search(r"\d+\.\d\d%", metric.inner_text()) and "pts (was" in metric.inner_text()
    page.screenshot(path="/tmp/mnist-dense-finetune.png", full_page=True)


def test_two_strangers_see_each_others_drawings_and_delete_only_their_own(browser, app_url):
    with two_visitors(browser) as (ann, bob):
        ann.goto(app_url)
        draw(ann, [(60, 50), (220, 50), (130, 250)])  # a "7"
        ann.get_by_role("button", name=re.compile(r"^Yes, an? \d$")).click()
        ann.get_by_text(re.compile(r"Kept as a \d")).wait_for()
        bob.goto(f"{app_url}/drawings")
        open_selectbox(bob, "Drawn by").filter(has_text="Everyone").click()
        bob.get_by_text(re.compile(r"^[a-z]+-[a-z]+-[0-9a-z]{8}'s$")).first.wait_for()  # Ann, by pseudonym only
        settled(bob)
        assert "link:" not in bob.content() and ann.url.split("me=")[1] not in bob.content()
        assert bob.get_by_role("button", name="Delete").count() == 0  # not his to delete
        ann.goto(f"{app_url}/drawings?{ann.url.split('?', 1)[1]}")
        ann.get_by_text("yours").first.wait_for()
        ann.get_by_role("button", name="Delete").first.wait_for()  # hers
