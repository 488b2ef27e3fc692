"""badges feature."""
