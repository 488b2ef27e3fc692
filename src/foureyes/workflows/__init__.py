"""workflows feature."""
