"""AMQP topic patterns, matched exactly as RabbitMQ's topic exchange does.

A routing key (the event type, e.g. ``ais.position``) is a list of dot-separated words.
In a pattern ``*`` matches exactly one word and ``#`` zero or more words.  The embedded
mode routes with this function, so both modes deliver to the same processors.
"""

from __future__ import annotations

import re
from functools import lru_cache

_WORD = re.compile(r"^[A-Za-z0-9_\-]+$")


def validate_pattern(pattern: str) -> str:
    """Return ``pattern`` if it is a valid topic pattern, else raise ValueError saying why."""
    if not pattern:
        raise ValueError("a subscription pattern cannot be empty")
    for word in pattern.split("."):
        if word not in ("*", "#") and not _WORD.match(word):
            raise ValueError(f"pattern {pattern!r}: word {word!r} must be '*', '#' or letters, digits, '_' or '-'")
    return pattern


def validate_type(event_type: str) -> str:
    """Return ``event_type`` if it is a valid routing key, else raise ValueError saying why."""
    if not event_type or any(not _WORD.match(w) for w in event_type.split(".")):
        raise ValueError(f"event type {event_type!r} must be dot-separated words of letters, digits, '_' or '-'")
    return event_type


@lru_cache(maxsize=4096)
def matches(pattern: str, routing_key: str) -> bool:
    """True if ``routing_key`` matches the topic ``pattern``."""
    return _match(tuple(pattern.split(".")), tuple(routing_key.split(".")))


def _match(pattern: tuple[str, ...], words: tuple[str, ...]) -> bool:
    if not pattern:
        return not words
    head, rest = pattern[0], pattern[1:]
    if head == "#":
        # '#' swallows zero or more words.
        return any(_match(rest, words[i:]) for i in range(len(words) + 1))
    if not words:
        return False
    return (head == "*" or head == words[0]) and _match(rest, words[1:])
