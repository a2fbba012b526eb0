"""One key, one action, in every view: ``p`` pauses, ``[`` and ``]`` turn pages."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator

import pytest
from jobbers.tui.app import VIEWS, JobbersApp
from jobbers.tui.messages import SnapshotFetched
from jobbers.tui.screens.base import LiveScreen, ViewScreen
from jobbers.tui.screens.detail import TaskDetailScreen
from jobbers.tui.screens.help import own_bindings
from textual.binding import Binding

from jobbers.api.client import JobbersClient

from . import frames
from .conftest import screen_text, shows

# Closing a modal is not a verb on the data: escape and q leave the task detail.
LEAVING = {"close"}


def test_each_key_means_one_action_in_every_view() -> None:
    meanings: dict[str, set[str]] = defaultdict(set)
    screens = [*VIEWS.values(), TaskDetailScreen]
    bindings = [*JobbersApp.BINDINGS, *ViewScreen.BINDINGS]
    for cls in screens:
        bindings += own_bindings(cls, (ViewScreen, LiveScreen))
    for b in bindings:
        assert isinstance(b, Binding)
        if b.action in LEAVING:
            continue
        for key in b.key.split(","):
            meanings[key.strip()].add(b.action.split("(")[0])
    clashes = {key: actions for key, actions in meanings.items() if len(actions) > 1}
    assert not clashes
    assert meanings["p"] == {"toggle_pause"}
    assert meanings["left_square_bracket"] == {"prev_page"}
    assert meanings["right_square_bracket"] == {"next_page"}


@pytest.fixture
async def frozen() -> AsyncIterator[JobbersApp]:
    """The app with polling off, its clock frozen (the frame is posted by each test)."""
    async with JobbersClient("http://127.0.0.1:8000") as client:
        yield JobbersApp(client, 1.0, clock=frames.clock, autopoll=False)


async def test_help_says_what_each_key_does(frozen: JobbersApp) -> None:
    async with frozen.run_test(size=(100, 80)) as pilot:
        await pilot.press("question_mark")
        text = await shows(frozen, "Previous page", "Next page")
        lines = {" ".join(line.strip(" █▊▎▌").split()) for line in text.splitlines()}
        assert "p Pause/resume queue" in lines
        # The refresh freezes (f): "pause" is said of queues only.
        assert "f Freeze/unfreeze the refresh" in lines
        assert all(line.startswith("p ") for line in lines if "Pause" in line)
        assert "[ Previous page" in lines and "] Next page" in lines
        assert not any(line.startswith(("p Prev", "n Next")) for line in lines)


@pytest.mark.parametrize("view", ["2", "3"])
async def test_the_footer_of_a_paged_view_shows_the_page_keys(
    frozen: JobbersApp, view: str
) -> None:
    async with frozen.run_test(size=(120, 24), notifications=True) as pilot:
        frozen.post_message(SnapshotFetched(frames.frame()))
        await pilot.press(view)
        footer = (await shows(frozen, "] Next")).splitlines()[-1]
        assert "[ Prev" in footer
        assert " p " not in footer
        await pilot.press("p")  # not a page key: nothing happens, no "first page" toast
        await pilot.pause()
        assert "first page" not in screen_text(frozen)
        await pilot.press("left_square_bracket")
        await shows(frozen, "This is the first page.")
