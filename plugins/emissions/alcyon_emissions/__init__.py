"""emissions: power samples to energy and CO2e per device, site and grid zone (see plugin.py)."""
