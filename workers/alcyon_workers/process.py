"""What every alcyon process does first: logs, metrics endpoint, and signals."""

from __future__ import annotations

import signal
import threading
from typing import Any

from alcyon.config import Config
from alcyon.logs import add_secret, configure_logging
from alcyon.metrics import serve, setup_multiprocess


def prepare_process(config: Config) -> None:
    """Configure JSON logs and the multiprocess metrics directory (before prometheus_client loads)."""
    configure_logging(config.log_level, config.log_format)
    for setting in ("broker_url", "state_url"):
        from urllib.parse import urlsplit

        try:
            add_secret(urlsplit(config.settings[setting]).password or "")
        except ValueError:
            pass
    setup_multiprocess(config.metrics_dir)


def serve_metrics(config: Config) -> Any:
    """Serve ``/metrics`` on the configured address; port 0 serves nothing."""
    return serve(config.metrics_host, config.metrics_port)


def stop_event_on_signals() -> threading.Event:
    """An event set by SIGTERM (Kubernetes) or SIGINT (Ctrl-C)."""
    stopping = threading.Event()

    def handler(signum: int, _frame: Any) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    return stopping
