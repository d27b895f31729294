"""archive: see plugin.py."""
