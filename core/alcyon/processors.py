"""What plugins declare: processors, sources and event types.

A :class:`Processor` subscribes to event types with AMQP topic patterns and handles events
one by one (``handle``) or a whole batch at once (``handle_batch``).  It returns the events
it derives (alerts, records); alcyon publishes them and acknowledges the input only once
the broker has confirmed them.  A :class:`Source` turns the outside world into events.
"""

from __future__ import annotations

import dataclasses
import re
import threading
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Sequence

from .errors import InvalidEvent, PluginError
from .events import Event, derive
from .topics import validate_pattern, validate_type

if TYPE_CHECKING:  # pragma: no cover
    from .state import KeyedState

_NAME = re.compile(r"^[a-z][a-z0-9_\-]*$")

EventHandler = Callable[[Event, "Context"], "Iterable[Event] | None"]
BatchHandler = Callable[[Sequence[Event], "Context"], "Iterable[Event] | None"]


@dataclasses.dataclass(frozen=True)
class Context:
    """What a handler receives besides its events.

    ``state`` is the processor's keyed state (a :class:`alcyon.KeyedState`, by event
    ``subject``; only for processors declared ``stateful=True``), ``config`` the plugin's
    validated configuration, ``log`` a structlog logger bound to the processor.
    """

    processor: str
    config: Mapping[str, Any]
    log: Any
    state: "KeyedState | StateNotDeclared | None" = None

    def derive(self, cause: Event, rule: str, type: str, data: Any, *, subject: str | None = None) -> Event:
        """A derived event whose id is deterministic from ``cause.id`` and ``rule``.

        ``rule`` must be unique among the events derived from one cause (e.g.
        ``"geofence.entered:FR-MPA-12"``), so that a redelivery re-derives the same ids.
        """
        return derive(cause, f"{self.processor}/{rule}", type, data, source=f"alcyon/{self.processor}",
                      subject=subject)


@dataclasses.dataclass(frozen=True)
class Processor:
    """A handler of events, subscribed by topic patterns.

    Exactly one of ``handle`` (per event) and ``handle_batch`` (whole batch) is given.
    Each processor gets its own durable queue ``alcyon.<name>``, bound by ``subscribe``.

    ``handle(event, ctx)`` / ``handle_batch(events, ctx)`` return the derived events (or
    ``None``); an exception retries the event alone (``max_retries`` times, backoff from
    ``min_backoff_ms`` doubling up to ``max_backoff_ms``), then dead-letters it; raise
    :class:`alcyon.BadInput` for input that will never succeed (dead-lettered at once).

    ``stateful=True`` gives the handler ``ctx.state``, a :class:`alcyon.KeyedState` keyed by
    event ``subject`` (in memory embedded, in Redis with ``ALCYON_STATE_URL``):
    ``ctx.state.apply(events, fn)`` with ``fn(value, event, stale) -> (new_value, derived)``.
    ``state_ttl_s`` forgets a subject that long after its last write (``None``: never);
    ``state_remember`` says which applied event ids each subject keeps to recognise
    redeliveries (``"all"``, or ``"derived"`` when stale events are ignored anyway).
    """
    name: str
    subscribe: tuple[str, ...]
    handle: EventHandler | None = None
    handle_batch: BatchHandler | None = None
    description: str = ""
    max_retries: int = 5
    min_backoff_ms: int = 1_000
    max_backoff_ms: int = 300_000
    time_limit_ms: int = 60_000
    stateful: bool = False
    state_ttl_s: float | None = None
    #: "all" remembers every applied event id (redeliveries are never applied twice);
    #: "derived" only those that derived events (enough when the handler ignores stale events);
    #: "none" nothing (the handler recognises redeliveries in its own state and re-derives).
    state_remember: str = "all"
    #: Handle this processor's messages one at a time, in delivery order (a thread of its own in
    #: each worker process). For handlers that drop events older than a subject's last one
    #: (geofence): concurrent batches would make later pings overtake earlier ones. Across
    #: processes order is not kept: run one worker process for an ordered processor.
    ordered: bool = False
    plugin: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise PluginError(f"processor name {self.name!r} must be lower-case letters, digits, '_' or '-'")
        subscribe = (self.subscribe,) if isinstance(self.subscribe, str) else tuple(self.subscribe)
        if not subscribe:
            raise PluginError(f"processor {self.name!r} subscribes to nothing: give at least one pattern")
        try:
            for pattern in subscribe:
                validate_pattern(pattern)
        except ValueError as exc:
            raise PluginError(f"processor {self.name!r}: {exc}") from None
        object.__setattr__(self, "subscribe", subscribe)
        if (self.handle is None) == (self.handle_batch is None):
            raise PluginError(f"processor {self.name!r} must give exactly one of handle= or handle_batch=")
        if not self.stateful and uses_state(self.handle or self.handle_batch):
            raise PluginError(f"processor {self.name!r}: its handler uses ctx.state but the processor is not "
                              "stateful: declare it with Processor(..., stateful=True) (and state_ttl_s= to "
                              "forget idle subjects)")

    @property
    def queue(self) -> str:
        """The processor's durable queue."""
        return f"alcyon.{self.name}"


