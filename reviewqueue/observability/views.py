"""GET /metrics: the Prometheus scrape, not public by default."""

import hmac

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from reviewqueue.observability.metrics import metrics_exposition


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """404 unless REVIEWQUEUE_METRICS_TOKEN is set (nothing says the endpoint exists), then
    only with `Authorization: Bearer <token>`, compared in constant time (401 otherwise)."""
    token = settings.REVIEWQUEUE_METRICS_TOKEN
    if not token:
        raise Http404
    scheme, _, supplied = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        supplied.strip().encode(), token.encode()
    ):
        response = JsonResponse(
            {
                "type": "urn:reviewqueue:problem:unauthorized",
                "title": "Unauthorized",
                "status": 401,
                "detail": "Send 'Authorization: Bearer <metrics token>'.",
            },
            status=401,
            content_type="application/problem+json",
        )
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    body, content_type = metrics_exposition()
    return HttpResponse(body, content_type=content_type)
