"""JSON parsing with a body-size limit that answers 413 (Django's own answers 400)."""

from typing import Any

from django.conf import settings
from rest_framework.parsers import JSONParser

from reviewqueue.exceptions import PayloadTooLarge


class LimitedJSONParser(JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        context = parser_context or {}
        view = context.get("view")
        limit = getattr(view, "max_body_bytes", None) or settings.REVIEWQUEUE_MAX_BODY_BYTES
        request = context.get("request")
        declared = request.META.get("CONTENT_LENGTH") if request is not None else None
        if declared and declared.isdigit() and int(declared) > limit:
            raise PayloadTooLarge(f"The request body is over the limit of {limit} bytes.")
        if stream is not None:
            # Without a Content-Length (chunked), read at most limit+1 bytes to decide.
            body = stream.read(limit + 1)
            if len(body) > limit:
                raise PayloadTooLarge(f"The request body is over the limit of {limit} bytes.")
            import io

            stream = io.BytesIO(body)
        return super().parse(stream, media_type, parser_context)
