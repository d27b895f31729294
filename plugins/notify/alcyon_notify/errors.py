"""Why a delivery did not happen, as exceptions the framework knows how to treat.

The ``notify`` handler raises one of these when a sink did not take an alert:

* :class:`DeliveryFailed` (retryable: 5xx, 408, 429, timeouts, connection and TLS errors):
  the framework retries the alert alone with exponential backoff, then dead-letters it with
  its last error once ``max_retries`` is exhausted;
* :class:`DeliveryRejected` (a :class:`~alcyon.errors.BadInput`: other 4xx, 3xx, a body the
  sink refuses): dead-lettered at once, never retried;
* :class:`DeliveryInProgress`: another worker is delivering the same alert to the same sink
  right now; retried, so the retry finds it delivered.

All carry ``reason = "delivery_failed"`` (one of :data:`alcyon.metrics.REASONS`), which the
dead-letter record and the ``alcyon_events_failed_total`` metric use.  Their messages name the
sink, never its URL or headers: they end up in logs and in dead-letter records.
"""

from __future__ import annotations

from alcyon import AlcyonError, BadInput

REASON = "delivery_failed"


class DeliveryFailed(AlcyonError):
    """At least one sink failed in a way that may get better: retry the alert later."""

    reason = REASON


class DeliveryInProgress(DeliveryFailed):
    """Another worker holds the delivery of this alert to a sink; retry to find it done."""


class DeliveryRejected(BadInput):
    """Every failing sink refused the alert for good (4xx other than 408/429, redirect)."""

    reason = REASON


class SinkError(Exception):
    """One sink's failure to take one alert (internal: aggregated into the errors above).

    ``retryable`` says whether trying again later may succeed; ``status`` is the HTTP
    status when there was one.  ``str()`` is safe to log: no URL, no header value.
    """

    def __init__(self, message: str, *, retryable: bool, status: int | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.status = status
