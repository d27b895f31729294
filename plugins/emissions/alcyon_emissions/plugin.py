"""emissions plugin (being built)."""
