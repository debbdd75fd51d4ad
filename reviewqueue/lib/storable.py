"""What JSON allows but storage refuses: PostgreSQL's text and jsonb reject NUL characters
and lone surrogates, Python parses 1e400 as infinity (not valid JSON), and a deeply nested
document exhausts the recursion limit of everything that walks it. And one abuse limit for
the free-form parts (payloads, metadata) that no schema bounds: an array's length."""

import math
from typing import Any

from reviewqueue.exceptions import ValidationFailed

MAX_DEPTH = 32
# Longest array anywhere in a body. Within the 256 KiB body limit an array could otherwise
# hold ~100k elements, each a row in every diff, form and export that walks it. Fields with
# a tighter limit in their schema (evidence: 50) say so themselves.
MAX_ARRAY_ITEMS = 1000


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


# Where a value sits, as a chain (parent chain, key); the path is spelled out only for an
# error, so a walk of a 1,000-item batch builds no list per value.
_Chain = tuple["_Chain", Any] | None


def _path(chain: _Chain) -> list[Any]:
    path: list[Any] = []
    while chain is not None:
        chain, key = chain
        path.append(key)
    return path[::-1]


def check_storable(data: Any, *, own_limit: tuple[str, ...] = ()) -> None:
    """Raise ValidationFailed for what JSON allows but storage refuses, or for an array
    longer than MAX_ARRAY_ITEMS (except the top-level fields named in `own_limit`, which
    their view checks against its own limit); iterative, so any depth is safe to walk."""
    stack: list[tuple[Any, int, _Chain]] = [(data, 0, None)]
    pop, push = stack.pop, stack.append
    while stack:
        value, depth, chain = pop()
        if depth > MAX_DEPTH:
            raise _problem(_path(chain)[:MAX_DEPTH], f"Nested deeper than {MAX_DEPTH} levels.")
        if isinstance(value, str):
            if message := _bad_text(value):
                raise _problem(_path(chain), message)
        elif isinstance(value, float):
            if not math.isfinite(value):
                raise _problem(
                    _path(chain), "Numbers must be finite (this one overflows a double)."
                )
        elif isinstance(value, dict):
            for key, item in value.items():
                if message := _bad_text(key):
                    raise _problem(_path(chain), f"A key is not valid text: {message}")
                push((item, depth + 1, (chain, key)))
        elif isinstance(value, list):
            top = chain[1] if depth == 1 and chain is not None else None
            if len(value) > MAX_ARRAY_ITEMS and top not in own_limit:
                where = ".".join(str(p) for p in _path(chain)) or "body"
                raise ValidationFailed(
                    f"An array in the request body is too long: {where}.",
                    errors={where: f"Must have at most {MAX_ARRAY_ITEMS} items."},
                )
            for i, item in enumerate(value):
                push((item, depth + 1, (chain, i)))
