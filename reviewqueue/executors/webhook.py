from reviewqueue.executors.base import ActionRequest, ActionResult
from reviewqueue.executors.http import post_signed


def execute(request: ActionRequest) -> ActionResult:
    """POST the final payload and the recommendation id, with the Idempotency-Key, signed."""
    body = {
        "recommendation_id": request.recommendation_id,
        "action_type": request.action_type,
        "payload": request.payload,
    }
    return post_signed(
        request.url,
        body,
        secret=request.secret,
        timeout=request.timeout,
        headers={"Idempotency-Key": request.idempotency_key},
    )
