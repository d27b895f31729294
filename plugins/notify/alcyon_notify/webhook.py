"""Delivering an alert to an HTTP webhook (standard library ``urllib``).

One ``POST`` per alert with the CloudEvents JSON body (:mod:`alcyon_notify.payload`) and
the headers ``Content-Type: application/cloudevents+json``, ``Idempotency-Key: <alert id>``,
``User-Agent: alcyon-notify/<version>`` plus the configured ones (which win).

Outcomes:

* 2xx: delivered;
* 5xx, 408, 429, timeouts, connection, TLS and protocol errors: :class:`SinkError` with
  ``retryable=True`` (the framework retries the alert with backoff);
* other 4xx: ``retryable=False`` (the alert is dead-lettered at once: retrying the same
  request will not change the answer; fix the webhook, then ``alcyon dlq replay``);
* 3xx: ``retryable=False``.  Redirects are **not** followed: urllib would turn the ``POST``
  into a body-less ``GET`` and forward the ``Authorization`` header to whatever host the
  redirect names.  Configure the final URL instead.

TLS certificates are verified against the system's CAs, or only those of ``ca_file`` when given;
``verify_tls = false`` turns verification off (a warning is logged at start-up).  Error
messages name the webhook and the host, never the URL (it may hold a token) nor header
values, and whatever the server echoed back is scrubbed of this webhook's secrets.
"""

from __future__ import annotations

import http.client
import ssl
import urllib.error
import urllib.request
from typing import Any

from alcyon import ConfigError, Event, redact_text
from alcyon import topic_matches as matches

from . import __version__
from .errors import SinkError
from .payload import CONTENT_TYPE, LINK
from .settings import WebhookSettings

RETRYABLE_4XX = (408, 429)
_SNIPPET_BYTES = 300
_DRAIN_BYTES = 64 * 1024


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str) -> None:
        return None  # urllib then raises HTTPError with the 3xx status


class WebhookSink:
    """One configured webhook; thread-safe (no shared connection: one request per alert)."""

    def __init__(self, settings: WebhookSettings) -> None:
        self.settings = settings
        self.name = settings.name
        self.binary = f"{LINK}{settings.link_base}" if settings.binary == "link" else settings.binary
        self.timeout_s = settings.timeout_s
        try:
            context = ssl.create_default_context(cafile=settings.ca_file or None)
        except (ssl.SSLError, OSError) as exc:
            raise ConfigError(f"[plugins.notify.webhooks.{self.name}] ca_file: cannot load {settings.ca_file} as a "
                              f"PEM CA bundle ({getattr(exc, 'reason', None) or exc})") from None
        if not settings.verify_tls:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        self._opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=context), _NoRedirect())
        self._headers = {"Content-Type": CONTENT_TYPE, "User-Agent": f"alcyon-notify/{__version__}",
                         **settings.headers}

    def __repr__(self) -> str:
        return f"WebhookSink({self.name!r}, host={self.settings.host!r})"

    def accepts(self, event_type: str) -> bool:
        return not self.settings.types or any(matches(p, event_type) for p in self.settings.types)

    def deliver(self, event: Event, body: bytes) -> dict[str, Any]:
        """POST ``body``; ``{"status": <2xx>}`` (for the log line), else raise :class:`SinkError`."""
        headers = {"Idempotency-Key": event.id, **self._headers}
        request = urllib.request.Request(self.settings.url, data=body, headers=headers, method="POST")
        try:
            with self._opener.open(request, timeout=self.timeout_s) as response:
                response.read(_DRAIN_BYTES)
                return {"status": response.status}
        except urllib.error.HTTPError as error:
            status = error.code
            snippet = self._snippet(error)
            error.close()
            raise self._status_error(status, snippet) from None
        except urllib.error.URLError as error:
            if isinstance(error.reason, TimeoutError):
                raise self._error(f"timed out (no answer within {self.timeout_s:g} s)", retryable=True) from None
            raise self._error(_describe(error.reason), retryable=True) from None
        except TimeoutError:
            raise self._error(f"timed out (no answer within {self.timeout_s:g} s)", retryable=True) from None
        except (OSError, http.client.HTTPException) as error:
            raise self._error(_describe(error), retryable=True) from None
        except ValueError as error:  # http.client refusing the request itself: retrying cannot help
            raise self._error(f"request refused by the HTTP client ({type(error).__name__})", retryable=False) \
                from None

    def _status_error(self, status: int, snippet: str) -> SinkError:
        said = f": {snippet}" if snippet else ""
        if 300 <= status < 400:
            return self._error(f"answered HTTP {status} (a redirect; not followed, as it would drop the body and "
                               f"could forward credentials: configure the final URL){said}",
                               retryable=False, status=status)
        retryable = status >= 500 or status in RETRYABLE_4XX
        return self._error(f"answered HTTP {status}{said}", retryable=retryable, status=status)

    def _error(self, what: str, *, retryable: bool, status: int | None = None) -> SinkError:
        message = f"webhook {self.name!r} ({self.settings.host}) {what}"
        return SinkError(redact_text(message, self.settings.secrets), retryable=retryable, status=status)

    @staticmethod
    def _snippet(error: urllib.error.HTTPError) -> str:
        try:
            raw = error.read(_SNIPPET_BYTES) or b""
        except Exception:  # noqa: BLE001 - the status is what matters
            return ""
        text = raw.decode("utf-8", "replace")
        return " ".join(text.split())[:200]


def _describe(error: Any) -> str:
    """A short description of a transport error, without anything that could quote the URL."""
    if isinstance(error, ssl.SSLCertVerificationError):
        return f"TLS certificate not trusted ({error.verify_message}; set ca_file to trust a private CA)"
    if isinstance(error, TimeoutError):
        return "timed out"
    if isinstance(error, ssl.SSLError):
        return f"TLS error ({error.reason or error})"
    if isinstance(error, OSError) and error.strerror:
        return f"connection failed ({error.strerror})"
    if isinstance(error, (http.client.RemoteDisconnected, http.client.IncompleteRead)):
        return f"broke the connection ({type(error).__name__})"
    # Other exceptions may quote the request (InvalidURL quotes the URL): name the type only.
    return f"failed ({type(error).__name__})"
