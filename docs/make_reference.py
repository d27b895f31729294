"""Write docs/reference.md from the docstrings: hooks and the API plugin authors use.

    python docs/make_reference.py          # regenerate
    python docs/make_reference.py --check  # exit 1 if docs/reference.md is stale (a test runs this)
"""

from __future__ import annotations

import inspect
import sys
from pathlib import Path
from typing import Any

import alcyon
from alcyon import hookspecs, testing

TARGET = Path(__file__).with_name("reference.md")

CLASSES = [alcyon.Processor, alcyon.Context, alcyon.Source, alcyon.SourceContext, alcyon.EventType, alcyon.Option,
           alcyon.Event, alcyon.KeyedState, alcyon.KeyedRecord, testing.Harness]


def render() -> str:
    out = ["# alcyon reference", "",
           "Generated from the docstrings by `python docs/make_reference.py`; do not edit by hand "
           "(a test fails when this page is stale).", "",
           "## Hooks (`alcyon.hookspecs`)", "", _doc(hookspecs), ""]
    for name, function in inspect.getmembers(hookspecs, inspect.isfunction):
        if name.startswith("alcyon_"):
            out += [f"### `{name}{_signature(function)}`", "", _doc(function), ""]
    out += ["## API (`from alcyon import ...`)", ""]
    for cls in CLASSES:
        module = "alcyon.testing" if cls.__module__ == testing.__name__ else "alcyon"
        out += [f"### `{module}.{cls.__name__}{_signature(cls)}`", "", _doc(cls), ""]
        for name, member in cls.__dict__.items():
            if name.startswith("_") or not (inspect.isfunction(member) or isinstance(member, (property, classmethod))):
                continue
            function = member.fget if isinstance(member, property) else getattr(member, "__func__", member)
            shown = name if isinstance(member, property) else f"{name}{_signature(function, skip_first=True)}"
            doc = _doc(function).replace("\n", "\n  ")
            out += [f"- `{shown}`" + (f": {doc}" if doc else "")]
        out += [""]
    out += ["## Helpers (`from alcyon import ...`)", "",
            "Everything else `alcyon` exports: what the first-party plugins use, and nothing more.", ""]
    documented = {cls.__name__ for cls in CLASSES}
    for name in sorted(alcyon.__all__, key=str.lower):
        value = getattr(alcyon, name)
        if name in documented:
            continue
        if inspect.isclass(value) and issubclass(value, BaseException):
            out += [f"- `{name}`: {_doc(value).splitlines()[0] if _doc(value) else ''}"]
        elif callable(value):
            out += [f"- `{name}{_signature(value)}`: " + _doc(value).replace("\n", "\n  ")]
        else:
            out += [f"- `{name} = {value!r}`"]
    out += ["", "### fixture `alcyon_harness`", "", _doc(testing._alcyon_harness), ""]
    return "\n".join(line.rstrip() for line in out).rstrip() + "\n"


def _signature(obj: Any, skip_first: bool = False) -> str:
    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):
        return ""
    params = [p.replace(annotation=_Shown(p.annotation)) if p.annotation is not p.empty else p
              for p in list(signature.parameters.values())[1 if skip_first else 0:]]
    returns = signature.return_annotation
    return str(signature.replace(parameters=params, return_annotation=_Shown(returns) if returns is not
                                 signature.empty and returns not in (None, "None") else signature.empty))


class _Shown(str):
    """An annotation shown as written (``from __future__ import annotations`` makes them strings)."""

    def __new__(cls, annotation: Any) -> "_Shown":
        text = annotation if isinstance(annotation, str) else inspect.formatannotation(annotation)
        return super().__new__(cls, text.strip("'\""))

    def __repr__(self) -> str:
        return str(self)


def _doc(obj: Any) -> str:
    return inspect.cleandoc(obj.__doc__ or "")


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        if not TARGET.exists() or TARGET.read_text() != text:
            print(f"{TARGET} is stale: run python docs/make_reference.py", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
