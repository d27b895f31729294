"""The delivery ledger: which (alert id, sink) pairs were delivered, in the keyed state store.

Alerts arrive *at least once*: a redelivered input re-derives the same alert (same id), a
worker killed before its ack gets its message back, and the framework retries a failed
alert as a whole.  The ledger makes each sink see each alert once:

* **claim** (one atomic transaction for all the sinks of an alert): a sink with no record is
  claimed by this attempt (``{"s": "claimed", "o": owner}``, expiring after a *lease*); a sink
  recorded ``done`` is skipped; a sink claimed by another owner is *busy* (another worker is
  delivering the same alert right now: the alert is retried later and then finds it done);
* **settle** (one transaction): the sinks that took the alert become ``{"s": "done", "at":
  epoch seconds}``, kept ``ttl`` seconds (7 days by default); claims that failed are released
  so the next retry claims them again.

So with several sinks, one failing never re-delivers to the others on retry.  The lease is
the store's own key expiry (Redis ``PX``, a monotonic deadline in memory), not a wall-clock
time compared across machines: a worker killed mid-delivery leaves a claim that simply
vanishes after the lease, and a later retry delivers.  (If it died after the sink took the
alert but before settling, that sink gets it again: at-least-once, deduplicable by ``id``.)

Keys are ``alcyon:state:<namespace>:<sink>:<alert id>`` (namespace ``notify.ledger``: a
processor name cannot contain a dot, so it never meets a processor's own keyed state).
Ids are assumed unique across sources, as alcyon's derived ids are (uuid5 of the input id
and the rule).
"""

from __future__ import annotations

import enum
import time
from typing import Any, Iterable

from alcyon import StateStore

NAMESPACE = "notify.ledger"


class Claim(enum.Enum):
    CLAIMED = "claimed"   # this attempt delivers
    DONE = "done"         # already delivered: skip
    BUSY = "busy"         # another attempt is delivering right now


class DeliveryLedger:
    def __init__(self, store: StateStore, *, ttl_s: float, lease_s: float, namespace: str = NAMESPACE) -> None:
        self.store = store
        self.ttl_s = ttl_s
        self.lease_s = lease_s
        self.namespace = namespace

    @staticmethod
    def key(sink: str, alert_id: str) -> str:
        return f"{sink}:{alert_id}"

    def claim(self, alert_id: str, sinks: Iterable[str], owner: str) -> dict[str, Claim]:
        """Claim ``sinks`` for ``alert_id`` on behalf of ``owner`` (atomically); each sink's :class:`Claim`."""
        by_key = {self.key(sink, alert_id): sink for sink in sinks}

        def step(records: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Claim]]:
            writes: dict[str, Any] = {}
            result: dict[str, Claim] = {}
            for key, record in records.items():
                state = record.get("s") if isinstance(record, dict) else None
                if state == "done":
                    result[by_key[key]] = Claim.DONE
                elif state == "claimed" and record.get("o") != owner:
                    result[by_key[key]] = Claim.BUSY
                else:  # free, unreadable, or ours already (a commit whose reply was lost)
                    writes[key] = {"s": "claimed", "o": owner}
                    result[by_key[key]] = Claim.CLAIMED
            return writes, result

        claims: dict[str, Claim] = {}
        for part in self.store.update(self.namespace, by_key, step, ttl=self.lease_s):
            claims.update(part)
        return claims

    def settle(self, alert_id: str, owner: str, *, delivered: Iterable[str], released: Iterable[str]) -> None:
        """Record ``delivered`` sinks as done (for ``ttl_s``) and release ``owner``'s claims on ``released``."""
        done = {self.key(sink, alert_id) for sink in delivered}
        free = {self.key(sink, alert_id) for sink in released} - done
        if not done and not free:
            return
        at = time.time()

        def step(records: dict[str, Any]) -> tuple[dict[str, Any], None]:
            writes: dict[str, Any] = {}
            for key, record in records.items():
                if key in done:
                    writes[key] = {"s": "done", "at": at}
                elif isinstance(record, dict) and record.get("s") == "claimed" and record.get("o") == owner:
                    writes[key] = None  # release: the next attempt claims it afresh
            return writes, None

        self.store.update(self.namespace, [*done, *free], step, ttl=self.ttl_s)

    def delivered(self, sink: str, alert_id: str) -> bool:
        """Whether ``sink`` is recorded as having taken ``alert_id`` (inspection, tests)."""
        record = self.store.get(self.namespace, self.key(sink, alert_id))
        return isinstance(record, dict) and record.get("s") == "done"
