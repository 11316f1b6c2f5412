"""Found: the confusion summary read a correct answer as `(other)` when the label itself ends in `.` or `!`
or is quoted (`U.S.`, `yes!`): the output was stripped of them, the label was not, so a suite the model
got wholly right showed `U.S. -> (other)` confusions."""

from __future__ import annotations

from promptgit.evaluate import CaseResult
from promptgit.patterns import confusion_summary, label_of


def case(i: int, expected: str, output: str) -> CaseResult:
    right = output.strip().casefold() == expected.strip().casefold()
    return CaseResult(f"c{i}", 1.0 if right else 0.0, right, expected, (output,), (1.0 if right else 0.0,))


def test_a_label_ending_in_a_full_stop_is_read_as_itself() -> None:
    labels = ["E.U.", "U.S."]
    assert label_of("U.S.", labels) == "U.S."
    assert label_of(" u.s. ", labels) == "U.S."
    assert label_of("yes!", ["no!", "yes!"]) == "yes!"
    assert label_of("Billing.", ["billing", "refunds"]) == "billing"  # the documented stripping still applies
    cases = [case(i, labels[i % 2], labels[i % 2]) for i in range(6)]
    summary = confusion_summary(cases)
    assert summary is not None
    assert summary.top == ()  # every answer was right: no confusion
    assert {(c.expected, c.output) for c in summary.cells} == {("E.U.", "E.U."), ("U.S.", "U.S.")}
