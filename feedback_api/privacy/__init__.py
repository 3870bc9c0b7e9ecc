"""A citizen's personal data across every store: export, erasure, and their audit (registry.py)."""
