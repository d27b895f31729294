"""EventType.validate: the schema check every received event goes through."""

from __future__ import annotations

from collections import OrderedDict

import pytest

from alcyon import Event, EventType
from alcyon.errors import InvalidEvent

POSITION = EventType("test.position", fields={"lat": (int, float), "count": int, "flag": bool, "name": str})


def event(data: object) -> Event:
    return Event(type="test.position", source="tests", subject="s1", data=data)


GOOD = {"lat": 1.5, "count": 3, "flag": True, "name": "x"}


class Name(str):
    pass


@pytest.mark.parametrize("data", [
    GOOD,
    {**GOOD, "lat": 2},  # int where int or float is allowed
    {**GOOD, "name": Name("subclass")},  # a subclass of the declared type
    OrderedDict(GOOD),  # any mapping
])
def test_valid_data_passes(data: object) -> None:
    POSITION.validate(event(data))


@pytest.mark.parametrize(("data", "message"), [
    ({**GOOD, "count": True}, "data.count must be int, got bool"),  # bool is an int, but not here
    ({**GOOD, "lat": False}, "data.lat must be int or float, got bool"),
    ({**GOOD, "flag": 1}, "data.flag must be bool, got int"),
    ({k: v for k, v in GOOD.items() if k != "name"}, "data.name is missing"),
    ({**GOOD, "lat": "1.5"}, "data.lat must be int or float, got str"),
    ([1, 2], "data must be an object, got list"),
])
def test_invalid_data_names_the_field(data: object, message: str) -> None:
    with pytest.raises(InvalidEvent, match=message):
        POSITION.validate(event(data))
