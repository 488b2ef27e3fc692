"""foureyes: maker-checker request workflow and badges service."""

__version__ = "0.1.0"
