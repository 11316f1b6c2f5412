"""Custom scorers for the delivery-date suite (used as `python: scorers.py:date_matches`)."""

import json


def date_matches(output, expected, case):
    """Score 1.0 when the model's delivery_date equals the expected date, else 0.0.

    The output should be JSON like {"delivery_date": "2026-03-10"} or {"delivery_date": null};
    a Markdown code fence around it (```json ... ```) is tolerated. `expected` is the date
    string from the dataset, or None when the email gives no date. `case` is not needed here.
    """
    text = output.strip()
    if text.startswith("```"):
        # Drop the opening fence line (``` or ```json) and the closing fence.
        text = text.split("\n", 1)[1] if "\n" in text else ""
        text = text.rsplit("```", 1)[0].strip()

    try:
        answer = json.loads(text)
    except json.JSONDecodeError:
        return {"score": 0.0, "reason": f"output is not JSON: {output.strip()[:80]!r}"}
    if not isinstance(answer, dict) or "delivery_date" not in answer:
        return {"score": 0.0, "reason": "output has no delivery_date field"}

    got = answer["delivery_date"]
    if isinstance(got, str):
        got = got.strip()
    if got == expected:
        return {"score": 1.0, "reason": f"delivery_date is {json.dumps(got)} as expected"}
    return {"score": 0.0, "reason": f"delivery_date is {json.dumps(got)}, expected {json.dumps(expected)}"}
