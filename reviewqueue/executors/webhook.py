from reviewqueue.executors.base import ActionRequest, ActionResult
from reviewqueue.executors.http import post_signed


def execute(request: ActionRequest) -> ActionResult:
    """POST the final payload and the recommendation id, with the Idempotency-Key, signed,
    finished by the request's deadline."""
    body = {
        "recommendation_id": request.recommendation_id,
        "action_type": request.action_type,
        "payload": request.payload,
    }
    return post_signed(
        request.url,
        body,
        secret=request.secret or "",
        deadline=request.deadline,
        headers={"Idempotency-Key": request.idempotency_key},
        message_id=request.idempotency_key,
    )
