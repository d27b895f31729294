"""Reading a value out of a JSON object by a dotted path (``aenergy.total``, ``ENERGY.Power``)."""

from __future__ import annotations

from typing import Any


def get_path(obj: Any, path: str) -> Any:
    """The value at ``path`` (dot-separated keys) in ``obj``; KeyError naming the missing part."""
    value = obj
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            raise KeyError(f"no field {path!r} in the payload")
        value = value[part]
    return value


def number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{what} must be a number, got {value!r:.60}")
    return float(value)
