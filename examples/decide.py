"""Decide one item as a reviewer, from the command line: a stand-in for the browser when
you try the examples.

    uv run python manage.py create_token bob          # once; prints a token on its last line
    export REVIEWQUEUE_TOKEN=<that token>
    uv run python examples/decide.py ITEM_ID approve
    uv run python examples/decide.py ITEM_ID modify amount=25
    uv run python examples/decide.py ITEM_ID reject policy_violation "Refunds over 30 need a manager."

It claims the item under a lease (POST /api/v1/recommendations/{id}/claim) and decides it
(POST /api/v1/recommendations/{id}/decision). A modify takes the item's payload with the
given fields replaced (numbers stay numbers) and the reason code `wrong_amount`.
"""

import json
import os
import sys

import httpx


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[1] not in ("approve", "modify", "reject"):
        print(__doc__)
        return 2
    rec_id, outcome, rest = argv[0], argv[1], argv[2:]
    url = os.environ.get("REVIEWQUEUE_URL", "http://127.0.0.1:8000").rstrip("/")
    token = os.environ.get("REVIEWQUEUE_TOKEN") or sys.exit("Set REVIEWQUEUE_TOKEN.")
    with httpx.Client(
        base_url=url, headers={"Authorization": f"Token {token}"}, timeout=10
    ) as http:
        claimed = http.post(f"/api/v1/recommendations/{rec_id}/claim")
        if claimed.status_code != 200:
            sys.exit(f"Claim refused: {claimed.status_code} {claimed.text}")
        body: dict[str, object] = {"outcome": outcome}
        if outcome == "modify":
            payload = dict(claimed.json()["action"]["payload"])
            for pair in rest:
                key, _, value = pair.partition("=")
                try:
                    payload[key] = json.loads(value)
                except ValueError:
                    payload[key] = value
            body |= {"payload": payload, "reason_code": "wrong_amount"}
        elif outcome == "reject":
            body["reason_code"] = rest[0] if rest else "other"
            if len(rest) > 1:
                body["comment"] = rest[1]
        decided = http.post(f"/api/v1/recommendations/{rec_id}/decision", json=body)
        if decided.status_code != 200:
            sys.exit(f"Decision refused: {decided.status_code} {decided.text}")
    print(f"{outcome}: {rec_id}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
