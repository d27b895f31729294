"""``alcyon emissions report`` (added with the archive)."""

from typing import Any


def add_report_command(subparsers: Any) -> None:
    """Nothing yet."""
