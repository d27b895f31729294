import pytest

from alcyon.topics import matches, validate_pattern

CASES = [
    ("ais.position", "ais.position", True),
    ("ais.*", "ais.position", True),
    ("ais.*", "ais", False),                  # '*' is exactly one word
    ("ais.*", "ais.position.extra", False),
    ("ais.#", "ais", True),                   # '#' may be zero words
    ("ais.#", "ais.position.extra", True),
    ("#", "anything.at.all", True),
    ("*", "fire", True),
    ("*", "fire.alert", False),
    ("*.alert", "fire.alert", True),
    ("*.alert", "fire.smoke.alert", False),
    ("#.alert", "fire.smoke.alert", True),
    ("#.alert", "alert", True),
    ("fire.#.alert", "fire.alert", True),
    ("fire.#.alert", "fire.a.b.alert", True),
    ("fire.#.alert", "fire.a.b.alerts", False),
    ("*.*", "a.b", True),
    ("*.*", "a", False),
]


@pytest.mark.parametrize("pattern,key,expected", CASES)
def test_topic_matching_follows_amqp_rules(pattern, key, expected):
    assert matches(pattern, key) is expected


@pytest.mark.parametrize("bad", ["", "ais..position", "ais.pos ition", "ais.p*"])
def test_invalid_patterns_are_refused_with_the_reason(bad):
    with pytest.raises(ValueError, match="pattern|empty"):
        validate_pattern(bad)
