"""core feature."""
