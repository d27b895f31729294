"""alcyon: plugin-based event processing for environmental and public-interest monitoring.

The public API for plugin authors and embedders; everything else is internal.
"""

from .config import Config, load_config
from .errors import (AlcyonError, BadInput, BrokerError, ConfigError, DecodeError, InvalidEvent, MessageTooLarge,
                     PluginError, PublishError)
from .events import Event, derive, derived_id
from .hookspecs import hookimpl
from .logs import add_secret, get_logger
from .metrics import LATENCY_BUCKETS, created_once
from .processors import Context, EventType, Option, Processor, Source, SourceContext
from .secrets import resolve_references

__version__ = "0.1.0"

__all__ = [
    "LATENCY_BUCKETS", "AlcyonError", "BadInput", "BrokerError", "Config", "ConfigError", "Context", "DecodeError",
    "Event",
    "EventType", "InvalidEvent", "MessageTooLarge", "Option", "PluginError", "Processor", "PublishError",
    "Source", "SourceContext", "add_secret", "created_once", "derive", "derived_id",
    "get_logger", "hookimpl", "load_config", "resolve_references",
]
