"""What JSON allows but storage refuses: PostgreSQL's text and jsonb reject NUL characters
and lone surrogates, Python parses 1e400 as infinity (not valid JSON), and a deeply nested
document exhausts the recursion limit of everything that walks it."""

import math
from typing import Any

from reviewqueue.exceptions import ValidationFailed

MAX_DEPTH = 32


def _problem(path: list[Any], message: str) -> ValidationFailed:
    where = ".".join(str(p) for p in path) or "body"
    return ValidationFailed(
        f"The request body cannot be stored: {message}", errors={where: message}
    )


def _bad_text(text: str) -> str | None:
    if text.isascii():
        return "NUL characters are not allowed." if "\x00" in text else None
    if "\x00" in text:
        return "NUL characters are not allowed."
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "Lone surrogate escapes (\\ud800-\\udfff) are not valid text."
    return None


def check_storable(data: Any) -> None:
    """Raise ValidationFailed for what JSON allows but storage refuses; iterative, so any
    depth is safe to walk."""
    stack: list[tuple[Any, list[Any]]] = [(data, [])]
    while stack:
        value, path = stack.pop()
        if len(path) > MAX_DEPTH:
            raise _problem(path[:MAX_DEPTH], f"Nested deeper than {MAX_DEPTH} levels.")
        if isinstance(value, str):
            if message := _bad_text(value):
                raise _problem(path, message)
        elif isinstance(value, float):
            if not math.isfinite(value):
                raise _problem(path, "Numbers must be finite (this one overflows a double).")
        elif isinstance(value, dict):
            for key, item in value.items():
                if message := _bad_text(key):
                    raise _problem(path, f"A key is not valid text: {message}")
                stack.append((item, [*path, key]))
        elif isinstance(value, list):
            stack.extend((item, [*path, i]) for i, item in enumerate(value))
