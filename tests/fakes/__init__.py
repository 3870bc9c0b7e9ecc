"""Local stand-ins for Zalo OA and Meta's Graph API (real HTTP servers on 127.0.0.1).

They refuse what the platforms refuse, fail when told to and record what they received, so
the channel gateway's tests, benchmark and developers can run without the real platforms
(see platforms.py; ``python -m tests.fakes`` runs both for manual use).
"""
