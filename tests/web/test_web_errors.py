"""The pages' one domain-error mapper (web/errors.py)."""

from django.contrib.auth.models import AnonymousUser
from django.contrib.messages.storage.fallback import FallbackStorage
from django.test import RequestFactory

from reviewqueue.exceptions import Conflict, Forbidden, NotFound, ValidationFailed
from reviewqueue.web.errors import DomainErrorMiddleware, errors_back_to


def _request(method="get"):
    request = getattr(RequestFactory(), method)("/queues/refunds/")
    request.user = AnonymousUser()
    request.session = {}
    request._messages = FallbackStorage(request)
    return request


def test_a_service_error_becomes_the_page_with_its_status(db):
    middleware = DomainErrorMiddleware(lambda r: None)
    request = _request()
    assert middleware.process_exception(request, NotFound("No queue 'x'.")).status_code == 404
    forbidden = middleware.process_exception(request, Forbidden("Only admins may do that."))
    assert forbidden.status_code == 403 and b"Only admins may do that." in forbidden.content
    conflict = middleware.process_exception(request, Conflict("Already resolved."))
    assert conflict.status_code == 409 and b"Already resolved." in conflict.content
    invalid = middleware.process_exception(
        request, ValidationFailed("Not valid.", errors={"comment": "Say why."})
    )
    assert invalid.status_code == 400 and b"Say why." in invalid.content
    assert middleware.process_exception(request, ValueError("not ours")) is None


def test_a_form_post_goes_back_with_the_error_as_a_message(db):
    @errors_back_to("queue")
    def view(request, slug):
        raise ValidationFailed(
            "Say why auto-execution may resume.", errors={"comment": "Required."}
        )

    request = _request("post")
    response = view(request, slug="refunds")
    assert (response.status_code, response["Location"]) == (302, "/queues/refunds/")
    assert [str(m) for m in request._messages] == ["Say why auto-execution may resume. Required."]
