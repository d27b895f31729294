"""Which webhook headers carry credentials even when written literally in the configuration."""

from __future__ import annotations

import re

_SENSITIVE_HEADER = re.compile(r"authorization|cookie|token|secret|password|passwd|api[-_]?key|signature|"
                               r"^x-.*-key$", re.IGNORECASE)


def is_sensitive_header(name: str) -> bool:
    """Whether a header's value is a credential even when written literally in the configuration."""
    return bool(_SENSITIVE_HEADER.search(name))
