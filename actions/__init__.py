"""Cầu Nối action server (rasa-sdk 3.6, Python 3.10): `python -m rasa_sdk --actions actions`."""
