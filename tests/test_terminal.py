"""What a run shows while it works (terminal.py): a bar on a terminal, a line every ~10 s in a CI log."""

from __future__ import annotations

import io

import pytest

from promptgit.evaluate import ProgressUpdate
from promptgit.terminal import progress_printer, progress_text, use_colour


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_figures_are_done_total_rate_errors_cached_and_eta() -> None:
    text = progress_text("eval", ProgressUpdate(done=412, total=1000, errors=1, cached=120, seconds=10.0))
    assert text == "eval 412/1000 (41%), 41.2/s, 1 error, 120 cached, ETA 14 s"
    assert progress_text("ci", ProgressUpdate(0, 5, 0, 0, 0.0)) == "ci 0/5 (0%), 0.0/s, 0 errors, 0 cached"
    assert progress_text("eval", ProgressUpdate(6, 6, 2, 0, 3.0)) == "eval 6/6 (100%), 2.0/s, 2 errors, 0 cached"


def test_off_a_terminal_one_line_every_ten_seconds_and_one_at_the_end() -> None:
    clock, log = Clock(), io.StringIO()
    show = progress_printer("eval", stream=log, clock=clock)
    assert show is not None
    for done in range(1, 31):  # one case-repeat a second, 30 in all
        clock.now += 1.0
        show(ProgressUpdate(done, 30, 0, 0, clock.now - 100.0))
    assert log.getvalue().splitlines() == [
        "promptgit: eval 10/30 (33%), 1.0/s, 0 errors, 0 cached, ETA 20 s",
        "promptgit: eval 20/30 (67%), 1.0/s, 0 errors, 0 cached, ETA 10 s",
        "promptgit: eval 30/30 (100%), 1.0/s, 0 errors, 0 cached",
    ]


def test_a_short_run_off_a_terminal_prints_nothing() -> None:
    clock, log = Clock(), io.StringIO()
    show = progress_printer("eval", stream=log, clock=clock)
    assert show is not None
    for done in range(1, 4):
        clock.now += 0.5
        show(ProgressUpdate(done, 3, 0, 0, clock.now - 100.0))
    assert log.getvalue() == ""


def test_on_a_terminal_the_bar_is_redrawn_in_place_and_ends_with_a_newline() -> None:
    clock, screen = Clock(), Terminal()
    show = progress_printer("eval", stream=screen, clock=clock)
    assert show is not None
    clock.now += 1.0
    show(ProgressUpdate(12, 24, 0, 3, 1.0))
    clock.now += 1.0
    show(ProgressUpdate(24, 24, 0, 3, 2.0))
    frames = screen.getvalue().split("\r")[1:]
    assert frames == [
        "[############............] eval 12/24 (50%), 12.0/s, 0 errors, 3 cached, ETA 1 s\x1b[K",
        "[########################] eval 24/24 (100%), 12.0/s, 0 errors, 3 cached\x1b[K\n",
    ]


def test_quiet_shows_nothing() -> None:
    assert progress_printer("eval", quiet=True, stream=Terminal()) is None


@pytest.mark.parametrize(("value", "expected"), [("1", False), ("", None), (None, None)])
def test_no_color_turns_styling_off(monkeypatch: pytest.MonkeyPatch, value: str | None, expected: bool | None) -> None:
    if value is None:
        monkeypatch.delenv("NO_COLOR", raising=False)
    else:
        monkeypatch.setenv("NO_COLOR", value)
    assert use_colour() is expected


def test_render_prints_plain_text_under_no_color(basic_project, run_cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("NO_COLOR", "1")
    result = run_cli(["render", "support/classify", "--var", "ticket=hi"], basic_project)
    assert result.code == 0
    assert "\x1b[" not in result.out
    assert result.out.splitlines()[1:3] == ["system:", "You route tickets."]


def test_a_slow_run_shows_its_rate_per_minute() -> None:
    text = progress_text("eval", ProgressUpdate(done=43, total=96, errors=0, cached=0, seconds=900.0))
    assert text == "eval 43/96 (45%), 2.9/min, 0 errors, 0 cached, ETA 18 min"
