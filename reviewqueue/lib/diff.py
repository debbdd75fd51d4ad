"""Field-level diff of two JSON payloads. Pure."""

from typing import Any

MISSING = object()


def json_diff(old: Any, new: Any, path: str = "") -> list[dict[str, Any]]:
    """Changes from `old` to `new`, one per leaf: {"path", "op", "old", "new"}. Objects are
    compared key by key (dotted paths); arrays and scalars as whole values."""
    if isinstance(old, dict) and isinstance(new, dict):
        changes: list[dict[str, Any]] = []
        for key in sorted(set(old) | set(new), key=str):
            sub = f"{path}.{key}" if path else str(key)
            if key not in new:
                changes.append({"path": sub, "op": "remove", "old": old[key], "new": None})
            elif key not in old:
                changes.append({"path": sub, "op": "add", "old": None, "new": new[key]})
            else:
                changes.extend(json_diff(old[key], new[key], sub))
        return changes
    if old == new and type(old) is type(new):
        return []
    numbers = (old, new)
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in numbers) and old == new:
        return []  # 40 and 40.0 are the same amount
    return [{"path": path or "$", "op": "replace", "old": old, "new": new}]


def is_cosmetic(changes: list[dict[str, Any]], cosmetic_fields: list[str]) -> bool:
    """True when every change is inside a cosmetic field (the field itself or below it)."""
    if not changes:
        return False
    return all(
        any(c["path"] == f or c["path"].startswith(f + ".") for f in cosmetic_fields)
        for c in changes
    )
