"""The hooks a plugin can implement: the plugin author's reference.

A plugin is a module (or object) registered under the ``alcyon.plugins`` entry-point group,
whose functions are decorated with :data:`alcyon.hookimpl` and named after these hooks::

    from alcyon import Processor, hookimpl

    @hookimpl
    def alcyon_processors(config):
        return [Processor(name="echo", subscribe=["demo.#"], handle=lambda event, ctx: None)]

Hooks may take fewer arguments than specified (pluggy passes only those named), so new
arguments can be added without breaking existing plugins.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import pluggy

PROJECT = "alcyon"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def alcyon_config_options() -> Sequence[Any]:
    """The configuration keys this plugin accepts, as a list of :class:`alcyon.Option`.

    They are read from the ``[plugins.<name>]`` table of the TOML file and from
    ``ALCYON_<NAME>__<KEY>`` environment variables, validated at start-up (an unknown or
    ill-typed key is an error naming it), and passed to the other hooks as ``config``.
    """


@hookspec
def alcyon_event_types() -> Sequence[Any]:
    """The event types this plugin defines, as a list of :class:`alcyon.EventType`.

    A processor's input is validated against its type before the handler runs; an event
    that fails is dead-lettered with reason ``schema_error`` and never retried.
    """


@hookspec
def alcyon_processors(config: Mapping[str, Any]) -> Sequence[Any]:
    """The processors this plugin provides, as a list of :class:`alcyon.Processor`.

    ``config`` is this plugin's validated configuration.  Each processor owns a durable
    queue bound to the ``alcyon.events`` exchange by its subscription patterns.
    """


@hookspec
def alcyon_sources(config: Mapping[str, Any]) -> Sequence[Any]:
    """The sources this plugin provides, as a list of :class:`alcyon.Source`.

    ``alcyon run`` starts each enabled source in its own thread.  A source replaying a finite
    input may call ``ctx.progress(done, total)`` now and then (optional: ``alcyon demo`` draws a
    progress bar from it, a count of events otherwise).
    """


@hookspec
def alcyon_cli_commands(subparsers: Any) -> None:
    """Add sub-commands to the ``alcyon`` CLI.

    ``subparsers`` is the :mod:`argparse` sub-parsers object; set ``func`` with
    ``parser.set_defaults(func=...)``, a callable taking the parsed arguments and returning
    an exit code.
    """


@hookspec
def alcyon_startup(config: Mapping[str, Any]) -> None:
    """Called once per process before any event is handled: load models, zones, clients."""


@hookspec
def alcyon_shutdown() -> None:
    """Called once per process at shutdown, after the last event was handled."""
