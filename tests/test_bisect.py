"""commands/bisect.py: a --good that is not an ancestor of the bad revision is refused, not searched."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.openai_server import Server
from tests.test_blame_bisect import _git, history_repo  # noqa: F401 (a fixture)


@pytest.mark.parametrize(
    ("good", "bad"),
    [
        ("shas[20]", "shas[10]"),  # good after bad on one branch
        ("HEAD", "HEAD~3"),  # the same, in relative names
        ("side", "HEAD"),  # good on a branch bad does not contain
        ("side", "shas[3]"),  # ... and one forked after bad
    ],
)
def test_bisect_refuses_a_good_that_is_not_an_ancestor_of_bad(
    openai_server: Server,
    history_repo: tuple[Path, list[str]],  # noqa: F811 (the imported fixture)
    run_cli,
    good: str,
    bad: str,  # type: ignore[no-untyped-def]
) -> None:
    # It used to show bad with good's score and say "no commit between good and bad changes anything".
    root, shas = history_repo
    _git(root, "checkout", "-q", "-b", "side", shas[5])
    (root / "prompts/route.jinja").write_text("user:\nANSWER: {{ bad }}\n")
    _git(root, "commit", "-qam", "side change")
    side = _git(root, "rev-parse", "HEAD")
    _git(root, "checkout", "-q", "main")
    names = {"shas[20]": shas[20], "shas[10]": shas[10], "shas[3]": shas[3], "side": side}
    good_rev, bad_rev = names.get(good, good), names.get(bad, bad)
    result = run_cli(["bisect", "route", "--good", good_rev, "--bad", bad_rev], root)
    assert result.code == 2, result.out + result.err
    good_sha = _git(root, "rev-parse", good_rev)
    bad_sha = _git(root, "rev-parse", bad_rev)
    assert f"--good {good_rev} ({good_sha[:10]}) is not an ancestor of the bad revision {bad_sha[:10]}" in result.err
    assert "Traceback" not in result.err
