"""The scorer of the meta-prompt's suite: is the root cause the known one, and does the diff apply?"""

from typing import Any

from promptgit import git, proposals


def cause_named(output: str, expected: str, case: Any) -> dict[str, Any]:
    """1.0 when the reply names the known root cause (proposals.parse_reply), else 0.0."""
    named = proposals.parse_reply(output).root_cause
    if named == expected:
        return {"score": 1.0, "reason": f"root cause {named}, as known"}
    return {"score": 0.0, "reason": f"root cause {named or 'not named'}, expected {expected}"}


def diff_applies(output: str, expected: str, case: Any) -> dict[str, Any]:
    """1.0 when the reply's diff applies to the broken template and changes it (git apply, as `suggest` checks);
    for a capability problem, 1.0 when the reply gives no diff (rewording it wastes a turn)."""
    diff = proposals.parse_reply(output).diff
    if expected == proposals.CAPABILITY:
        return {
            "score": float(diff is None),
            "reason": "no diff, as it should" if diff is None else "a diff for capability",
        }
    if diff is None:
        return {"score": 0.0, "reason": "no diff in the reply"}
    path, template = case.vars["path"], case.vars["template"]
    try:
        patch = proposals.patch_of(diff, {path: template})
    except proposals.Unusable as err:
        return {"score": 0.0, "reason": str(err)}
    patched = git.patched_files(patch, {path: template.encode("utf-8")})
    if isinstance(patched, str):
        return {"score": 0.0, "reason": f"does not apply: {patched}"}
    if patched[path] == template.encode("utf-8"):
        return {"score": 0.0, "reason": "the diff changes nothing"}
    return {"score": 1.0, "reason": "applies"}
