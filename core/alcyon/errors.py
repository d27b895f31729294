"""Every exception alcyon raises, in one hierarchy.

::

    AlcyonError
    ├── ConfigError            a configuration key is missing, unknown or malformed
    ├── PluginError            a plugin could not be loaded or declares something invalid
    ├── BadInput               input that will not get better by retrying (never retried)
    │   ├── DecodeError        bytes that are not an alcyon message
    │   ├── InvalidEvent       an envelope or payload that fails its type's schema
    │   └── MessageTooLarge    a message over the configured size limit
    ├── BrokerError            the broker could not be reached or refused an operation
    │   └── PublishError       a publish was not confirmed by the broker
    │       └── PublishRefused the broker refused the message itself (retrying will not help)
    └── StateError             a state value could not be stored or read back
        └── StateConflict      a state transaction kept conflicting and was given up
"""

from __future__ import annotations


class AlcyonError(Exception):
    """Base class of alcyon's errors."""


class ConfigError(AlcyonError):
    """A configuration key is missing, unknown or malformed; the message names the key."""


class PluginError(AlcyonError):
    """A plugin could not be loaded, or declared an invalid processor, source or type."""


class BadInput(AlcyonError):
    """Input that is wrong in itself: dead-lettered at once, never retried.

    ``reason`` is a short, bounded label used in metrics and dead-letter records.
    """

    reason = "bad_input"


class DecodeError(BadInput):
    """Bytes that do not decode into an alcyon message."""

    reason = "decode_error"


class InvalidEvent(BadInput):
    """An event whose envelope or data fails its type's schema."""

    reason = "schema_error"


class MessageTooLarge(BadInput):
    """A message larger than the configured limit."""

    reason = "too_large"


class BrokerError(AlcyonError):
    """The broker could not be reached, or refused an operation."""


class PublishError(BrokerError):
    """The broker did not confirm a publish (nack, or the connection was lost for good)."""


class PublishRefused(PublishError):
    """The broker refused the message itself (a name over 255 bytes, a missing exchange, a nack)."""


class StateError(AlcyonError):
    """A state value could not be stored or read back (not msgpack, corrupt record)."""


class StateConflict(StateError):
    """A transaction kept conflicting with concurrent writers and was given up.

    The failing key was not written (groups committed before it were); redelivering the
    events to :meth:`alcyon.state.KeyedState.apply` is safe, the committed part is recognised.
    """


class ServiceUnavailable(AlcyonError):
    """A configured service (RabbitMQ, Redis) cannot be used; ``failures`` are the failed checks."""

    def __init__(self, failures: list) -> None:
        self.failures = failures
        lines = "\n".join(f"  - {f}" for f in failures)
        super().__init__(f"{len(failures)} configured service(s) cannot be used:\n{lines}")