def uses_state(handler: Any) -> bool:
    """Whether ``handler``'s code (nested functions included) reads ``.state`` of its context argument."""
    import dis
    import inspect

    function = getattr(handler, "__func__", handler)
    code = getattr(function, "__code__", None)
    try:
        params = list(inspect.signature(handler).parameters)
    except (TypeError, ValueError):
        return False
    if code is None or len(params) < 2:
        return False
    ctx = params[1]
    stack = [code]
    while stack:
        current = stack.pop()
        previous = None
        for instruction in dis.get_instructions(current):
            if instruction.opname == "LOAD_ATTR" and instruction.argval == "state" and previous is not None \
                    and previous.opname in ("LOAD_FAST", "LOAD_DEREF", "LOAD_CLOSURE") and previous.argval == ctx:
                return True
            previous = instruction
        stack.extend(c for c in current.co_consts if inspect.iscode(c))
    return False


class StateNotDeclared:
    """``ctx.state`` of a processor declared without ``stateful=True``: any use says how to declare it."""

    def __init__(self, processor: str) -> None:
        self.processor = processor

    def __bool__(self) -> bool:
        return False

    def __getattr__(self, name: str) -> Any:
        raise PluginError(f"processor {self.processor!r} uses ctx.state.{name} but is not stateful: declare it "
                          "with Processor(..., stateful=True)")


@dataclasses.dataclass(frozen=True)
class SourceContext:
    """What a running source receives: where to publish, where bad input goes, when to stop.

    ``inputs`` are the URIs given on the command line (``alcyon ingest NAME --input URI``),
    or ``None``: the source then reads its inputs from its plugin's configuration.
    ``reject(raw, reason, error)`` keeps a bad input (as a dead letter, with its bytes and a
    bounded ``reason``) and counts it; the source goes on with the next input.
    ``progress(done, total)`` (optional to call) says how far a finite input is, in any unit
    (bytes, frames): ``alcyon demo`` draws a progress bar from it, and shows counts for the
    sources that never call it (live inputs).
    """

    source: str
    config: Mapping[str, Any]
    log: Any
    publish: Callable[[Event], None]
    stopping: threading.Event
    reject: Callable[[bytes, str, str], None]
    inputs: tuple[str, ...] | None = None
    progress: Callable[[int, int], None] = dataclasses.field(default_factory=lambda: _ignore_progress)

    def running(self) -> bool:
        return not self.stopping.is_set()

    def run_each(self, work: Mapping[str, Callable[[], None]]) -> list[BaseException]:
        """Run each callable in a daemon thread named after its key (one per input, say), and wait
        until all have returned or the source is stopping; returns what they raised, in order."""
        failures: list[BaseException] = []

        def run(target: Callable[[], None]) -> None:
            try:
                target()
            except BaseException as exc:  # kept for the caller, who decides whether the source failed
                failures.append(exc)

        threads = [threading.Thread(target=run, args=(target,), name=name, daemon=True)
                   for name, target in work.items()]
        for thread in threads:
            thread.start()
        for thread in threads:
            while thread.is_alive() and self.running():
                thread.join(0.2)
        return failures


