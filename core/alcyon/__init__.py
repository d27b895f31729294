"""alcyon: plugin-based event processing for environmental and public-interest monitoring.

This module is the public API for plugin authors and embedders: everything a plugin needs
is exported here, documented and typed, and the first-party plugins use nothing else (a test
checks it).  The submodules are internal and may change without notice.
"""

from .config import Config, load_config
from .config import convert as convert_value
from .errors import (
                     AlcyonError,
                     BadInput,
                     BrokerError,
                     ConfigError,
                     DecodeError,
                     InvalidEvent,
                     MessageTooLarge,
                     PluginError,
                     PublishError,
                     PublishRefused,
)
from .events import Event, derive, derived_id, format_time, parse_time, uuid5_from_sha1
from .hookspecs import hookimpl
from .logs import get_logger
from .metrics import LATENCY_BUCKETS, CounterBuffer, created_once
from .processors import Context, EventType, Option, Processor, Source, SourceContext
from .redact import redact_text, redact_url
from .secrets import mask_secret, resolve_secrets
from .state import KeyedRecord, KeyedState, MemoryStateStore, StateStore
from .topics import matches as topic_matches
from .topics import validate_pattern as validate_topic_pattern

__version__ = "0.1.0"

__all__ = [
    "LATENCY_BUCKETS", "AlcyonError", "BadInput", "BrokerError", "Config", "ConfigError", "Context", "CounterBuffer",
    "DecodeError", "Event", "EventType", "InvalidEvent", "KeyedRecord", "KeyedState", "MemoryStateStore",
    "MessageTooLarge", "Option", "PluginError", "Processor", "PublishError", "PublishRefused", "Source",
    "SourceContext", "StateStore", "convert_value",
    "created_once", "derive", "derived_id", "format_time", "get_logger", "hookimpl", "load_config", "mask_secret",
    "parse_time", "redact_text", "redact_url", "resolve_secrets", "topic_matches", "uuid5_from_sha1",
    "validate_topic_pattern",
]
