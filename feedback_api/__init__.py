"""Cầu Nối's HTTP service (FastAPI): search, feedback intake and triage, the web chat, Open311.

What lives where: docs/api.md. ``main.py`` builds the app; ``worker.py`` is the background work.
"""
