"""docs/reference.md is generated from the docstrings and must not be stale."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_reference_page_is_up_to_date_with_the_docstrings():
    result = subprocess.run([sys.executable, str(ROOT / "docs" / "make_reference.py"), "--check"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr + "\n(regenerate it: python docs/make_reference.py)"


def test_the_reference_covers_every_hook_and_the_author_api():
    text = (ROOT / "docs" / "reference.md").read_text()
    from alcyon import hookspecs

    for hook in (n for n in dir(hookspecs) if n.startswith("alcyon_")):
        assert f"### `{hook}(" in text, hook
    for name in ("Processor", "Source", "EventType", "Option", "Context", "KeyedState", "testing.Harness"):
        assert f"### `alcyon.{name}(" in text, name
    assert "fixture `alcyon_harness`" in text and "fail_fast" in text
