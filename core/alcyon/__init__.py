"""alcyon: plugin-based event processing for environmental and public-interest monitoring.

The public API for plugin authors and embedders; everything else is internal.
"""

from .config import Config, load_config
from .errors import (AlcyonError, BadInput, BrokerError, ConfigError, DecodeError, InvalidEvent, MessageTooLarge,
                     PluginError, PublishError, PublishRefused)
from .events import Event, derive, derived_id
from .hookspecs import hookimpl
from .processors import Context, EventType, Option, Processor, Source, SourceContext

__version__ = "0.1.0"

__all__ = [
    "AlcyonError", "BadInput", "BrokerError", "Config", "ConfigError", "Context", "DecodeError", "Event",
    "EventType", "InvalidEvent", "MessageTooLarge", "Option", "PluginError", "Processor", "PublishError",
    "PublishRefused", "Source", "SourceContext", "derive", "derived_id", "hookimpl", "load_config",
]
