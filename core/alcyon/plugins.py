"""Finding, loading and querying plugins.

Plugins register under the ``alcyon.plugins`` entry-point group; first-party plugins do
exactly the same in alcyon's own ``pyproject.toml``.  A plugin listed in
``[plugins] disabled`` (or ``ALCYON_DISABLE_PLUGINS``) is not loaded at all.
``ALCYON_LOAD_PLUGINS=notify=alcyon_notify.plugin,mod.b`` loads only those modules instead
of the entry points (handy in tests and to trace a plugin that misbehaves); a plugin is
named ``name=`` or, without it, after the last part of its module path.

The hooks that describe what plugins provide (options, processors, sources, event types) are
called once per :class:`PluginHost`: the results are kept, so a plugin's start-up work in them
(zones read, sinks built) happens once per process, whoever asks.  Disabled plugins are
blocked with pluggy's own ``set_blocked``.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
from importlib import metadata
from typing import Any, Iterable

import pluggy

from . import hookspecs
from .config import Config, plugin_config
from .errors import ConfigError, PluginError
from .hookcheck import check_plugin
from .processors import EventType, Processor, Source

ENTRY_POINT_GROUP = "alcyon.plugins"


@dataclasses.dataclass(frozen=True)
class PluginInfo:
    name: str
    version: str
    hooks: tuple[str, ...]
    processors: tuple[Processor, ...]
    sources: tuple[Source, ...]
    event_types: tuple[EventType, ...]


class PluginHost:
    """The loaded plugins, their validated configuration and what they provide."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self._versions: dict[str, str] = {}
        self._configs: dict[str, dict[str, Any]] = {}
        self._collected: dict[str, list[Any]] = {}
        for name in config.disabled:
            self.pm.set_blocked(name)

    # -- loading -----------------------------------------------------------------------
    def load_entry_points(self) -> PluginHost:
        only = os.environ.get("ALCYON_LOAD_PLUGINS")
        if only is not None:
            for spec in filter(None, (m.strip() for m in only.split(","))):
                name, _, module_name = spec.rpartition("=")
                self.register(importlib.import_module(module_name), name or module_name.rsplit(".", 1)[-1])
            return self
        for ep in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            if self.pm.is_blocked(ep.name):
                continue
            try:
                plugin = ep.load()
            except ModuleNotFoundError as exc:
                raise PluginError(f"plugin {ep.name!r} ({ep.value}) needs {exc.name!r}, which is not installed: "
                                  f"{_install_hint(ep)} (or disable it: [plugins] disabled = [\"{ep.name}\"])") \
                    from exc
            except Exception as exc:
                raise PluginError(f"plugin {ep.name!r} ({ep.value}) failed to load: {type(exc).__name__}: {exc}") \
                    from exc
            version = ep.dist.version if ep.dist is not None else "unknown"
            self.register(plugin, ep.name, version)
        return self

    def register(self, plugin: Any, name: str, version: str = "unknown") -> None:
        if self.pm.is_blocked(name):
            return
        if self.pm.get_plugin(name) is not None:
            raise PluginError(f"two plugins are named {name!r}; rename one")
        check_plugin(self.pm, plugin, name)
        self.pm.register(plugin, name=name)
        self._collected.clear()
        self._versions[name] = version
        try:
            self.pm.check_pending()
        except pluggy.PluginValidationError as exc:
            self.pm.unregister(name=name)
            raise PluginError(f"plugin {name!r}: {exc} (see alcyon.hookspecs for the hook names)") from None

    def validate(self) -> PluginHost:
        """Validate every plugin's configuration now; raises ConfigError naming the bad key."""
        unknown = set(self.config.plugins) - set(self.names())
        if unknown:
            raise ConfigError(f"configuration for unknown plugin(s) {', '.join(sorted(unknown))}; "
                              f"installed: {', '.join(self.names()) or 'none'} (see `alcyon plugins`)")
        for name in self.names():
            self.plugin_config(name)
        self.processors()
        self.sources()
        return self

    # -- querying ------------------------------------------------------------------------
    def names(self) -> list[str]:
        return sorted(self._versions)

    def options(self, name: str) -> list[Any]:
        """The :class:`alcyon.Option` list plugin ``name`` declares."""
        return _call_one(self.pm, self.pm.get_plugin(name), "alcyon_config_options", {})

    def plugin_config(self, name: str) -> dict[str, Any]:
        if name not in self._configs:
            self._configs[name] = plugin_config(self.config, name, self.options(name))
        return self._configs[name]

    def _collect(self, hook: str, kind: type[Processor | Source | EventType], takes_config: bool) -> list[Any]:
        if hook not in self._collected:
            self._collected[hook] = self._call_each(hook, kind, takes_config)
        return list(self._collected[hook])

    def _call_each(self, hook: str, kind: type[Processor | Source | EventType], takes_config: bool) -> list[Any]:
        items: list[Any] = []
        seen: dict[str, str] = {}
        for name in self.names():
            plugin = self.pm.get_plugin(name)
            kwargs = {"config": self.plugin_config(name)} if takes_config else {}
            for item in _call_one(self.pm, plugin, hook, kwargs):
                if not isinstance(item, kind):
                    raise PluginError(f"plugin {name!r}: {hook} returned {item!r}, expected {kind.__name__}")
                if item.name in seen:
                    raise PluginError(f"{kind.__name__.lower()} {item.name!r} is provided by both "
                                      f"{seen[item.name]!r} and {name!r}")
                seen[item.name] = name
                items.append(dataclasses.replace(item, plugin=name))
        return items

    def processors(self) -> list[Processor]:
        return self._collect("alcyon_processors", Processor, True)

    def sources(self) -> list[Source]:
        return self._collect("alcyon_sources", Source, True)

    def event_types(self) -> dict[str, EventType]:
        return {t.name: t for t in self._collect("alcyon_event_types", EventType, False)}

    def info(self) -> list[PluginInfo]:
        processors, sources, types = self.processors(), self.sources(), self.event_types().values()
        out = []
        for name in self.names():
            plugin = self.pm.get_plugin(name)
            hooks = tuple(sorted(h.name for h in self.pm.get_hookcallers(plugin) or ()))
            out.append(PluginInfo(
                name=name, version=self._versions[name], hooks=hooks,
                processors=tuple(p for p in processors if p.plugin == name),
                sources=tuple(s for s in sources if s.plugin == name),
                event_types=tuple(t for t in types if t.plugin == name),
            ))
        return out

    def startup(self) -> None:
        for name in self.names():
            _call_one(self.pm, self.pm.get_plugin(name), "alcyon_startup", {"config": self.plugin_config(name)})

    def shutdown(self) -> None:
        self.pm.hook.alcyon_shutdown()

    def add_cli_commands(self, subparsers: Any) -> None:
        self.pm.hook.alcyon_cli_commands(subparsers=subparsers)


def _install_hint(ep: metadata.EntryPoint) -> str:
    """How to install what a plugin needs: its distribution's extra named after it, if there is one."""
    dist = ep.dist
    if dist is None:
        return "install the plugin's dependencies"
    extras = dist.metadata.get_all("Provides-Extra") or []
    if ep.name in extras:
        return f"pip install '{dist.metadata['Name']}[{ep.name}]'"
    return f"reinstall {dist.metadata['Name']} with its dependencies"


def _call_one(pm: pluggy.PluginManager, plugin: Any, hook: str, kwargs: dict[str, Any]) -> list[Any]:
    """Call ``hook`` on ONE plugin (so results are attributed to it); [] if it does not implement it."""
    caller = pm.subset_hook_caller(hook, remove_plugins=[p for p in pm.get_plugins() if p is not plugin])
    results: Iterable[Any] = caller(**kwargs)
    flat: list[Any] = []
    for result in results:
        if result is None:
            continue
        if isinstance(result, (list, tuple)):
            flat.extend(result)
        else:
            flat.append(result)
    return flat
