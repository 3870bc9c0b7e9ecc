"""Cầu Nối action server (rasa-sdk 3.6, Python 3.10): run it with `python -m actions --port 5055`.

One module per flow: ask.py, tell.py, status.py; what submissions share is submission.py.
"""
