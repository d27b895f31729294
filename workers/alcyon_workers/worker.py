"""``alcyon worker``: run processors against RabbitMQ until SIGTERM, then stop gracefully.

On SIGTERM the worker stops taking messages, lets in-flight handlers finish for up to
``shutdown_grace_s`` (25 s by default, inside Kubernetes' 30 s), and closes its
connections: anything not acknowledged by then is redelivered by RabbitMQ to another
worker.  Nothing is lost; a message may be handled twice, which derived ids make harmless.
"""

from __future__ import annotations

from typing import Sequence

from alcyon.config import Config
from alcyon.errors import ConfigError
from alcyon.logs import get_logger
from alcyon.plugins import PluginHost
from alcyon.runtime import Runtime

from .health import Health, serve
from .process import check_services_or_fail, prepare_process, stop_event_on_signals

log = get_logger("alcyon.worker")


def run_worker(config: Config, processors: Sequence[str] | None = None, threads: int | None = None,
               host: PluginHost | None = None) -> int:
    if config.embedded:
        raise ConfigError("alcyon worker needs RabbitMQ: set ALCYON_BROKER_URL (or broker_url in [alcyon]); "
                          "`alcyon run` runs everything in one process without a broker")
    prepare_process(config)
    stopping = stop_event_on_signals()
    host = (host or PluginHost(config).load_entry_points()).validate()
    check_services_or_fail(config)
    runtime = Runtime(config, host, processors=processors)
    serve(config, Health(config, runtime))
    runtime.start(threads)
    log.info("worker_started", processors=[p.name for p in runtime.processors],
             threads=threads or config.worker_threads, metrics=f"{config.metrics_host}:{config.metrics_port}",
             endpoints="/metrics /livez /readyz")
    stopping.wait()
    log.info("worker_stopping", grace_s=config.shutdown_grace_s)
    runtime.stop()
    log.info("worker_stopped")
    return 0
