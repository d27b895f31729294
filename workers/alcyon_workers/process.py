"""What every alcyon process does first: logs, metrics endpoint, and signals."""

from __future__ import annotations

import signal
import threading
from typing import Any

from alcyon.config import Config
from alcyon.logs import add_secret, configure_logging, get_logger
from alcyon.metrics import setup_multiprocess
from alcyon.services import require_services

log = get_logger("alcyon.process")


def prepare_process(config: Config) -> None:
    """Configure JSON logs and the multiprocess metrics directory (before prometheus_client loads)."""
    configure_logging(config.log_level, config.log_format)
    for setting in ("broker_url", "state_url"):
        from urllib.parse import urlsplit

        try:
            add_secret(urlsplit(config.settings[setting]).password or "")
        except ValueError:
            pass
    if config.metrics_port:  # port 0 serves nothing: no directory to share (in-process runs in tests)
        setup_multiprocess(config.metrics_dir)


def check_services_or_fail(config: Config) -> None:
    """Fail fast, naming the service, its (redacted) URL and the fix, when a configured service is unusable.

    Without this a worker with a wrong broker password would retry forever, and ``alcyon
    publish`` would report "not confirmed" after its timeout.
    """
    for status in require_services(config):
        log.info("service_ok", service=status.service, url=status.url, detail=status.detail)


def stop_event_on_signals() -> threading.Event:
    """An event set by SIGTERM (Kubernetes) or SIGINT (Ctrl-C)."""
    stopping = threading.Event()

    def handler(signum: int, _frame: Any) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    return stopping
