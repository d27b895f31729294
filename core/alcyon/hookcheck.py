"""Checks of a plugin's hooks before it is registered, with errors that say the fix.

pluggy silently ignores a function named like a hook but not decorated with ``@hookimpl``,
and reports an unknown hook or argument with its own wording. These checks run first and
say, in alcyon's words, what is wrong, the likely intended name, and where the plugin came
from; a plugin that implements no hook at all is a warning (a wrong entry point, usually).
"""

from __future__ import annotations

import difflib
import inspect
from typing import Any

import pluggy

from . import hookspecs
from .errors import PluginError
from .logs import get_logger

log = get_logger("alcyon.plugins")

#: Every hook name, with the arguments alcyon passes to it.
HOOKS: dict[str, tuple[str, ...]] = {
    name: tuple(inspect.signature(getattr(hookspecs, name)).parameters)
    for name in dir(hookspecs) if name.startswith(f"{hookspecs.PROJECT}_")
}


def check_plugin(pm: pluggy.PluginManager, plugin: Any, name: str) -> None:
    """Raise :class:`PluginError` for a hook alcyon would not call as meant; warn when there is none."""
    where = _origin(plugin, name)
    found = 0
    for attr in dir(plugin):
        if attr.startswith("_"):
            continue
        marked = pm.parse_hookimpl_opts(plugin, attr) is not None
        if not marked and attr not in HOOKS:
            if attr.startswith(f"{hookspecs.PROJECT}_") and _close(attr):
                raise PluginError(f"plugin {name!r}: {attr} is not an alcyon hook; did you mean {_close(attr)}? "
                                  f"{where}")
            continue
        function = getattr(plugin, attr, None)
        if not callable(function):
            continue
        if not marked:
            raise PluginError(f"plugin {name!r}: {attr} is not decorated with @hookimpl, so alcyon would never call "
                              f"it: add `from alcyon import hookimpl` and `@hookimpl` above it {where}")
        if attr not in HOOKS:
            guess = _close(attr)
            hint = f"did you mean {guess}?" if guess else f"the hooks are {', '.join(sorted(HOOKS))}"
            raise PluginError(f"plugin {name!r}: {attr} is not an alcyon hook; {hint} {where}")
        try:
            params = list(inspect.signature(function).parameters)
        except (TypeError, ValueError):
            params = []
        extra = [p for p in params if p not in HOOKS[attr]]
        if extra:
            accepted = ", ".join(HOOKS[attr]) or "no arguments"
            raise PluginError(f"plugin {name!r}: {attr}({', '.join(params)}) asks for {', '.join(extra)}, which "
                              f"alcyon does not pass; it passes {accepted} (by name: keep the argument names of "
                              f"alcyon.hookspecs.{attr}) {where}")
        found += 1
    if not found:
        log.warning("plugin_without_hooks", plugin=name,
                    hint=f"plugin {name!r} implements no alcyon hook: decorate its hook functions with @hookimpl "
                         f"and name them after alcyon.hookspecs {where}")


def _close(attr: str) -> str | None:
    matches = difflib.get_close_matches(attr, HOOKS, n=1, cutoff=0.75)
    return matches[0] if matches else None


def _origin(plugin: Any, name: str) -> str:
    module = plugin.__name__ if inspect.ismodule(plugin) else type(plugin).__module__
    return (f"(plugin {name!r} is module {module}: check `{name} = \"{module}\"` under "
            "[project.entry-points.\"alcyon.plugins\"] in its pyproject.toml, and alcyon.hookspecs)")
