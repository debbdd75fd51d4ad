"""JSON parsing for every API endpoint: a body-size limit that answers 413 (Django's own
answers 400), and a check that the parsed document can be stored as it is. PostgreSQL's
text and jsonb refuse NUL characters and lone surrogates, Python parses 1e400 as infinity
(not valid JSON), and a deeply nested document exhausts the recursion limit of everything
that walks it; each of those is a 400 with the place it occurs, never a 500
(lib/storable.py). So is an array longer than storable.MAX_ARRAY_ITEMS: a view whose
top-level array has its own limit (the batch's `items`) names it in `arrays_with_own_limit`.

DRF reads the whole body (request.body) before it calls a parser, and Django refuses a body
over DATA_UPLOAD_MAX_MEMORY_SIZE right there; web/badinput.py answers that one with the same
413 before DRF runs."""

import io
from typing import Any

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from reviewqueue.exceptions import PayloadTooLarge
from reviewqueue.lib.storable import MAX_DEPTH, check_storable


def too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"The request body is over the limit of {limit} bytes.")


class LimitedJSONParser(JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        context = parser_context or {}
        view = context.get("view")
        limit = getattr(view, "max_body_bytes", None) or settings.REVIEWQUEUE_MAX_BODY_BYTES
        request = context.get("request")
        declared = request.META.get("CONTENT_LENGTH") if request is not None else None
        if declared and declared.isdigit() and int(declared) > limit:
            raise too_large(limit)
        if stream is None:
            return super().parse(stream, media_type, parser_context)  # type: ignore[arg-type]
        # Without a Content-Length (chunked), read at most limit+1 bytes to decide.
        body = stream.read(limit + 1)
        if len(body) > limit:
            raise too_large(limit)
        try:
            data = super().parse(io.BytesIO(body), media_type, parser_context)
        except RecursionError:
            raise ParseError(f"JSON parse error - nested deeper than {MAX_DEPTH} levels.") from None
        check_storable(data, own_limit=getattr(view, "arrays_with_own_limit", ()))
        return data
