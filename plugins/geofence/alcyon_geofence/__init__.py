"""Geofence plugin of alcyon: alerts when vessels enter, leave, cross or linger in protected areas.

Framework-independent core, one concept per module:

* :mod:`.ais` - NMEA AIVDM/AIVDO lines to validated ``Position``/``StaticData`` records and events.
* :mod:`.zones` - protected areas from GeoJSON, per-zone rules, vectorised ``ZoneIndex``.
* :mod:`.tracker` - the pure per-vessel state machine and the batch driver producing ``Alert``s.
* :mod:`.make_demo` - the synthetic demo recording over the real French MPAs.
"""
