"""The Markdown report's footer (report.py): what the calls cost, never $0 for a price nobody knows."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from promptgit import stats
from promptgit.evaluate import SuiteResult
from promptgit.report import spent_text
from tests.openai_server import Server
from tests.test_ci import run_ci, two_versions
from tests.test_git_native import dataset

pytestmark = pytest.mark.usefixtures("git_env")


def result(model: str, cost: float, known: bool = True, unpriced: tuple[str, ...] = ()) -> SuiteResult:
    return SuiteResult(
        "s", "p", "evals/s.yaml", "f", "r", 1.0, stats.Interval(1.0, 1.0), (), None, None, 1,
        calls=3, cost=cost, model=model, cost_known=known, unpriced_models=unpriced,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("results", "shown"),
    [
        ([], "$0.0000"),
        ([result("openai/gpt-4o", 0.0123), result("openai/gpt-4o", 0.0100)], "$0.0223"),
        ([result("openai/gpt-4o", 0.0005)], "$0.000500"),  # a fraction of a cent still shows
        # one part unknown: the sum is a lower bound, not the cost
        (
            [result("openai/gpt-4o", 0.0100), result("acme/x", 0.0, known=False)],
            "at least $0.0100 (no known price for acme/x)",
        ),
        # nothing known was paid: unknown, never $0.0000
        (
            [result("acme/x", 0.0, known=False), result("acme/y", 0.0, known=False)],
            "cost unknown (no known price for acme/x, acme/y)",
        ),
        # the unpriced model was the judge, not the suite's model
        (
            [result("openai/gpt-4o", 0.02, known=False, unpriced=("acme/judge",))],
            "at least $0.0200 (no known price for acme/judge)",
        ),
        # a name is escaped as every other cell of the comment is
        (
            [result("acme/<b>x_y</b>", 0.0, known=False)],
            "cost unknown (no known price for acme/&lt;b&gt;x\\_y&lt;/b&gt;)",
        ),
    ],
)
def test_a_sum_with_an_unknown_part_is_not_shown_as_known(results: list[SuiteResult], shown: str) -> None:
    assert spent_text(results) == shown


def test_the_footer_of_a_run_on_a_model_with_no_price_says_unknown(  # type: ignore[no-untyped-def]
    openai_server: Server, tmp_path: Path, run_cli
) -> None:
    repo, c1, c2 = two_versions(tmp_path / "repo", dataset())
    _, report = run_ci(run_cli, repo, c1, c2, 0)
    footer = report.rstrip().splitlines()[-1]
    assert "$0.0000" not in report
    assert "cost unknown (no known price for openai/test\\-model)" in footer
    # A second run pays nothing: $0 is then known, whatever the model's price.
    _, again = run_ci(run_cli, repo, c1, c2, 0)
    assert " · $0.0000 · " in again.rstrip().splitlines()[-1]


def test_jinja_is_imported_only_behind_its_boundary() -> None:
    """templating.py is the Jinja boundary; includes.py reads the syntax trees it parses (docs/architecture.md)."""
    package = Path(__file__).parent.parent / "promptgit"
    importers = set()
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            names += [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            if any(name.split(".")[0] in ("jinja2", "markupsafe") for name in names):
                importers.add(path.relative_to(package).as_posix())
    assert importers == {"templating.py", "includes.py"}
