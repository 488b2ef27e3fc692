"""identity feature."""
