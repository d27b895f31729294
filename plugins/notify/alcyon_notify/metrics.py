"""The notify plugin's Prometheus metrics, created on first use (as :mod:`alcyon.metrics`).

Labels are bounded: ``sink`` is a configured name (``jsonl`` or a webhook's name) and
``outcome`` one of :data:`OUTCOMES` — never an alert id, a subject or a URL (which may carry
a token).  Created lazily so that ``prometheus_client`` is imported only after alcyon has
set up the multiprocess directory its workers share.
"""

from __future__ import annotations

from alcyon import LATENCY_BUCKETS, created_once

#: delivered: the sink took it; duplicate: already delivered (ledger), skipped; in_progress:
#: another worker is delivering it; failed: retryable failure; rejected: permanent failure.
OUTCOMES = ("delivered", "duplicate", "in_progress", "failed", "rejected")


class _Metrics:
    def __init__(self) -> None:
        from prometheus_client import Counter, Histogram

        self.deliveries = Counter("alcyon_notify_deliveries_total",
                                  "Alert deliveries to a sink, by outcome (each attempt).", ["sink", "outcome"])
        self.duration = Histogram("alcyon_notify_delivery_duration_seconds",
                                  "Time of one delivery attempt to a sink.", ["sink", "outcome"],
                                  buckets=LATENCY_BUCKETS)


#: The process's notify metrics (created once).
metrics = created_once(_Metrics)
