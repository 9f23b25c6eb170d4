"""Two strangers on one link, in two browser sessions: each owns their job and run, sees the
other's job in the line, and cannot stop or delete what is not theirs."""

from __future__ import annotations

import re

import pytest

from tests.e2e.pages import open_selectbox, settled, two_visitors

pytestmark = [pytest.mark.browser, pytest.mark.mnist]


def start_training(page, url: str, epochs: int) -> None:
    page.goto(f"{url}/train")
    field = page.get_by_role("spinbutton", name="Epochs")
    field.fill(str(epochs))
    field.press("Tab")
    page.get_by_role("button", name="Start training").click()


@pytest.mark.timeout(600)  # two trainings, one after the other
def test_two_visitors_share_the_line_and_keep_their_own_runs(browser, app_url, gates):
    # Ann's job is held in "loading data" (running, first in line) until Bob has queued behind it
    gates.data.touch()
    try:
        with two_visitors(browser, timeout=120_000) as (ann, bob):
            start_training(ann, app_url, 3)
            ann.get_by_text("Loading MNIST").wait_for()
            assert "me=" in ann.url  # Ann's private link
            start_training(bob, app_url, 2)
            bob.get_by_text("Waiting: 1st in line. Starts in about").wait_for()
            bob.get_by_role("button", name="Cancel").wait_for()  # his own waiting job
            settled(bob)
            assert bob.get_by_role("button", name="Stop").count() == 0  # nothing of Ann's to stop
            line = ann.locator("[data-testid=stTable]")
            line.get_by_text(re.compile(r"^[a-z]+-[a-z]+-[0-9a-z]{8}'s$")).wait_for()  # Bob, waiting behind her
            assert "yours" in line.inner_text() and "waiting" in line.inner_text()
            gates.data.unlink()
            ann.get_by_text("Finished after 3 epochs").wait_for(timeout=240_000)
            bob.get_by_text("Finished after 2 epochs").wait_for(timeout=240_000)
            for page in (ann, bob):  # each with their own private link
                page.goto(f"{app_url}/runs?{page.url.split('?', 1)[1]}")
                page.get_by_text("Compare validation accuracy").wait_for()
            # Bob picks Ann's run (the older of the two): he may draw with it, not delete it
            options = open_selectbox(bob, "Run")
            names = options.all_inner_texts()
            assert sum("'s seed #1" in n for n in names) >= 2, names  # each named by who and what
            options.nth(1).click()
            bob.get_by_text("only its owner or an admin may rename or delete it").wait_for()
            assert bob.get_by_role("button", name="Delete run").is_disabled()
            assert bob.get_by_role("button", name="Rename").is_disabled()
    finally:
        gates.data.unlink(missing_ok=True)