def _ignore_progress(done: int, total: int) -> None:
    """Where ``ctx.progress`` goes when nobody watches."""


@dataclasses.dataclass(frozen=True)
class Source:
    """Turns the outside world into events.

    ``run`` is called in its own thread by ``alcyon run`` and returns when
    ``ctx.stopping`` is set (or when its input is exhausted).
    """

    name: str
    publishes: tuple[str, ...]
    run: Callable[[SourceContext], None]
    description: str = ""
    plugin: str = ""

    @property
    def queue(self) -> str:
        """The queue its rejected inputs are kept under (as ``<queue>.XQ``, like a processor's)."""
        return f"alcyon.source.{self.name}"

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise PluginError(f"source name {self.name!r} must be lower-case letters, digits, '_' or '-'")
        object.__setattr__(self, "publishes", (self.publishes,) if isinstance(self.publishes, str)
                           else tuple(self.publishes))


@dataclasses.dataclass(frozen=True)
class EventType:
    """An event type and the schema of its ``data``.

    ``fields`` maps a required key of ``data`` to its accepted Python type(s);
    ``check`` may add rules of its own by raising :class:`InvalidEvent`.
    """

    name: str
    description: str = ""
    fields: Mapping[str, type | tuple[type, ...]] = dataclasses.field(default_factory=dict)
    check: Callable[[Event], None] | None = None
    plugin: str = ""

    def __post_init__(self) -> None:
        try:
            validate_type(self.name)
        except ValueError as exc:
            raise PluginError(str(exc)) from None

    def validate(self, event: Event) -> None:
        """Raise :class:`InvalidEvent` naming the first field that does not fit."""
        if self.fields:
            data = event.data
            if type(data) is not dict and not isinstance(data, Mapping):
                raise InvalidEvent(f"{self.name} event {event.id}: data must be an object, got "
                                   f"{type(data).__name__}")
            for key, expected in self.fields.items():
                if key not in data:
                    raise InvalidEvent(f"{self.name} event {event.id}: data.{key} is missing")
                value = data[key]
                kind = type(value)
                if kind is expected or (type(expected) is tuple and kind in expected):  # exact types: the common case
                    continue
                if not isinstance(value, expected) or (kind is bool and bool not in _as_tuple(expected)):
                    raise InvalidEvent(f"{self.name} event {event.id}: data.{key} must be "
                                       f"{_type_names(expected)}, got {type(value).__name__}")
        if self.check is not None:
            self.check(event)


def _as_tuple(expected: type | tuple[type, ...]) -> tuple[type, ...]:
    return expected if isinstance(expected, tuple) else (expected,)


def _type_names(expected: type | tuple[type, ...]) -> str:
    return " or ".join(t.__name__ for t in _as_tuple(expected))


@dataclasses.dataclass(frozen=True)
class Option:
    """A configuration key a plugin accepts, with its type, default, help and validators.

    ``minimum`` / ``maximum`` bound a number (inclusive), ``choices`` lists the accepted values,
    ``check(value)`` may raise ``ValueError`` with a rule of its own; a value that breaks one is
    a start-up error naming the key and the rule. ``alcyon config check`` and ``alcyon plugins``
    show the help.
    """

    name: str
    type: type | tuple[type, ...]
    default: Any = None
    help: str = ""
    required: bool = False
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[Any, ...] | None = None
    check: Callable[[Any], None] | None = None

    def describe(self) -> str:
        """The type, default, rules and help on one line."""
        kind = " or ".join(t.__name__ for t in (self.type if isinstance(self.type, tuple) else (self.type,)))
        rules = [f">= {self.minimum:g}" if self.minimum is not None else "",
                 f"<= {self.maximum:g}" if self.maximum is not None else "",
                 f"one of {', '.join(map(str, self.choices))}" if self.choices else ""]
        shown = "required" if self.required else f"default {self.default!r}"
        return "; ".join(filter(None, [kind, shown, *rules, self.help]))
