"""archive plugin (being built)."""
