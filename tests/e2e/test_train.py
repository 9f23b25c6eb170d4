"""The Train page as a class meets it, in Chromium: a double click queues one job and the page
keeps its live curves, in the first screen; Stop while MNIST loads ends the job within a second;
two visitors' runs are told apart by their names."""

from __future__ import annotations

import re
import time

import pytest

from tests.e2e.pages import settled, two_visitors

pytestmark = [pytest.mark.browser, pytest.mark.mnist]

EPOCH = re.compile(r"Epoch (\d+) of (\d+)")


def set_epochs(page, epochs: int) -> None:
    field = page.get_by_role("spinbutton", name="Epochs")
    field.fill(str(epochs))
    field.press("Tab")
    settled(page)


def stop(page) -> None:
    """Stop the visitor's job and wait until the page says it ended (the line is left clean)."""
    page.get_by_role("button", name="Stop").click()
    page.get_by_text(re.compile("Stopped after|stopped before the first epoch")).first.wait_for(timeout=30_000)


@pytest.mark.timeout(300)
def test_a_double_click_queues_one_job_and_the_page_keeps_its_curves_in_the_first_screen(browser, app_url):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(120_000)
    try:
        page.goto(f"{app_url}/train")
        set_epochs(page, 5000)
        page.get_by_role("button", name="Start training").dblclick()
        progress = page.get_by_text(EPOCH).first
        progress.wait_for()
        page.wait_for_function("() => document.querySelectorAll('[data-testid=stVegaLiteChart]').length >= 2")
        page.wait_for_timeout(4_500)  # two redraws of the live view later: still the same job, training
        settled(page)
        line = page.locator("[data-testid=stTable]").inner_text()
        assert line.count("yours") == 1, line  # one job, not two
        assert page.get_by_role("button", name="Start training").count() == 0  # the plan became the progress
        assert int(EPOCH.search(progress.inner_text()).group(1)) > 0
        for element in (progress, *page.locator("[data-testid=stVegaLiteChart]").all()[:2],
                        page.get_by_role("button", name="Stop")):
            box = element.bounding_box()
            assert box is not None and box["y"] + box["height"] <= 800, box  # in the first screen, no scrolling
    finally:
        stop(page)
        context.close()


@pytest.mark.timeout(300)
def test_stop_while_mnist_loads_ends_the_job_within_a_second(page, app_url, gates):
    gates.data.touch()  # the job's process waits for its data: "Loading MNIST…" for as long as the test needs
    try:
        page.goto(f"{app_url}/train")
        set_epochs(page, 7)
        page.get_by_role("button", name="Start training").click()
        page.get_by_text("Loading MNIST").wait_for()
        page.get_by_role("button", name="Stop").click()
        clicked = time.monotonic()
        page.get_by_text("stopped before the first epoch ended: nothing to save").wait_for(timeout=10_000)
        assert time.monotonic() - clicked < 1.0
    finally:
        gates.data.unlink(missing_ok=True)


@pytest.mark.timeout(300)
def test_two_visitors_runs_have_different_names(browser, app_url):
    with two_visitors(browser, timeout=120_000) as (ann, bob):
        for page in (ann, bob):
            page.goto(f"{app_url}/train")
            set_epochs(page, 2)
            page.get_by_role("button", name="Start training").click()
        names = []
        for page in (ann, bob):
            saved = page.get_by_text(re.compile(r"saved as “.+”"))
            saved.wait_for()
            names.append(re.search(r"saved as “(.+)”", saved.inner_text()).group(1))
        assert names[0] != names[1] and all(re.fullmatch(r"[a-z]+-[a-z]+(-[0-9a-z]{8})?'s seed #\d+", n)
                                            for n in names), names
