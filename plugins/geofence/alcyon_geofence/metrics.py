"""The geofence plugin's Prometheus metrics (bounded labels: never an MMSI or a zone id)."""

from __future__ import annotations

from alcyon import created_once


class _GeofenceMetrics:
    def __init__(self) -> None:
        from prometheus_client import Counter, Gauge

        self.decoded = Counter("alcyon_ais_decoded_total", "AIS records decoded, by kind.", ["kind"])
        self.rejected = Counter("alcyon_ais_rejected_total", "AIS lines or messages rejected, by reason.",
                                ["reason"])
        self.ignored = Counter("alcyon_ais_ignored_total", "Input lines that are not AIS (plain text, NMEA of other "
                               "talkers, comments, blank lines) or of a type not decoded, by reason.", ["reason"])
        self.udp_dropped = Counter("alcyon_ais_udp_dropped_total", "UDP datagrams the kernel dropped before the "
                                   "source read them (its receive buffer was full), from SO_RXQ_OVFL.")
        self.checked = Counter("alcyon_geofence_positions_checked_total", "Positions checked against the zones.")
        self.transitions = Counter("alcyon_geofence_alerts_total", "Geofence alerts, by kind.", ["kind"])
        self.inside = Gauge("alcyon_geofence_vessels_inside", "Vessels inside at least one zone (sum over "
                            "workers: each counts the entries and exits it handled).", multiprocess_mode="sum")
        self.zones = Gauge("alcyon_geofence_zones", "Zones loaded.", multiprocess_mode="max")


#: The process's geofence metrics (created once).
geofence_metrics = created_once(_GeofenceMetrics)
