"""Wire encoding of event batches.

A broker message is a dramatiq message (so dramatiq's workers, retries and delay queues
handle it unchanged) encoded with msgpack instead of JSON: binary payloads such as JPEG
frames travel as raw bytes, never base64.  Its single argument is the batch: a list of
events in their CloudEvents dict form, all of one type.

The same bytes are what dead-letter records keep, and what ``alcyon dlq replay`` sends back.
"""

from __future__ import annotations

import time
import uuid
from typing import Any, Sequence

import dramatiq
import msgpack
from dramatiq.encoder import Encoder

from .errors import DecodeError, InvalidEvent, MessageTooLarge
from .events import Event

#: The AMQP content type of an alcyon batch.
CONTENT_TYPE = "application/vnd.alcyon.batch+msgpack"

#: Default limit on an encoded broker message; a larger one is rejected with a clear error.
DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024


class MsgpackEncoder(Encoder):
    """dramatiq encoder: msgpack, bytes kept as bytes, nothing executable (no pickle)."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_MESSAGE_BYTES) -> None:
        self.max_bytes = max_bytes

    def encode(self, data: dict[str, Any]) -> bytes:
        return msgpack.packb(data, use_bin_type=True)

    def decode(self, data: bytes) -> dict[str, Any]:
        if len(data) > self.max_bytes:
            raise MessageTooLarge(f"message of {len(data)} bytes is over the {self.max_bytes}-byte limit "
                                  "(raise ALCYON_MAX_MESSAGE_BYTES or publish smaller batches)")
        try:
            decoded = msgpack.unpackb(data, raw=False, strict_map_key=True)
        except Exception as exc:
            raise DecodeError(f"message body is not msgpack ({type(exc).__name__}: {exc})") from None
        if not isinstance(decoded, dict) or "args" not in decoded or "message_id" not in decoded:
            raise DecodeError("message body is msgpack but not an alcyon/dramatiq message "
                              "(expected a map with message_id and args)")
        return decoded


def install_encoder(max_bytes: int = DEFAULT_MAX_MESSAGE_BYTES) -> None:
    """Make msgpack dramatiq's encoder in this process (dramatiq's encoder is process-global)."""
    dramatiq.set_encoder(MsgpackEncoder(max_bytes))


def batch_message(events: Sequence[Event], *, queue_name: str = "", actor_name: str = "",
                  options: dict[str, Any] | None = None) -> dict[str, Any]:
    """The dramatiq message dict carrying ``events``.

    Messages published to the topic exchange have empty queue and actor names: the consumer
    re-addresses them to the queue they were delivered from.
    """
    return {
        "queue_name": queue_name,
        "actor_name": actor_name,
        "args": [[e.to_dict() for e in events]],
        "kwargs": {},
        "options": options or {},
        "message_id": str(uuid.uuid4()),
        "message_timestamp": int(time.time() * 1000),
    }


def encode_batch(events: Sequence[Event], **kwargs: Any) -> bytes:
    """Encode ``events`` into one broker message body."""
    return msgpack.packb(batch_message(events, **kwargs), use_bin_type=True)


def events_from_args(args: Sequence[Any]) -> tuple[list[Event], list[tuple[Any, InvalidEvent]]]:
    """Split a message's batch argument into valid events and (raw, error) pairs."""
    if len(args) != 1 or not isinstance(args[0], list):
        raise DecodeError("message arguments are not an alcyon batch (expected one list of events)")
    good: list[Event] = []
    bad: list[tuple[Any, InvalidEvent]] = []
    for raw in args[0]:
        try:
            good.append(Event.from_dict(raw))
        except InvalidEvent as exc:
            bad.append((raw, exc))
    return good, bad


def decode_batch(body: bytes, max_bytes: int = DEFAULT_MAX_MESSAGE_BYTES) -> list[Event]:
    """Decode a broker message body into events; raise on the first bad one."""
    message = MsgpackEncoder(max_bytes).decode(body)
    good, bad = events_from_args(message["args"])
    if bad:
        raise bad[0][1]
    return good
