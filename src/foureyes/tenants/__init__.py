"""Declarative tenant files: validate, apply (or dry-run) and export whole tenants (contract §8)."""
