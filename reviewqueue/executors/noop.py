from reviewqueue.executors.base import ActionRequest, ActionResult


def execute(request: ActionRequest) -> ActionResult:
    """Does nothing and succeeds: for shadow pilots and demos."""
    return ActionResult(ok=True)
