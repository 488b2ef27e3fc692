"""console feature."""
